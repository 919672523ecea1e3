"""Files in the private state folder: replaced atomically, and never reached through a symbolic link.

Used by the state folder (deploy/statefolder.py) and the post cache (pipeline/postcache.py);
a module of its own so the pipeline need not import the deploy layer for it. The folder itself
is checked when it is opened (deploy/privatefolder.py); these calls keep that promise file by
file: a link planted in place of a file is neither read nor written through.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside `path` under a name no other process or thread uses, then rename over it.

    The temporary file is created afresh (never through a link or into a file someone left there),
    readable by this user only, and removed if the write fails (a full disk leaves nothing behind).
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(temporary, flags, 0o600)
    except FileExistsError:  # left by a process with our pid that was killed mid-write
        os.unlink(temporary)
        fd = os.open(temporary, flags, 0o600)
    try:
        with open(fd, "wb", closefd=True) as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_private(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file in the state folder; OSError if it is a link, not a file, or over `limit`."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC)  # a planted FIFO does not block us
    with open(fd, "rb", closefd=True) as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{path} is not a regular file")
        # Asked for what the file holds (and one byte more, to see it grew), not for `limit`: a read of
        # `limit` bytes sets aside that much for every small file (the post cache reads thousands).
        if limit is None:
            data = handle.read()
        else:
            data = handle.read(min(status.st_size, limit) + 1)
            if len(data) > status.st_size:  # it grew since: read on, up to the limit
                data += handle.read(limit + 1 - len(data))
    if limit is not None and len(data) > limit:
        raise OSError(f"{path} is larger than {limit} bytes")
    return data
