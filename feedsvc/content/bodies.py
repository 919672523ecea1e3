"""A post's body as HTML: rendered while parsing, or kept as its source and rendered when an entry shows it.

A build shows each post's body only in the entries of the subscription feeds that hold it (the newest
`feed_limit` of each scope): at 10,000 posts, half the bodies of bench's corpus and nine in ten of the news
corpus appear in none. Those are kept as their Markdown (after Liquid and shortcodes, so every warning and
reference is known at parse time) and rendered when an archive page or filtered feed first asks; the bytes
are the same either way (tests compare).

A body is kept so only when its HTML cannot fail the bounds on rendered HTML (limits.py's `check_html`,
which turns a post into a Problem): `deferrable` bounds the HTML's length and nesting from the source, with
room to spare; every other body is rendered at once, as before.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from feedsvc.content.fields import PostError
from feedsvc.content.limits import LIMITS, MarkupLimits, check_html, check_markdown, container_bound, measure
from feedsvc.content.links import drop_unsafe_links
from feedsvc.content.markup import MarkdownFlavour, absolutize_links, render_markdown, strip_xml_illegal
from feedsvc.model import Post

# Source an HTML pass copies into every place that names it, with no bound from the source: kramdown's
# abbreviations and attribute lists. A body with either is rendered at once. (Reference-style links are
# bounded below: each `[` uses at most one definition, escaped to at most six times its length.)
_EXPANDING = ("{:", "*[")
_ESCAPED = 6  # `"` in a title is `&quot;`
# What one character of source becomes at most (checked before links are made absolute): `>` is
# `<blockquote>\n</blockquote>\n`, a list marker `<ul>\n<li></li>\n</ul>\n`, `'` `&rsquo;`.
_HTML_PER_CHAR = 64
_HTML_PER_CELL = 32
# Elements one container level of source opens (`<ul><li><p>`), and the fixed wrappers around blocks
# (highlighted code: `<div><div><pre><code>`, tables: `<table><tbody><tr><td>`).
_LEVELS_PER_CONTAINER = 3
_WRAPPERS = 12
_INLINE_OPENERS = ("*", "_", "~", "[", "<", "`")


def body_html(source: str, base_url: str, flavour: MarkdownFlavour, markdown: bool = True) -> str:
    """The body as HTML: Markdown rendered (the generator's flavour), anything else as written; bounded
    (limits.py: a PostError past a bound); relative links made absolute, unsafe ones dropped."""
    rendered = check_html(render_markdown(check_markdown(source), flavour) if markdown else source)
    return _finished(rendered, base_url)


def _finished(rendered: str, base_url: str) -> str:
    return strip_xml_illegal(drop_unsafe_links(absolutize_links(rendered, base_url))).strip()


def deferrable(source: str, limits: MarkupLimits = LIMITS) -> bool:
    """Whether Markdown `source` (within `check_markdown`'s bounds) renders to HTML that passes `check_html`
    whatever it holds: upper bounds on the HTML's length and on how deeply its elements nest."""
    if any(mark in source for mark in _EXPANDING):
        return False
    length = len(source) * _HTML_PER_CHAR
    if "]:" in source:
        # A definition (label, destination and title may each go on to another line) holds no empty line.
        longest = max((len(block) for block in source.split("\n\n") if "]:" in block), default=0)
        length += source.count("[") * (_ESCAPED * longest + _HTML_PER_CHAR)
    if length > limits.html_chars:
        return False
    inline = sum(source.count(mark) for mark in _INLINE_OPENERS)  # each opens at most one element
    if inline + _WRAPPERS + _LEVELS_PER_CONTAINER > limits.html_depth:
        return False
    prefix = container_bound(source)
    containers = 2 * prefix if prefix is not None else None
    if containers is None:  # tabs or tables: the line by line pass
        shape = measure(source)  # quotes and list items inside each other (and brackets); table cells
        if length + shape.table_cells * _HTML_PER_CELL > limits.html_chars:
            return False  # a table row pads to the header's columns: `<td align="center"></td>` for each
        containers = shape.depth
    return _LEVELS_PER_CONTAINER * (containers + 1) + inline + _WRAPPERS <= limits.html_depth


def proven_deferrable(source: str, limits: MarkupLimits = LIMITS) -> bool:
    """Whether a body kept as Markdown that was read back from a cache is one `parse_post` could have kept:
    the caches hold untrusted bytes, so the proof that its HTML stays within bounds is made again."""
    try:
        return deferrable(check_markdown(source, limits), limits)
    except PostError:
        return False


class UnprovenBody(Exception):
    """A body read back from a cache failed `proven_deferrable` when first shown: its post must be read again."""

    def __init__(self, url: str) -> None:
        super().__init__(f"a body kept as Markdown read back from a cache may render past the bounds: {url}")
        self.url = url


@dataclass(frozen=True, slots=True)
class MarkdownBody:
    """A body kept as Markdown that `deferrable` passed (`Post.body_markup`): rendered with the site's flavour.

    `proven` False: read back from a cache whose loader left the proof to the first render (the build
    cache: a one-edit build shows a few dozen of 10,000 bodies); `html` makes it then, or raises
    UnprovenBody. It is not part of the value: a post equals itself before and after the proof."""

    flavour: MarkdownFlavour
    proven: bool = field(default=True, compare=False, repr=False)

    def html(self, source: str, base_url: str) -> str:
        if not self.proven and not _proven_once(source):
            raise UnprovenBody(base_url)
        if _MADE_ELSEWHERE:
            made = _MADE_ELSEWHERE.get((base_url, self.flavour, _digest(source)))
            if made is not None:
                return made
        return _rendered(source, base_url, self.flavour)


BodyKey = tuple[str, MarkdownFlavour, bytes]
"""A kept body's HTML is named by its post's URL, its flavour and its source's digest: what the HTML depends on."""

# Bodies another process rendered for the work under way (`made_elsewhere`): a cold build renders each body its
# feeds show once, spread over the cores, before the feed renderers fork (which would each render the bodies of
# their own feeds, many of them the same: 7,211 renders for 5,258 bodies at 10,000 posts).
_MADE_ELSEWHERE: dict[BodyKey, str] = {}


def kept_body(post: Post) -> tuple[BodyKey, str] | None:
    """The HTML of a body kept as Markdown, with the key `made_elsewhere` finds it by; None for others."""
    if not isinstance(post.body_markup, MarkdownBody):
        return None
    source = zlib.decompress(post.content_zlib).decode("utf-8", "surrogatepass")  # as Post.content_html reads it
    flavour = post.body_markup.flavour
    return (post.url, flavour, _digest(source)), _rendered(source, post.url, flavour)


@contextmanager
def made_elsewhere(bodies: Mapping[BodyKey, str]) -> Iterator[None]:
    """Within the block, `MarkdownBody.html` answers from `bodies` (from `kept_body`) where it can."""
    _MADE_ELSEWHERE.update(bodies)
    try:
        yield
    finally:
        _MADE_ELSEWHERE.clear()


@lru_cache(maxsize=256)  # the formats of a feed show the same body one after another
def _proven_once(source: str) -> bool:
    return proven_deferrable(source)


def unproven_failing(post: Post) -> bool:
    """Whether `post` holds a body whose proof was left to its first render and fails it."""
    markup = post.body_markup
    if not isinstance(markup, MarkdownBody) or markup.proven:
        return False
    return not _proven_once(zlib.decompress(post.content_zlib).decode("utf-8", "surrogatepass"))


def _digest(source: str) -> bytes:
    return hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=16).digest()


# The three formats of a feed show the same entries one after another: each body is rendered once for them.
@lru_cache(maxsize=256)
def _rendered(source: str, base_url: str, flavour: MarkdownFlavour) -> str:
    return _finished(render_markdown(source, flavour), base_url)
