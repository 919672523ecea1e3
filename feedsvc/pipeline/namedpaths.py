"""The inventory after an OS event: the last one, with only the files the event named looked at again.

While the watcher is healthy (watching.py) it names every file that changed, so the refresh it asks
for need not `stat` every post (10,000 posts: ~0.1 s) to find one edit. This gives the same answer
as content/scanning.py's full walk for the plain case (a regular file, reached through real folders
the dialect walks, under a UTF-8 name, with no other hard link) and declines (None) wherever the walk
does more: a link, a folder, a name it would warn about. The refresher uses it only while the last
full walk met no link and no hard-linked post (`take_inventory(linked=...)`): a change to a link's
target is named by the OS under the target's name only. Declining costs only the full walk; the periodic full walk stays
the safety net for anything the OS did not report.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from feedsvc.content.dialects.base import Dialect
from feedsvc.content.scanning import FileSignature, is_utf8_name, signature_of


def inventory_with(known: Mapping[str, FileSignature], root: Path, named: Iterable[str],
                   dialect: Dialect) -> tuple[dict[str, FileSignature], list[int]] | None:
    """`known` with each named file (relative, "/"-separated) stat'ed again, added or dropped, and the
    mtimes of their folders (a rename or deletion shows there); None where only a full walk can say."""
    inventory = dict(known)
    folder_mtimes: list[int] = []
    for relpath in named:
        parts = relpath.split("/")
        if any(part in ("", ".", "..") or not is_utf8_name(part) for part in parts):
            return None
        if not _walked(dialect, parts):
            if relpath in inventory:
                return None  # known as a post, yet not one by these rules: let the walk decide
            continue  # not a post (an image, the site's config): settings are checked on every refresh
        found = _signature(root, parts, folder_mtimes)
        if found is None:
            return None
        if found is _GONE:
            inventory.pop(relpath, None)
        else:
            inventory[relpath] = found
    return inventory, folder_mtimes


_GONE = FileSignature(-2, -2, -2, -2)


def _walked(dialect: Dialect, parts: list[str]) -> bool:
    """Whether the full walk reaches this file: below a posts folder, through folders it walks."""
    relpath = "/".join(parts)
    for folder in dialect.post_folders:
        prefix = folder.split("/") if folder else []
        if parts[: len(prefix)] != prefix or len(parts) <= len(prefix):
            continue
        inside = parts[len(prefix):-1]
        if all(dialect.walks_folder(name) for name in inside) and dialect.is_post_file(relpath):
            return True
    return False


def _signature(root: Path, parts: list[str], folder_mtimes: list[int]) -> FileSignature | None:
    """The file's signature; `_GONE` if it or a folder on its way is missing; None for a link or an oddity."""
    path = root
    if len(parts) == 1:
        try:
            folder_mtimes.append(os.stat(root).st_mtime_ns)
        except OSError:
            return None
    for index, part in enumerate(parts):
        path = path / part
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return _GONE
        except OSError:
            return None  # unreadable: the walk reports it as a problem
        if stat.S_ISLNK(info.st_mode):
            return None  # the walk follows links only inside the folder, with its own checks
        last = index == len(parts) - 1
        if not last and not stat.S_ISDIR(info.st_mode):
            return _GONE
        if index == len(parts) - 2:
            folder_mtimes.append(info.st_mtime_ns)
        if last:
            if stat.S_ISDIR(info.st_mode):
                return None  # a folder now has this name
            if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
                return None  # a FIFO or device (the walk warns about it), or a file with another name
            return signature_of(info)
    return None

