"""Liquid bodies that render the same for every post of a site, rendered once (templating.py asks here).

The news corpus renders 44 distinct bodies 4,315 times (copies of one post; in real sites, a shared
snippet writing `{{ site.repository }}` or `{% post_url %}`). A body's output is a function of what it
reads; when the template's static analysis (python-liquid's `analyze()`, handed in) shows that it reads
nothing but `site`'s configured values, through tags and filters that read nothing else, its render for
one post is its render for every post of the same site, and is kept.

The rule is conservative, so that a kept render is provably the output a fresh render would give:
- the only global it reads is `site`, always by a path of plain keys, never the whole `site` (which holds
  `related_posts`, different for each post) nor `site.related_posts`, nor a key computed at render time;
- every tag is one whose output is the text, the variables and `site` (no `include`, which reads files
  handed in for the post, no tag only a plugin defines);
- no filter reads the clock (`date` understands `"now"`).
`page` (a post's own values), a local or an include makes a body render each time, as before.
Only clean renders are kept (no warning, no file wanted): a failure is rendered again and reported
each time, in the post it belongs to. Lines of `{% post_url %}` references are kept relative to the body.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

# Standard Liquid's tags that write only from their markup and variables, and feedsvc's own such tags.
_SAME_FOR_EVERY_POST_TAGS = frozenset((
    "#", "assign", "break", "capture", "case", "comment", "continue", "cycle", "decrement", "doc", "echo", "for",
    "if", "ifchanged", "increment", "liquid", "output", "raw", "tablerow", "unless",
    "highlight", "link", "post_url",
))
_CLOCK_FILTERS = frozenset(("date",))  # `"now" | date: …` reads the clock
_PER_POST_SITE_KEYS = frozenset(("related_posts",))  # the only `site` key that differs from post to post
_KEPT = 512  # distinct (body, site) renders kept per process
_KEPT_TEXT = 256 * 1024  # longer outputs are rendered each time rather than held


@dataclass(frozen=True, slots=True)
class Kept:
    """A clean render of a body that reads only `site`: its text, its references (line within the body)
    and whether it read the list of posts."""

    text: str
    references: tuple[tuple[str, int], ...]
    reads_posts: bool


def same_for_every_post(analysis: Any) -> bool:
    """Whether a template with this static analysis renders the same for every post of one site."""
    if set(analysis.globals) - {"site"}:
        return False
    if set(analysis.tags) - _SAME_FOR_EVERY_POST_TAGS or set(analysis.filters) & _CLOCK_FILTERS:
        return False
    for variable in analysis.globals.get("site", ()):
        segments = variable.segments
        if len(segments) < 2 or not all(isinstance(segment, str | int) for segment in segments):
            return False
        if segments[1] in _PER_POST_SITE_KEYS:
            return False
    return True


class KeptRenders:
    """The last `_KEPT` clean renders, by (body, everything `site` and `markdownify` are made of)."""

    def __init__(self, size: int = _KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, Kept] = OrderedDict()

    def get(self, key: Hashable) -> Kept | None:
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
        return kept

    def keep(self, key: Hashable, kept: Kept) -> None:
        if len(kept.text) > _KEPT_TEXT:
            return
        self._kept[key] = kept
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()
