"""The state folder belongs to the service: checked before a single file in it is trusted.

Everything feedsvc reads back from the state folder (the manifest and the hashes blobs are
checked against, the post cache, requests from other workers, the builder lock) is only as
trustworthy as the folder. So a folder, given or default, is used only if this user owns it,
no one else can write to it, it is not a symbolic link, and no one else could swap it or one of
the folders above it for another (each is owned by this user or root, and writable by others
only with the sticky bit, as /tmp is). A folder feedsvc creates is created 0700.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from feedsvc.config import ConfigError

FIX = "set FEEDSVC_STATE_DIR to a folder only the service's user can write, or let feedsvc create its default one"


class UnsafeFolder(ConfigError):
    """The state folder (or one above it) could be changed by someone else: the service does not start."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__([f"state folder {path}: {why}; {FIX}"])
        self.path = path
        self.why = why


def claim_folder(path: Path) -> Path:
    """Create `path` (0700, with its missing parents) or check an existing one; return it, absolute.

    Raises UnsafeFolder, naming the reason, for a link, a foreign owner or a folder others can write.
    """
    path = Path(os.path.abspath(path))
    _check_ancestors(path)
    missing = [folder for folder in (path, *path.parents) if not os.path.lexists(folder)]
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass  # another worker made it first: checked below like any existing folder
        except OSError as exc:
            raise UnsafeFolder(folder, f"cannot be created ({exc.strerror})") from None
    check_private(path)
    return path


def check_private(path: Path) -> None:
    """`path` is a real folder of ours that no one else can write to (its contents are ours to trust)."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise UnsafeFolder(path, f"cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFolder(path, "is a symbolic link (a link could lead anywhere; give the real folder)")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFolder(path, "is not a folder")
    if info.st_uid != os.geteuid():
        raise UnsafeFolder(path, f"belongs to uid {info.st_uid}, not to this service's uid {os.geteuid()}")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeFolder(path, f"can be written by others (mode {stat.S_IMODE(info.st_mode):o}; "
                                 f"`chmod 700 {path}` fixes it)")


def _check_ancestors(path: Path) -> None:
    """No one but us and root can rename or replace anything on the way to the folder."""
    real = Path(os.path.realpath(path.parent))
    for folder in (real, *real.parents):
        try:
            info = os.stat(folder)
        except FileNotFoundError:
            continue  # created by claim_folder, 0700
        except OSError as exc:
            raise UnsafeFolder(path, f"{folder} above it cannot be read ({exc.strerror})") from None
        if info.st_uid not in (0, os.geteuid()):
            raise UnsafeFolder(path, f"{folder} above it belongs to uid {info.st_uid}, who could replace it")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
            raise UnsafeFolder(path, f"{folder} above it can be written by others "
                                     f"(mode {stat.S_IMODE(info.st_mode):o}), who could replace it")


def subfolder(root: Path, name: str) -> Path:
    """A folder inside the (checked) state folder, made 0700 if missing, refused if it is a link or not ours."""
    path = root / name
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UnsafeFolder(path, f"cannot be created ({exc.strerror})") from None
    check_private(path)
    return path
