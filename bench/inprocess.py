"""Rescans timed in-process: `Refresher.refresh()` over a scratch copy of a corpus.

Run as a child of the harness (`python -m bench.inprocess DIR --repeats R`) so its memory
and imports stay out of the harness; prints one JSON object of seconds per case.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from feedsvc.pipeline.refresh import Refresher, RefreshReport
from feedsvc.snapshot import SnapshotStore

CASES = ("unchanged", "one edit", "one add", "one delete")


def newest_post(content: Path) -> Path:
    """The newest post by file name: it is in the site feed, so an edit to it changes feeds."""
    return max((p for p in (content / "_posts").iterdir() if p.suffix in (".md", ".markdown")),
               key=lambda path: path.name)


def edit_post(path: Path, mark: str) -> None:
    """A real edit: a sentence added to the body (size and mtime change)."""
    with path.open("a", encoding="utf-8") as out:
        out.write(f"\nEdited for the benchmark: {mark}.\n")


def added_path(content: Path, index: int) -> Path:
    return content / "_posts" / f"2024-12-31-bench-added-post-{index}.md"


def add_post(content: Path, template: Path, index: int) -> Path:
    """A new post, newest of all, made from an existing one with another slug."""
    target = added_path(content, index)
    target.write_text(template.read_text(encoding="utf-8").replace("title: \"", "title: \"Added "), encoding="utf-8")
    return target


def started_refresher(content: Path) -> Refresher:
    refresher = Refresher(SnapshotStore(), content, environ={})
    report = refresher.refresh("startup")
    if report.error:
        raise RuntimeError(report.error)
    return refresher


def timed_refresh(refresher: Refresher, expect: Callable[[RefreshReport], bool]) -> tuple[float, RefreshReport]:
    started = time.perf_counter()
    report = refresher.refresh("webhook")  # a push after the write: no settle window (README, Failure modes)
    seconds = time.perf_counter() - started
    if not expect(report):
        raise RuntimeError(f"refresh did not see the change: {report}")
    return seconds, report


def measure(content: Path, repeats: int) -> dict[str, object]:
    """Seconds per case, and how many feeds each case re-rendered; `content` is modified."""
    refresher = started_refresher(content)
    seconds: dict[str, list[float]] = {case: [] for case in CASES}
    feeds: dict[str, int] = {}
    newest = newest_post(content)
    cases: list[tuple[str, Callable[[int], object], Callable[[RefreshReport], bool]]] = [
        ("unchanged", lambda i: None, lambda r: not r.published),
        ("one edit", lambda i: edit_post(newest, str(i)), lambda r: bool(r.updated)),
        ("one add", lambda i: add_post(content, newest, i), lambda r: bool(r.added)),
        ("one delete", lambda i: added_path(content, i).unlink(), lambda r: bool(r.removed)),
    ]
    for index in range(repeats):
        for case, change, expect in cases:
            change(index)
            elapsed, report = timed_refresh(refresher, expect)
            seconds[case].append(elapsed)
            feeds[case] = len(report.feeds_changed)
    return {"seconds": seconds, "feeds_changed": feeds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time Refresher.refresh() in-process")
    parser.add_argument("content", type=Path, help="a scratch copy of a corpus: it is modified")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.content, args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
