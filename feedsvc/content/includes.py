"""The files Jekyll's `{% include %}` and `{% include_relative %}` read: the I/O edge of includetag.py.

`_includes` is read at the config edge (config.load_settings), like `_data`, and carried in the
settings as JSON, so a change to an include re-renders the posts with Liquid (`includes_signature`
is the cheap evidence the refresher compares). The files a post `include_relative`s are read by
the reader on demand (reading.py), as the post asks for them. Everything read is untrusted:
symlinks are not followed, paths never climb out of the site, sizes are capped.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from feedsvc.content.datafiles import tree_signature

INCLUDES_FOLDER = "_includes"
# What includetag.py finds in a render's globals (templating.render_liquid puts them there).
INCLUDES_VAR = "__feedsvc_includes"  # path of an `_includes` file from the site's root -> text
RELATIVE_VAR = "__feedsvc_relative"  # path from the site's root -> text (include_relative)
POST_PATH_VAR = "__feedsvc_post_path"  # the post's own path from the site's root
WANTED_VAR = "__feedsvc_wanted"  # list: include_relative paths asked for and not given (the reader reads them)
PROBLEMS_VAR = "__feedsvc_include_problems"  # list of (message, line in the body)
MAX_INCLUDE_BYTES = 1024 * 1024
MAX_INCLUDES_BYTES = 8 * 1024 * 1024


def read_includes_folder(root: Path) -> dict[str, str]:
    """Every file under `_includes` (subfolders too) by its path from the site's root; {} without one.
    A file over the size limit, or past the total budget, is left out (its include then warns)."""
    folder = root / INCLUDES_FOLDER
    if not folder.is_dir() or folder.is_symlink():
        return {}
    found: dict[str, str] = {}
    budget = MAX_INCLUDES_BYTES
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(name for name in dirnames
                             if not name.startswith(".") and not os.path.islink(os.path.join(dirpath, name)))
        for name in sorted(filenames):
            text = _read_text(os.path.join(dirpath, name), min(budget, MAX_INCLUDE_BYTES))
            if text is not None and not name.startswith("."):
                budget -= len(text)
                found[Path(dirpath, name).relative_to(root).as_posix()] = text
    return found


def includes_signature(root: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Every entry of the `_includes` tree with its size, mtime and ctime: equal unless something changed."""
    return tree_signature(root / INCLUDES_FOLDER)


def read_relative_files(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """The files a post `include_relative`s, by their path from the site's root (a path that climbs
    out, crosses a symlink, or cannot be read is left out: the include then warns)."""
    found: dict[str, str] = {}
    for path in paths:
        parts = path.split("/")
        if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
            continue
        if any(os.path.islink(os.path.join(root, *parts[:depth])) for depth in range(1, len(parts) + 1)):
            continue
        text = _read_text(os.path.join(root, *parts), MAX_INCLUDE_BYTES)
        if text is not None:
            found[path] = text
    return found


def text_digest(text: str | None) -> str:
    """What a post records of an `include_relative`d file it saw ("" for none), to notice a change."""
    return "" if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]


def changed_relatives(root: Path, relatives: Iterable[tuple[str, str]]) -> bool:
    """Whether any file a post include_relatives now reads otherwise than when the post was parsed."""
    relatives = tuple(relatives)
    found = read_relative_files(root, [path for path, _ in relatives])
    return any(text_digest(found.get(path)) != digest for path, digest in relatives)


def _read_text(path: str, limit: int) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        return None
    return raw.decode("utf-8-sig", "replace").replace("\r\n", "\n")
