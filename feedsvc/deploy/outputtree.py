"""The static output tree of `feedsvc build`: never a half-written file, and no needless writes.

A cold build writes the whole tree aside and swaps it in with two renames: a reader of `--out`
sees the previous tree, then (for an instant) no folder, then the new tree. An incremental build
(`--cache`) touches only what changed, so its cost follows the edit, not the site: it writes every
changed file under a temporary name beside it, then renames each over its old version, then
removes the files that are gone. A reader then sees each file old or new, whole; during that short
burst of renames some feeds may already be new while others are still old, and a file that is
gone stays until the end. Unchanged files are not touched: they keep their inode and mtime.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from feedsvc.deploy.buildcache import Written, out_stat
from feedsvc.model import Resource
from feedsvc.render.feeds import etag_of

Progress = Callable[[str, int, int], None]


class _NotUpdatable(Exception):
    """The old tree holds a link or something else in the way: it is replaced whole instead."""


def write_tree(out: Path, files: Mapping[str, Resource], progress: Progress | None = None,
               kept: Collection[str] | None = None, written: Mapping[str, Written] | None = None) -> int:
    """Make `out` hold exactly `files` (relative path -> bytes); return how many files were written.

    With `kept` (an incremental build): those files are the ones already in `out`, and any other
    whose bytes are unchanged (by the last build's record `written`, or compared) is left as it is.
    Raises OSError with `out` as it was (an incremental build: each file as it was, or new).
    """
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder; not replacing it")
    if kept is not None and out.is_dir():
        try:
            return _update(out, files, kept, written or {}, progress)
        except _NotUpdatable:
            return _replace(out, files, progress, kept)
    return _replace(out, files, progress)


def _replace(out: Path, files: Mapping[str, Resource], progress: Progress | None,
             kept: Collection[str] = ()) -> int:
    """Every file written to a new tree, swapped in whole; `kept` ones (no bytes of their own) copied from `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for done, (relative, resource) in enumerate(sorted(files.items()), 1):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_kept_bytes(out / relative, resource) if relative in kept else resource.body)
            if progress is not None:
                progress("writing", done, len(files))
        staging.chmod(0o755)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(files)


def _kept_bytes(path: Path, resource: Resource) -> bytes:
    """The bytes of a file the build kept in the old tree, checked against its ETag (the tree may hold links,
    which is why it is replaced): anything else is an OSError, so the old tree stays as it was."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path} is no longer a plain file")
        data = file.read(resource.size + 1)
    if etag_of(data) != resource.etag:
        raise OSError(f"{path} changed during the build; build again")
    return data


def _update(out: Path, files: Mapping[str, Resource], kept: Collection[str], written: Mapping[str, Written],
            progress: Progress | None) -> int:
    """Only the changed files written (each under a temporary name, then renamed over), the gone ones removed."""
    present, folders = _walk(out)
    changed = [(relative, resource) for relative, resource in sorted(files.items())
               if relative not in kept and not _unchanged(out / relative, resource, written.get(relative))]
    ready: list[tuple[Path, Path]] = []
    try:
        for done, (relative, resource) in enumerate(changed, 1):
            target = out / relative
            if relative in folders or any(str(up) in present for up in Path(relative).parents if str(up) != "."):
                raise _NotUpdatable(f"{relative}: a file is where a folder goes, or a folder where a file goes")
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}.new")
            ready.append((temporary, target))
            temporary.write_bytes(resource.body)
            if progress is not None:
                progress("writing", done, len(changed))
    except BaseException:
        for temporary, _ in ready:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise
    for index, (temporary, target) in enumerate(ready):
        try:
            os.replace(temporary, target)
        except BaseException:
            for left, _ in ready[index:]:
                with contextlib.suppress(OSError):
                    os.unlink(left)
            raise
    for relative in present - files.keys():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out / relative)
    # Deepest first, so folders the removals emptied go too.
    for folder in sorted(folders, key=lambda name: name.count("/"), reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(out / folder)  # fails, as it should, on any folder that still holds something
    return len(changed)


def _walk(out: Path) -> tuple[set[str], set[str]]:
    """Every file and folder under `out`, relative; a link anywhere means the tree is replaced whole."""
    files: set[str] = set()
    folders: set[str] = set()
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(out / relative if relative else out) as entries:
            for entry in entries:
                name = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_symlink():
                    raise _NotUpdatable(f"{name} is a link")
                if entry.is_dir(follow_symlinks=False):
                    folders.add(name)
                    pending.append(name)
                else:
                    files.add(name)
    return files, folders


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
