"""Hugo shortcodes (`{{< name … >}}`, `{{% name … %}}`) read into a tree, then expanded before Markdown.

feedsvc cannot run a site's Go templates, so no shortcode may reach a reader as written: Hugo's built-in
ones become HTML a reader can use (builtins.py), a site's own ones keep their inner content (and otherwise
disappear), each with a warning naming the file, line and shortcode. A shortcode is paired when a closing
tag of its name follows at its level, else it stands alone; `{{</* … */>}}` is the shortcode as text.

The output of `{{% %}}` is Markdown, as in Hugo; the output of `{{< >}}` is not processed again: its text
reaches the Markdown renderer with Markdown's punctuation as character references, so it shows as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from feedsvc.content.dialects.base import Expansion
from feedsvc.model import Problem

# A tag: the delimiters, then anything but the closing delimiter, quoted strings kept whole.
_BODY = r"""(?:"(?:\\.|[^"\\])*"|`[^`]*`|[^"`])*?"""
_TAG = re.compile(r"\{\{<(?P<angle>" + _BODY + r")>\}\}|\{\{%(?P<percent>" + _BODY + r")%\}\}", re.DOTALL)
_PARAM = re.compile(r"""\s*(?:(?P<key>[\w.-]+)\s*=\s*)?"""
                    r"""(?:"(?P<quoted>(?:\\.|[^"\\])*)"|`(?P<raw>[^`]*)`|(?P<bare>[^\s"`]+))""")
_NAME = re.compile(r"\s*(?P<name>[\w./-]+)")
# What Markdown would read as syntax in text that must reach the reader as written.
_MARKDOWN_PUNCTUATION = str.maketrans({char: f"&#{ord(char)};" for char in "\\`*_[]!#|~"})
# And what the typographer would change (quotes, dashes, ellipses): only in text, outside tags and comments.
_TYPOGRAPHY = str.maketrans({char: f"&#{ord(char)};" for char in "'\"-."})
_HTML_TAG = re.compile(r"(<[^>]*>)")


@dataclass(frozen=True, slots=True)
class Shortcode:
    """One shortcode as written: its name, parameters (positional and named), inner content when paired."""

    name: str
    positional: tuple[str, ...]
    named: Mapping[str, str]
    markdown: bool  # `{{% %}}`: its output is Markdown
    line: int
    inner: str | None = None  # expanded already; None: not paired

    def get(self, key: str, position: int | None = None) -> str:
        """A named parameter, else the positional one at `position`, else ""."""
        if key in self.named:
            return self.named[key]
        if position is not None and position < len(self.positional):
            return self.positional[position]
        return ""


@dataclass(frozen=True, slots=True)
class Output:
    """What a shortcode becomes: text (HTML or Markdown), a warning, and a post it refers to (reference key)."""

    text: str
    warning: str = ""
    reference: str = ""


@dataclass(slots=True)
class _Open:
    tag: _Tag | None
    parts: list[str | _Node] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Tag:
    name: str
    positional: tuple[str, ...]
    named: Mapping[str, str]
    markdown: bool
    line: int
    closing: bool
    self_closing: bool


@dataclass(frozen=True, slots=True)
class _Node:
    tag: _Tag
    parts: tuple[str | _Node, ...] | None  # None: not paired


Renderer = Callable[[Shortcode], Output]


def has_shortcodes(body: str) -> bool:
    return "{{<" in body or "{{%" in body


def protect(text: str, *, attribute: bool = False) -> str:
    """Text (or HTML) that Markdown leaves as written, typographer included (Hugo puts a `{{< >}}` shortcode's
    output in after rendering): its punctuation as character references; an `attribute` value's only for Markdown."""
    if attribute:
        return text.translate(_MARKDOWN_PUNCTUATION)
    parts = _HTML_TAG.split(text.translate(_MARKDOWN_PUNCTUATION))
    return "".join(part if index % 2 else part.translate(_TYPOGRAPHY) for index, part in enumerate(parts))


def expand(body: str, relpath: str, first_line: int, render: Renderer) -> Expansion:
    """Every shortcode of `body` replaced by what `render` makes of it, innermost first."""
    if not has_shortcodes(body):
        return Expansion(body)
    problems: list[Problem] = []
    references: list[tuple[str, int]] = []
    tree = _tree(body, first_line, relpath, problems)

    def text_of(parts: tuple[str | _Node, ...] | list[str | _Node]) -> str:
        out: list[str] = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            tag = part.tag
            inner = None if part.parts is None else text_of(part.parts)
            output = render(Shortcode(tag.name, tag.positional, tag.named, tag.markdown, tag.line, inner))
            if output.warning:
                problems.append(Problem(relpath, f"shortcode {tag.name}: {output.warning}", "warning", tag.line))
            if output.reference:
                references.append((output.reference, tag.line))
            out.append(output.text)
        return "".join(out)

    return Expansion(text_of(tree), tuple(problems), tuple(references))


def _tree(body: str, first_line: int, relpath: str, problems: list[Problem]) -> list[str | _Node]:
    """The body as text and shortcodes, each paired one holding what lies between its tags."""
    stack = [_Open(None)]
    position = 0
    for match in _TAG.finditer(body):
        stack[-1].parts.append(body[position:match.start()])
        position = match.end()
        markdown = match.group("angle") is None
        inside = match.group("percent") if markdown else match.group("angle")
        line = first_line + body.count("\n", 0, match.start())
        stripped = inside.strip()
        if stripped.startswith("/*") and stripped.endswith("*/"):  # `{{</* x */>}}`: the shortcode as text
            literal = inside.replace("/*", "", 1)
            literal = literal[: literal.rindex("*/")] + literal[literal.rindex("*/") + 2:]
            stack[-1].parts.append(("{{%" if markdown else "{{<") + literal + ("%}}" if markdown else ">}}"))
            continue
        tag = _parse_tag(inside, markdown, line)
        if tag is None:
            problems.append(Problem(relpath, f"a shortcode without a name is left out: {match.group(0)[:60]!r}",
                                    "warning", line))
        elif tag.self_closing:
            stack[-1].parts.append(_Node(tag, None))
        elif not tag.closing:
            stack.append(_Open(tag))
        elif any(frame.tag is not None and frame.tag.name == tag.name for frame in stack[1:]):
            while True:
                frame = stack.pop()
                assert frame.tag is not None
                if frame.tag.name == tag.name:
                    stack[-1].parts.append(_Node(frame.tag, tuple(frame.parts)))
                    break
                stack[-1].parts.extend([_Node(frame.tag, None), *frame.parts])
        else:
            problems.append(Problem(relpath, f"shortcode {tag.name}: a closing tag without an opening one is left out",
                                    "warning", line))
    stack[-1].parts.append(body[position:])
    while len(stack) > 1:
        frame = stack.pop()
        assert frame.tag is not None
        stack[-1].parts.extend([_Node(frame.tag, None), *frame.parts])
    return stack[0].parts


def _parse_tag(inside: str, markdown: bool, line: int) -> _Tag | None:
    text = inside.strip()
    closing = text.startswith("/")
    self_closing = not closing and text.endswith("/")
    text = text.strip("/").strip() if closing else (text[:-1] if self_closing else text)
    name = _NAME.match(text)
    if name is None:
        return None
    positional: list[str] = []
    named: dict[str, str] = {}
    rest = text[name.end():]
    for param in _PARAM.finditer(rest):
        quoted = param.group("quoted")
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None \
            else param.group("raw") or param.group("bare") or ""
        if param.group("key"):
            named[param.group("key")] = value
        else:
            positional.append(value)
    return _Tag(name.group("name"), tuple(positional), named, markdown, line, closing, self_closing)


def param_value(key: str, front: Mapping[Any, Any], site_params: Mapping[str, str]) -> str | None:
    """Hugo's `.Page.Param`: the page's front matter (dotted keys walk mappings, any case), else the site's."""
    value: Any = front
    for part in key.split("."):
        if not isinstance(value, Mapping):
            value = None
            break
        value = next((v for k, v in value.items() if str(k).lower() == part.lower()), None)
    if value is not None and not isinstance(value, (Mapping, list)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return site_params.get(key.lower())
