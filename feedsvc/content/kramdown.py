"""Jekyll's Markdown (kramdown with `input: GFM`) on top of cmark-gfm: a pass before and a pass after.

Measured against real Jekyll (bench/markdown_renderers.py, tests/test_kramdown_fidelity.py): the
pure-Python engines came no closer to kramdown and were 10 to 30 times slower, so cmark-gfm renders
and these passes add what kramdown has and CommonMark lacks. Before: block attribute lists and ALDs,
`{#id}` and kramdown-parser-gfm's header ids (taken from the header's source text, as it does),
`markdown="1"` HTML blocks, definition lists and abbreviations become placeholders cmark keeps as
HTML comments. After: the placeholders are resolved, and footnotes and code take kramdown's shape.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote as _quote
from urllib.parse import unquote

from feedsvc.content.kramdownattributes import resolve_references, tree_pass
from feedsvc.content.kramdownmath import block_math, block_math_end, inline_math, mark_inline_math
from feedsvc.content.kramdowntoc import table_of_contents, toc_placeholder
from feedsvc.content.rouge_languages import ROUGE_LANGUAGES

_ENTITY_CHARS = {"lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "apos": "'", "quot": '"',
                 "laquo": "«", "raquo": "»", "sbquo": "‚", "bdquo": "„", "lsaquo": "‹", "rsaquo": "›"}


_KRAMDOWN_QUOTES = ("‘", "’", "“", "”")


@dataclass(frozen=True, slots=True)
class KramdownOptions:
    """The `kramdown:` settings of a Jekyll site's `_config.yml` that change what a reader sees."""

    auto_ids: bool = True
    auto_id_prefix: str = ""
    smart_quotes: tuple[str, str, str, str] = _KRAMDOWN_QUOTES
    footnote_backlink: str = "↩"
    highlighter: bool = True  # syntax_highlighter rouge (Jekyll's default): its wrapper classes on code


def kramdown_options(config: Any, errors: list[str]) -> KramdownOptions:
    """Read `_config.yml`'s `kramdown:` mapping; a bad value is named in `errors`."""
    if config is None:
        return KramdownOptions()
    if not isinstance(config, Mapping):
        errors.append(f"kramdown: expected a mapping, got {config!r}")
        return KramdownOptions()
    defaults = KramdownOptions()
    quotes = defaults.smart_quotes
    if config.get("smart_quotes") is not None:
        names = [name.strip() for name in str(config["smart_quotes"]).split(",")]
        chars = [_entity_char(name) for name in names]
        if len(chars) == 4 and all(chars):
            quotes = (chars[0], chars[1], chars[2], chars[3])
        else:
            errors.append(f"kramdown: smart_quotes: expected four entity names, got {config['smart_quotes']!r}")
    backlink = config.get("footnote_backlink", "&8617;")
    highlighter = config.get("syntax_highlighter", "rouge")
    return KramdownOptions(
        auto_ids=config.get("auto_ids", True) is not False,
        auto_id_prefix=str(config.get("auto_id_prefix") or ""),
        smart_quotes=quotes,
        footnote_backlink=html.unescape(re.sub(r"&(\d+);", r"&#\1;", str(backlink))) if backlink else "",
        highlighter=highlighter not in (False, "none"),  # Jekyll puts rouge where it is empty
    )


def _entity_char(name: str) -> str:
    """`rsquo` or `#8217` -> the character."""
    if name in _ENTITY_CHARS:
        return _ENTITY_CHARS[name]
    if re.fullmatch(r"#x[0-9a-fA-F]{1,6}|#\d{1,7}|[A-Za-z]\w*", name):
        char = html.unescape(f"&{name};")
        return char if len(char) == 1 else ""
    return ""


@dataclass
class _Prepared:
    source: str
    blocks: list[str] = field(default_factory=list)  # rendered HTML for each kd-block placeholder
    abbreviations: dict[str, str] = field(default_factory=dict)
    math: list[str] = field(default_factory=list)  # the TeX of each inline math placeholder (kramdownmath.py)


