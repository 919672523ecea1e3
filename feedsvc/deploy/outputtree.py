"""The static output tree of `feedsvc build`: written aside, then swapped in whole.

A reader of `--out` sees the previous tree until the new one is complete, then (for an instant,
between two renames) no folder, then the new tree: never a mix of the two, never a half-written
file. An incremental build (`--cache`) keeps that promise and still leaves unchanged files
untouched: the new tree hard-links every file whose bytes did not change, so it keeps its inode
and mtime, and only changed files are written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from feedsvc.deploy.buildcache import Written, out_stat
from feedsvc.model import Resource

Progress = Callable[[str, int, int], None]


def write_tree(out: Path, files: Mapping[str, Resource], progress: Progress | None = None,
               kept: Collection[str] | None = None, written: Mapping[str, Written] | None = None) -> int:
    """Make `out` hold exactly `files` (relative path -> bytes); return how many files were written.

    With `kept` (an incremental build): those files are the ones already in `out`, and any other
    whose bytes are unchanged (by the last build's record `written`, or compared) is kept too.
    Raises OSError with `out` as it was.
    """
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder; not replacing it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    count = 0
    try:
        for done, (relative, resource) in enumerate(sorted(files.items()), 1):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            previous = out / relative
            if kept is not None and (relative in kept or _unchanged(previous, resource, (written or {}).get(relative))):
                _keep(previous, target)
            else:
                target.write_bytes(resource.body)
                count += 1
            if progress is not None:
                progress("writing", done, len(files))
        staging.chmod(0o755)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count


def _unchanged(previous: Path, resource: Resource, record: Written | None) -> bool:
    """Whether the file in the old tree already holds these bytes: by the last build's record, else by reading it."""
    stat = out_stat(previous)
    if stat is None:
        return False
    if record is not None and record.stat == stat:
        return record.etag == resource.etag
    if stat[0] != resource.size:
        return False
    try:
        return previous.read_bytes() == resource.body
    except OSError:
        return False


def _keep(previous: Path, target: Path) -> None:
    """The old tree's file in the new tree, untouched (a hard link); a copy with its times where links fail."""
    try:
        os.link(previous, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(previous, target, follow_symlinks=False)


def _swap_in(staging: Path, out: Path) -> None:
    """Two renames: `out` is the old tree, then (for an instant) absent, then the whole new tree."""
    previous = None
    if out.exists():
        previous = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(previous)
    try:
        staging.rename(out)
    except BaseException:
        if previous is not None:
            previous.rename(out)  # put the last good tree back
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
