"""The benchmark harness of issue 4: `python -m bench.run` (quick, 1k posts) or `--full` (1k, 10k, 100k).

Generates (or reuses) the corpora, finds or installs wrk, hugo and nginx, measures every
figure as the median of several runs with min and max, and writes a Markdown table and
JSON to `bench/results/` (also as `latest.md` / `latest.json`), printing the table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import chart, figures, report
from .gen_corpus import ensure_corpus
from .news_corpus import ensure_news_corpus
from .tools import ensure_tools, library_versions, machine, tool_version

RESULTS = Path(__file__).resolve().parent / "results"
QUICK_SIZES = (1_000,)
FULL_SIZES = (1_000, 10_000, 100_000)
ALL_FIGURES = ("build", "incr", "warm", "rescan", "hook", "save", "serve")
ALL_CORPORA = ("bench", "news")  # gen_corpus.py's generated posts; news_corpus.py's replicated real posts
Measure = Callable[[figures.Context, Path, int, int], None]
MEASURES: dict[str, Measure] = {
    "build": figures.cold_build,
    "incr": figures.incremental_build,
    "warm": figures.warm_start,
    "rescan": figures.rescans,
    "hook": figures.edit_to_etag,
    "save": figures.save_to_etag,
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1k, 10k and 100k posts (default: 1k only)")
    parser.add_argument("--sizes", help="comma-separated post counts, overriding --full")
    parser.add_argument("--figures", default=",".join(ALL_FIGURES), help=f"subset of {','.join(ALL_FIGURES)}")
    parser.add_argument("--corpora", default="bench", help=f"subset of {','.join(ALL_CORPORA)} (default: bench)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (100k: --repeats-100k)")
    parser.add_argument("--repeats-100k", type=int, default=1, help="runs per build/start figure at 100k posts")
    parser.add_argument("--wrk-seconds", type=int, default=None, help="seconds per wrk run (5 quick, 10 full)")
    parser.add_argument("--serve-posts", type=int, default=1_000, help="corpus the serving figure runs on")
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> list[int]:
    if args.sizes:
        return [int(n) for n in args.sizes.split(",")]
    return list(FULL_SIZES if args.full else QUICK_SIZES)


def repeats_for(args: argparse.Namespace, figure: str, posts: int) -> int:
    """Rescans are cheap once started; builds and server starts at 100k take minutes each."""
    if posts >= 100_000 and figure != "rescan":
        return args.repeats_100k
    if figure == "rescan":
        return max(args.repeats, 5)
    return args.repeats


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = [f for f in args.figures.split(",") if f]
    unknown = set(chosen) - set(ALL_FIGURES)
    unknown_corpora = {k for k in args.corpora.split(",") if k} - set(ALL_CORPORA)
    if unknown or unknown_corpora:
        say(f"unknown corpora: {', '.join(sorted(unknown_corpora))}")
        say(f"unknown figures: {', '.join(sorted(unknown))}")
        return 2
    sizes = sizes_of(args)
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    args.results.mkdir(parents=True, exist_ok=True)
    tools = ensure_tools(["wrk", "hugo", "nginx"], say)
    meta: dict[str, object] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": library_versions(),
        "tools": {name: tool_version(name, path) for name, path in tools.items()},
        "seed": args.seed,
        "repeats": args.repeats,
        "wrk_seconds": args.wrk_seconds or (10 if args.full else 5),
        "sizes": sizes,
        "corpora": {},
    }
    tmp = Path(tempfile.mkdtemp(prefix="feedsvc-bench-"))
    ctx = figures.Context(tmp=tmp, log=args.results / f"bench-{stamp}.log", tools=tools, repeats=args.repeats,
                          wrk_seconds=int(meta["wrk_seconds"]), say=say)  # type: ignore[arg-type]
    try:
        run_all(args, ctx, meta, sizes, chosen, stamp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta["seconds"] = time.perf_counter() - started
    meta["loadavg_at_end"] = os.getloadavg()
    meta.update(ctx.extra)
    path = report.write(args.results, f"bench-{stamp}", meta, ctx.rows)
    print(path.read_text(encoding="utf-8"))
    say(f"written: {path} and {path.with_suffix('.json')} (also latest.md, latest.json)")
    if len({row.posts for row in ctx.rows if row.figure == "cold build" and row.sample.values}) > 1:
        figures_json = [row.as_dict() for row in ctx.rows]
        caption = f"{meta['started']}, {meta['machine']['cpu_count']} CPUs, load {os.getloadavg()[0]:.1f}"  # type: ignore[index]
        for name in (f"growth-{stamp}.svg", "growth-latest.svg"):
            (args.results / name).write_text(chart.draw(figures_json, caption=caption), encoding="utf-8")
        say(f"chart: {args.results / f'growth-{stamp}.svg'}")
    return 0


def run_all(args: argparse.Namespace, ctx: figures.Context, meta: dict[str, object], sizes: list[int],
            chosen: list[str], stamp: str) -> None:
    """Every chosen figure at every size; results are written after each so a long run keeps what it has."""
    corpora: dict[str, str] = meta["corpora"]  # type: ignore[assignment]
    kinds = [k for k in args.corpora.split(",") if k]
    for posts in sizes:
        for kind in kinds:
            say(f"corpus: {kind}, {posts} posts, seed {args.seed}")
            corpus, digest = ensure_news_corpus(posts) if kind == "news" else ensure_corpus(posts, args.seed)
            corpora[f"{kind} {posts}"] = digest
            ctx.corpus = kind
            for figure in chosen:
                if figure == "serve":
                    continue
                MEASURES[figure](ctx, corpus, posts, repeats_for(args, figure, posts))
                meta.update(ctx.extra)
                report.write(args.results, f"bench-{stamp}", meta, ctx.rows)
    if "serve" in chosen:
        ctx.corpus = "bench"
        corpus, digest = ensure_corpus(args.serve_posts, args.seed)
        corpora[f"bench {args.serve_posts}"] = digest
        figures.serving(ctx, corpus, args.serve_posts, args.repeats)


if __name__ == "__main__":
    raise SystemExit(main())
