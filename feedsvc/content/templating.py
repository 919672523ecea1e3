"""Jekyll's Liquid in post bodies, rendered before Markdown as Jekyll does (python-liquid).

The only module that knows python-liquid. One environment, with Jekyll's filters and tags,
is built once per process; a body without `{{` or `{%` never reaches it.

Nothing here raises for bad markup. A Liquid syntax error, an unknown filter, or a
filter that fails leaves the offending `{{ … }}` / `{% … %}` in the text as it was written
(wrapped in `{% raw %}` and rendered again), and becomes a warning naming the file and line.
`{% include %}` and `{% include_relative %}` are Jekyll's (includetag.py), the files handed in as
values. `site.posts` is the list the refresher hands in (siteposts.py). A tag that only the site's own
plugins define (`{% youtube … %}`) never reaches a reader: it is dropped, a block keeping its inner
text, with a warning naming the file, line and tag.

**Links to other posts.** `{% post_url name %}` and `{% link _posts/… %}` write a placeholder
that indexing resolves, where every post is known (references.py). Every other `{% link %}` (a
collection document such as `_docs/history.md`, a page, a static file) is resolved here and now
from `_config.yml` with Jekyll's URL rules (jekyllfilters.py), without reading the file.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, TextIO

from feedsvc.config import Settings
from feedsvc.content.includes import INCLUDES_VAR, POST_PATH_VAR, PROBLEMS_VAR, RELATIVE_VAR, WANTED_VAR
from feedsvc.content.jekyllfilters import (
    CONTEXT_FILTERS,
    FILTERS,
    MARKDOWN_VAR,
    is_post_path,
    page_url,
    site_relative_url,
)
from feedsvc.content.liquidreuse import Kept, KeptRenders, same_for_every_post
from feedsvc.content.markup import MarkdownFlavour
from feedsvc.content.references import file_key, placeholder, post_url_key
from feedsvc.content.siteposts import LISTING_KEYS, listing_digest
from feedsvc.model import Problem

_REFS_VAR = "__feedsvc_references"
_MAX_REPAIRS = 25  # offending tags wrapped in raw before giving up on a body
_MARKUP = re.compile(r"\{\{|\{%")
_LANG = re.compile(r"^[A-Za-z0-9.+#_-]+$")
_NEWLINE_BEFORE_BLANK = re.compile(r"\n(?=[ \t]*(?:\n|$))")
_UNCLOSED = re.compile(r"expected tag end(\w+)")
_UNEXPECTED = re.compile(r"unexpected tag '(\w+)'")
# Tags of Liquid and Jekyll that feedsvc does not render or may fail on (an include's own markup), and the
# inner tags of Liquid's blocks: a failure there is the author's mistake, shown as written, never dropped.
_LIQUID_TAGS = frozenset(("include", "include_relative", "render", "else", "elsif", "when", "break", "continue",
                          "empty"))


@dataclass(frozen=True, slots=True)
class Rendered:
    """A body after Liquid: the text for Markdown, what went wrong, and the posts it links to."""

    text: str
    problems: tuple[Problem, ...] = ()
    references: tuple[tuple[str, int], ...] = ()  # (reference key, line in the file)
    reads_posts: bool = False  # it read site.posts (or categories, tags, related_posts): see siteposts.py
    wanted: tuple[str, ...] = ()  # files it include_relative'd that were not handed in (the reader reads them)


def has_liquid(text: str) -> bool:
    return _MARKUP.search(text) is not None


def render_liquid(body: str, relpath: str, first_line: int, site: Mapping[str, Any],
                  page: Mapping[str, Any], includes: Mapping[str, str] | None = None,
                  relative: Mapping[str, str] | None = None, markdown: MarkdownFlavour = None) -> Rendered:
    """Render the Liquid in one post body; never raises for what the body contains.

    `first_line` is the file line the body starts on, so warnings point into the file. `includes`:
    the `_includes` files, `relative`: the files the post include_relatives, each by its path from
    the site's root. `markdown`: the site's flavour, for `markdownify`.
    """
    if not has_liquid(body):
        return Rendered(body)
    source = body
    problems: list[Problem] = []
    env, LiquidError = _environment()  # noqa: N806
    watched = _Watched(site)
    for _ in range(_MAX_REPAIRS):
        references: list[tuple[str, int]] = []
        wanted: list[str] = []
        included: list[tuple[str, int]] = []
        try:
            text = _compiled(source).render(site=watched, page=page, **{
                _REFS_VAR: references, INCLUDES_VAR: includes or {}, RELATIVE_VAR: relative or {},
                POST_PATH_VAR: relpath, WANTED_VAR: wanted, PROBLEMS_VAR: included,
                MARKDOWN_VAR: markdown})
        except LiquidError as exc:
            plugin_tag = _plugin_tag(exc, env.tags)
            if plugin_tag is not None:
                source = _drop_tag(source, plugin_tag, relpath, first_line, problems)
                continue
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
        problems += [Problem(relpath, message, "warning", first_line + line - 1) for message, line in included]
        return Rendered(text, tuple(problems), tuple((key, first_line + line - 1) for key, line in references),
                        watched.reads_posts, tuple(dict.fromkeys(wanted)))
    problems.append(Problem(relpath, "Liquid: cannot be rendered; the body is shown without Liquid", "warning",
                            first_line))
    return Rendered(body, tuple(problems))


def _plugin_tag(exc: Any, known: Mapping[str, Any]) -> str | None:
    """The name of the tag that failed when it is one only a site's plugins could define (not Liquid's or
    Jekyll's, whose misuse is the author's mistake and stays visible), else None."""
    unexpected = _UNEXPECTED.match(str(exc.message))
    if unexpected is None:
        return None
    name = unexpected.group(1)
    opener = name[3:] if name.startswith("end") else name
    if name in known or opener in known or opener in _LIQUID_TAGS:
        return None
    return opener


def _drop_tag(source: str, name: str, relpath: str, first_line: int, problems: list[Problem]) -> str:
    """`source` without the tag `name` and its end tag (a block keeps its inner text), each named in a warning;
    raw and comment blocks are left alone. Newlines inside a dropped tag stay, so later lines keep their numbers."""
    tag = re.compile(r"(?P<keep>\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}"
                     r"|\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\})"
                     r"|\{%-?\s*(?P<end>end)?" + re.escape(name) + r"\b.*?-?%\}", re.DOTALL)

    def drop(match: re.Match[str]) -> str:
        if match.group("keep"):
            return match.group(0)
        markup = match.group(0)
        if not match.group("end"):
            line = first_line + source.count("\n", 0, match.start())
            problems.append(Problem(relpath, f"Liquid: `{{% {name} %}}` is a tag only the site's plugins define; "
                                             f"`{_shorten(markup)}` dropped (a block keeps its inner text)",
                                    "warning", line))
        return "\n" * markup.count("\n")

    return tag.sub(drop, source)


def _describe(exc: Any, markup: str) -> str:
    message = str(exc.message)
    if re.match(r"\{%-?\s*render\b", markup):
        return "feedsvc does not render Liquid's {% render %} (Jekyll sites use {% include %})"
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


def highlight_block(code: str, args: str) -> str:
    """`{% highlight lang %}`'s rendered body -> a code block with the language class (Rouge's wrapper)."""
    words = args.split()
    lang = words[0] if words and _LANG.match(words[0]) else ""
    escaped = html.escape(code.strip("\r\n"), quote=False).replace("{", "&#123;")
    # No blank line inside: Markdown must not cut the block in two.
    escaped = _NEWLINE_BEFORE_BLANK.sub("&#10;", escaped)
    attrs = f' class="language-{html.escape(lang)}" data-lang="{html.escape(lang)}"' if lang else ""
    return f'<pre class="highlight"><code{attrs}>{escaped}</code></pre>'


# -- site and page variables -----------------------------------------------------------------


@lru_cache(maxsize=4)
def site_variables(config_json: str, url: str, baseurl: str, title: str, description: str,
                   data_json: str = "", posts_json: str = "") -> Mapping[str, Any]:
    """Jekyll's `site`: every `_config.yml` key, with the effective url/baseurl/title/description,
    `site.data` (the `_data` folder) and the list of posts (siteposts.py: `posts`, `categories`, `tags`)."""
    loaded = json.loads(config_json) if config_json else {}
    site: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    posts = [dict(entry, date=RubyTime.of(datetime.fromisoformat(entry["date"])))
             for entry in (json.loads(posts_json) if posts_json else ())]
    categories: dict[str, list[dict[str, Any]]] = {}
    tags: dict[str, list[dict[str, Any]]] = {}
    for post in posts:
        for name in post["categories"]:
            categories.setdefault(name, []).append(post)
        for name in post["tags"]:
            tags.setdefault(name, []).append(post)
    site.update(url=url, baseurl=baseurl, title=title, description=description,
                data=json.loads(data_json) if data_json else {}, posts=posts, categories=categories, tags=tags)
    return site


@lru_cache(maxsize=4)
def _includes_of(includes_json: str) -> Mapping[str, str]:
    loaded = json.loads(includes_json) if includes_json else {}
    return loaded if isinstance(loaded, dict) else {}


class _Watched(dict[str, Any]):
    """`site` for one render, noting whether the body read the list of posts (siteposts.py)."""

    reads_posts = False

    def __getitem__(self, key: str) -> Any:
        if key in LISTING_KEYS:
            self.reads_posts = True
        return super().__getitem__(key)


def render_post_body(body: str, relpath: str, first_line: int, front: Mapping[Any, Any], settings: Settings, *,
                     title: str, when: datetime, path: str, slug: str, categories: Sequence[str],
                     tags: Sequence[str], excerpt: bool = False,
                     relative: Mapping[str, str] | None = None) -> Rendered:
    """The hook parsing calls: Jekyll's site and page variables around `render_liquid`. `excerpt`: the
    text is the post's excerpt, rendered on its own (its `page.id` ends in `#excerpt`, as in Jekyll).
    `relative`: the files the post include_relatives, as the reader found them."""
    if not has_liquid(body) or front.get("render_with_liquid") is False:
        return Rendered(body)
    reusable = _reusable(body)
    site_key = (settings.site_config, settings.url, settings.baseurl, settings.title, settings.description,
                settings.site_data, settings.site_posts, settings.markdown)
    kept = _KEPT.get(site_key, body) if reusable else None
    if kept is not None:
        return Rendered(kept.text, (), tuple((ref, first_line + line) for ref, line in kept.references),
                        kept.reads_posts)
    site = dict(site_variables(settings.site_config, settings.url, settings.baseurl, settings.title,
                               settings.description, settings.site_data, settings.site_posts))
    page = page_variables(front, title=title, when=when, path=path, relpath=relpath, slug=slug,
                          categories=categories, tags=tags, author=front.get("author"))
    site["related_posts"] = [post for post in site["posts"] if post["url"] != path][:10]  # Jekyll's without lsi
    if excerpt:
        page["id"] = f"{page['id']}#excerpt"
    rendered = render_liquid(body, relpath, first_line, site, page, _includes_of(settings.site_includes), relative,
                             settings.markdown)
    if reusable and not rendered.problems and not rendered.wanted:
        lines = tuple((ref, line - first_line) for ref, line in rendered.references)
        _KEPT.keep(site_key, body, Kept(rendered.text, lines, rendered.reads_posts))
    return rendered


_KEPT = KeptRenders()


@lru_cache(maxsize=256)
def _reusable(body: str) -> bool:
    """Whether `body` renders the same for every post of a site (liquidreuse.py); False when it does not compile
    or cannot be analysed."""
    try:
        return same_for_every_post(_compiled(body).analyze())
    except Exception:  # noqa: BLE001 - a body the analysis cannot follow is rendered each time
        return False


def listing_read(rendered: Sequence[Rendered], settings: Settings) -> str:
    """`Post.listing` for a post rendered so: the digest of the list of posts it read, or ""."""
    return listing_digest(settings.site_posts) if any(part.reads_posts for part in rendered) else ""


class RubyTime(datetime):
    """A date Liquid writes as Ruby's `Time#to_s` does (`2008-11-21 00:00:00 +0000`); filters see a datetime."""

    @classmethod
    def of(cls, when: datetime) -> RubyTime:
        return cls(when.year, when.month, when.day, when.hour, when.minute, when.second, when.microsecond,
                   tzinfo=when.tzinfo)

    def __str__(self) -> str:
        return self.strftime("%Y-%m-%d %H:%M:%S %z")


