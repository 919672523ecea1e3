"""Markdown to HTML that is safe to put in a feed read far away from the site.

The only module that knows the Markdown renderer. cmarkgfm (GitHub's cmark fork)
gives CommonMark plus GitHub tables, strikethrough and autolinks, at C speed; for
Jekyll sites, kramdown.py's passes around it give kramdown's syntax and shapes; for Hugo sites,
goldmark.py's give Goldmark's typographer and heading ids. Which one is the site's `MarkdownFlavour`.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import lxml.html
from cmarkgfm import cmark

from feedsvc.content import goldmark
from feedsvc.content.goldmark import GoldmarkOptions
from feedsvc.content.kramdown import KramdownOptions, finish, prepare

#: How a site's Markdown is rendered: Jekyll's kramdown, Hugo's Goldmark (each with the site's settings),
#: or None for plain CommonMark + GFM.
MarkdownFlavour = KramdownOptions | GoldmarkOptions | None

_OPTIONS = cmark.Options.CMARK_OPT_UNSAFE  # raw HTML passes through, as in Jekyll
_EXTENSIONS = ["table", "strikethrough", "autolink", "tasklist"]
# kramdown: typographic quotes, dashes and ellipses; footnotes; no bare-URL autolinks.
_KRAMDOWN_OPTIONS = _OPTIONS | cmark.Options.CMARK_OPT_FOOTNOTES | cmark.Options.CMARK_OPT_SMART
_KRAMDOWN_EXTENSIONS = ["table", "strikethrough", "tasklist"]

# XML 1.0 forbids C0 controls other than tab, LF and CR, lone surrogates, U+FFFE and U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A quick test before paying for an HTML parse: is there any attribute that is not absolute?
_RELATIVE_ATTR = re.compile(
    r"""\s(?:href|src|srcset|poster|cite)\s*=\s*["']?(?![a-zA-Z][a-zA-Z0-9+.-]*:|//|#)""",
)
# The shape cmark writes (and most hand-written HTML): a double-quoted href or src. When every
# relative link has it and nothing else needs an HTML parser, a substitution does lxml's job
# in a fraction of the time (most posts: tests check both ways give the same document).
_LINK_ATTR = re.compile(r"\s(?:href|src)\s*=", re.IGNORECASE)
_QUOTED_LINK = re.compile(r'(\s(?:href|src))="([^"]*)"')
# Both in one scan: `href="…"` or `src="…"` (groups 1-2 or 3-4), or the name in any case followed by `=`
# (none). Written to start with one class of characters, which the regex engine skips to quickly (a pattern
# starting with `\s` or with alternatives is tried at every space of the text: three times slower), so
# whether white space comes before a match is checked for each match found. `ſ` matches `s` ignoring case.
_LINK_SCAN = re.compile(r'[hHsS\u017f](?:(?<=h)(ref)="([^"]*)"|(?<=s)(rc)="([^"]*)"|(?<=[hH])[rR][eE][fF]\s*=|'
                        r'(?<=[sS\u017f])[rR][cC]\s*=)')
