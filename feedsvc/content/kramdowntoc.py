"""kramdown's table of contents: a one-item list followed by `{:toc}` becomes the list of the document's headers
that have ids, nested by level (`<ul id="markdown-toc">`, each entry linking to its header with the id
`markdown-toc-<header id>`). kramdown.py puts a placeholder where the list was and calls `table_of_contents`
once the header ids are written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PLACEHOLDER = re.compile(r"<!--kd-toc:(ul|ol)-->\n?")
_TOC_LIST_ITEM = re.compile(r"^ {0,3}(?:[*+-]|\d+[.)])[ \t]+\S")
_ORDERED = re.compile(r"^ {0,3}\d")
_HEADER = re.compile(r'<h([1-6]) id="([^"]*)">(.*?)</h\1>', re.DOTALL)
_NOTE_REF = re.compile(r'<sup id="fnref:[^"]*" role="doc-noteref">.*?</sup>', re.DOTALL)  # kramdown's shape
_ANCHOR = re.compile(r"</?a\b[^>]*>")


def toc_placeholder(list_line: str) -> str | None:
    """The placeholder for the list `{:toc}` follows, when its line is a list item; else None."""
    if not _TOC_LIST_ITEM.match(list_line):
        return None
    return f"<!--kd-toc:{'ol' if _ORDERED.match(list_line) else 'ul'}-->"


@dataclass
class _Entry:
    level: int
    ident: str
    text: str
    children: list[_Entry] = field(default_factory=list)


def table_of_contents(rendered: str) -> str:
    """The HTML with each placeholder replaced by the table of its headers."""
    root = _Entry(0, "", "")
    stack = [root]
    for match in _HEADER.finditer(rendered):
        level = int(match.group(1))
        while stack[-1] is not root and stack[-1].level >= level:
            stack.pop()
        entry = _Entry(level, match.group(2), _ANCHOR.sub("", _NOTE_REF.sub("", match.group(3))).strip())
        stack[-1].children.append(entry)
        stack.append(entry)
    return PLACEHOLDER.sub(lambda m: _list(root.children, m.group(1), ' id="markdown-toc"') + "\n"
                           if root.children else "", rendered)


def _list(entries: list[_Entry], tag: str, attributes: str = "") -> str:
    items = "".join(f'<li><a href="#{entry.ident}" id="markdown-toc-{entry.ident}">{entry.text}</a>'
                    f"{_list(entry.children, tag) if entry.children else ''}</li>\n" for entry in entries)
    return f"<{tag}{attributes}>\n{items}</{tag}>"
