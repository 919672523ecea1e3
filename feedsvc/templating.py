"""Jekyll's Liquid in post bodies, rendered before Markdown as Jekyll does (python-liquid).

The only module that knows python-liquid. One environment, with Jekyll's filters and tags,
is built once per process; a body without `{{` or `{%` never reaches it.

Nothing here raises for bad markup. A Liquid syntax error, an unknown tag or filter, or a
filter that fails leaves the offending `{{ … }}` / `{% … %}` in the text as it was written
(wrapped in `{% raw %}` and rendered again), and becomes a warning naming the file and line.
`{% include %}` is such an unknown tag: feedsvc reads no `_includes` folder.

**Links to other posts.** `{% post_url name %}` and `{% link _posts/… %}` need the URL of
another post, which one file alone cannot know, and parsing must stay pure and per file (posts
are parsed in worker processes, and only changed files are parsed again). So the tag writes a
placeholder (`feedsvc-ref:<key>/`, a URL with a scheme of its own, which Markdown and link
rewriting leave alone) and the post lists what it refers to in `Post.references`. At index
time, where every post is known, `resolve_references` swaps each placeholder for the target's
URL and folds those URLs into the post's fingerprint, so a feed is re-rendered whenever a
target's URL changes, with no re-parsing and no ordering between files. A target that does not
exist leaves the tag visible as written, with a warning. Every other `{% link %}` (a
collection document such as `_docs/history.md`, a page, a static file) is resolved here and
now from `_config.yml` with Jekyll's URL rules, without reading the file.
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import json
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import cache, lru_cache
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, unquote

from .config import Settings
from .markup import render_markdown
from .model import Post, Problem
from .urls import escape_path

REF_PREFIX = "feedsvc-ref:"
_REF = re.compile(re.escape(REF_PREFIX) + r"([A-Za-z0-9_.~%-]+)/")
_REFS_VAR = "__feedsvc_references"
_MAX_REPAIRS = 25  # offending tags wrapped in raw before giving up on a body
_MARKUP = re.compile(r"\{\{|\{%")
# Jekyll 4's highlight body is verbatim (like raw), so it is turned into HTML before Liquid
# sees the body; raw and comment blocks are skipped so a highlight tag shown in them stays text.
_VERBATIM = re.compile(
    r"(?P<keep>\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}"
    r"|\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\})"
    r"|\{%-?\s*highlight\b(?P<args>[^%]*?)-?%\}(?P<code>.*?)\{%-?\s*endhighlight\s*-?%\}",
    re.DOTALL,
)
_LANG = re.compile(r"^[A-Za-z0-9.+#_-]+$")
_NEWLINE_BEFORE_BLANK = re.compile(r"\n(?=[ \t]*(?:\n|$))")
_UNCLOSED = re.compile(r"expected tag end(\w+)")
_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A body after Liquid: the text for Markdown, what went wrong, and the posts it links to."""

    text: str
    problems: tuple[Problem, ...] = ()
    references: tuple[tuple[str, int], ...] = ()  # (reference key, line in the file)


def has_liquid(text: str) -> bool:
    return _MARKUP.search(text) is not None


def render_liquid(body: str, relpath: str, first_line: int, site: Mapping[str, Any],
                  page: Mapping[str, Any]) -> Rendered:
    """Render the Liquid in one post body; never raises for what the body contains.

    `first_line` is the file line the body starts on, so warnings point into the file.
    """
    if not has_liquid(body):
        return Rendered(body)
    source = _expand_highlights(body)
    problems: list[Problem] = []
    env, LiquidError = _environment()  # noqa: N806
    for _ in range(_MAX_REPAIRS):
        references: list[tuple[str, int]] = []
        try:
            text = env.from_string(source).render(site=site, page=page, **{_REFS_VAR: references})
        except LiquidError as exc:
            span = _offending_span(source, exc)
            if span is None:
                break
            start, end = span
            markup = source[start:end]
            line = first_line + source.count("\n", 0, start)
            problems.append(Problem(relpath, f"Liquid: {_describe(exc, markup)}; `{_shorten(markup)}` left as text",
                                    "warning", line))
            source = source[:start] + "{% raw %}" + markup + "{% endraw %}" + source[end:]
            continue
        except Exception as exc:  # noqa: BLE001 - a filter's own failure must not lose the post
            problems.append(Problem(relpath, f"Liquid: {type(exc).__name__}: {exc}; the body is shown without "
                                             "Liquid", "warning", first_line))
            return Rendered(body, tuple(problems))
        return Rendered(text, tuple(problems),
                        tuple((key, first_line + line - 1) for key, line in references))
    problems.append(Problem(relpath, "Liquid: cannot be rendered; the body is shown without Liquid", "warning",
                            first_line))
    return Rendered(body, tuple(problems))


