"""Served bytes read from the state folder's blobs when sent, instead of held by every process.

Each worker used to hold every published feed's gzip bytes (10,000 posts: 2,205 files, ~60 MB per
process). A `Blob` names the file instead (statefolder.py's `blobs/<etag>.gz`); the page cache
holds the bytes once for all workers, and `HOT` keeps the most asked-for ones in this process so a
feed polled all day is not read and hashed on every request.

What is read back is untrusted: every read from disk is checked against the manifest's SHA-256
(~15 us for a 27 KB feed) and refused (OSError) if it differs, so a blob changed after the load
checked it is never sent; only checked bytes enter `HOT`. Checking on every read costs a hash per
miss, which the LRU makes rare; trusting (inode, size, mtime) instead would miss a rewrite that
keeps them. The builder keeps a blob some time after no manifest names it (statefolder.py), so a
request that picked the previous snapshot still finds its file; if not, it is answered 503 and the
follower's next manifest read serves the current one.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

from feedsvc.lru import LRUCache

log = logging.getLogger("feedsvc")

HOT_BYTES = 8 * 1024 * 1024  # ~300 feeds of 27 KB: the ones readers poll most
HOT: LRUCache[str, bytes] = LRUCache(HOT_BYTES, len)  # SHA-256 -> gzip bytes checked against it


class BlobChanged(OSError):
    """A blob's bytes are no longer the ones the manifest names."""


@dataclass(frozen=True, slots=True)
class Blob:
    """One resource's gzip bytes in the state folder, by path and the SHA-256 they must have."""

    path: str
    sha256: str
    length: int

    def read(self) -> bytes:
        held = HOT.get(self.sha256)
        if held is not None:
            return held
        body = read_checked(self.path, self.sha256, self.length)
        HOT.put(self.sha256, body)
        return body


def read_checked(path: str, sha256: str, length: int) -> bytes:
    """The file's bytes if they hash to `sha256`; OSError otherwise (gone, a link, another size or content)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        body = os.pread(fd, length + 1, 0)  # one byte more: a file that grew is refused too
    finally:
        os.close(fd)
    if len(body) != length or hashlib.sha256(body).hexdigest() != sha256:
        log.error("state folder: blob %s no longer matches its hash; not served", os.path.basename(path))
        raise BlobChanged(f"blob {os.path.basename(path)} changed after it was checked")
    return body
