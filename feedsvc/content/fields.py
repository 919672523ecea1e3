"""Reading one front-matter value as the kind it must be, and merging mappings of them, shared by parsing
and the dialects.

A value of the wrong kind is the writer's mistake, reported as a `PostError` that parsing turns
into a Problem naming the file (and the line, where known).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feedsvc.content.front_matter import yaml_kind
from feedsvc.content.markup import strip_xml_illegal


class PostError(Exception):
    """A post that cannot be used as written; `line` is the file line where known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def text_field(value: Any, field: str) -> str:
    """A scalar front-matter field as clean text; a list or mapping where text belongs is an error."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return strip_xml_illegal(str(value)).strip()
    raise PostError(f"`{field}` must be text, got a {yaml_kind(value) if not isinstance(value, dict) else 'mapping'}")


def deep_merge(base: Mapping[Any, Any], over: Mapping[Any, Any]) -> dict[Any, Any]:
    """`over` on top of `base`; mappings in both are merged key by key (Jekyll's defaults, Hugo's config files)."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