_MARKS = frozenset("`~{*<$:#=-")  # what a line that matters to `prepare` starts with (after up to 3 spaces)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ALD = re.compile(r"^ {0,3}\{:([\w-]+):\s*(.*?)\}\s*$")
_BLOCK_IAL = re.compile(r"^ {0,3}\{:(?!\w+:)\s*(.*?)\}\s*$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_NOT_SETEXT_TEXT = re.compile(r"^(?: {4}|\t| {0,3}(?:[-*+>|#]|\d+[.)]|<|\[|`{3}|~{3}))")
_EXPLICIT_ID = re.compile(r"[ \t]+\{#([A-Za-z][\w:.-]*)\}$")
_ABBREVIATION = re.compile(r"^ {0,3}\*\[([^\]]+)\]:[ \t]*(.*)$")
_MARKDOWN_BLOCK = re.compile(
    r"""^<([A-Za-z][\w-]*)(\s[^>]*?)?\s+markdown\s*=\s*(["']?)(1|block|span|0)\3([^>]*)>[ \t]*$""")
# kramdown's block HTML: it runs to the matching end tag, blank lines and all (CommonMark's ends at a blank line).
_HTML_BLOCK = re.compile(r"^<(address|article|aside|blockquote|details|div|dl|fieldset|figure|footer|form|header|"
                         r"nav|ol|section|table|ul)(\s[^>]*)?>", re.IGNORECASE)
_DEFINITION = re.compile(r"^:[ \t]+(.*)$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[(?!\^)[^\]]+\]:[ \t]*\S.*$", re.MULTILINE)
_NOTE_MARK = re.compile(r"\[\^[^\]]+\]")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_INDENTED = re.compile(r"^(?: {4}|\t)")
_NON_WORD = re.compile(r"[^\w\- ]")


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what `quote` leaves as it is (a header id, mostly), but `-`


def quote(text: str) -> str:
    """Text that cannot end or break the HTML comment a placeholder is (no `-`, `>` or spaces)."""
    if _UNRESERVED.fullmatch(text):
        return text.replace("-", "%2D")
    return _quote(text, safe="").replace("-", "%2D")


def unquote_placeholder(text: str) -> str:
    """`quote` undone."""
    if text.count("%") == text.count("%2D"):
        return text.replace("%2D", "-")
    return unquote(text)


def prepare(text: str, options: KramdownOptions, render: Callable[[str], str]) -> _Prepared:
    """The source with kramdown-only syntax turned into placeholders cmark leaves alone."""
    lines = text.split("\n")
    prepared = _Prepared("")
    out: list[str] = []
    fence: str | None = None
    used_ids: dict[str, int] = {}
    alds: dict[str, str] = {}
    verbatim: set[int] = set()  # lines of fenced code
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip(" ")
        if not stripped or stripped[0] not in _MARKS:  # most lines: nothing below could match
            if fence is not None:
                verbatim.add(len(out))
            out.append(line)
            index += 1
            continue
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) and \
                    not line.strip().strip(fence[0]):
                fence = None
            verbatim.add(len(out))
            out.append(line)
            index += 1
            continue
        if opened:
            fence = opened.group(1)
            verbatim.add(len(out))
            out.append(line)
            index += 1
            continue
        previous = out[-1] if out else ""
        if match := _ALD.match(line):
            alds[match.group(1)] = match.group(2)
            out.append("")
        elif (match := _BLOCK_IAL.match(line)) and match.group(1).strip() == "toc" and \
                (toc := toc_placeholder(previous)) is not None:
            out[-1] = toc
            out.append("")
        elif match := _BLOCK_IAL.match(line):
            attributes = resolve_references(match.group(1), alds)
            where = "prev" if previous.strip() else "next"
            out.append(f"<!--kd-ial:{where}:{quote(attributes)}-->")
        elif match := _ABBREVIATION.match(line):
            prepared.abbreviations[match.group(1).strip()] = match.group(2).strip()
            out.append("")
        elif (match := _MARKDOWN_BLOCK.match(line)) and (end := _closing_line(lines, index, match.group(1))):
            inner = "\n".join(lines[index + 1: end])
            opening = f"<{match.group(1)}{match.group(2) or ''}{match.group(5)}>"
            if match.group(4) == "0":
                rendered = inner
            else:
                definitions = "\n".join(_LINK_DEFINITION.findall(text))
                rendered = render(inner + "\n\n" + definitions)
                if match.group(4) == "span":
                    rendered = re.sub(r"^<p>|</p>\s*$", "", rendered.strip())
            out.append(f"<!--kd-block:{len(prepared.blocks)}-->")
            prepared.blocks.append(f"{opening}\n{rendered}</{match.group(1)}>")
            out.extend([""] * (end - index))
            index = end + 1
            continue
        elif (match := _HTML_BLOCK.match(line)) and (end := _closing_line(lines, index, match.group(1))) and \
                any(not between.strip() for between in lines[index + 1: end]):
            out.append(f"<!--kd-block:{len(prepared.blocks)}-->")
            prepared.blocks.append("\n".join(lines[index: end + 1]))
            out.extend([""] * (end - index))
            index = end + 1
            continue
        elif not previous.strip() and (end := block_math_end(lines, index)) is not None:
            out.append(f"<!--kd-block:{len(prepared.blocks)}-->")
            prepared.blocks.append(block_math(lines[index: end + 1]))
            out.extend([""] * (end - index))
            index = end + 1
            continue
        elif _DEFINITION.match(line) and previous.strip() and not _DEFINITION.match(previous):
            end, html_list = _definition_list(lines, index, out, render)
            out.append(f"<!--kd-block:{len(prepared.blocks)}-->")
            prepared.blocks.append(html_list)
            out.extend([""] * (end - index - 1))
            index = end
            continue
        elif match := _ATX.match(line):
            out.append(_with_id(line, match.group(2) or "", options, used_ids))
        elif _SETEXT.match(line) and previous.strip() and not _NOT_SETEXT_TEXT.match(previous) and \
                not previous.startswith("<!--kd-") and (len(out) < 2 or not out[-2].strip()):
            out[-1] = _with_id(previous, previous.strip(), options, used_ids)
            out.append(line)
        else:
            out.append(line)
        index += 1
    prepared.source = _with_inline_math("\n".join(out), verbatim, prepared.math)
    return prepared


def _with_inline_math(source: str, verbatim: set[int], found: list[str]) -> str:
    """The source with inline math outside code blocks (fenced, or indented after a blank line) as placeholders."""
    if "$$" not in source:
        return source
    parts: list[str] = []
    text: list[str] = []
    for number, line in enumerate(source.split("\n")):
        if number in verbatim or (_INDENTED.match(line) and (not text or not text[-1].strip())):
            if text:
                parts.append(mark_inline_math("\n".join(text), found))
                text = []
            parts.append(line)
        else:
            text.append(line)
    if text:
        parts.append(mark_inline_math("\n".join(text), found))
    return "\n".join(parts)


def _with_id(line: str, raw: str, options: KramdownOptions, used_ids: dict[str, int]) -> str:
    """kramdown-parser-gfm's header id: the source text lowered, non-word characters dropped, spaces to dashes."""
    explicit = _EXPLICIT_ID.search(line.rstrip())
    if explicit:
        return f"{line.rstrip()[: explicit.start()]} <!--kd-id:{quote(explicit.group(1))}-->"
    if not options.auto_ids:
        return line
    raw = _LINK_TARGET.sub("]", _NOTE_MARK.sub("", raw))  # a link's text and a footnote's mark are not in the id
    generated = _NON_WORD.sub("", raw.lower()).replace(" ", "-").replace("\t", "-")
    count = used_ids.get(generated, -1) + 1
    used_ids[generated] = count
    if count:
        generated += f"-{count}"
    header = re.sub(r"(?:[ \t]+#+)?[ \t]*$", "", line)
    return f"{header} <!--kd-id:{quote(options.auto_id_prefix + generated)}-->"


def _closing_line(lines: list[str], start: int, tag: str) -> int | None:
    opening, closing = re.compile(rf"<{tag}\b", re.IGNORECASE), re.compile(rf"</{tag}\s*>", re.IGNORECASE)
    depth = 0
    for index in range(start, len(lines)):
        depth += len(opening.findall(lines[index])) - len(closing.findall(lines[index]))
        if depth <= 0 and index > start:
            return index if lines[index].strip().lower().startswith(f"</{tag.lower()}") else None
    return None


def _definition_list(lines: list[str], index: int, out: list[str], render: Callable[[str], str]) -> tuple[int, str]:
    """Terms (the lines just before) and `: definition` lines -> <dl>; returns the line after it and the HTML."""
    terms: list[str] = []
    while out and out[-1].strip():
        terms.insert(0, out.pop())
    parts = ["<dl>"]
    while True:
        parts.extend(f"<dt>{_inline(term, render)}</dt>" for term in terms)
        while index < len(lines) and (match := _DEFINITION.match(lines[index])):
            body = [match.group(1)]
            index += 1
            while index < len(lines) and lines[index].strip() and not _DEFINITION.match(lines[index]):
                body.append(lines[index].strip())
                index += 1
            parts.append(f"<dd>{_inline(chr(10).join(body), render)}</dd>")
        following = index + 1 if index < len(lines) and not lines[index].strip() else index
        if following + 1 < len(lines) and lines[following].strip() and _DEFINITION.match(lines[following + 1]):
            terms, index = [lines[following]], following + 1
            continue
        break
    parts.append("</dl>")
    return index, "\n".join(parts) + "\n"


def _inline(text: str, render: Callable[[str], str]) -> str:
    return re.sub(r"^<p>|</p>\s*$", "", render(text).strip())


_HEADER_ID = re.compile(r"<h([1-6])>(.*?)[ \t]*<!--kd-id:([^>]*?)-->[ \t]*</h\1>")
_BLOCK = re.compile(r"<!--kd-block:(\d+)-->\n?")
_STRAY = re.compile(r"<!--kd-(?:id|ial:\w+):[^>]*?-->\n?")
_CODE_BLOCK = re.compile(r'<pre><code(?: class="language-([^"]+)")?>(.*?)</code></pre>', re.DOTALL)
_CODE_SPAN = re.compile(r"(?<!<pre>)<code>")
_FOOTNOTE_REF = re.compile(
    r'<sup class="footnote-ref"><a href="#fn-([^"]+)" id="fnref-([^"]+)" data-footnote-ref>(\d+)</a></sup>')
_FOOTNOTE_ITEM = re.compile(r'<li id="fn-([^"]+)">')
_FOOTNOTE_BACK = re.compile(r'\s*<a href="#fnref-([^"]+)" class="footnote-backref"[^>]*>.*?</a>')
_ALIGN = re.compile(r'<(th|td) align="(left|right|center)">')
_TASK = re.compile(r'<li><input type="checkbox"(?: disabled="")?( checked="")?(?: disabled="")? /> ?')
# kramdown's typographic symbols cmark lacks: << and >> (with a space: a no-break space) outside code.
_GUILLEMETS = re.compile(r"(<(?:code|pre)\b.*?</(?:code|pre)>)|&lt;&lt; |&lt;&lt;| &gt;&gt;|&gt;&gt;", re.DOTALL)
_GUILLEMET_CHARS = {"&lt;&lt; ": "«\u00a0", "&lt;&lt;": "«", " &gt;&gt;": "\u00a0»", "&gt;&gt;": "»"}


def _task_item(match: re.Match[str]) -> str:
    checked = ' checked="checked"' if match.group(1) else ""
    return ('<li class="task-list-item"><input type="checkbox" class="task-list-item-checkbox" '
            f'disabled="disabled"{checked} />')


def _guillemet(match: re.Match[str]) -> str:
    return match.group(1) or _GUILLEMET_CHARS[match.group(0)]


def finish(rendered: str, prepared: _Prepared, options: KramdownOptions) -> str:
    """cmark's HTML -> kramdown's: placeholders resolved, footnotes and code in kramdown's shape."""
    if "<!--kd-id:" in rendered:
        rendered = _HEADER_ID.sub(lambda m: f'<h{m.group(1)} id="{html.escape(unquote_placeholder(m.group(3)))}">'
                                            f"{m.group(2)}</h{m.group(1)}>", rendered)
    if prepared.blocks:
        rendered = _BLOCK.sub(lambda m: prepared.blocks[int(m.group(1))], rendered)
    if prepared.math:
        rendered = inline_math(rendered, prepared.math)
    if "<code>" in rendered and options.highlighter:
        rendered = _CODE_SPAN.sub('<code class="language-plaintext highlighter-rouge">', rendered)
    if "<pre><code" in rendered and options.highlighter:
        rendered = _CODE_BLOCK.sub(_rouge_shape, rendered)
    if 'class="footnotes"' in rendered:
        rendered = _kramdown_footnotes(rendered, options)
    if "<!--kd-toc:" in rendered:
        rendered = table_of_contents(rendered)
    if " align=\"" in rendered:
        rendered = _ALIGN.sub(r'<\1 style="text-align: \2">', rendered)
    if 'type="checkbox"' in rendered:
        rendered = _TASK.sub(_task_item, rendered).replace(
            '<ul>\n<li class="task-list-item">', '<ul class="task-list">\n<li class="task-list-item">')
    if "&lt;&lt;" in rendered or "&gt;&gt;" in rendered:
        rendered = _GUILLEMETS.sub(_guillemet, rendered)
    if "<!--kd-ial:" in rendered or "}{:" in rendered or ">{:" in rendered or prepared.abbreviations:
        rendered = tree_pass(rendered, prepared.abbreviations)
    if options.smart_quotes != _KRAMDOWN_QUOTES:
        rendered = rendered.translate({ord(c): options.smart_quotes[i] for c, i in
                                       (("‘", 0), ("’", 1), ("“", 2), ("”", 3))})
    if "<!--kd-" in rendered:
        rendered = _STRAY.sub("", rendered)
    return rendered


def _rouge_shape(match: re.Match[str]) -> str:
    language = match.group(1) or "plaintext"
    if language.lower() not in ROUGE_LANGUAGES:
        return match.group(0)
    return (f'<div class="language-{language} highlighter-rouge"><div class="highlight"><pre class="highlight">'
            f"<code>{match.group(2)}</code></pre></div></div>")


def _kramdown_footnotes(rendered: str, options: KramdownOptions) -> str:
    rendered = _FOOTNOTE_REF.sub(lambda m: f'<sup id="fnref:{m.group(2)}" role="doc-noteref"><a href="#fn:{m.group(1)}"'
                                           f' class="footnote" rel="footnote">{m.group(3)}</a></sup>', rendered)
    rendered = _FOOTNOTE_ITEM.sub(r'<li id="fn:\1" role="doc-endnote">', rendered)
    backlink = html.escape(options.footnote_backlink)
    rendered = _FOOTNOTE_BACK.sub(
        (lambda m: f'&#160;<a href="#fnref:{m.group(1)}" class="reversefootnote" role="doc-backlink">{backlink}</a>')
        if backlink else "", rendered)
    rendered = rendered.replace('<section class="footnotes" data-footnotes>',
                                '<div class="footnotes" role="doc-endnotes">')
    return rendered.replace("</section>", "</div>")
