"""Hugo's order of a list of pages (its `DefaultPageSort`), which its feeds keep: weighted pages first,
lightest first; then newest first, to the second; then by link title, collated; then by file path.

Hugo collates titles with the page language's CLDR collation. `collation_key` is the language-neutral
part of it: white space, then punctuation, symbols, digits and letters; case and accents matter only
between titles otherwise equal (lower case and unaccented first). Per-language tailorings (Chinese
pinyin order, for one) are not reproduced: such titles fall back to code point order.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from feedsvc.model import Post

_CLASSES = {"Z": 0, "C": 0, "P": 1, "S": 2, "N": 3}  # by a character's general category; letters and marks: 4


def collation_key(text: str) -> tuple[tuple[tuple[int, str], ...], str, tuple[bool, ...]]:
    """(base letters by class, accents, case): compared level by level, as a collation does."""
    primary: list[tuple[int, str]] = []
    for char in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(char)
        if category in ("Mn", "Me", "Cf"):
            continue  # accents and invisible formatting weigh only at the second level, if at all
        primary.append((_CLASSES.get(category[0], 4), char.casefold()))
    return tuple(primary), unicodedata.normalize("NFC", text).casefold(), tuple(c.isupper() for c in text)


def ranking(front: Mapping[Any, Any]) -> tuple[int, str]:
    """(weight, link title) of a page's front matter; keys are case-insensitive as in Hugo."""
    lowered = {str(key).lower(): value for key, value in front.items()}
    weight = lowered.get("weight")
    if isinstance(weight, str) and weight.strip().lstrip("+-").isdigit():
        weight = int(weight)
    link_title = lowered.get("linktitle")
    return (int(weight) if isinstance(weight, (int, float)) and not isinstance(weight, bool) else 0,
            link_title.strip() if isinstance(link_title, str) else "")


def order_key(post: Post) -> tuple[Any, ...]:
    """Hugo's `DefaultPageSort` as a sort key."""
    weighted = post.weight != 0
    return (not weighted, post.weight, -int(post.date.timestamp()), collation_key(post.link_title or post.title),
            post.source)
