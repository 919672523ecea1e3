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
_KEPT = 512  # distinct bodies' renders kept per process
_KEPT_CHARS = 4 * 1024 * 1024  # of bodies and their renders; a render over an eighth of it is not kept


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
    """Clean renders of one site's bodies, the most recently used first to stay: at most `size` of them and
    `_KEPT_CHARS` characters of body and text together. Renders for another site (any setting `site` is made
    of changed) replace them all, so an old site's values are not held."""

    def __init__(self, size: int = _KEPT, chars: int = _KEPT_CHARS) -> None:
        self._size, self._chars = size, chars
        self._site: Hashable = None
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._held = 0

    def get(self, site: Hashable, body: str) -> Kept | None:
        if site != self._site:
            return None
        kept = self._kept.get(body)
        if kept is not None:
            self._kept.move_to_end(body)
        return kept

    def keep(self, site: Hashable, body: str, kept: Kept) -> None:
        if site != self._site:
            self.clear()
            self._site = site
        if body in self._kept or len(body) + len(kept.text) > self._chars // 8:
            return
        self._kept[body] = kept
        self._held += len(body) + len(kept.text)
        while len(self._kept) > self._size or self._held > self._chars:
            old_body, old = self._kept.popitem(last=False)
            self._held -= len(old_body) + len(old.text)

    def clear(self) -> None:
        self._kept.clear()
        self._held = 0
        self._site = None
