"""The disk edge: which post files exist and what their stat says, and what changed since last time.

A rescan costs one `stat` per file; only files whose signature changed are read again. Which
folders hold posts and which files are posts is the site's dialect's rule (content/dialects/).
"""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from feedsvc.content.dialects import Dialect, SiteKindError, detect
from feedsvc.model import Problem

# A file changed less than this long ago may still be being written (an editor's save, a `git checkout`,
# a copy): the refresher keeps serving its previous version and reads it once it has been still this long.
SETTLE_SECONDS = 2.0


class ScanError(Exception):
    """The content folder as a whole cannot be scanned (missing, not a folder, unreadable)."""


class FileSignature(NamedTuple):
    """Cheap evidence that a file changed; ctime catches same-size rewrites with a restored mtime.

    A tuple, not a dataclass: a rescan makes one per file, and tuples are made and compared in C.
    """

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


@dataclass(frozen=True, slots=True)
class Changes:
    added: tuple[str, ...]
    modified: tuple[str, ...]
    removed: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.modified or self.removed)


def signature_of(stat: os.stat_result) -> FileSignature:
    return FileSignature(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def changed_at(signature: FileSignature) -> datetime:
    """The last moment the file's bytes or name changed (a rename touches ctime, not mtime)."""
    return datetime.fromtimestamp(max(signature.mtime_ns, signature.ctime_ns) / 1e9, UTC)


def settles_at(signature: FileSignature, now: datetime, settle_seconds: float = SETTLE_SECONDS) -> datetime | None:
    """When a file that changed recently may be read, or None if it may be read now.

    A change stamped further in the future than the window (a skewed clock, an injected
    test clock) counts as settled: a wrong clock delays a post by at most the window.
    """
    window = timedelta(seconds=settle_seconds)
    changed = changed_at(signature)
    return changed + window if now - window < changed < now + window else None


def removal_settles_at(root: Path, relpath: str, now: datetime,
                       settle_seconds: float = SETTLE_SECONDS) -> datetime | None:
    """When a file found missing may count as removed, or None if it may now.

    An editor that saves by renaming, or a `git checkout`, removes a file and writes it back
    a moment later; both touch the folder. So a removal counts once the nearest folder that
    still exists has been still for the window.
    """
    parts = relpath.split("/")[:-1]
    while True:
        try:
            folder = os.stat(root.joinpath(*parts))
        except OSError:
            if not parts:
                return None
            parts.pop()
            continue
        return settles_at(signature_of(folder), now, settle_seconds)


def take_inventory(root: Path, folder_mtimes: list[int] | None = None, unreadable: list[str] | None = None,
                   *, dialect: Dialect | None = None,
                   linked: list[str] | None = None) -> tuple[dict[str, FileSignature], list[Problem]]:
    """Every post file under `root` with its signature; symlinks are followed only inside `root`.

    `dialect` says which folders and files are posts (the site's, from its settings; detected when
    not given). `folder_mtimes`, when given, collects the mtime of every folder walked: a deletion or
    rename leaves no file behind, but it does touch its folder. `unreadable`, when given,
    collects the folders (with a trailing slash) and files that exist but could not be
    listed or stat'ed: what was in them is unknown, not gone. `linked`, when given, collects the links
    followed and the post files with other hard links: a change to them may show under another name.
    """
    try:
        real_root = root.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError, RuntimeError) as exc:
        raise ScanError(f"content folder {root} does not exist") from exc
    except OSError as exc:
        raise ScanError(f"content folder {root} cannot be read: {exc.strerror or exc}") from exc
    if not real_root.is_dir():
        raise ScanError(f"content folder {root} is not a folder")
    inventory: dict[str, FileSignature] = {}
    problems: list[Problem] = []
    try:
        os.listdir(real_root)
    except OSError as exc:
        raise ScanError(f"content folder {root} cannot be read: {exc.strerror or exc}") from exc
    if dialect is None:
        try:
            dialect = detect(real_root)
        except SiteKindError as exc:
            raise ScanError(str(exc)) from exc
    for folder in dialect.post_folders:
        posts = real_root / folder if folder else real_root
        if folder and not posts.is_dir():
            continue
        _walk(dialect, posts, folder + "/" if folder else "", real_root, {str(real_root), str(posts)}, inventory,
              problems, folder_mtimes, [] if unreadable is None else unreadable, [] if linked is None else linked)
    return inventory, problems