def _describe(exc: Any, markup: str) -> str:
    message = str(exc.message)
    if re.match(r"\{%-?\s*(include|include_relative|render)\b", markup):
        return "feedsvc reads no _includes folder, so includes are not expanded"
    return message


def _shorten(markup: str) -> str:
    flat = " ".join(markup.split())
    return flat if len(flat) <= 80 else flat[:77] + "..."


def _offending_span(source: str, exc: Any) -> tuple[int, int] | None:
    """Where in `source` the markup that failed starts and ends, or None when it cannot be told."""
    token = exc.token
    index = token.start_index if token is not None and token.source == source else -1
    if index < 0:
        unclosed = _UNCLOSED.match(str(exc.message))
        if unclosed is None:
            return None
        openers = list(re.finditer(r"\{%-?\s*" + re.escape(unclosed.group(1)) + r"\b", source))
        if not openers:
            return None
        index = openers[-1].start() + 2
    tag_start, output_start = source.rfind("{%", 0, index + 1), source.rfind("{{", 0, index + 1)
    start = max(tag_start, output_start)
    if start < 0:
        return None
    closer = "%}" if start == tag_start else "}}"
    end = source.find(closer, max(index, start + 2))
    return None if end < 0 else (start, end + 2)


def _expand_highlights(body: str) -> str:
    if "highlight" not in body:
        return body
    return _VERBATIM.sub(_highlight_html, body)


def _highlight_html(match: re.Match[str]) -> str:
    """`{% highlight lang %}` -> a code block with the language class, as many lines as it took."""
    if match.group("keep") is not None:
        return match.group(0)
    words = (match.group("args") or "").split()
    lang = words[0] if words and _LANG.match(words[0]) else ""
    code = match.group("code").strip("\r\n")
    escaped = html.escape(code, quote=False).replace("{", "&#123;")
    # No blank line inside: Markdown and the excerpt split must not cut the block in two.
    escaped = _NEWLINE_BEFORE_BLANK.sub("&#10;", escaped)
    attrs = f' class="language-{html.escape(lang)}" data-lang="{html.escape(lang)}"' if lang else ""
    block = f'<pre class="highlight"><code{attrs}>{escaped}</code></pre>'
    lost = match.group(0).count("\n") - block.count("\n")
    return block + "\n" * max(lost, 0)


# -- site and page variables -----------------------------------------------------------------


@lru_cache(maxsize=4)
def site_variables(config_json: str, url: str, baseurl: str, title: str, description: str) -> Mapping[str, Any]:
    """Jekyll's `site`: every `_config.yml` key, with the effective url/baseurl/title/description."""
    loaded = json.loads(config_json) if config_json else {}
    site: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    site.update(url=url, baseurl=baseurl, title=title, description=description)
    return site


def render_post_body(body: str, relpath: str, first_line: int, front: Mapping[Any, Any], settings: Settings, *,
                     title: str, when: datetime, path: str, slug: str, categories: Sequence[str],
                     tags: Sequence[str]) -> Rendered:
    """The hook parsing calls: Jekyll's site and page variables around `render_liquid`."""
    if not has_liquid(body) or front.get("render_with_liquid") is False:
        return Rendered(body)
    site = site_variables(settings.site_config, settings.url, settings.baseurl, settings.title,
                          settings.description)
    page = page_variables(front, title=title, when=when, path=path, relpath=relpath, slug=slug,
                          categories=categories, tags=tags, author=front.get("author"))
    return render_liquid(body, relpath, first_line, site, page)


