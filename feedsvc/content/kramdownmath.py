"""kramdown's math (`$$…$$`) as its default engine writes it for MathJax: `\\(…\\)` inline, `\\[…\\]` for a block
of its own, the TeX HTML-escaped and no script element. kramdown.py's passes call these: the math becomes a
placeholder cmark leaves alone (so neither emphasis nor smart quotes touch the TeX), resolved after."""

from __future__ import annotations

import html
import re

_BLOCK_START = re.compile(r"^ {0,3}\$\$")
# Inline math may span the lines of one paragraph, never a blank line; code spans are left alone.
_INLINE = re.compile(r"(`+)(?:.*?)\1|\$\$((?:(?!\n[ \t]*\n).)+?)\$\$", re.DOTALL)
# Private-use characters: plain text to cmark, which neither emphasises nor smartens them.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")


def block_math_end(lines: list[str], start: int) -> int | None:
    """The line a math block that opens at `start` (`$$` beginning a paragraph) closes on, or None."""
    if not _BLOCK_START.match(lines[start]):
        return None
    for index in range(start, len(lines)):
        line = lines[index].strip()
        if not line:
            return None
        if (line[2:] if index == start else line).endswith("$$"):
            return index if index + 1 == len(lines) or not lines[index + 1].strip() else None
    return None


def block_math(lines: list[str]) -> str:
    """The HTML of a math block (its lines, `$$` to `$$`)."""
    tex = "\n".join(lines).strip()[2:-2]
    return f"\\[{html.escape(tex.strip(), quote=False)}\\]"


def mark_inline_math(text: str, found: list[str]) -> str:
    """Text (no code blocks in it) with each `$$…$$` outside code spans as a placeholder; the TeX goes to `found`."""
    if "$$" not in text:
        return text

    def mark(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)
        found.append(match.group(2))
        return f"{_OPEN}{len(found) - 1}{_CLOSE}"

    return _INLINE.sub(mark, text)


def inline_math(rendered: str, found: list[str]) -> str:
    """cmark's HTML with the placeholders `mark_inline_math` left written as MathJax's inline math."""
    return _PLACEHOLDER.sub(lambda m: f"\\({html.escape(found[int(m.group(1))].strip(), quote=False)}\\)", rendered)
