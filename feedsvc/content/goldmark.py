"""Hugo's Markdown (Goldmark, as Hugo configures it) on top of cmark-gfm: its options and a pass after.

cmark's smart punctuation gives Goldmark's typographer (quotes, `--`, `---`, `...`); this module gives
its heading ids. Goldmark makes an id from the heading's Markdown source as written (`## [Go](https://go.dev)`
gets `gohttpsgodev`, as real Hugo 0.111 does: tests/test_hugo_differential.py), keeps letters, digits and
`_` (lower-cased), turns spaces and `-` into `-`, drops the rest, and numbers repeats (`-1`, `-2`); a
trailing attribute block (`## Title {#id .class}`) sets the id and class instead. cmark's source positions
say which source line each heading came from.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from feedsvc.content.highlight import Highlight, highlight_options, number_blocks, wants_numbers

ID_TYPES = ("github", "github-ascii", "blackfriday")  # Hugo's `autoHeadingIDType` values


@dataclass(frozen=True, slots=True)
class GoldmarkOptions:
    """The `[markup.goldmark]` settings of a Hugo site that change what a reader sees."""

    typographer: bool = True  # extensions.typographer: ’ “ ” – — …
    auto_heading_id: bool = True  # parser.autoHeadingID
    id_type: str = "github"  # parser.autoHeadingIDType, one of ID_TYPES
    attributes: bool = True  # parser.attribute.title: `## Title {#id}`
    highlight: Highlight = Highlight()  # [markup.highlight]: line numbers (highlight.py)


def goldmark_options(config: Any, errors: list[str]) -> GoldmarkOptions:
    """Read a Hugo config's `markup` mapping (keys lower-cased); a bad value is named in `errors`."""
    goldmark = config.get("goldmark") if isinstance(config, Mapping) else None
    highlight = highlight_options(config.get("highlight") if isinstance(config, Mapping) else None)
    if not isinstance(goldmark, Mapping):
        return GoldmarkOptions(highlight=highlight)
    extensions = goldmark.get("extensions") if isinstance(goldmark.get("extensions"), Mapping) else {}
    parser = goldmark.get("parser") if isinstance(goldmark.get("parser"), Mapping) else {}
    assert isinstance(extensions, Mapping) and isinstance(parser, Mapping)
    typographer = extensions.get("typographer", True)
    if isinstance(typographer, Mapping):  # Hugo 0.112 and later: [markup.goldmark.extensions.typographer]
        typographer = typographer.get("disable") is not True
    id_type = str(parser.get("autoheadingidtype") or "github").lower()
    if id_type not in ID_TYPES:
        errors.append(f"markup.goldmark.parser.autoHeadingIDType: expected one of {', '.join(ID_TYPES)}, "
                      f"got {id_type!r}")
    attribute = parser.get("attribute")
    return GoldmarkOptions(
        typographer=typographer is not False,
        auto_heading_id=parser.get("autoheadingid", True) is not False,
        id_type=id_type if id_type in ID_TYPES else "github",
        attributes=not (isinstance(attribute, Mapping) and attribute.get("title") is False),
        highlight=highlight,
    )


_HEADING = re.compile(r'<h([1-6]) data-sourcepos="(\d+):(\d+)-(\d+):\d+">(.*?)</h\1>', re.DOTALL)
_SOURCEPOS = re.compile(r' data-sourcepos="\d+:\d+-\d+:\d+"')
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ATX_OPEN = re.compile(r"^#{1,6}(?:[ \t]+|$)")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_SETEXT_LINE = re.compile(r"^[ \t]*(?:=+|-+)[ \t]*$")
_ATTRIBUTE_BLOCK = re.compile(r"[ \t]*\{([^{}]*)\}[ \t]*$")
_ATTRIBUTE = re.compile(r"""\s*(?:#([\w-]+)|\.([\w-]+)|([\w-]+)=(?:"[^"]*"|'[^']*'|[^\s"'}]+))""")
_RENDERED_ATTRIBUTE_BLOCK = re.compile(r"\s*\{[^{}]*\}\s*$")


