"""A site's Markdown flavour (`content.markup.MarkdownFlavour`) as plain JSON, read back field by field.

Both caches keep bodies as Markdown (content/bodies.py) with the flavour to render them in: the build
cache's pack names it once, the state folder's post cache by a key (`flavour_key`) in its index.
Every option class has a default for each field, so the default's type is what a value read back
must have: nothing in the file can name a class or a type of its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from typing import Any

from feedsvc.content.goldmark import GoldmarkOptions
from feedsvc.content.kramdown import KramdownOptions
from feedsvc.content.markup import MarkdownFlavour
from feedsvc.pipeline.postcodec import Malformed

_KINDS: dict[str, type[KramdownOptions] | type[GoldmarkOptions]] = {
    "kramdown": KramdownOptions, "goldmark": GoldmarkOptions}


def flavour_data(flavour: MarkdownFlavour) -> Any:
    if flavour is None:
        return None
    kind = next(name for name, cls in _KINDS.items() if type(flavour) is cls)
    return [kind, _plain(flavour)]


@lru_cache(maxsize=16)
def flavour_key(flavour: MarkdownFlavour) -> str:
    """A short name for `flavour`, the same for equal flavours in every process (a digest of its data)."""
    text = json.dumps(flavour_data(flavour), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def flavour_from(data: Any) -> MarkdownFlavour:
    """The flavour `flavour_data` wrote; Malformed for anything else."""
    if data is None:
        return None
    if type(data) is not list or len(data) != 2 or data[0] not in _KINDS:
        raise Malformed("not a Markdown flavour")
    flavour = _like(_KINDS[data[0]](), data[1])
    assert isinstance(flavour, KramdownOptions | GoldmarkOptions)
    return flavour


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _like(default: Any, data: Any) -> Any:
    """`data` as a value of `default`'s type (a dataclass of defaults, a tuple of the same length, a scalar)."""
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        names = [field.name for field in dataclasses.fields(default)]
        if type(data) is not dict or sorted(data) != sorted(names):
            raise Malformed(f"not the fields of {type(default).__name__}")
        return type(default)(**{name: _like(getattr(default, name), data[name]) for name in names})
    if isinstance(default, tuple):
        if type(data) is not list or len(data) != len(default):
            raise Malformed("not a list of the right length")
        return tuple(_like(item, value) for item, value in zip(default, data, strict=True))
    if type(data) is not type(default):
        raise Malformed(f"expected {type(default).__name__}, found {type(data).__name__}")
    return data
