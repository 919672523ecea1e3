"""Durable, atomic folders on disk for the git source's checkouts: flushed before they are named, deleted aside."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
from pathlib import Path


def delete_all(paths: list[str]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def sync_tree(root: Path) -> None:
    """Flush a checkout to disk: its filesystem at once (`syncfs`) where Linux offers it, else file by file."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs(fd):
            return
        for folder, _, files in os.walk(root):
            for name in files:
                with contextlib.suppress(OSError):  # a symlink in the repository: nothing of ours to flush
                    file_fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_NOFOLLOW)
                    try:
                        os.fsync(file_fd)
                    finally:
                        os.close(file_fd)
            sync_folder(Path(folder))
    finally:
        os.close(fd)


def _syncfs(fd: int) -> bool:
    try:
        return int(ctypes.CDLL(None, use_errno=True).syncfs(fd)) == 0
    except (OSError, AttributeError):
        return False


def sync_folder(folder: Path) -> None:
    """Make a rename or a new entry in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