def page_variables(front: Mapping[Any, Any], *, title: str, when: datetime, path: str, relpath: str, slug: str,
                   categories: Sequence[str], tags: Sequence[str], author: Any) -> dict[str, Any]:
    """Jekyll's `page` for a post: its front matter, then what Jekyll computes."""
    page = {str(key): value for key, value in front.items()}
    page.update(
        title=title, date=when, url=path, id=path.rstrip("/").removesuffix(".html") or "/",
        categories=list(categories), tags=list(tags), slug=slug, path=relpath,
        name=posixpath.basename(relpath), collection="posts",
    )
    if author is not None:
        page["author"] = author
    return page


# -- references to other posts, resolved at index time ----------------------------------------


def _placeholder(key: str) -> str:
    return REF_PREFIX + quote(key, safe="") + "/"


def post_url_key(name: str) -> str:
    return "post:" + name.strip().strip("/")


def file_key(relpath: str) -> str:
    return "file:" + relpath.strip().lstrip("/")


def resolve_references(posts: Iterable[Post]) -> tuple[list[Post], list[Problem]]:
    """Swap every post's reference placeholders for the URLs of the posts they name (pure)."""
    posts = list(posts)
    if not any(post.references for post in posts):
        return posts, []
    by_key: dict[str, str] = {}
    for post in sorted(posts, key=lambda p: p.source):
        stem = posixpath.splitext(posixpath.basename(post.source))[0]
        by_key.setdefault(file_key(post.source), post.url)
        by_key.setdefault(post_url_key(stem), post.url)
        folder = posixpath.dirname(post.source).replace("/_posts", "").replace("_posts", "").strip("/")
        if folder:  # `{% post_url category/2016-01-01-name %}` for posts under category/_posts
            by_key.setdefault(post_url_key(f"{folder}/{stem}"), post.url)
    resolved: list[Post] = []
    problems: list[Problem] = []
    for post in posts:
        if not post.references:
            resolved.append(post)
            continue
        found: dict[str, str] = {}
        for key, line in post.references:
            url = by_key.get(key)
            if url is None:
                kind, _, name = key.partition(":")
                tag = "post_url" if kind == "post" else "link"
                problems.append(Problem(post.source, f"Liquid: {{% {tag} {name} %}}: no such post; left as text",
                                        "warning", line))
            found.setdefault(key, url if url is not None else "")

        def swap(match: re.Match[str], escape: bool, found: dict[str, str] = found) -> str:
            key = unquote(match.group(1))
            url = found.get(key) or _as_markup(key)
            return html.escape(url) if escape else url

        fingerprint = post.fingerprint + repr(sorted(found.items()))
        resolved.append(replace(
            post,
            content_html=_REF.sub(lambda m: swap(m, True), post.content_html),
            summary_html=_REF.sub(lambda m: swap(m, True), post.summary_html),
            summary_text=_REF.sub(lambda m: swap(m, False), post.summary_text),
            fingerprint=_digest(fingerprint),
            references=(),
        ))
    return resolved, problems


def _as_markup(key: str) -> str:
    kind, _, name = key.partition(":")
    return f"{{% {'post_url' if kind == 'post' else 'link'} {name} %}}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


# -- the environment: Jekyll's tags and filters -----------------------------------------------


def _is_post_path(path: str) -> bool:
    return "_posts" in path.strip("/").split("/")[:-1]


def _page_url(path: str, site: Mapping[str, Any]) -> str:
    """The URL Jekyll gives a file: collection documents by their collection's permalink, pages by
    the site's style, static files as they are. Front matter `permalink` in that file is not seen."""
    path = path.strip().lstrip("/")
    folder, filename = posixpath.split(path)
    stem, ext = posixpath.splitext(filename)
    collections = site.get("collections") if isinstance(site, Mapping) else None
    top = path.split("/", 1)[0]
    if top.startswith("_") and isinstance(collections, Mapping) and top[1:] in collections:
        name = top[1:]
        spec = collections.get(name)
        pattern = spec.get("permalink") if isinstance(spec, Mapping) else None
        inner = posixpath.splitext(path.split("/", 1)[1] if "/" in path else "")[0]
        pattern = pattern or "/:collection/:path:output_ext"
        values = {"collection": name, "path": inner, "name": stem, "title": stem, "output_ext": ".html"}
        url = re.sub(r":(collection|path|name|title|output_ext)", lambda m: values[m.group(1)], pattern)
        return "/" + re.sub(r"/{2,}", "/", url).lstrip("/")
    if ext.lower() in (".md", ".markdown", ".html", ".htm"):
        base = f"/{folder}/" if folder else "/"
        if stem == "index":
            return base
        style = str(site.get("permalink") or "") if isinstance(site, Mapping) else ""
        pretty = style == "pretty" or style.endswith("/")
        return base + (f"{stem}/" if pretty else f"{stem}.html")
    return "/" + path


