"""A post's excerpt as Jekyll makes it: the source before the separator, cut before Liquid runs.

Jekyll cuts the excerpt from the post's source, then renders it on its own: Liquid blocks the cut
leaves open are closed at its end (`{% raw %}` gets its `{% endraw %}`), and the reference-style
link definitions from the rest of the post that the excerpt uses are given to it, so
`[text][ref]` becomes a link there as it does in the post.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Liquid's standard blocks, and Jekyll's; a tag a site's plugin defines is not known to be one.
LIQUID_BLOCKS = frozenset(("if", "unless", "for", "case", "capture", "raw", "comment", "tablerow", "highlight",
                           "ifchanged"))
_TAG_NAME = re.compile(r"\{%-?\s*(\w+).*?-?%\}", re.DOTALL)
_LINK_DEFINITION = re.compile(r"^ {0,3}(\[[^\]]+\])(:.+)$", re.MULTILINE)


class Excerpt(NamedTuple):
    """The excerpt's source, and whether the separator was found (else it is the whole post)."""

    source: str
    separated: bool


def cut_excerpt(body: str, separator: str) -> Excerpt:
    """The source of the excerpt of `body` (before Liquid), as Jekyll's `Excerpt#extract_excerpt` cuts it."""
    head, found, tail = body.partition(separator)
    if not found or not tail:
        return Excerpt(head, bool(found))
    if "{%" in head:
        head = close_open_blocks(head)
    definitions = [label + rest for label, rest in _LINK_DEFINITION.findall(tail) if label in head]
    return Excerpt(head + "\n\n" + "\n".join(definitions) if definitions else head, True)


def close_open_blocks(head: str) -> str:
    """`head` with an end tag added for every known Liquid block it opens and does not close."""
    for name in reversed(_TAG_NAME.findall(head)):
        if name in LIQUID_BLOCKS and not re.search(r"\{%-?\s*end" + re.escape(name) + r".*?-?%\}", head,
                                                   re.DOTALL):
            head += f"\n{{% end{name} %}}"
    return head
