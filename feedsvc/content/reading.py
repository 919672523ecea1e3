"""Reading post files: the bytes of each, checked against the signature the scan saw, then parsed.

Parsing is pure Python for the most part (YAML, front-matter rules), so threads would not help; a
cold build of thousands of posts is read in worker processes started with `spawn`, never `fork`
(pipeline/parallel.py): the caller may be a threaded gunicorn worker, and a forked copy of a lock
held by another thread would hang the child. Everything here is a plain function of its arguments,
so a worker process calls `read_posts` on its chunk and returns the same objects this process would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from feedsvc.config import Settings
from feedsvc.content.includes import read_relative_files, text_digest
from feedsvc.content.parsing import MAX_POST_BYTES, parse_post
from feedsvc.content.scanning import FileSignature, signature_of
from feedsvc.model import BODY_LEVEL, Post, Problem

_MAX_INCLUDE_ROUNDS = 4  # parses of one post while its include_relatives ask for more files
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
    return _parse_with_neighbours(root, relpath, raw, settings, body_level)


def _parse_with_neighbours(root: Path, relpath: str, raw: bytes, settings: Settings, body_level: int) -> Result:
    """Parse, then again with the files the post `{% include_relative %}`s for as long as it asks for
    more (an included file may include others); a file that cannot be read is then the post's warning."""
    if b"include_relative" not in raw and "include_relative" not in settings.site_includes:
        return parse_post(relpath, raw, settings, body_level, True)  # bodies kept as source where they may be
    given: dict[str, str] = {}
    tried: set[str] = set()
    for _ in range(_MAX_INCLUDE_ROUNDS):
        wanted: list[str] = []
        result = parse_post(relpath, raw, settings, body_level, True, relative=given, wanted=wanted)
        new = [path for path in dict.fromkeys(wanted) if path not in tried]
        if not new:
            break
        tried.update(new)
        given.update(read_relative_files(root, new))
    if isinstance(result, Post) and tried:
        result = replace(result, relatives=tuple((path, text_digest(given.get(path))) for path in sorted(tried)))
    return result


def read_posts(root: Path, items: Sequence[tuple[str, FileSignature]], settings: Settings,
               body_level: int = BODY_LEVEL, progress: Callable[[int], None] | None = None) -> list[Result]:
    """`read_post` for each item, in order, in this process (pipeline/parallel.py spreads a cold
    build's files over worker processes, each calling this on its chunks).

    `progress(done)` hears how many items are read so far, ending with all of them."""
    results: list[Result] = []
    for relpath, signature in items:
        results.append(read_post(root, relpath, signature, settings, body_level))
        if progress is not None and (len(results) % 50 == 0 or len(results) == len(items)):
            progress(len(results))
    return results