def _walk(dialect: Dialect, folder: Path, prefix: str, real_root: Path, visited: set[str],
          inventory: dict[str, FileSignature], problems: list[Problem], folder_mtimes: list[int] | None,
          unreadable: list[str], linked: list[str]) -> None:
    try:
        if folder_mtimes is not None:
            folder_mtimes.append(os.stat(folder).st_mtime_ns)
        entries = list(os.scandir(folder))  # unordered: callers sort what they show
    except OSError as exc:
        problems.append(Problem(prefix.rstrip("/") or ".", f"cannot read folder: {exc.strerror or exc}"))
        unreadable.append(prefix)
        return
    for entry in entries:
        relpath = prefix + entry.name
        if not is_utf8_name(entry.name):
            if dialect.is_post_file(relpath) or dialect.walks_folder(entry.name):
                shown = relpath.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                problems.append(Problem(shown, "name is not valid UTF-8; skipped (rename it)", "warning"))
            continue
        if entry.is_file(follow_symlinks=False):  # the common case first: a plain regular file is one stat
            if dialect.is_post_file(relpath):
                _add_post_file(entry, relpath, inventory, problems, unreadable, linked)
            continue
        try:
            is_link = entry.is_symlink()
            if is_link:
                linked.append(relpath)
                target = Path(entry.path).resolve(strict=True)
                if target != real_root and real_root not in target.parents:
                    problems.append(Problem(relpath, "symlink points outside the content folder; not followed",
                                            "warning"))
                    continue
            is_dir = entry.is_dir()
        except (OSError, RuntimeError) as exc:
            message = "symlink loop" if isinstance(exc, RuntimeError) or getattr(exc, "errno", 0) == 40 \
                else f"cannot follow: {getattr(exc, 'strerror', None) or exc}"
            problems.append(Problem(relpath, message, "warning"))
            continue
        if is_dir:
            if not dialect.walks_folder(entry.name):
                continue
            real = os.path.realpath(entry.path)
            if real in visited:
                problems.append(Problem(relpath, "symlink loop; not followed", "warning"))
                continue
            _walk(dialect, Path(entry.path), relpath + "/", real_root, visited | {real}, inventory, problems,
                  folder_mtimes, unreadable, linked)
        elif dialect.is_post_file(relpath):
            _add_post_file(entry, relpath, inventory, problems, unreadable, linked)


def _add_post_file(entry: os.DirEntry[str], relpath: str, inventory: dict[str, FileSignature],
                   problems: list[Problem], unreadable: list[str], linked: list[str]) -> None:
    try:
        stat = entry.stat()  # follows a symlink (already checked to stay inside the folder)
    except FileNotFoundError:
        return  # vanished between listing and stat: it is simply not there
    except OSError as exc:
        problems.append(Problem(relpath, f"cannot stat: {exc.strerror or exc}"))
        unreadable.append(relpath)
        return
    if not stat_module.S_ISREG(stat.st_mode):  # reading a FIFO would block the refresher forever
        problems.append(Problem(relpath, "not a regular file (a pipe, socket or device); skipped", "warning"))
        return
    if stat.st_nlink > 1:
        linked.append(relpath)
    inventory[relpath] = FileSignature(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def is_utf8_name(name: str) -> bool:
    """File names arrive with undecodable bytes as lone surrogates; such a name cannot be a URL or shown."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def diff_inventory(old: Mapping[str, FileSignature], new: Mapping[str, FileSignature]) -> Changes:
    """What to re-read: new files, files whose signature changed, and files gone."""
    if old == new:  # the usual rescan: compared in C
        return Changes((), (), ())
    return Changes(
        added=tuple(sorted(p for p in new if p not in old)),
        modified=tuple(sorted(p for p in new if p in old and old[p] != new[p])),
        removed=tuple(sorted(p for p in old if p not in new)),
    )
