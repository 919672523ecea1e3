"""Rendering a cold build's feeds on every core.

A cold build renders every feed of every scope (1,600 and more at 10,000 posts), mostly in
feedgen's pure Python: threads would queue on the GIL. Forked children inherit the site, so
nothing but each job's index goes in and only the finished (gzip) resources come back. Fork is
used only where it is safe: with no other thread in the process (a forked copy of a lock held by
another thread would hang the child), which is the case for `feedsvc build`, `check`, and the
first build of `serve` before the server starts. Anywhere else, and if anything goes wrong,
the caller renders in-process instead. The output is the same objects either way (tested).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence

from feedsvc.model import Resource
from feedsvc.render.entrycache import ENTRIES, FORKED_MAX_BYTES
from feedsvc.render.feeds import GZIP_LEVEL, ResourceParts, as_resource

log = logging.getLogger("feedsvc")

FORK_FROM = 200  # fewer jobs than this: forking costs more than it saves
_JOBS: Sequence[Callable[[], ResourceParts]] = ()


def fork_is_safe() -> bool:
    return (os.cpu_count() or 1) > 1 and threading.active_count() == 1 \
        and "fork" in multiprocessing.get_all_start_methods()


def _render_range(start: int, stop: int, gzip_level: int) -> list[Resource]:
    ENTRIES.max_bytes = FORKED_MAX_BYTES  # a child lives for one build: entries shared by its feeds may stay
    return [as_resource(*_JOBS[i](), gzip_level=gzip_level) for i in range(start, stop)]


def render_forked(jobs: Sequence[Callable[[], ResourceParts]], progress: Callable[[int], None] | None = None,
                  gzip_level: int = GZIP_LEVEL) -> list[Resource] | None:
    """`as_resource(*job())` for each job, in order, in forked children; None when that cannot be done."""
    global _JOBS
    processes = os.cpu_count() or 1
    step = max(1, len(jobs) // (processes * 8))
    ranges = [(start, min(start + step, len(jobs))) for start in range(0, len(jobs), step)]
    _JOBS = jobs
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            made: list[Resource] = []
            for result in [pool.apply_async(_render_range, (*bounds, gzip_level)) for bounds in ranges]:
                made.extend(result.get())
                if progress is not None:
                    progress(len(made))
            return made
    except Exception as exc:  # a child that died, no more processes: render here instead
        log.warning("rendering %d files in forked processes failed (%s); rendering them here", len(jobs), exc)
        return None
    finally:
        _JOBS = ()

