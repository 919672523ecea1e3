"""The disk edge: which post files exist and what their stat says, and what changed since last time.

A rescan costs one `stat` per file; only files whose signature changed are read again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .hugo import POSTS_FOLDER, is_hugo_site
from .model import Problem

POST_SUFFIXES = (".md", ".markdown")


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


def is_post_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(POST_SUFFIXES)


def is_content_folder(name: str) -> bool:
    """Jekyll's rule: hidden folders and `_folders` are not content, except `_posts`."""
    return not name.startswith(".") and (not name.startswith("_") or name == "_posts")


def take_inventory(root: Path, folder_mtimes: list[int] | None = None
                   ) -> tuple[dict[str, FileSignature], list[Problem]]:
    """Every post file under `root` with its signature; symlinks are followed only inside `root`.

    `folder_mtimes`, when given, collects the mtime of every folder walked: a deletion or
    rename leaves no file behind, but it does touch its folder.
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
    if is_hugo_site(real_root):  # Hugo (hugo.py): only content/posts/ holds posts, and _index.md is a list page
        posts = real_root / POSTS_FOLDER
        if posts.is_dir():
            _walk(posts, POSTS_FOLDER + "/", real_root, {str(real_root), str(posts)}, inventory, problems,
                  folder_mtimes)
        for relpath in [p for p in inventory if p.rsplit("/", 1)[-1].lower().startswith("_index.")]:
            del inventory[relpath]
        return inventory, problems
    _walk(real_root, "", real_root, {str(real_root)}, inventory, problems, folder_mtimes)
    return inventory, problems


def _walk(folder: Path, prefix: str, real_root: Path, visited: set[str],
          inventory: dict[str, FileSignature], problems: list[Problem], folder_mtimes: list[int] | None) -> None:
    try:
        if folder_mtimes is not None:
            folder_mtimes.append(os.stat(folder).st_mtime_ns)
        entries = list(os.scandir(folder))  # unordered: callers sort what they show
    except OSError as exc:
        problems.append(Problem(prefix.rstrip("/") or ".", f"cannot read folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        relpath = prefix + entry.name
        if entry.is_file(follow_symlinks=False):  # the common case first: a plain file is one stat
            if is_post_name(entry.name):
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue  # vanished between listing and stat: it is simply not there
                except OSError as exc:
                    problems.append(Problem(relpath, f"cannot stat: {exc.strerror or exc}"))
                    continue
                inventory[relpath] = FileSignature(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
            continue
        try:
            is_link = entry.is_symlink()
            if is_link:
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
            if not is_content_folder(entry.name):
                continue
            real = os.path.realpath(entry.path)
            if real in visited:
                problems.append(Problem(relpath, "symlink loop; not followed", "warning"))
                continue
            _walk(Path(entry.path), relpath + "/", real_root, visited | {real}, inventory, problems,
                  folder_mtimes)
        elif is_post_name(entry.name):
            try:
                inventory[relpath] = signature_of(entry.stat())
            except FileNotFoundError:
                continue  # vanished between listing and stat: it is simply not there
            except OSError as exc:
                problems.append(Problem(relpath, f"cannot stat: {exc.strerror or exc}"))


def diff_inventory(old: Mapping[str, FileSignature], new: Mapping[str, FileSignature]) -> Changes:
    """What to re-read: new files, files whose signature changed, and files gone."""
    if old == new:  # the usual rescan: compared in C
        return Changes((), (), ())
    return Changes(
        added=tuple(sorted(p for p in new if p not in old)),
        modified=tuple(sorted(p for p in new if p in old and old[p] != new[p])),
        removed=tuple(sorted(p for p in old if p not in new)),
    )
