"""The common shape of YAML front matter read without the YAML parser: the same data in a quarter of the time.

Most front matter is `key: scalar` lines and lists of scalars (as `- item` lines or `[a, "b"]`). For text
made only of those, `read_simple` builds what front_matter.py's loader builds (the same resolvers decide
what is a number, a boolean or null, and duplicate keys are recorded on the same lines); for anything
else (quotes with escapes, block scalars, nesting, anchors, tags, comments after a value, tabs, text over
several lines) it returns None and the YAML parser reads it. Tests compare both on generated and real
front matter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from re import Pattern
from typing import Any

Resolvers = Mapping[Any, Sequence[tuple[str, Pattern[str]]]]

_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: +(.*))?")
_LONGEST_KEY = 1000  # libyaml finds no `:` after a key of more than 1024 characters
_ITEM_LINE = re.compile(r"( *)-(?: +(.*))?")
# What YAML reads as a character of the text: no control characters, no line breaks other than `\n`
# (YAML 1.1 also breaks lines on U+0085, U+2028 and U+2029), no tabs, no byte order mark.
_UNREADABLE = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
# A plain scalar (block context, one line) we read as YAML does: a first character that is no indicator,
# nothing that would end it early (`: `, ` #`, a trailing `:`).
_PLAIN_START = re.compile(r"[^\-?:,\[\]{}#&*!|>'\"%@`\s]|-[0-9.]")
_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_DOUBLE_QUOTED = re.compile(r'"([^"\\]*)"')
# One entry of a flow list and the `,` after it (or the end): a quoted scalar without escapes, or a plain one
# that holds no flow indicator, quote, `#` or `:` and ends with no space.
_FLOW_ENTRY = re.compile(r""" *(?:"([^"\\]*)"|'((?:[^']|'')*)'|((?:[^\-?:,\[\]{}#&*!|>'"%@`\s]|-[0-9.])"""
                         r"""(?:[^,\[\]{}#:'"]*[^,\[\]{}#:'"\s])?)) *(?:,|$)""")


class _Declined(Exception):
    """The text is not of the simple shape: the YAML parser reads it."""


def read_simple(text: str, resolvers: Resolvers) -> tuple[dict[Any, Any] | None, list[tuple[str, int]]] | None:
    """The data and the repeated keys (key, 0-based line) of simple front matter; None if it is not simple.

    `resolvers` is the loader's `yaml_implicit_resolvers`, so plain scalars are typed as the loader types them.
    """
    if _UNREADABLE.search(text):
        return None
    try:
        return _read(text.split("\n"), resolvers)
    except _Declined:
        return None


def _read(lines: list[str], resolvers: Resolvers) -> tuple[dict[Any, Any] | None, list[tuple[str, int]]]:
    data: dict[Any, Any] = {}
    duplicates: list[tuple[str, int]] = []
    seen: set[str] = set()
    items: list[Any] | None = None  # the list the last `key:` opened, while its items follow
    item_indent: int | None = None
    last_key: Any = None
    found = False
    for number, line in enumerate(lines):
        stripped = line.strip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        key_line = _KEY_LINE.fullmatch(line)
        if key_line is not None:
            key, value = key_line.group(1), (key_line.group(2) or "").rstrip(" ")
            if len(key) > _LONGEST_KEY:
                raise _Declined
            if key in seen:
                duplicates.append((key, number))
            seen.add(key)
            found = True
            resolved_key = _plain(key, resolvers)
            if value:
                data[resolved_key] = _value(value, resolvers)
                items, item_indent = None, None
            else:
                items, item_indent = [], None
                data[resolved_key] = None
                last_key = resolved_key
            continue
        item_line = _ITEM_LINE.fullmatch(line)
        if item_line is None or items is None:
            raise _Declined
        indent = len(item_line.group(1))
        if item_indent is None:
            item_indent = indent
        elif indent != item_indent:
            raise _Declined
        value = (item_line.group(2) or "").rstrip(" ")
        items.append(_scalar(value, resolvers) if value else None)
        data[last_key] = items
    return (data if found else None), duplicates


def _value(value: str, resolvers: Resolvers) -> Any:
    if value.startswith("["):
        return _flow_list(value, resolvers)
    return _scalar(value, resolvers)


def _scalar(value: str, resolvers: Resolvers) -> Any:
    """One scalar on one line, quotes stripped: quoted text as it is written, plain text typed."""
    if value[0] == "'":
        quoted = _SINGLE_QUOTED.fullmatch(value)
        if quoted is None:
            raise _Declined
        return quoted.group(1).replace("''", "'")
    if value[0] == '"':
        quoted = _DOUBLE_QUOTED.fullmatch(value)
        if quoted is None:
            raise _Declined
        return quoted.group(1)
    if not _PLAIN_START.match(value) or ": " in value or " #" in value or value.endswith(":"):
        raise _Declined
    return _plain(value, resolvers)


def _flow_list(value: str, resolvers: Resolvers) -> list[Any]:
    """`[a, "b c", 'd']` on one line: plain or quoted scalars (no escapes, no nesting, no empty entries)."""
    if not value.endswith("]"):
        raise _Declined
    inner = value[1:-1]
    if not inner.strip(" "):
        return []
    if inner.rstrip(" ").endswith(","):
        raise _Declined
    result: list[Any] = []
    position = 0
    while position < len(inner):
        entry = _FLOW_ENTRY.match(inner, position)
        if entry is None:
            raise _Declined
        double, single, plain = entry.groups()
        if double is not None:
            result.append(double)
        elif single is not None:
            result.append(single.replace("''", "'"))
        else:
            result.append(_plain(plain, resolvers))
        position = entry.end()
    return result


def _plain(value: str, resolvers: Resolvers) -> Any:
    """A plain scalar typed by the loader's implicit resolvers (null, true/false, decimal ints and floats)."""
    for tag, pattern in resolvers.get(value[0] if value else "", ()):
        if pattern.match(value):
            return _construct(tag, value)
    return value


def _construct(tag: str, value: str) -> Any:
    """The value YAML's safe constructor makes of a plain scalar resolved to `tag`."""
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if "_" in value:  # `1_000` and `._`: left to the parser, which has its own rules for them
        raise _Declined
    sign = -1 if value[0] == "-" else 1
    digits = value[1:] if value[0] in "+-" else value
    if tag == "tag:yaml.org,2002:int":
        return sign * int(digits)
    if tag == "tag:yaml.org,2002:float":
        return sign * float(digits)
    raise _Declined
