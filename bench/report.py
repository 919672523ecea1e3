"""Results as a Markdown table and JSON, and each figure against its target (issue 15's table)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .figures import INCREMENTAL_FIGURE, Row
from .measure import fmt_sample, fmt_value

SUBJECTS = ("feedsvc", "Hugo", "naive Python", "nginx")
TARGET_POSTS = 10_000
EDIT_FIGURES = (
    "signed webhook after one edit -> new ETag served",
    "fallback: one edit -> new ETag served (rescan every 0.1 s, no webhook)",
)


@dataclass(frozen=True, slots=True)
class Verdict:
    figure: str
    target: str
    measured: str
    ratio: str
    met: str


def find(rows: list[Row], figure: str, subject: str, posts: int) -> Row | None:
    """`rows` are one corpus's (see `verdicts`)."""
    return next((r for r in rows if r.figure == figure and r.subject == subject and r.posts == posts
                 and r.sample.values), None)


def figures_table(rows: list[Row]) -> list[str]:
    """One line per figure and corpus size, one column per subject measured."""
    subjects = [s for s in SUBJECTS if any(r.subject == s for r in rows)]
    lines = ["| figure | corpus | posts | " + " | ".join(subjects) + " | notes |",
             "| --- | --- | ---: | " + " | ".join("---" for _ in subjects) + " | --- |"]
    keys = list(dict.fromkeys((r.figure, r.corpus, r.posts) for r in rows))
    for figure, corpus, posts in keys:
        cells, notes = [], []
        for subject in subjects:
            key = (figure, corpus, posts, subject)
            row = next((r for r in rows if (r.figure, r.corpus, r.posts, r.subject) == key), None)
            cells.append("" if row is None else fmt_sample(row.sample))
            if row is not None and row.sample.note:
                notes.append(f"{subject}: {row.sample.note}" if len(subjects) > 1 else row.sample.note)
        lines.append(f"| {figure} | {corpus} | {posts:,} | " + " | ".join(cells) + " | " + "; ".join(notes) + " |")
    return lines


def _limit(label: str, row: Row | None, limit: float, unit: str, factor: float = 1.0) -> Verdict:
    target = f"≤ {fmt_value(limit * factor, unit)}"
    if row is None:
        return Verdict(label, target, "not measured", "", "")
    value = row.sample.median
    return Verdict(label, target, fmt_value(value, unit), f"{value / (limit * factor):.2f} × target",
                   "yes" if value <= limit * factor else "no")


def _ratio(label: str, ours: Row | None, theirs: Row | None, bound: float, at_most: bool,
           baseline: str) -> Verdict:
    target = f"{'≤' if at_most else '≥'} {bound} × {baseline}"
    if ours is None or theirs is None:
        return Verdict(label, target, "not measured", "", "")
    ratio = ours.sample.median / theirs.sample.median
    met = ratio <= bound if at_most else ratio >= bound
    unit = ours.sample.unit
    measured = f"{fmt_value(ours.sample.median, unit)} vs {fmt_value(theirs.sample.median, unit)}"
    return Verdict(label, target, measured, f"{ratio:.2f}", "yes" if met else "no")


SAVE_FIGURE = "post saved in an editor -> new ETag served (OS events, no webhook)"
HOOK_FIGURE = "signed webhook after one edit -> new ETag served"
IDLE_FIGURE = "CPU while nothing changes, watching (all processes)"


def _memory(rows: list[Row], posts: int) -> Row | None:
    """The larger of the serve process's and its worker's peak: every feedsvc process counts."""
    return max((r for r in (find(rows, f"serving memory (VmHWM), {p}", "feedsvc", posts)
                            for p in ("serve process", "worker")) if r), key=lambda r: r.sample.median, default=None)