def _relative_url(value: Any, site: Any) -> str:
    """Jekyll's relative_url: baseurl + path, one slash between; absolute URLs pass through."""
    text = "" if value is None else str(value)
    if _URL_SCHEME.match(text) or text.startswith("//"):
        return text
    baseurl = str(site.get("baseurl") or "") if isinstance(site, Mapping) else ""
    cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=len(text))
    path, suffix = text[:cut], text[cut:]  # only the path is escaped: `#anchor` stays an anchor
    joined = "/".join(part.strip("/") for part in (baseurl, path) if part.strip("/"))
    trailing = "/" if path.endswith("/") and joined else ""
    return escape_path("/" + joined + trailing) + suffix


def _absolute_url(value: Any, site: Any) -> str:
    text = "" if value is None else str(value)
    if _URL_SCHEME.match(text) or text.startswith("//"):
        return text
    root = str(site.get("url") or "").rstrip("/") if isinstance(site, Mapping) else ""
    return root + _relative_url(text, site)


def relative_url(value: Any, *, context: Any) -> str:
    return _relative_url(value, context.resolve("site"))


def absolute_url(value: Any, *, context: Any) -> str:
    return _absolute_url(value, context.resolve("site"))


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
    return None


def _date_filter(render: Any) -> Any:
    def apply(value: Any, *args: Any) -> Any:
        when = _as_datetime(value)
        return value if when is None else render(when, *args)

    return apply


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_to_string(when: datetime, kind: Any = None, style: Any = None, month: str = "%b") -> str:
    if kind == "ordinal":
        day = _ordinal(when.day)
        if style == "US":
            return f"{when.strftime(month)} {day}, {when.year}"
        return f"{day} {when.strftime(month)} {when.year}"
    return when.strftime(f"%d {month} %Y")


def _slugify(value: Any, mode: Any = "default", cased: Any = False) -> str:
    """Jekyll's slugify modes: none, raw, default, pretty, ascii, latin."""
    text = "" if value is None else str(value)
    mode = mode if isinstance(mode, str) else "default"
    if mode == "none":
        return text
    if mode == "latin":
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        mode = "default"
    pattern = {
        "raw": r"\s+",
        "pretty": r"[^\w.~!$&'()+,;=@]+",
        "ascii": r"[^a-zA-Z0-9]+",
    }.get(mode, r"[\W_]+")
    slug = re.sub(pattern, "-", text).strip("-")
    return slug if cased is True else slug.lower()


