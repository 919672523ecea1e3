"""The builder's parsed posts and render keys, kept in the state folder so a restart need not redo them.

A warm start (service.py) serves the last published bytes at once, but the builder must still
know every post to follow changes: without this cache it parses the whole folder again and
renders every feed again (10,000 posts: 10-20 s of both cores, during which webhooks wait and
archive pages answer 503). With it, the first refresh after a restart reads only the files that
changed while feedsvc was down and renders only the feeds they touch.

Its files, under the state folder's `posts/`, are described with the rest of that folder in
deploy/statefolder.py. Each parsed file's value is written once and never changed, so a refresh
writes only what it newly parsed. Only the builder writes here; anything that does not match
this version of feedsvc, of Python and of the `Post` model is ignored, and an entry that cannot
be read is simply parsed again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import pickle
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedsvc import __version__
from feedsvc.atomicfile import write_atomically
from feedsvc.content.scanning import FileSignature
from feedsvc.model import Post, Problem

log = logging.getLogger("feedsvc")

CACHE_FORMAT = 1
INDEX = "index.json"


def _model_shape() -> str:
    """Pickles of another shape of `Post` would load wrong: the field names are part of the cache key."""
    names = [f"{cls.__name__}:{','.join(f.name for f in dataclasses.fields(cls))}" for cls in (Post, Problem)]
    return ";".join(names)


def _identity() -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "feedsvc": __version__, "python": sys.version_info[:2], "model": _model_shape()}


@dataclass(frozen=True, slots=True)
class Seed:
    """What the refresher needs to carry on where the last builder stopped (see `Refresher.seed`)."""

    settings_fingerprint: str
    liquid_fingerprint: str
    inventory: dict[str, FileSignature]
    parsed: dict[str, Post | Problem]
    rendered: dict[str, tuple[str, str]]  # URL path -> (render key, ETag of the bytes made under it)
    # For files now in error: the version still served (nothing good is lost, across restarts too).
    last_good: dict[str, Post] = dataclasses.field(default_factory=dict)


def _pickle_name(relpath: str, signature: FileSignature, settings_fingerprint: str) -> str:
    text = f"{relpath}\0{tuple(signature)}\0{settings_fingerprint}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32] + ".pickle"


def _good_name(relpath: str, post: Post) -> str:
    text = f"{relpath}\0good\0{post.fingerprint}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32] + ".pickle"


def _unpickle(path: Path) -> Any:
    try:
        return pickle.loads(path.read_bytes())
    except Exception:  # unreadable or truncated: that file is parsed again
        return None


class PostCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._saved: set[str] | None = None  # pickle names on disk that the last index named

    def load(self) -> Seed | None:
        """The seed the last builder saved, or None if there is none this version can use."""
        try:
            index = json.loads((self.folder / INDEX).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(index, dict) or index.get("identity") != json.loads(json.dumps(_identity())):
            return None
        inventory: dict[str, FileSignature] = {}
        parsed: dict[str, Post | Problem] = {}
        for relpath, (signature, name) in index["entries"].items():
            value = _unpickle(self.folder / name)
            if isinstance(value, Post | Problem):
                inventory[relpath] = FileSignature(*signature)
                parsed[relpath] = value
        last_good = {relpath: post for relpath, name in index.get("last_good", {}).items()
                     if isinstance(post := _unpickle(self.folder / name), Post)}
        self._saved = {name for _, name in index["entries"].values()} | set(index.get("last_good", {}).values())
        rendered = {path: (key, etag) for path, (key, etag) in index.get("rendered", {}).items()}
        return Seed(index["settings_fingerprint"], index["liquid_fingerprint"], inventory, parsed, rendered,
                    last_good)

    def save(self, seed: Seed) -> None:
        """Write the pickles this seed adds, then the index, then drop the pickles it no longer names."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._saved is None:  # first save of this process: what is already there need not be written
            self._saved = {entry.name for entry in os.scandir(self.folder) if entry.name.endswith(".pickle")}
        entries: dict[str, tuple[list[int], str]] = {}
        for relpath, signature in seed.inventory.items():
            value = seed.parsed.get(relpath)
            if value is None:
                continue
            name = _pickle_name(relpath, signature, seed.settings_fingerprint)
            if name not in self._saved:
                write_atomically(self.folder / name, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            entries[relpath] = (list(signature), name)
        last_good: dict[str, str] = {}
        for relpath, post in seed.last_good.items():
            name = last_good[relpath] = _good_name(relpath, post)
            if name not in self._saved:
                write_atomically(self.folder / name, pickle.dumps(post, protocol=pickle.HIGHEST_PROTOCOL))
        index = {"identity": _identity(), "settings_fingerprint": seed.settings_fingerprint,
                 "liquid_fingerprint": seed.liquid_fingerprint, "entries": entries, "last_good": last_good,
                 "rendered": {path: list(pair) for path, pair in seed.rendered.items()}}
        write_atomically(self.folder / INDEX, json.dumps(index).encode())
        named = {name for _, name in entries.values()} | set(last_good.values())
        for name in self._saved - named:
            with contextlib.suppress(OSError):
                os.unlink(self.folder / name)
        self._saved = named


class CacheWriter:
    """Saves the newest seed on a thread of its own, so no refresh waits for the disk."""

    def __init__(self, cache: PostCache) -> None:
        self.cache = cache
        self._latest: Seed | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="feedsvc-postcache", daemon=True)
        self._thread.start()

    def submit(self, seed: Seed) -> None:
        """Only the newest seed matters: one submitted while another is waiting replaces it."""
        with self._wake:
            self._latest = seed
            self._wake.notify()

    def stop(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._latest is None and not self._stopping:
                    self._wake.wait()
                seed, self._latest = self._latest, None
                if seed is None:
                    return
            try:
                self.cache.save(seed)
            except Exception:  # the cache only saves time: serving and refreshing go on without it
                log.exception("saving the post cache to %s failed", self.cache.folder)
