"""Reading post files: one at a time for an edit, on every core for a cold build.

Parsing is pure Python for the most part (YAML, front-matter rules), so threads would not help;
a cold build of thousands of posts hands chunks of paths to worker processes instead. They are
started with `spawn`, never `fork`: the caller may be a threaded gunicorn worker, and a forked
copy of a lock held by another thread would hang the child. Results are the same objects the
serial path returns, in the same order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from feedsvc.config import Settings
from feedsvc.content.parsing import MAX_POST_BYTES, parse_post
from feedsvc.content.scanning import FileSignature, signature_of
from feedsvc.model import BODY_LEVEL, Post, Problem

log = logging.getLogger("feedsvc")

PARALLEL_FROM = 400  # below this, starting processes costs more than it saves
_CHUNK = 250

Result = Post | Problem | None  # None: the file vanished or changed between listing and reading


def read_post(root: Path, relpath: str, signature: FileSignature, settings: Settings,
              body_level: int = BODY_LEVEL) -> Result:
    if signature.size > MAX_POST_BYTES:
        return Problem(relpath, f"file is {signature.size:,} bytes, over the {MAX_POST_BYTES:,}-byte limit "
                                "for a post; not read")
    try:
        with open(root / relpath, "rb") as handle:
            raw = handle.read(MAX_POST_BYTES + 1)
            read_signature = signature_of(os.fstat(handle.fileno()))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Problem(relpath, f"cannot read: {exc.strerror or exc}")
    if read_signature != signature:  # replaced or rewritten since the scan: the bytes may be torn
        return None
    return parse_post(relpath, raw, settings, body_level)


def _read_chunk(root: Path, items: Sequence[tuple[str, FileSignature]], settings: Settings, body_level: int,
                progress: Callable[[int], None] | None = None) -> list[Result]:
    results = []
    for relpath, signature in items:
        results.append(read_post(root, relpath, signature, settings, body_level))
        if progress is not None and (len(results) % 50 == 0 or len(results) == len(items)):
            progress(len(results))
    return results


def read_posts(root: Path, items: Sequence[tuple[str, FileSignature]], settings: Settings,
               processes: int | None = None, progress: Callable[[int], None] | None = None,
               body_level: int = BODY_LEVEL, parallel_from: int = PARALLEL_FROM, chunk: int = _CHUNK
               ) -> list[Result]:
    """`read_post` for each item, in order; in worker processes when there are many and cores to use.

    `progress(done)` hears how many items are read so far, ending with all of them. `parallel_from` and
    `chunk` let tests take the worker-process path with a few posts."""
    processes = processes if processes is not None else (os.cpu_count() or 1)
    if processes < 2 or len(items) < parallel_from:
        return _read_chunk(root, items, settings, body_level, progress)
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    try:
        with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            read: list[Result] = []
            for chunk in pool.map(_read_chunk, [root] * len(chunks), chunks, [settings] * len(chunks),
                                  [body_level] * len(chunks)):
                read.extend(chunk)
                if progress is not None:
                    progress(len(read))
            return read
    except (BrokenProcessPool, OSError, RuntimeError) as exc:  # no importable __main__ for spawn, no processes
        log.warning("reading %d posts in worker processes failed (%s); reading them here instead", len(items), exc)
        return _read_chunk(root, items, settings, body_level, progress)
