"""Bounds on one post's Markdown, so no single post can cost the service seconds or gigabytes.

A renderer's time and memory follow the shape of its input (a 300 x 3,000 table renders to 10 MB
of HTML that every feed then carries), so the shape is measured before rendering, in one linear
pass, and the HTML after it. Past a bound the post is an error naming the bound (parsing.py turns
it into a Problem naming the file); every other post is served. The limits sit far above any real
post: the largest posts of the shared Jekyll and Hugo corpora use under a tenth of each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedsvc.content.fields import PostError


@dataclass(frozen=True, slots=True)
class MarkupLimits:
    """How big one piece of Markdown (a post's body or excerpt) and its HTML may be."""

    chars: int = 2 * 1024 * 1024
    lines: int = 50_000
    depth: int = 100  # lists and quotes inside each other, brackets inside brackets
    table_cells: int = 40_000  # over all the tables of the text
    elements: int = 50_000  # blocks, links, images, emphasis, inline HTML (an estimate from the source)
    html_chars: int = 4 * 1024 * 1024
    # Elements inside elements: libxml2 (lxml, many feed readers) refuses HTML deeper than 256 by default.
    html_depth: int = 250


LIMITS = MarkupLimits()


@dataclass(frozen=True, slots=True)
class Shape:
    """What `measure` found; `*_line` is the line (1-based, in the text) where the largest one is."""

    chars: int
    lines: int
    depth: int
    depth_line: int
    table_cells: int
    table_line: int
    elements: int


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_QUOTE_OR_SPACE = re.compile(r"[ >]*")
_LIST_MARKER = re.compile(r"(?:[-+*]|\d{1,9}[.)])(?: +|$)")
_TABLE_RULE = re.compile(r" {0,3}\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_BRACKET = re.compile(r"[\[\]]")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(/?)>")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def check_markdown(markdown: str, limits: MarkupLimits = LIMITS) -> str:
    """The text itself, to be rendered, or a PostError naming the first bound it passes."""
    if len(markdown) > limits.chars:
        _refuse(f"the Markdown is {len(markdown):,} characters long", limits.chars, "characters")
    lines = markdown.count("\n") + 1
    if lines > limits.lines:
        _refuse(f"the Markdown has {lines:,} lines", limits.lines, "lines")
    inline = _inline_elements(markdown)
    if inline > limits.elements:  # before the line by line pass, at C speed
        _refuse(f"the Markdown has about {inline:,} elements (links, emphasis, inline HTML)",
                limits.elements, "elements")
    depth = container_bound(markdown)
    if depth is not None and 2 * depth + markdown.count("[") <= limits.depth and lines + inline <= limits.elements:
        return markdown  # the line by line pass could only find less: most posts skip it
    shape = measure(markdown)
    if shape.depth > limits.depth:
        _refuse(f"the Markdown nests {shape.depth:,} levels deep at its line {shape.depth_line:,} "
                "(lists, block quotes or brackets inside each other)", limits.depth, "levels")
    if shape.table_cells > limits.table_cells:
        _refuse(f"the Markdown has tables of {shape.table_cells:,} cells (the largest from its line "
                f"{shape.table_line:,})", limits.table_cells, "cells")
    if shape.elements > limits.elements:
        _refuse(f"the Markdown has about {shape.elements:,} elements (blocks, links, emphasis, inline HTML)",
                limits.elements, "elements")
    return markdown


def check_html(html: str, limits: MarkupLimits = LIMITS) -> str:
    """Rendered HTML as it is, or a PostError when it is too large or nests too deeply (raw HTML
    passes through Markdown untouched, so only the result shows how deep it goes)."""
    if len(html) > limits.html_chars:
        _refuse(f"the Markdown renders to {len(html):,} characters of HTML", limits.html_chars, "characters")
    depth = html_depth(html)
    if depth > limits.html_depth:
        _refuse(f"the Markdown renders to HTML nested {depth:,} elements deep", limits.html_depth, "levels")
    return html


def measure(markdown: str) -> Shape:
    """One pass over the lines: container depth (lists by their indentation, quotes by their `>`,
    brackets until a blank line), table cells, and an over-estimate of the elements. Code fences are
    skipped: nothing nests inside them."""
    depth = depth_line = cells = table_cells = table_line = blocks = 0
    table_start = 0
    columns = 0
    items: list[int] = []  # the content column of each open list item
    brackets = 0
    fence = ""
    previous = ""
    for number, line in enumerate(markdown.split("\n"), 1):
        line = line.expandtabs(4)
        if fence:
            if line.lstrip().startswith(fence):
                fence = ""
            continue
        opened = _FENCE.match(line)
        if opened:
            fence = opened.group(1)[0] * 3
            continue
        if not line.strip():
            brackets = 0
            if columns:
                table_cells += cells
                columns = cells = 0
            previous = line
            continue
        blocks += 1
        if columns:
            cells += columns
            if cells > table_cells:
                table_line = table_start
        elif "|" in previous and "-" in line and _TABLE_RULE.match(line):
            columns = max(line.count("|") - line.strip().startswith("|") - line.strip().endswith("|") + 1, 1)
            cells, table_start = columns, number - 1
        prefix = _QUOTE_OR_SPACE.match(line)
        quotes = prefix.group(0).count(">") if prefix else 0
        at = prefix.end() if prefix and quotes else 0
        column = len(line) - len(line[at:].lstrip(" "))
        while items and items[-1] > column:
            items.pop()
        rest = line[column:]
        marker = _LIST_MARKER.match(rest)
        while marker:  # "- - - x" opens one list in another on a single line
            column += marker.end()
            items.append(column)
            rest = rest[marker.end():]
            marker = _LIST_MARKER.match(rest)
        deepest_bracket = brackets
        if "[" in rest:
            for bracket in _BRACKET.findall(rest):
                brackets = brackets + 1 if bracket == "[" else max(brackets - 1, 0)
                deepest_bracket = max(deepest_bracket, brackets)
        level = quotes + len(items) + deepest_bracket
        if level > depth:
            depth, depth_line = level, number
        previous = line
    table_cells += cells
    return Shape(len(markdown), markdown.count("\n") + 1, depth, depth_line, table_cells, table_line,
                 blocks + table_cells + _inline_elements(markdown))


# What may open a container at the start of a line: indentation, quote marks and list markers.
_LINE_PREFIX = re.compile(r"^[ >*+\-0-9.)]*", re.MULTILINE)


def container_bound(markdown: str) -> int | None:
    """The longest prefix of a line (indentation, quote marks, list markers), at C speed: lists and quotes
    inside each other, as `measure` counts them, are at most twice as many (each quote is a `>`; each list
    item a column of its content, counted from the line's start). None for text with tabs (they widen
    to four columns) or tables (only the line pass counts cells)."""
    if "\t" in markdown or "|" in markdown:
        return None
    return max(map(len, _LINE_PREFIX.findall(markdown)))


def _inline_elements(markdown: str) -> int:
    """An over-estimate of the links, images, inline HTML, code spans and emphasis in a text."""
    return markdown.count("[") + markdown.count("<") + sum(markdown.count(mark) // 2 for mark in "*_`~")


def html_depth(html: str) -> int:
    """How deeply elements nest in an HTML fragment (void and self-closed elements count no level)."""
    depth = deepest = 0
    for closing, name, self_closed in _TAG.findall(html):
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closed and name.lower() not in _VOID:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _refuse(found: str, limit: int, unit: str) -> None:
    raise PostError(f"{found}, over the limit of {limit:,} {unit} for one post: not rendered")