# Constructs only an HTML parser rewrites correctly, looked for in the lowered fragment: one scan for the
# tags (each starts with `<`), plain substring tests for the words (C speed); one case-insensitive regex
# with all these alternatives cost 300 µs per post.
_PARSER_TAGS = re.compile(r"<(?:base|style|object|applet|!--|script|textarea|title)")
_PARSER_WORDS = ("srcset", "poster", "codebase")
_PARSER_ATTRS = re.compile(r"\s(?:style|cite|archive)\s*=")
_BLOCK_END = re.compile(r"</(?:p|div|li|h[1-6]|blockquote|pre|tr|td|th|dd|dt)>|<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
# Inline HTML a title may carry (Jekyll prints titles unescaped, so `<em>` in a title is emphasis).
_INLINE_TAG = re.compile(
    r"</?(?:a|abbr|b|bdi|bdo|br|cite|code|del|dfn|em|i|ins|kbd|mark|q|s|samp|small|span|strong|sub|sup|time|u|var)"
    r"(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")


def strip_xml_illegal(text: str) -> str:
    """Remove characters no XML document may contain (feeds would be ill-formed)."""
    return _XML_ILLEGAL.sub("", text)


def render_markdown(text: str, flavour: MarkdownFlavour = None) -> str:
    """CommonMark + GFM extensions -> HTML; as Jekyll's kramdown renders it when given `KramdownOptions`, as
    Hugo's Goldmark when given `GoldmarkOptions`."""
    if not text.strip():
        return ""
    if isinstance(flavour, GoldmarkOptions):
        return _goldmark(text, flavour)
    if flavour is None:
        rendered: str = cmark.markdown_to_html_with_extensions(text, options=_OPTIONS, extensions=_EXTENSIONS)
        return rendered
    prepared = prepare(text, flavour, lambda inner: render_markdown(inner, flavour))
    rendered = cmark.markdown_to_html_with_extensions(prepared.source, options=_KRAMDOWN_OPTIONS,
                                                      extensions=_KRAMDOWN_EXTENSIONS)
    return finish(rendered, prepared, flavour)


def _goldmark(text: str, options: GoldmarkOptions) -> str:
    # source positions: which source line each heading or code block came from (goldmark.finish drops them)
    flags = _OPTIONS | cmark.Options.CMARK_OPT_SOURCEPOS | (cmark.Options.CMARK_OPT_SMART if options.typographer else 0)
    rendered: str = cmark.markdown_to_html_with_extensions(text, options=flags, extensions=_EXTENSIONS)
    return goldmark.finish(rendered, text, options)


def absolutize_links(fragment: str, base_url: str) -> str:
    """Resolve relative href/src in an HTML fragment against `base_url`."""
    if not _RELATIVE_ATTR.search(fragment):
        return fragment
    if _needs_a_parser(fragment):
        return _absolutize_with_lxml(fragment, base_url)
    substituted = _substituted(fragment, base_url)
    if substituted is not None:
        return substituted
    if len(_LINK_ATTR.findall(fragment)) == len(_QUOTED_LINK.findall(fragment)):
        return _QUOTED_LINK.sub(lambda m: _resolved(m.group(0), m.group(1), m.group(2), base_url), fragment)
    return _absolutize_with_lxml(fragment, base_url)


def _substituted(fragment: str, base_url: str) -> str | None:
    """Every link attribute double-quoted after white space, each resolved, in one scan (most bodies);
    None when one is not, or when `href`/`src` follows something else (`data-src=`) or hides in a link's
    value: the two counting scans then decide (the same bytes: tested)."""
    unsure = False

    def replaced(match: re.Match[str]) -> str:
        nonlocal unsure
        value = match.group(2) if match.group(1) else match.group(4)
        start = match.start()
        if value is None or not fragment[start - 1: start].isspace() or ("=" in value and _LINK_ATTR.search(value)):
            unsure = True
            return match.group(0)
        return _resolved(match.group(0), "href" if match.group(1) else "src", value, base_url)

    substituted = _LINK_SCAN.sub(replaced, fragment)
    return None if unsure else substituted


_ORIGIN = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*")
_PLAIN_PATH = re.compile(r"[^:?#\\\s\x00-\x1f\x7f]*")  # no scheme, query, fragment, backslash, space or control


def join_url(base_url: str, link: str) -> str:
    """`urljoin` for the two shapes links mostly have, a root path and a plain relative path, without
    parsing both URLs each time (70,000 links per 10,000 posts); anything else is `urljoin`'s."""
    origin = _ORIGIN.match(base_url)
    if origin and "?" not in base_url and "#" not in base_url and _PLAIN_PATH.fullmatch(link) and \
            not _has_dot_segment(link):
        if link.startswith("/") and not link.startswith("//"):
            return origin.group(0) + link
        if link and not link.startswith("/"):
            return base_url[: base_url.rindex("/") + 1] + link if base_url.count("/") > 2 else urljoin(base_url, link)
    return urljoin(base_url, link)


def _has_dot_segment(path: str) -> bool:
    """Dot segments and empty ones: urljoin rewrites both."""
    return "//" in path or any(segment in (".", "..") for segment in path.split("/"))


def _needs_a_parser(fragment: str) -> bool:
    lowered = fragment.lower()
    return bool(_PARSER_TAGS.search(lowered)) or any(word in lowered for word in _PARSER_WORDS) \
        or (("style" in lowered or "cite" in lowered or "archive" in lowered) and bool(_PARSER_ATTRS.search(lowered)))


# An http(s) link urljoin gives back as written (a host; no query, fragment, params, space, entity, backslash
# or upper case in the scheme): most links in posts, which no longer pay for urljoin's parsing.
_AS_WRITTEN = re.compile(r"https?://[^/\s;?#&\\\x00-\x1f\x7f][^\s;?#&\\\x00-\x1f\x7f]*")


def _resolved(written: str, attribute: str, value: str, base_url: str) -> str:
    """`attribute="value"` (`written`) with the value resolved against `base_url`."""
    if _AS_WRITTEN.fullmatch(value):
        return written
    link = html.unescape(value).strip()
    try:
        joined = join_url(base_url, link)
    except ValueError:  # a malformed link stays as written, as lxml's handle_failures="ignore" does
        return written
    if joined == link:
        return written
    return f'{attribute}="{html.escape(joined)}"'


def _absolutize_with_lxml(fragment: str, base_url: str) -> str:
    """Any HTML at all: single quotes, srcset, style, <base> and the like."""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    root.make_links_absolute(base_url, resolve_base_href=False, handle_failures="ignore")
    parts = [html.escape(root.text, quote=False)] if root.text else []
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in root)
    return "".join(parts)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed (for JSON Feed `summary`)."""
    text = _TAG.sub("", _BLOCK_END.sub(" ", fragment))
    return strip_xml_illegal(_SPACE.sub(" ", html.unescape(text)).strip())  # &#1; unescapes to a control


def title_has_markup(title: str) -> bool:
    """True when a title holds inline HTML tags, as opposed to text that merely contains `<` or `&`."""
    return _INLINE_TAG.search(title) is not None


def plain_title(title: str) -> str:
    """The text of a title, for formats whose titles are plain text (RSS, JSON Feed)."""
    return html_to_text(title) if title_has_markup(title) else title
