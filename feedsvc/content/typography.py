"""jekyll-feed's `smartify` of titles: kramdown's typography (quotes, dashes, ellipses) on text, with
the HTML entities a title is written with decoded once (`&ldquo;agilefall&rdquo;` shows as quotes).

Only the typography, not Markdown: `*` and `_` in a title stay as written. The quote characters are
the site's `kramdown: smart_quotes` (KramdownOptions), as everywhere else kramdown's rules apply.
"""

from __future__ import annotations

import html
import re

from feedsvc.content.kramdown import KramdownOptions
from feedsvc.content.markup import title_has_markup

_SYMBOLS = re.compile(r"---|--|\.\.\.|\. \. \.")
_SYMBOL_CHARS = {"---": "\u2014", "--": "\u2013", "...": "\u2026", ". . .": "\u2026"}
_OPENS_AFTER = frozenset("([{<\u2014\u2013-/\u2018\u201c")
_DECADE = re.compile(r"'(?=\d\ds\b)")
_TAG = re.compile(r"(<[^>]*>)")


def smartify(title: str, options: KramdownOptions) -> str:
    """A title as jekyll-feed shows it: entities decoded, typographic quotes, dashes and ellipses. A title
    with inline HTML keeps its tags (and its text stays HTML); any other comes back as plain text."""
    if not title_has_markup(title):
        return _typeset(html.unescape(title), options)
    parts = _TAG.split(title)
    return "".join(part if index % 2 else html.escape(_typeset(html.unescape(part), options), quote=False)
                   for index, part in enumerate(parts))


def _typeset(text: str, options: KramdownOptions) -> str:
    text = _SYMBOLS.sub(lambda match: _SYMBOL_CHARS[match.group(0)], text)
    text = _DECADE.sub("\u2019", text)  # '80s: an apostrophe, not an opening quote
    left_single, right_single, left_double, right_double = options.smart_quotes
    out: list[str] = []
    for char in text:
        if char not in "'\"":
            out.append(char)
            continue
        before = out[-1] if out else ""
        opening = before == "" or before.isspace() or before in _OPENS_AFTER
        if char == "'":
            out.append(left_single if opening else right_single)
        else:
            out.append(left_double if opening else right_double)
    return "".join(out)