def page_variables(front: Mapping[Any, Any], *, title: str, when: datetime, path: str, relpath: str, slug: str,
                   categories: Sequence[str], tags: Sequence[str], author: Any) -> dict[str, Any]:
    """Jekyll's `page` for a post: its front matter, then what Jekyll computes."""
    page = {str(key): value for key, value in front.items()}
    page.update(
        title=title, date=RubyTime.of(when), url=path, id=path.rstrip("/").removesuffix(".html") or "/",
        categories=list(categories), tags=list(tags), slug=slug, path=relpath,
        name=posixpath.basename(relpath), collection="posts",
    )
    if author is not None:
        page["author"] = author
    return page


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    """One compiled template per distinct body text (compiling was half of Liquid's time): a template holds
    no state between renders; a body that fails to compile raises each time, as lru_cache keeps no errors."""
    return _environment()[0].from_string(source)


@cache
def _environment() -> tuple[Any, type[Exception]]:
    """Built once per process, on the first body with Liquid (importing python-liquid costs 0.2 s):
    Liquid's standard tags and filters plus Jekyll's. Returns the environment and its error class."""
    from liquid import Environment, Mode
    from liquid.ast import Node
    from liquid.exceptions import LiquidError, LiquidSyntaxError
    from liquid.filter import with_context
    from liquid.parser import get_parser
    from liquid.tag import Tag
    from liquid.token import TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_TAG

    _END_HIGHLIGHT = frozenset(("endhighlight", TOKEN_EOF))  # noqa: N806

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
            if self.kind == "link" and not is_post_path(argument):
                return buffer.write(site_relative_url(page_url(argument, site), site))
            key = post_url_key(argument) if self.kind == "post_url" else file_key(argument)
            references = context.resolve(_REFS_VAR)
            line = self.token.source.count("\n", 0, max(self.token.start_index, 0)) + 1
            if isinstance(references, list):
                references.append((key, line))
            return buffer.write(placeholder(key))

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

    class HighlightNode(Node):
        """`{% highlight lang %}…{% endhighlight %}`: its body rendered as Liquid (as Jekyll 4.3 does), then a
        code block."""

        __slots__ = ("args", "body")

        def __init__(self, token: Any, args: str, body: Any) -> None:
            super().__init__(token)
            self.args = args
            self.body = body
            self.blank = False

        def render_to_output(self, context: Any, buffer: TextIO) -> int:
            inner = context.get_buffer(buffer)
            self.body.render(context, inner)
            return buffer.write(highlight_block(inner.getvalue(), self.args))

        def children(self, static_context: Any, *, include_partials: bool = True) -> Any:
            yield self.body

    class HighlightTag(Tag):
        name = "highlight"
        end = "endhighlight"
        block = True

        def parse(self, stream: Any) -> Node:
            token = stream.eat(TOKEN_TAG)
            args = ""
            if stream.current.kind == TOKEN_EXPRESSION:
                args = stream.current.value
                stream.next()
            body = get_parser(self.env).parse_block(stream, _END_HIGHLIGHT)
            stream.expect(TOKEN_TAG, value="endhighlight")
            return HighlightNode(token, args, body)

    class PostUrlTag(ReferenceTag):
        name = kind = "post_url"

    class LinkTag(ReferenceTag):
        name = kind = "link"

    env = JekyllEnvironment(tolerance=Mode.STRICT, strict_filters=True)
    from feedsvc.content.includetag import IncludeRelativeTag, IncludeTag

    env.tags.pop("render", None)  # Liquid's, not Jekyll's: left as text, reported
    env.add_tag(IncludeTag)
    env.add_tag(IncludeRelativeTag)
    env.add_tag(HighlightTag)
    env.add_tag(PostUrlTag)
    env.add_tag(LinkTag)
    for name, function in FILTERS.items():
        env.add_filter(name, with_context(function) if name in CONTEXT_FILTERS else function)
    return env, LiquidError
