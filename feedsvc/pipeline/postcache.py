"""The builder's parsed posts and render keys, kept in the state folder so a restart need not redo them.

A warm start (service.py) serves the last published bytes at once, but the builder must still
know every post to follow changes: without this cache it parses the whole folder again and
renders every feed again (10,000 posts: 10-20 s of both cores, during which webhooks wait and
archive pages answer 503). With it, the first refresh after a restart reads only the files that
changed while feedsvc was down and renders only the feeds they touch.

Its files, under the state folder's `posts/`, are described with the rest of that folder in
deploy/statefolder.py. Each parsed file's value is written once and never changed, so a refresh
writes only what it newly parsed. Only the builder writes here. The files are plain JSON
(postcodec.py), read back as untrusted input: never unpickled, every field checked. Anything
that does not match this version of feedsvc and of the `Post` model is ignored, and an entry
that cannot be read is simply parsed again: a bad cache costs a rebuild, never more.

A body kept as its Markdown (content/bodies.py) is stored so, naming its flavour by a key the index
maps to the flavour (pipeline/flavourcodec.py): a cold start's first save renders no body. Read
back, such a body is proven again to stay within the bounds on HTML, or that post is parsed again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from feedsvc import __version__
from feedsvc.atomicfile import read_private, write_atomically
from feedsvc.content.bodies import MarkdownBody
from feedsvc.content.markup import MarkdownFlavour
from feedsvc.content.scanning import FileSignature
from feedsvc.model import BodyMarkup, Post, Problem
from feedsvc.pipeline.flavourcodec import flavour_data, flavour_from, flavour_key
from feedsvc.pipeline.parallel import run_batch
from feedsvc.pipeline.postcodec import Malformed, decode, encode

log = logging.getLogger("feedsvc")

# 1 held pickles, which are never read again (nor anything else that runs code as it loads); 2 named no digests;
# 3 held every body as HTML
CACHE_FORMAT = 4
INDEX = "index.json"
SUFFIX = ".json.z"
_NAME = re.compile(r"[0-9a-f]{32}" + re.escape(SUFFIX))  # a file name in this folder, never a path
_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_FILE_BYTES = 64 * 1024 * 1024
LOAD_IN_PROCESSES_FROM = 4000  # fewer cached posts than this load here (~0.2 ms each) faster than processes start
INTERIM_INDEX_SECONDS = 2.0  # during a long save
RETRY_SECONDS = 5.0  # after a failed save (a full disk), unless a newer seed comes first


def model_shape() -> str:
    """A cache written for another shape of `Post` is not read: the field names are part of the cache key."""
    names = [f"{cls.__name__}:{','.join(f.name for f in dataclasses.fields(cls))}" for cls in (Post, Problem)]
    return ";".join(names)


def _identity() -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "feedsvc": __version__, "model": model_shape()}


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


def _value_name(relpath: str, signature: FileSignature, settings_fingerprint: str) -> str:
    text = f"{relpath}\0{tuple(signature)}\0{settings_fingerprint}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32] + SUFFIX


def _good_name(relpath: str, post: Post) -> str:
    text = f"{relpath}\0good\0{post.fingerprint}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32] + SUFFIX


def _pack(value: Post | Problem) -> bytes:
    text = json.dumps(encode(value, _kept_key(value)), ensure_ascii=False)
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 1)


def _kept_key(value: Post | Problem) -> str | None:
    """The flavour key a body kept as Markdown is stored under; None for one stored as HTML."""
    if isinstance(value, Post) and isinstance(value.body_markup, MarkdownBody):
        return flavour_key(value.body_markup.flavour)
    return None


def _flavours_from(data: Any) -> dict[str, BodyMarkup]:
    if not isinstance(data, dict) or not all(map(_is_text, data)):
        raise Malformed("the flavours are not {key: flavour}")
    return {key: MarkdownBody(flavour_from(flavour)) for key, flavour in data.items()}


def _digest(packed: bytes) -> str:
    return hashlib.sha256(packed).hexdigest()


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_value_file(name: Any, digest: Any) -> bool:
    return (_is_text(name) and _NAME.fullmatch(name) is not None
            and _is_text(digest) and _DIGEST.fullmatch(digest) is not None)


def _is_signature(value: Any) -> bool:
    return isinstance(value, list) and len(value) == len(FileSignature._fields) and all(type(n) is int for n in value)


def in_other_flavours(values: Mapping[str, Post | Problem], flavour: MarkdownFlavour) -> list[str]:
    """The posts of a cache whose body is kept as Markdown in another flavour than the site's `flavour`:
    a cache written under the same settings holds none (the flavour is part of them), so it was tampered
    with, and these are parsed again."""
    site = MarkdownBody(flavour)
    return [path for path, value in values.items()
            if isinstance(value, Post) and value.body_markup is not None and value.body_markup != site]


class PostCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._saved: dict[str, str] | None = None  # value file on disk that the last index named -> its SHA-256

    def load(self) -> Seed | None:
        """The seed the last builder saved, or None if there is none this version can use.

        The folder's files are untrusted input: anything malformed is skipped (that file is parsed
        again) and logged; nothing read here can do more than fail to load.
        """
        try:
            index = json.loads(read_private(self.folder / INDEX, MAX_FILE_BYTES))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("post cache: %s is unreadable (%s); every post is parsed again", self.folder / INDEX, exc)
            return None
        if not isinstance(index, dict) or index.get("identity") != _identity():
            log.info("post cache: %s was written by another version; every post is parsed again", self.folder)
            return None
        try:
            return self._seed_from(index)
        except (Malformed, KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("post cache: %s is malformed (%s); every post is parsed again", self.folder / INDEX, exc)
            return None

    def _seed_from(self, index: dict[str, Any]) -> Seed:
        fingerprints = index["settings_fingerprint"], index["liquid_fingerprint"]
        if not all(map(_is_text, fingerprints)):
            raise Malformed("fingerprints are not text")
        flavours = _flavours_from(index["flavours"])
        inventory: dict[str, FileSignature] = {}
        parsed: dict[str, Post | Problem] = {}
        names: dict[str, str] = {}
        skipped = 0
        listed: list[tuple[str, list[int], str, str]] = []
        for relpath, (signature, name, digest) in dict(index["entries"]).items():
            if not _is_signature(signature) or not _is_value_file(name, digest):
                raise Malformed(f"the entry for {relpath!r} is not [signature, file name, digest]")
            listed.append((relpath, signature, name, digest))
        # Many files are read in other processes: a warm start loads them while the first readers are
        # served from this one, and here they would hold its interpreter (the GIL) for seconds.
        values = run_batch([(name, digest) for _, _, name, digest in listed],
                           partial(_start_loader, self.folder, flavours), method="spawn",
                           min_items=LOAD_IN_PROCESSES_FROM, doing="loading cached posts")
        for (relpath, signature, name, digest), value in zip(listed, values, strict=True):
            names[name] = digest if value is not None else ""  # "": rewritten if named again, else deleted
            if value is None:
                skipped += 1
                continue
            inventory[relpath] = FileSignature(*signature)
            parsed[relpath] = value
        last_good: dict[str, Post] = {}
        for relpath, (name, digest) in dict(index.get("last_good", {})).items():
            if not _is_value_file(name, digest):
                raise Malformed(f"the last good version of {relpath!r} is not [file name, digest]")
            post = _read_value(self.folder, flavours, (name, digest))
            names[name] = digest if isinstance(post, Post) else ""
            if isinstance(post, Post):
                last_good[relpath] = post
        rendered: dict[str, tuple[str, str]] = {}
        for path, pair in dict(index.get("rendered", {})).items():
            if not isinstance(pair, list) or len(pair) != 2 or not all(map(_is_text, pair)):
                raise Malformed(f"the render key of {path!r} is not [key, etag]")
            rendered[path] = (pair[0], pair[1])
        if skipped:
            log.warning("post cache: %d entries in %s could not be read; those files are parsed again",
                        skipped, self.folder)
        self._saved = names
        return Seed(fingerprints[0], fingerprints[1], inventory, parsed, rendered, last_good)

    def save(self, seed: Seed) -> None:
        """Write the values this seed adds, then the index, then drop the files it no longer names.

        A long save (a cold build's 10,000 files) also writes the index every few seconds, naming
        what is written so far: a builder stopped meanwhile leaves that much for the next one.
        """
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._saved is None:  # first save of this process: files already there are stale (their digests
            # are unknown: written by another version, or under an index that is gone), rewritten where named
            self._saved = {entry.name: "" for entry in os.scandir(self.folder)
                           if entry.name != INDEX and not entry.name.startswith(".")}
        saved = self._saved
        written: dict[str, str] = {}
        entries: dict[str, tuple[list[int], str, str]] = {}
        last_good: dict[str, tuple[str, str]] = {}
        flavours = {flavour_key(markup.flavour): flavour_data(markup.flavour)
                    for value in (*seed.parsed.values(), *seed.last_good.values())
                    if isinstance(value, Post) and isinstance(markup := value.body_markup, MarkdownBody)}
        interim_at = time.monotonic() + INTERIM_INDEX_SECONDS

        def kept(name: str, value: Post | Problem) -> str:
            nonlocal interim_at
            digest = saved.get(name) or written.get(name)
            if not digest:
                packed = _pack(value)
                write_atomically(self.folder / name, packed)
                digest = written[name] = _digest(packed)
                if time.monotonic() > interim_at:
                    self._write_index(seed, entries, last_good, flavours)
                    interim_at = time.monotonic() + INTERIM_INDEX_SECONDS
            return digest

        for relpath, signature in seed.inventory.items():
            value = seed.parsed.get(relpath)
            if value is None:
                continue
            name = _value_name(relpath, signature, seed.settings_fingerprint)
            entries[relpath] = (list(signature), name, kept(name, value))
        for relpath, post in seed.last_good.items():
            name = _good_name(relpath, post)
            last_good[relpath] = (name, kept(name, post))
        self._write_index(seed, entries, last_good, flavours)
        named = {name: digest for _, name, digest in entries.values()} | dict(last_good.values())
        for name in saved.keys() - named.keys():
            with contextlib.suppress(OSError):
                os.unlink(self.folder / name)
        self._saved = named

    def _write_index(self, seed: Seed, entries: dict[str, tuple[list[int], str, str]],
                     last_good: dict[str, tuple[str, str]], flavours: dict[str, Any]) -> None:
        index = {"identity": _identity(), "settings_fingerprint": seed.settings_fingerprint, "flavours": flavours,
                 "liquid_fingerprint": seed.liquid_fingerprint, "entries": entries, "last_good": last_good,
                 "rendered": {path: list(pair) for path, pair in seed.rendered.items()}}
        write_atomically(self.folder / INDEX, json.dumps(index).encode())


def _start_loader(folder: Path, flavours: dict[str, BodyMarkup]
                  ) -> Callable[[Sequence[tuple[str, str]]], list[Post | Problem | None]]:
    return partial(_read_values, folder, flavours)


def _read_values(folder: Path, flavours: dict[str, BodyMarkup],
                 files: Sequence[tuple[str, str]]) -> list[Post | Problem | None]:
    return [_read_value(folder, flavours, file) for file in files]


def _read_value(folder: Path, flavours: dict[str, BodyMarkup], file: tuple[str, str]) -> Post | Problem | None:
    """One cached value (file name, digest), or None if it is missing, not the bytes the index names,
    not one this version writes, or a body kept as Markdown whose bounds are not proven again."""
    name, digest = file
    try:
        packed = read_private(folder / name, MAX_FILE_BYTES)
        if _digest(packed) != digest:
            raise Malformed("not the bytes the index names")
        inflater = zlib.decompressobj()
        text = inflater.decompress(packed, MAX_FILE_BYTES)
        if not inflater.eof:
            raise Malformed("truncated or too large")
        # The bytes are the ones this cache wrote (a digest in its own private folder): a body of HTML,
        # checked as it was packed, need not be inflated again to be trusted; one of Markdown is proven again.
        return decode(json.loads(text.decode("utf-8", "surrogatepass")), body_verified=True, flavours=flavours)
    except (OSError, ValueError, zlib.error, RecursionError) as exc:  # Malformed is a ValueError
        log.debug("post cache: %s skipped (%s)", name, exc)
        return None


class CacheWriter:
    """Saves the newest seed on a thread of its own, so no refresh waits for the disk."""

    def __init__(self, cache: PostCache, on_outcome: Callable[[OSError | None], None] = lambda error: None) -> None:
        """`on_outcome`: told of each save's disk error (a full disk), or None once a save succeeds."""
        self.cache = cache
        self.on_outcome = on_outcome
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
            except OSError as exc:  # a full disk: the cache only saves time; try again in a while
                log.error("saving the post cache to %s failed: %s", self.cache.folder, exc)
                self.on_outcome(exc)
                with self._wake:
                    self._wake.wait_for(lambda: self._latest is not None or self._stopping, RETRY_SECONDS)
                    if self._latest is None and not self._stopping:
                        self._latest = seed
                continue
            except Exception:  # the cache only saves time: serving and refreshing go on without it
                log.exception("saving the post cache to %s failed", self.cache.folder)
                continue
            self.on_outcome(None)
