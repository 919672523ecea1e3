"""Hugo's code highlighting as a reader sees it without colours: the line numbers (`[markup.highlight]`).

Hugo's highlighter numbers the lines of a highlighted code block when `lineNos` is set, or when the block
asks (` ```go {linenos=table,hl_lines=[2],linenostart=7} `, or the `highlight` shortcode's options):
in a table beside the code (`lineNumbersInTable`, the default), else at the start of each line; the
marked lines (`hl_lines`) get the class `hl`. A fenced block is highlighted when it names a language, or
always with `guessSyntax`; indented blocks never are. The numbers are text in the page, so they are in
Hugo's plain-text summary too. The HTML keeps Hugo's class names (chroma, lntable, lnt, ln, cl, hl).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_OPTION = re.compile(r"""([A-Za-z_]+)\s*=\s*("[^"]*"|'[^']*'|\[[^\]]*\]|[^\s,}]+)""")
_LINE = re.compile(r".*?(?:\n|$)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Highlight:
    """The `[markup.highlight]` settings that change a code block's text."""

    line_nos: bool = False
    in_table: bool = True
    start: int = 1
    guess_syntax: bool = False
    no_classes: bool = True  # Hugo's markup then has styles, not classes: see `number_lines`


def highlight_options(config: Any) -> Highlight:
    """Read a Hugo config's `markup.highlight` mapping (keys lower-cased)."""
    table = config if isinstance(config, Mapping) else {}
    start = table.get("linenostart", 1)
    return Highlight(line_nos=table.get("linenos") is True or str(table.get("linenos")).lower() in ("table", "inline"),
                     in_table=table.get("linenumbersintable", True) is not False and table.get("linenos") != "inline",
                     start=start if isinstance(start, int) and not isinstance(start, bool) else 1,
                     guess_syntax=table.get("guesssyntax") is True,
                     no_classes=table.get("noclasses", True) is not False)


def block_options(text: str) -> dict[str, str]:
    """`linenos=table, hl_lines=[2 3]` (a fence's `{...}` or the shortcode's options) as lower-cased keys."""
    return {key.lower(): value.strip("\"'") for key, value in _OPTION.findall(text)}


def _marked(spec: str) -> set[int]:
    """`hl_lines`: `[2, 4-5]`, `2 4-5`: the 1-based line numbers in the block (before `linenostart`)."""
    lines: set[int] = set()
    for part in re.split(r"[\s,\[\]]+", spec):
        first, _, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            lines.update(range(int(first), int(last or first) + 1))
    return lines


def number_lines(code_html: str, language: str, options: Mapping[str, str], site: Highlight) -> str | None:
    """A code block's HTML (its escaped text) with Hugo's line numbers; None when it gets none."""
    linenos = options.get("linenos", "").lower()
    if linenos == "false" or not (site.line_nos or linenos in ("true", "table", "inline")):
        return None
    in_table = linenos == "table" or (linenos != "inline" and site.in_table)
    start = int(options["linenostart"]) if options.get("linenostart", "").isdigit() else site.start
    marked = _marked(options.get("hl_lines", ""))
    lines = [line for line in _LINE.findall(code_html) if line]
    css = f' class="language-{html.escape(language)}" data-lang="{html.escape(language)}"' if language else ""
    hl = [" hl" if at + 1 in marked else "" for at in range(len(lines))]
    # The tag just before a line's code is bare where Hugo's is (`noClasses`): Hugo's plain-text summary drops
    # white space right after a tag with a space in it, so a line's indent shows only after a bare one.
    cl = "<span>" if site.no_classes else '<span class="cl">'

    if in_table:
        numbers = "".join(f'<span class="lnt{hl[at]}">{start + at}\n</span>' for at in range(len(lines)))
        code = "".join(f'<span class="line{hl[at]}">{cl}{line}</span></span>' for at, line in enumerate(lines))
        return ('<div class="highlight"><div class="chroma">\n<table class="lntable"><tr><td class="lntd">\n'
                f'<pre tabindex="0" class="chroma"><code>{numbers}</code></pre></td>\n<td class="lntd">\n'
                f'<pre tabindex="0" class="chroma"><code{css}>{code}</code></pre></td></tr></table>\n</div>\n</div>')
    code = "".join(f'<span class="line{hl[at]}"><span class="ln">{start + at}</span>{cl}{line}</span></span>'
                   for at, line in enumerate(lines))
    return f'<div class="highlight"><pre tabindex="0" class="chroma"><code{css}>{code}</code></pre></div>'


_FENCE_INFO = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[ \t]*([^\s{]*)[ \t]*(\{.*\})?")
_SOURCE_BLOCK = re.compile(r'<pre data-sourcepos="(\d+):(\d+)-\d+:\d+"><code(?: class="language-[^"]*")?>'
                           r"(.*?)</code></pre>", re.DOTALL)
SHORTCODE_MARK = "data-hugo-highlight"  # the `highlight` shortcode's block: <pre data-hugo-highlight="opts">
_SHORTCODE_BLOCK = re.compile(r'<pre ' + SHORTCODE_MARK + r'="([^"]*)"><code(?: class="language-([^"]*)")?>(.*?)'
                              r"</code></pre>", re.DOTALL)


def wants_numbers(rendered: str, source: str, site: Highlight) -> bool:
    """Whether `number_blocks` may change anything: a code block, and line numbers asked for somewhere."""
    return "<pre" in rendered and (site.line_nos or "linenos" in source.lower() or SHORTCODE_MARK in rendered)


def number_blocks(rendered: str, lines: list[str], site: Highlight) -> str:
    """cmark's HTML (with source positions) with line numbers on the fenced blocks Hugo would number, and
    on the `highlight` shortcode's blocks (marked by SHORTCODE_MARK, which goes)."""
    def fenced(match: re.Match[str]) -> str:
        line, column = int(match.group(1)) - 1, int(match.group(2)) - 1
        # the fence from cmark's column (in bytes): inside a quote or a list item too
        start = lines[line].encode()[column:].decode(errors="ignore") if line < len(lines) else ""
        info = _FENCE_INFO.match(start)
        if info is None or not (info.group(1) or site.guess_syntax):
            return match.group(0)
        numbered = number_lines(match.group(3), info.group(1), block_options(info.group(2) or ""), site)
        return match.group(0) if numbered is None else numbered

    def shortcode(match: re.Match[str]) -> str:
        numbered = number_lines(match.group(3), match.group(2) or "", block_options(html.unescape(match.group(1))),
                                site)
        if numbered is not None:
            return numbered
        css = f' class="language-{match.group(2)}"' if match.group(2) else ""
        return f"<pre><code{css}>{match.group(3)}</code></pre>"

    rendered = _SOURCE_BLOCK.sub(fenced, rendered)
    return _SHORTCODE_BLOCK.sub(shortcode, rendered) if SHORTCODE_MARK in rendered else rendered
