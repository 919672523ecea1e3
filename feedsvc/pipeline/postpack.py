"""`build --cache`'s parsed posts as one file: read once, checked with one digest, decoded row by row.

The state folder's post cache (postcache.py) keeps a file per post so a server's refreshes write
only what they parsed. A build after one edit reads every post back instead, and 10,000 files
opened, inflated and decoded one by one were most of its time. The pack is one file:

    MAGIC  SHA-256 (hex) of what follows \n  length of the lines (decimal) \n  lines  bodies

The first line (JSON) names the versions, fingerprints, render keys, the Markdown flavour of bodies
kept as their source and how many lines follow; each further line is one value: `[path, signature,
body length, row, kept]` (`postcodec.post_row`: positional, no body; `kept`: the body is Markdown
to render when shown, else HTML) or `[path, signature, null, problem, false]`, then the last good
versions `[path, null, length, row, kept]`. The bodies (compressed, as `Post.content_zlib` holds
them) follow the lines in the same order. A line per value lets `save` write the unchanged ones back
as they were read, without encoding them; a body kept as Markdown stays so (a cold build would
otherwise render every body of the site to fill the cache).
The file is untrusted input like the state folder: never unpickled, its digest checked before
anything is decoded, every line checked field by field; anything wrong and the build is a cold one,
except a body kept as Markdown that does not inflate to text within its size (`postcodec.kept_source`),
or whose bounds on HTML are not proven again when it is first rendered (`bodies.MarkdownBody`,
`Refresher`): that post alone is parsed again.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedsvc import __version__
from feedsvc.atomicfile import read_private, write_atomically
from feedsvc.content.bodies import MarkdownBody
from feedsvc.content.scanning import FileSignature
from feedsvc.model import Post, Problem
from feedsvc.pipeline.flavourcodec import flavour_data, flavour_from
from feedsvc.pipeline.postcache import Seed, model_shape
from feedsvc.pipeline.postcodec import (
    Malformed,
    Unproven,
    html_body,
    post_from_row,
    post_row,
    problem_from_row,
    problem_row,
)

log = logging.getLogger("feedsvc")

MAGIC = b"feedsvc post pack 3\n"
MAX_PACK_BYTES = 4 * 1024 * 1024 * 1024
_DIGEST_END = len(MAGIC) + 64 + 1
_SIGNATURE = len(FileSignature._fields)


@dataclass(frozen=True, slots=True)
class _Packed:
    """A value as the pack holds it: kept after a load so an unchanged one is written back, not encoded again."""

    value: Post | Problem
    signature: list[int] | None
    line: bytes
    body: bytes


def _identity() -> dict[str, Any]:
    return {"pack": 3, "feedsvc": __version__, "model": model_shape()}


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
        collecting = gc.isenabled()
        gc.disable()  # tens of thousands of objects that all live on: no collection would free any of them
        try:
            return self._seed_from(data)
        except (Malformed, KeyError, TypeError, ValueError, RecursionError) as exc:
            log.warning("build cache: %s is malformed (%s); every post is parsed again", self.path, exc)
            self._loaded = {}
            return None
        finally:
            if collecting:
                gc.enable()

    def _seed_from(self, data: bytes) -> Seed:
        if not data.startswith(MAGIC) or data[_DIGEST_END - 1:_DIGEST_END] != b"\n":
            raise Malformed("not a post pack")
        if hashlib.sha256(memoryview(data)[_DIGEST_END:]).hexdigest().encode("ascii") != data[len(MAGIC):
                                                                                             _DIGEST_END - 1]:
            raise Malformed("not the bytes its digest names")
        newline = data.index(b"\n", _DIGEST_END, _DIGEST_END + 21)
        start = newline + 1
        end = start + int(data[_DIGEST_END:newline])
        if not start <= end <= len(data) or data[end - 1:end] != b"\n":
            raise Malformed("the lines run past the end")
        lines = data[start:end - 1].split(b"\n")
        bodies = memoryview(data)[end:]
        header = json.loads(lines[0])
        if type(header) is not dict or header.get("identity") != _identity():
            raise Malformed("written by another version of feedsvc")
        settings_fingerprint, liquid_fingerprint = header["settings_fingerprint"], header["liquid_fingerprint"]
        counted, good = header["entries"], header["last_good"]
        # Kept bodies are proven within bounds when first rendered (bodies.MarkdownBody), not here: a one-edit
        # build shows a few dozen of them, and proving 10,000 took longer than the rest of such a build.
        markup = MarkdownBody(flavour_from(header["flavour"]), proven=False) if header["flavour"] is not None \
            else None
        if type(settings_fingerprint) is not str or type(liquid_fingerprint) is not str:
            raise Malformed("fingerprints are not text")
        if type(counted) is not int or type(good) is not int or len(lines) != 1 + counted + good:
            raise Malformed("not the number of lines the header names")
        cursor = 0
        inventory: dict[str, FileSignature] = {}
        parsed: dict[str, Post | Problem] = {}
        last_good: dict[str, Post] = {}
        for number, line in enumerate(lines[1:]):
            item = json.loads(line)
            if type(item) is not list or len(item) != 5 or type(item[0]) is not str or type(item[4]) is not bool:
                raise Malformed("a line is not [path, signature, body length, value, kept]")
            relpath, signature, size, row, kept = item
            if kept and markup is None:
                raise Malformed("a body kept as Markdown in a pack of no flavour")
            value: Post | Problem
            if size is None:
                value = problem_from_row(row)
                body = b""
            elif type(size) is int and 0 <= size <= len(bodies) - cursor:
                body = bodies[cursor:cursor + size].tobytes()
                cursor += size
                try:
                    value = post_from_row(row, body, markup if kept else None, prove=False)
                except Unproven as exc:
                    log.warning("build cache: %s is parsed again (%s)", relpath, exc)
                    continue
            else:
                raise Malformed("a body runs past the end")
            self._loaded[id(value)] = _Packed(value, signature, line, body)
            if number < counted:
                if type(signature) is not list or len(signature) != _SIGNATURE or any(type(n) is not int
                                                                                      for n in signature):
                    raise Malformed(f"the signature of {relpath!r} is not {_SIGNATURE} numbers")
                inventory[relpath] = FileSignature(*signature)
                parsed[relpath] = value
            elif isinstance(value, Post) and signature is None:
                last_good[relpath] = value
            else:
                raise Malformed(f"the last good version of {relpath!r} is not a post")
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
        lines: list[bytes] = []
        bodies: list[bytes] = []
        flavours = (post.body_markup for post in seed.parsed.values() if isinstance(post, Post))
        kept = next((markup for markup in flavours if isinstance(markup, MarkdownBody)), None)

        def add(relpath: str, signature: list[int] | None, value: Post | Problem) -> None:
            packed = self._loaded.get(id(value))
            # A body kept as Markdown in another flavour than this pack's (a last good version from before
            # a settings change) is stored as HTML instead
            foreign = isinstance(value, Post) and value.body_markup is not None and value.body_markup != kept
            if packed is not None and packed.value is value and packed.signature == signature and not foreign:
                line, body = packed.line, packed.body
            else:
                item: list[Any]
                if isinstance(value, Problem):
                    item, body = [relpath, signature, None, problem_row(value), False], b""
                elif kept is not None and value.body_markup == kept:
                    body = value.content_zlib
                    item = [relpath, signature, len(body), post_row(value), True]
                else:
                    body = html_body(value)
                    item = [relpath, signature, len(body), post_row(value), False]
                line = json.dumps(item, separators=(",", ":")).encode("ascii")  # escaped: names may hold surrogates
            lines.append(line)
            bodies.append(body)

        for relpath, signature in seed.inventory.items():
            if relpath in seed.parsed:
                add(relpath, list(signature), seed.parsed[relpath])
        counted = len(lines)
        for relpath, post in seed.last_good.items():
            add(relpath, None, post)
        header = json.dumps({"identity": _identity(), "settings_fingerprint": seed.settings_fingerprint,
                             "liquid_fingerprint": seed.liquid_fingerprint, "entries": counted,
                             "flavour": None if kept is None else flavour_data(kept.flavour),
                             "last_good": len(lines) - counted,
                             "rendered": {path: list(pair) for path, pair in seed.rendered.items()}},
                            separators=(",", ":")).encode("ascii")
        section = b"\n".join([header, *lines, b""])
        rest = [str(len(section)).encode("ascii"), b"\n", section, *bodies]
        digest = hashlib.sha256()
        for part in rest:  # hashed in parts: the whole file is put together once, not twice
            digest.update(part)
        write_atomically(self.path, b"".join([MAGIC, digest.hexdigest().encode("ascii"), b"\n", *rest]))