def finish(rendered: str, source: str, options: GoldmarkOptions) -> str:
    """cmark's HTML (rendered with source positions) with Goldmark's heading ids, Hugo's line numbers
    (highlight.py) and the positions gone."""
    lines: list[str] | None = None
    if options.auto_heading_id or options.attributes:
        lines = _LINE_BREAK.split(source)
        taken: set[str] = set()
        rendered = _HEADING.sub(lambda match: _heading(match, lines or [], taken, options), rendered)
    if wants_numbers(rendered, source, options.highlight):
        rendered = number_blocks(rendered, lines or _LINE_BREAK.split(source), options.highlight)
    return _SOURCEPOS.sub("", rendered)


def _heading(match: re.Match[str], lines: list[str], taken: set[str], options: GoldmarkOptions) -> str:
    level, inner = match.group(1), match.group(5)
    raw = _heading_source(lines, int(match.group(2)), int(match.group(3)), int(match.group(4)))
    attrs: list[tuple[str, str]] = []
    block = _ATTRIBUTE_BLOCK.search(raw) if options.attributes else None
    explicit = _attributes(block.group(1)) if block else None
    if explicit is not None:
        inner = _RENDERED_ATTRIBUTE_BLOCK.sub("", inner)
        attrs = [(name, value) for name, value in explicit if name != "id"]
        ids = [value for name, value in explicit if name == "id"]
        if ids:
            taken.add(ids[-1])
            attrs.append(("id", ids[-1]))
        elif options.auto_heading_id:
            attrs.append(("id", _new_id(raw[: block.start()] if block else raw, taken, options.id_type)))
    elif options.auto_heading_id:
        attrs.append(("id", _new_id(raw, taken, options.id_type)))
    written = "".join(f' {name}="{html.escape(value)}"' for name, value in attrs)
    return f"<h{level}{written}>{inner}</h{level}>"


def _heading_source(lines: list[str], first: int, column: int, last: int) -> str:
    """The heading's last line of text as written (Goldmark's id source): markers and the underline gone."""
    span = [(number, lines[number - 1]) for number in range(first, min(last, len(lines)) + 1)]
    text_lines = [(number, line) for number, line in span if line.strip() and not
                  (number > first and _SETEXT_LINE.match(line))]
    if not text_lines:
        return ""
    number, line = text_lines[-1]
    if number == first:
        line = line.encode()[column - 1:].decode(errors="ignore")  # cmark's columns count bytes
        opened = _ATX_OPEN.match(line)
        if opened:
            line = _ATX_CLOSE.sub("", line[opened.end():])
    return line.strip()


def _attributes(text: str) -> list[tuple[str, str]] | None:
    """`#id .class key=value` as (name, value) pairs, classes joined; None when it is not an attribute list."""
    found: list[tuple[str, str]] = []
    classes: list[str] = []
    position = 0
    while position < len(text):
        match = _ATTRIBUTE.match(text, position)
        if match is None:
            return None if text[position:].strip() else found
        if match.group(1):
            found.append(("id", match.group(1)))
        elif match.group(2):
            classes.append(match.group(2))
        position = match.end()
    if classes:
        found.insert(0, ("class", " ".join(classes)))
    return found


def _new_id(raw: str, taken: set[str], id_type: str) -> str:
    """Hugo's id for a heading, of the site's id type, unique in the document."""
    base = (_blackfriday_id(raw) if id_type == "blackfriday" else _github_id(raw, id_type == "github-ascii")) \
        or "heading"
    candidate, number = base, 0
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    taken.add(candidate)
    return candidate


def _github_id(raw: str, ascii_only: bool) -> str:
    """Letters, digits and `_` lower-cased, spaces and `-` as `-`, the rest dropped (accents first, for ASCII)."""
    if ascii_only:
        raw = unicodedata.normalize("NFKD", raw)
    kept: list[str] = []
    for char in raw.strip():
        if ascii_only and not char.isascii():
            continue
        if char in "- ":
            kept.append("-")
        elif char == "_" or char.isalpha() or unicodedata.category(char) == "Nd":
            kept.append(char.lower())
    return "".join(kept)


def _blackfriday_id(raw: str) -> str:
    """Letters and digits lower-cased, each run of anything else between them one `-`."""
    kept: list[str] = []
    dash = False
    for char in raw:
        if char.isalpha() or unicodedata.category(char).startswith("N"):
            if dash and kept:
                kept.append("-")
            dash = False
            kept.append(char.lower())
        else:
            dash = True
    return "".join(kept)