def _xml_escape(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _plain(value: Any) -> Any:
    """A Liquid value as JSON-able data (undefined is null, dates are ISO 8601)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return None if type(value).__name__.endswith("Undefined") else str(value)


def _jsonify(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _array_to_sentence(value: Any, connector: Any = "and") -> str:
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {connector} {items[1]}"
    return f"{', '.join(items[:-1])}, {connector} {items[-1]}"


def _group_by(value: Any, prop: Any) -> list[dict[str, Any]]:
    groups: dict[str, list[Any]] = {}
    for item in value if isinstance(value, (list, tuple)) else []:
        key = item.get(prop) if isinstance(item, Mapping) else None
        groups.setdefault("" if key is None else str(key), []).append(item)
    return [{"name": name, "items": items, "size": len(items)} for name, items in groups.items()]


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


_CONTEXT_FILTERS = frozenset({"relative_url", "absolute_url"})
_FILTERS: dict[str, Any] = {
    "relative_url": relative_url,
    "absolute_url": absolute_url,
    "date_to_xmlschema": _date_filter(lambda d: d.isoformat()),
    "date_to_rfc822": _date_filter(lambda d: email.utils.format_datetime(d) if d.tzinfo else d.strftime(
        "%a, %d %b %Y %H:%M:%S")),
    "date_to_string": _date_filter(_date_to_string),
    "date_to_long_string": _date_filter(lambda d, kind=None, style=None: _date_to_string(d, kind, style, "%B")),
    "xml_escape": _xml_escape,
    "cgi_escape": lambda value: quote_plus("" if value is None else str(value)),
    "uri_escape": lambda value: quote("" if value is None else str(value), safe="!#$&'()*+,/:;=?@[]~"),
    "jsonify": _jsonify,
    "inspect": _jsonify,
    "slugify": _slugify,
    "markdownify": lambda value: render_markdown("" if value is None else str(value)),
    "number_of_words": lambda value: len(("" if value is None else str(value)).split()),
    "normalize_whitespace": lambda value: " ".join(("" if value is None else str(value)).split()),
    "array_to_sentence_string": _array_to_sentence,
    "group_by": _group_by,
    "to_integer": _to_integer,
    "push": lambda value, item: [*_list(value), item],
    "unshift": lambda value, item: [item, *_list(value)],
    "pop": lambda value, n=1: _list(value)[: max(len(_list(value)) - _to_integer(n), 0)],
    "shift": lambda value, n=1: _list(value)[_to_integer(n):],
}


@cache
def _environment() -> tuple[Any, type[Exception]]:
    """Built once per process, on the first body with Liquid (importing python-liquid costs 0.2 s):
    Liquid's standard tags and filters plus Jekyll's. Returns the environment and its error class."""
    from liquid import Environment, Mode
    from liquid.ast import Node
    from liquid.exceptions import LiquidError, LiquidSyntaxError
    from liquid.filter import with_context
    from liquid.tag import Tag
    from liquid.token import TOKEN_EXPRESSION, TOKEN_TAG

    class JekyllEnvironment(Environment):
        # A post is text from strangers: bound what one body may cost.
        loop_iteration_limit = 100_000
        output_stream_limit = 8 * 1024 * 1024
        local_namespace_limit = 8 * 1024 * 1024

    class ReferenceNode(Node):
        """`{% post_url %}` / `{% link %}`: a URL now, or a placeholder resolved at index time."""

        __slots__ = ("argument", "kind")

        def __init__(self, token: Any, kind: str, argument: str) -> None:
            super().__init__(token)
            self.kind = kind
            self.argument = argument
            self.blank = False

        def render_to_output(self, context: Any, buffer: TextIO) -> int:
            site = context.resolve("site")
            argument = self.argument
            if self.kind == "link" and not _is_post_path(argument):
                return buffer.write(_relative_url(_page_url(argument, site), site))
            key = post_url_key(argument) if self.kind == "post_url" else file_key(argument)
            references = context.resolve(_REFS_VAR)
            line = self.token.source.count("\n", 0, max(self.token.start_index, 0)) + 1
            if isinstance(references, list):
                references.append((key, line))
            return buffer.write(_placeholder(key))

    class ReferenceTag(Tag):
        block = False
        kind = ""

        def parse(self, stream: Any) -> Node:
            token = stream.eat(TOKEN_TAG)
            if stream.current.kind != TOKEN_EXPRESSION or not stream.current.value.strip():
                raise LiquidSyntaxError(f"{self.name} needs the name of what it links to", token=token)
            argument = " ".join(stream.current.value.split())
            if "{{" in argument:
                raise LiquidSyntaxError(f"{self.name} with a variable is not supported", token=token)
            return ReferenceNode(token, self.kind, argument)

    class PostUrlTag(ReferenceTag):
        name = kind = "post_url"

    class LinkTag(ReferenceTag):
        name = kind = "link"

    env = JekyllEnvironment(tolerance=Mode.STRICT, strict_filters=True)
    for name in ("include", "render"):  # no _includes folder is read: left as text, reported
        env.tags.pop(name, None)
    env.add_tag(PostUrlTag)
    env.add_tag(LinkTag)
    for name, function in _FILTERS.items():
        env.add_filter(name, with_context(function) if name in _CONTEXT_FILTERS else function)
    return env, LiquidError
