"""`build --cache`'s rendered feed entries, kept so the next build renders only the entries of what changed.

A fresh process's entry cache (render/entrycache.py) is empty, so a build after one edit rendered
every entry of the ~30 feeds that show the edited post again (bench corpus: ~160 bodies from
Markdown, a fifth of the build). The file holds the entries the last build's cache held:

    MAGIC  SHA-256 (hex) of what follows \n  header (JSON) \n  one line per entry  entry bytes

each line `[fingerprint, format, shape, length]` (the shape by its `repr`, see `entrycache.Kept`),
the bytes in the same order after the lines. Untrusted input like the post pack: the digest is
checked before anything is decoded, every line field by field, never unpickled; anything wrong
and the build renders those entries again (the output is the same either way).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from feedsvc import __version__
from feedsvc.atomicfile import read_private, write_atomically
from feedsvc.model import FeedFormat
from feedsvc.pipeline.postcache import model_shape
from feedsvc.render.entrycache import Kept

MAGIC = b"feedsvc entry pack 1\n"
MAX_ENTRY_PACK_BYTES = 256 * 1024 * 1024
_DIGEST_END = len(MAGIC) + 64 + 1


class BadEntries(ValueError):
    """The file is not an entry pack this version wrote, or not as it wrote it."""


def _identity() -> dict[str, object]:
    return {"entries": 1, "feedsvc": __version__, "model": model_shape()}


def pack_entries(kept: Sequence[Kept]) -> bytes:
    """The file's bytes for these entries (see the module's docstring)."""
    lines = [json.dumps({"identity": _identity(), "count": len(kept)})]
    lines.extend(json.dumps([each.fingerprint, each.fmt.name, each.shape, len(each.entry)])
                 for each in kept)
    rest = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass") + b"".join(each.entry for each in kept)
    return MAGIC + hashlib.sha256(rest).hexdigest().encode("ascii") + b"\n" + rest


def unpack_entries(data: bytes) -> list[Kept]:
    """The entries `pack_entries` wrote; BadEntries if the bytes are not exactly that."""
    if not data.startswith(MAGIC) or data[_DIGEST_END - 1:_DIGEST_END] != b"\n":
        raise BadEntries("not an entry pack")
    if hashlib.sha256(memoryview(data)[_DIGEST_END:]).hexdigest().encode("ascii") != data[len(MAGIC):_DIGEST_END - 1]:
        raise BadEntries("not the bytes its digest names")
    try:
        end = data.index(b"\n", _DIGEST_END)
        header = json.loads(data[_DIGEST_END:end])
        if type(header) is not dict or header.get("identity") != _identity() or type(header.get("count")) is not int:
            raise BadEntries("written by another version of feedsvc")
        rows = []
        for _ in range(header["count"]):
            start, end = end + 1, data.index(b"\n", end + 1)
            rows.append(json.loads(data[start:end]))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and a missing newline are ValueErrors
        raise BadEntries(str(exc)) from None
    cursor = end + 1
    kept: list[Kept] = []
    for row in rows:
        if not (type(row) is list and len(row) == 4 and type(row[0]) is str and type(row[1]) is str
                and row[1] in FeedFormat.__members__ and type(row[2]) is str and type(row[3]) is int
                and 0 <= row[3] <= len(data) - cursor):
            raise BadEntries("a line is not [fingerprint, format, shape, length] within the file")
        kept.append(Kept(row[0], FeedFormat[row[1]], row[2], data[cursor:cursor + row[3]]))
        cursor += row[3]
    if cursor != len(data):
        raise BadEntries("bytes left after the entries")
    return kept


def load_entries(path: Path) -> list[Kept]:
    """The entries kept at `path`, none if there is no such file; OSError or BadEntries if it is unusable."""
    try:
        return unpack_entries(read_private(path, MAX_ENTRY_PACK_BYTES))
    except FileNotFoundError:
        return []


def save_entries(path: Path, kept: Sequence[Kept]) -> None:
    write_atomically(path, pack_entries(kept))