def verdicts(rows: list[Row]) -> list[Verdict]:
    """Issue 15's targets (at the largest size up to 10k measured, when 10k was not), then issue 4's serving."""
    sizes = sorted({r.posts for r in rows})
    at = max((n for n in sizes if n <= TARGET_POSTS), default=TARGET_POSTS)
    tag = "" if at == TARGET_POSTS else f" (at {at:,} posts; the target is for 10,000)"
    edit = find(rows, HOOK_FIGURE, "feedsvc", at) or find(rows, EDIT_FIGURES[1], "feedsvc", at)
    result = [
        _ratio("cold build, every feed and page" + tag, find(rows, "cold build", "feedsvc", at),
               find(rows, "cold build", "Hugo", at), 0.5, at_most=True, baseline="Hugo"),
        _ratio("cold build vs naive Python (for reference)" + tag, find(rows, "cold build", "feedsvc", at),
               find(rows, "cold build", "naive Python", at), 1.0, at_most=True, baseline="naive Python"),
        _limit("a folder with no change: CPU per check (watching: per second idle)" + tag,
               find(rows, IDLE_FIGURE, "feedsvc", at), 5.0, "ms/s"),
        _limit("a folder with no change: one full rescan (the safety net; for reference)" + tag,
               find(rows, "rescan in-process: unchanged", "feedsvc", at), 0.050, "s"),
        _limit("a post saved in an editor -> its new ETag served, no webhook" + tag,
               find(rows, SAVE_FIGURE, "feedsvc", at), 0.250, "s"),
        _limit("a signed webhook after an edit -> its new ETag served" + tag, edit, 0.250, "s"),
        _limit("warm start -> every feed served" + tag, find(rows, "warm start: every feed 200", "feedsvc", at),
               1.0, "s"),
        _limit("every feedsvc process's memory once caught up" + tag, _memory(rows, at), 150, "MB"),
        _limit("`feedsvc build` after a one-post edit, with a build cache" + tag,
               find(rows, INCREMENTAL_FIGURE, "feedsvc", at), 1.0, "s"),
    ]
    if 100_000 in sizes:
        n = 100_000
        result += [
            _ratio("100k: cold build", find(rows, "cold build", "feedsvc", n), find(rows, "cold build", "Hugo", n),
                   0.5, at_most=True, baseline="Hugo"),
            _limit("100k: every feedsvc process's memory once caught up", _memory(rows, n), 1024, "MB"),
        ]
    for kind in ("200 gzip", "304"):
        serving = [r for r in rows if r.figure == f"serving {kind}: requests/s" and r.sample.values]
        ours = next((r for r in serving if r.subject == "feedsvc"), None)
        theirs = next((r for r in serving if r.subject == "nginx"), None)
        where = f" (at {ours.posts:,} posts; issue 4)" if ours else " (issue 4)"
        result.append(_ratio(f"serving {kind}, requests/s{where}", ours, theirs, 0.25, at_most=False,
                             baseline="nginx"))
    return result


def verdict_table(items: list[Verdict]) -> list[str]:
    lines = ["| target (issue 15) | bound | measured (median) | ratio | met |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {v.figure} | {v.target} | {v.measured} | {v.ratio} | {v.met} |" for v in items]
    return lines


def markdown(meta: dict[str, object], rows: list[Row]) -> str:
    machine = meta["machine"]
    assert isinstance(machine, dict)
    versions = ", ".join(f"{k} {v}" for k, v in dict(meta["versions"]).items())  # type: ignore[arg-type]
    tools = ", ".join(f"{k}: {v or 'missing'}" for k, v in dict(meta["tools"]).items())  # type: ignore[arg-type]
    lines = [
        f"# feedsvc benchmark, {meta['started']}",
        "",
        f"- machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}; "
        f"load average at start {machine['loadavg_at_start']}, at end {meta.get('loadavg_at_end')}",
        f"- libraries: {versions}",
        f"- tools: {tools}",
        f"- corpora (seed {meta['seed']}): " + ", ".join(f"{n} posts {d[:12]}" for n, d in
                                                          dict(meta["corpora"]).items()),  # type: ignore[arg-type]
        f"- runs per figure: {meta['repeats']} (median, then min – max); wrk: 2 threads, 32 connections, "
        f"{meta['wrk_seconds']} s per run",
        f"- served feed: {meta.get('served feed')}",
        f"- total time: {meta.get('seconds', 0):.0f} s",
        "",
        "## Figures",
        "",
        *figures_table(rows),
        "",
    ]
    for corpus, chosen in by_corpus(rows).items():
        lines += [f"## Against the targets, {corpus} corpus", "", *verdict_table(verdicts(chosen)), ""]
    return "\n".join(lines)


def by_corpus(rows: list[Row]) -> dict[str, list[Row]]:
    """Rows per corpus; the serving figure (measured on bench's corpus only) counts for every corpus."""
    corpora = list(dict.fromkeys(r.corpus for r in rows)) or ["bench"]
    serving = [r for r in rows if r.figure.startswith("serving ") and not r.figure.startswith("serving memory")]
    return {c: [r for r in rows if r.corpus == c and r not in serving] + serving for c in corpora}


def write(results: Path, stem: str, meta: dict[str, object], rows: list[Row]) -> Path:
    """Write `<stem>.md` and `<stem>.json`, and copy both to `latest.*`; returns the Markdown path."""
    results.mkdir(parents=True, exist_ok=True)
    text = markdown(meta, rows)
    data = {**meta, "figures": [r.as_dict() for r in rows],
            "targets": {corpus: [asdict(v) for v in verdicts(chosen)] for corpus, chosen in by_corpus(rows).items()}}
    for name in (stem, "latest"):
        (results / f"{name}.md").write_text(text, encoding="utf-8")
        (results / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return results / f"{stem}.md"

