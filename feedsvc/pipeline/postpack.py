"""`build --cache`'s parsed posts as one file: read once, checked with one digest, decoded row by row.

The state folder's post cache (postcache.py) keeps a file per post so a server's refreshes write
only what they parsed. A build after one edit reads every post back instead, and 10,000 files
opened, inflated and decoded one by one were most of its time. The pack is one file:

    MAGIC  SHA-256 (hex) of what follows  \n  length of the rows (decimal)  \n  rows (JSON)  bodies

The rows are `postcodec.post_row`s (positional JSON, no body), each naming where its body (compressed
HTML, as `Post.content_zlib` holds it) lies among the bytes after them. The file is untrusted input
like the state folder: never unpickled, its digest checked before anything is decoded, every row
checked field by field; anything wrong and the build is a cold one, with a note.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedsvc import __version__
from feedsvc.atomicfile import read_private, write_atomically
from feedsvc.content.scanning import FileSignature
from feedsvc.model import Post, Problem
from feedsvc.pipeline.postcache import Seed, model_shape
from feedsvc.pipeline.postcodec import (
    Malformed,
    html_body,
    post_from_row,
    post_row,
    problem_from_row,
    problem_row,
)

log = logging.getLogger("feedsvc")

MAGIC = b"feedsvc post pack 1\n"
MAX_PACK_BYTES = 4 * 1024 * 1024 * 1024
_DIGEST_END = len(MAGIC) + 64 + 1
_SIGNATURE = len(FileSignature._fields)


@dataclass(frozen=True, slots=True)
class _Packed:
    """A value as the pack holds it: kept after a load so an unchanged post is not encoded again on save."""

    value: Post | Problem
    row: list[Any]
    body: bytes


def _identity() -> dict[str, Any]:
    return {"pack": 1, "feedsvc": __version__, "model": model_shape()}


class PostPack:
    """One file holding a `Seed` (see postcache.py): `load` before the first refresh, `save` after the build."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loaded: dict[int, _Packed] = {}  # id(value) -> how it was packed, for values `load` made

    def load(self) -> Seed | None:
        """The seed the last build saved, or None (logged) if there is none this version can trust."""
        try:
            data = read_private(self.path, MAX_PACK_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("build cache: %s is unreadable (%s); every post is parsed again", self.path, exc)
            return None
        try:
            return self._seed_from(data)
        except (Malformed, KeyError, TypeError, ValueError, RecursionError) as exc:
            log.warning("build cache: %s is malformed (%s); every post is parsed again", self.path, exc)
            self._loaded = {}
            return None

    def _seed_from(self, data: bytes) -> Seed:
        if not data.startswith(MAGIC) or data[_DIGEST_END - 1:_DIGEST_END] != b"\n":
            raise Malformed("not a post pack")
        digest = data[len(MAGIC):_DIGEST_END - 1]
        view = memoryview(data)[_DIGEST_END:]
        if hashlib.sha256(view).hexdigest().encode("ascii") != digest:
            raise Malformed("not the bytes its digest names")
        newline = data.index(b"\n", _DIGEST_END, _DIGEST_END + 21)
        length = int(data[_DIGEST_END:newline])
        start = newline + 1
        if not 0 <= length <= len(data) - start:
            raise Malformed("the rows run past the end")
        header = json.loads(view[start - _DIGEST_END:start - _DIGEST_END + length].tobytes())
        bodies = view[start - _DIGEST_END + length:]
        if type(header) is not dict or header.get("identity") != _identity():
            raise Malformed("written by another version of feedsvc")
        settings_fingerprint, liquid_fingerprint = header["settings_fingerprint"], header["liquid_fingerprint"]
        if type(settings_fingerprint) is not str or type(liquid_fingerprint) is not str:
            raise Malformed("fingerprints are not text")
        cursor = 0

        def value_of(entry: Any) -> Post | Problem:
            nonlocal cursor
            if type(entry) is not list or len(entry) != 2:
                raise Malformed("a value is [body length, row] or [null, problem]")
            size, row = entry
            if size is None:
                problem = problem_from_row(row)
                self._loaded[id(problem)] = _Packed(problem, row, b"")
                return problem
            if type(size) is not int or not 0 <= size <= len(bodies) - cursor:
                raise Malformed("a body runs past the end")
            body = bodies[cursor:cursor + size].tobytes()
            cursor += size
            post = post_from_row(row, body)
            self._loaded[id(post)] = _Packed(post, row, body)
            return post

        inventory: dict[str, FileSignature] = {}
        parsed: dict[str, Post | Problem] = {}
        for relpath, signature, entry in _triples(header["entries"]):
            if type(signature) is not list or len(signature) != _SIGNATURE or any(type(n) is not int
                                                                                  for n in signature):
                raise Malformed(f"the signature of {relpath!r} is not {_SIGNATURE} numbers")
            inventory[relpath] = FileSignature(*signature)
            parsed[relpath] = value_of(entry)
        last_good: dict[str, Post] = {}
        for relpath, _, entry in _triples(header["last_good"]):
            post = value_of(entry)
            if not isinstance(post, Post):
                raise Malformed(f"the last good version of {relpath!r} is not a post")
            last_good[relpath] = post
        rendered: dict[str, tuple[str, str]] = {}
        for path, pair in dict(header["rendered"]).items():
            if type(pair) is not list or len(pair) != 2 or not all(type(text) is str for text in pair):
                raise Malformed(f"the render key of {path!r} is not [key, etag]")
            rendered[path] = (pair[0], pair[1])
        if cursor != len(bodies):
            raise Malformed("bytes after the last body")
        return Seed(settings_fingerprint, liquid_fingerprint, inventory, parsed, rendered, last_good)

    def save(self, seed: Seed) -> None:
        """Write the whole seed in place of the last pack (atomically); values `load` read are not encoded again."""
        bodies: list[bytes] = []

        def entry(value: Post | Problem) -> list[Any]:
            packed = self._loaded.get(id(value))
            if packed is not None and packed.value is value:
                row, body = packed.row, packed.body
            elif isinstance(value, Problem):
                row, body = problem_row(value), b""
            else:
                row, body = post_row(value), html_body(value)
            if isinstance(value, Problem):
                return [None, row]
            bodies.append(body)
            return [len(body), row]

        entries = [[relpath, list(signature), entry(seed.parsed[relpath])]
                   for relpath, signature in seed.inventory.items() if relpath in seed.parsed]
        last_good = [[relpath, None, entry(post)] for relpath, post in seed.last_good.items()]
        header = json.dumps({"identity": _identity(), "settings_fingerprint": seed.settings_fingerprint,
                             "liquid_fingerprint": seed.liquid_fingerprint, "entries": entries,
                             "last_good": last_good,
                             "rendered": {path: list(pair) for path, pair in seed.rendered.items()}},
                            separators=(",", ":")).encode("ascii")  # escaped: file names may hold surrogates
        rest = b"".join([str(len(header)).encode("ascii"), b"\n", header, *bodies])
        write_atomically(self.path, b"".join([MAGIC, hashlib.sha256(rest).hexdigest().encode("ascii"), b"\n", rest]))


def _triples(items: Any) -> Iterable[tuple[str, Any, Any]]:
    if type(items) is not list:
        raise Malformed("entries are not a list")
    for item in items:
        if type(item) is not list or len(item) != 3 or type(item[0]) is not str:
            raise Malformed("an entry is not [path, signature, value]")
        yield item[0], item[1], item[2]
