"""`feedsvc build --cache DIR`: what one build parsed and wrote, so the next one redoes only what changed.

The folder holds `posts.pack` (pipeline/postpack.py: parsed posts and render keys, one file read
and verified at once), `entries.pack` (pipeline/entrypack.py: the feed entries the last build's entry
cache held, so the feeds that show an edited post do not render every other entry again) and `output.json`:
for each file last written to `--out`, the ETag of its bytes and the
`stat` it had then. A feed whose render key is unchanged and whose file in `--out` still has that
`stat` is not rendered again: the file stays as it is (`kept`). Everything here is read back as
untrusted input, like the state folder: the folder must be a real 0700 folder of ours
(deploy/privatefolder.py), every value is checked, and anything wrong only costs a cold build.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedsvc import __version__
from feedsvc.atomicfile import read_private, write_atomically
from feedsvc.content.scanning import FileSignature
from feedsvc.deploy.privatefolder import UnsafeFolder, claim_folder
from feedsvc.model import Post, Resource
from feedsvc.pipeline.entrypack import BadEntries, load_entries, save_entries
from feedsvc.pipeline.postpack import PostPack
from feedsvc.pipeline.refresh import Refresher

log = logging.getLogger("feedsvc")

OUTPUT = "output.json"
PACK = "posts.pack"
ENTRIES = "entries.pack"
FORMAT = 1
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
# A file changed this close to the build may change again within the file system's clock tick with the
# same size and times: its signature is not kept, so the next build reads it again (git's "racily clean").
RACY_NS = 2_000_000_000
UNKNOWN = FileSignature(-1, -1, -1, -1)

OutStat = tuple[int, int, int, int]
"""An output file's (size, mtime_ns, ctime_ns, inode) when it was written: any change to it moves one."""


def out_stat(path: Path) -> OutStat | None:
    """The `stat` of an output file as it is now, or None if it is missing or not a plain file."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):  # `lstat`: a link, even to a plain file, is not one
        return None
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


@dataclass(frozen=True, slots=True)
class Written:
    """One file of `--out` as the last build left it: the ETag of its bytes and its `stat`."""

    etag: str
    stat: OutStat


def relative_path(url_path: str) -> str:
    """Where a served path lives in the output tree (an HTML page is the folder's index.html)."""
    relative = url_path.lstrip("/")
    return relative + "index.html" if url_path.endswith("/") else relative


def note(message: str) -> None:
    """One line on stderr: the cache only saves time, so its troubles are notes, not errors."""
    print(f"build cache: {message}", file=sys.stderr)


class BuildCache:
    """The `--cache` folder of one build: `seed` before the first refresh, `save` after the tree is written."""

    def __init__(self, folder: Path, out: Path) -> None:
        self.folder = folder
        self.out = out
        self.content_dir: Path | None = None  # the refresher's, once `seed` has it
        self.started_ns = time.time_ns()
        self.posts = PostPack(folder / PACK)
        self.kept: dict[str, Resource] = {}  # URL path -> stand-in for bytes already in `--out`
        self._written: dict[str, Written] | None = None
        self._frozen = False

    @classmethod
    def open(cls, folder: Path, out: Path) -> BuildCache | None:
        """The cache at `folder` (created 0700 if missing), or None with a note if it is not safe to use."""
        try:
            folder = claim_folder(folder)
        except UnsafeFolder as exc:
            note(f"{exc.path} {exc.why}; building without it")
            return None
        return cls(folder, out.resolve())

    def _identity(self) -> dict[str, Any]:
        return {"format": FORMAT, "feedsvc": __version__, "content": str(self.content_dir), "out": str(self.out)}

    def seed(self, refresher: Refresher) -> None:
        """Hand the refresher what the last build parsed, and the render keys of files still intact in `--out`."""
        self.content_dir = refresher.content_dir.resolve()
        self.started_ns = time.time_ns()  # before the folder is scanned
        seed = self.posts.load()
        if seed is None:
            first = not os.path.lexists(self.posts.path)
            note(f"{self.folder} is new: this build fills it" if first
                 else f"nothing usable in {self.posts.path}; a cold build")
            return
        # The seed's posts (115,000 objects the collector tracks, at 10,000 posts) live until the build ends:
        # every later full collection would walk them all again for nothing (~10 % of a build's CPU).
        gc.freeze()
        self._frozen = True
        written = self.written()
        for path, (_, etag) in seed.rendered.items():
            record = written.get(relative_path(path))
            if record is not None and record.etag == etag and out_stat(self.out / relative_path(path)) == record.stat:
                # Never served: the build keeps the file in `--out` for it (see `is_kept`).
                self.kept[path] = Resource(path, "", b"", record.stat[0], etag, None)
        refresher.seed(seed, self.kept)
        posts = {value.fingerprint: value for value in seed.parsed.values() if isinstance(value, Post)}
        try:
            refresher.entries.preload(posts, load_entries(self.folder / ENTRIES))
        except (OSError, BadEntries) as exc:
            note(f"{self.folder / ENTRIES} is unusable ({exc}); the feeds' entries are rendered again")

    def release(self) -> None:
        """The build is over: what `seed` kept out of the garbage collector's sight is in it again."""
        if self._frozen:
            gc.unfreeze()
            self._frozen = False

    def is_kept(self, path: str, resource: Resource) -> bool:
        """Whether `resource` is the stand-in `seed` made: its bytes are those of the file in `--out`."""
        kept = self.kept.get(path)
        return kept is not None and resource.etag == kept.etag and not resource.gzip_body

    def written(self) -> dict[str, Written]:
        """What the last build recorded of `--out`; nothing (with a note) if it is missing, foreign or malformed."""
        if self._written is None:
            self._written = self._read_written()
        return self._written

    def _read_written(self) -> dict[str, Written]:
        try:
            data = json.loads(read_private(self.folder / OUTPUT, MAX_OUTPUT_BYTES))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            note(f"{self.folder / OUTPUT} is unreadable ({exc}); every file is compared again")
            return {}
        if not isinstance(data, dict) or data.get("identity") != self._identity():
            note(f"{self.folder / OUTPUT} was written for another version, content or output folder; ignored")
            return {}
        files = data.get("files")
        records: dict[str, Written] = {}
        for relative, value in (files.items() if isinstance(files, dict) else ()):
            if not (isinstance(value, list) and len(value) == 5 and isinstance(value[0], str)
                    and all(type(n) is int for n in value[1:])):
                note(f"{self.folder / OUTPUT} is malformed; every file is compared again")
                return {}
            records[relative] = Written(value[0], (value[1], value[2], value[3], value[4]))
        return records

    def save(self, refresher: Refresher, etags: Mapping[str, str]) -> None:
        """Keep what this build parsed and wrote; `etags`: relative output path -> ETag of its bytes."""
        seed = refresher.export()
        if seed is None:
            return
        recent = self.started_ns - RACY_NS
        seed = dataclasses.replace(seed, inventory={
            relpath: signature if max(signature.mtime_ns, signature.ctime_ns) < recent else UNKNOWN
            for relpath, signature in seed.inventory.items()})
        try:
            self.posts.save(seed)
            save_entries(self.folder / ENTRIES, refresher.entries.export())
            files: dict[str, list[object]] = {}
            for relative, etag in etags.items():
                stat = out_stat(self.out / relative)
                if stat is not None:
                    files[relative] = [etag, *stat]
            write_atomically(self.folder / OUTPUT, json.dumps({"identity": self._identity(), "files": files}).encode())
        except OSError as exc:
            note(f"saving to {self.folder} failed ({exc}); the next build starts cold")
