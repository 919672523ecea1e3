"""One file's bytes -> a `Post`, or a `Problem` that names the file and what is wrong.

Every front-matter field is normalised explicitly here, so nothing downstream guesses. What differs
between generators (front matter formats, file names, permalinks, which keys mean what, Liquid) is
asked of the site's dialect (content/dialects/); reading the front matter itself is front_matter.py's.
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from typing import Any

from feedsvc.config import Settings
from feedsvc.content.bodies import MarkdownBody, body_html, deferrable
from feedsvc.content.dates import first_date, parse_date, shown_in
from feedsvc.content.dialects import Dialect, PostPlace, dialect_for
from feedsvc.content.excerpts import cut_excerpt
from feedsvc.content.fields import PostError, text_field
from feedsvc.content.front_matter import FrontMatter, FrontMatterError, split_front_matter
from feedsvc.content.kramdown import KramdownOptions
from feedsvc.content.limits import check_markdown
from feedsvc.content.markup import html_to_text, strip_xml_illegal
from feedsvc.content.templating import Rendered, has_liquid, listing_read, render_post_body
from feedsvc.content.typography import smartify
from feedsvc.model import BODY_LEVEL, Author, Image, Post, Problem, pack_html
from feedsvc.urls import absolute, outbound_url

MAX_POST_BYTES = 5 * 1024 * 1024
# Summary fields shown as written, never rendered as Markdown (jekyll-feed writes a `description` so).
PLAIN_TEXT_SUMMARY_KEYS = frozenset(("description",))
# Every category, tag and author is a feed of its own (three, one per format) and every entry lists
# its terms: a post with 10,000 tags would cost 30,000 feeds of 10,000 terms each. Beyond this many
# names per field, the rest are dropped with a warning.
MAX_NAMES_PER_FIELD = 100

_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
# A fixed table rather than the mimetypes module, whose answers depend on the host's files.
_IMAGE_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".svg": "image/svg+xml", ".bmp": "image/bmp",
    ".ico": "image/vnd.microsoft.icon", ".tif": "image/tiff", ".tiff": "image/tiff",
}


def parse_post(relpath: str, raw: bytes, settings: Settings, body_level: int = BODY_LEVEL,
               defer_body: bool = False, *, relative: Mapping[str, str] | None = None,
               wanted: list[str] | None = None) -> Post | Problem:
    """Parse one post file; never raises for bad input, returns a Problem instead.

    `relative`: the files the post `{% include_relative %}`s, by path from the site's root, as the
    reader found them; the paths it asked for and was not given are added to `wanted`, so the reader
    can read them and parse again (reading.py).

    `body_level`: how hard to compress the body held in memory (`Post.content_zlib`): 1 where it is
    held for long (serving), 0 (stored, no compression work) for a build that exits when done.
    `defer_body`: keep a Markdown body as its source where it may be (bodies.py), rendered when shown."""
    try:
        return _parse(relpath, raw, settings, body_level, defer_body, _Neighbours(relative or {}, wanted))
    except PostError as exc:
        return Problem(relpath, str(exc), "error", exc.line)
    except RecursionError:
        return Problem(relpath, "front matter is nested too deeply")
    except (ValueError, OverflowError) as exc:  # e.g. a date that cannot move to the site's zone
        return Problem(relpath, f"cannot be used: {exc}")


@dataclass(frozen=True, slots=True)
class _Neighbours:
    """The files a post include_relatives: those given, and where to say which others it asked for."""

    given: Mapping[str, str]
    wanted: list[str] | None


def _parse(relpath: str, raw: bytes, settings: Settings, body_level: int = BODY_LEVEL,
           defer_body: bool = False, neighbours: _Neighbours | None = None) -> Post | Problem:
    dialect = dialect_for(settings.dialect, settings.dialect_rules)
    if len(raw) > MAX_POST_BYTES:
        raise PostError(f"file is {len(raw):,} bytes, over the {MAX_POST_BYTES:,}-byte limit for a post")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PostError(f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}", line) from None
    text = strip_xml_illegal(text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise PostError("empty file")
    try:
        front = split_front_matter(text, dialect.front_matter_readers)
    except FrontMatterError as exc:
        raise PostError(str(exc), exc.line) from None
    notes: list[Problem] = []
    if front is None:
        if not dialect.always_a_post(relpath):
            return Problem(relpath, "no front matter: not a post, skipped", "warning")
        notes.append(Problem(relpath, "no front matter (a post starts with a line of three dashes, ---): read as a "
                                      "post without fields, as Jekyll reads it", "warning", 1))
        front = FrontMatter({}, text, 1)
    notes += [Problem(relpath, f"`{key}` is given more than once; the last one is used", "warning", line)
              for key, line in front.duplicates]
    data = dialect.with_defaults(front.data, relpath, settings.site_config)
    return _build_post(dialect, relpath, raw, data, front.body, settings, front.body_line, notes, body_level,
                       defer_body, neighbours)


def _build_post(dialect: Dialect, relpath: str, raw: bytes, data: dict[Any, Any], body: str, settings: Settings,
                body_line: int = 1, notes: Iterable[Problem] = (), body_level: int = BODY_LEVEL,
                defer_body: bool = False, neighbours: _Neighbours | None = None) -> Post:
    warnings: list[Problem] = list(notes)
    tz = settings.tz
    file_slug, file_date = dialect.file_name(relpath)

    slug = text_field(data.get("slug"), "slug") or file_slug
    published = data.get("published", True) is not False and data.get("draft", False) is not True \
        and dialect.listed(data)

    if data.get("date") is not None:
        when, note = parse_date(data["date"], tz, "date", dialect)
        if note:
            warnings.append(Problem(relpath, note, "warning"))
    elif file_date is not None:
        when = datetime.combine(file_date, time(), tz)
    else:
        raise PostError("no date: give `date:` in the front matter or name the file YYYY-MM-DD-slug.md")

    updated = when
    for key in dialect.updated_keys:
        if data.get(key) is not None:
            updated, note = parse_date(data[key], tz, key, dialect)
            if note:
                warnings.append(Problem(relpath, note, "warning"))
            break

    publish_at, expire_at = (first_date(dialect, data, keys, tz, relpath, warnings)
                             for keys in (dialect.publish_keys, dialect.expiry_keys))

    title = text_field(data.get("title"), "title")
    if not title:
        title = " ".join(word.capitalize() for word in re.split(r"[-_\s]+", slug) if word) or slug
        warnings.append(Problem(relpath, f"no title; using {title!r} from the file name", "warning"))

    named = _words(data, "categories", "category", merged=True)
    categories = _capped(_unique(dialect.folder_categories(relpath) + named), "categories", relpath, warnings)
    tags = _capped(_unique(_words(data, "tags", "tag")), "tags", relpath, warnings)

    known = _known_authors(settings.site_data)
    authors = tuple(_capped(list(_authors(data, settings.site_url, known)), "authors", relpath, warnings))
    if not authors and settings.author is not None:
        authors = (settings.author,)

    when, updated = shown_in(when, tz), shown_in(updated, tz)  # shown in the site's zone, as Jekyll does
    place = PostPlace(data, slug, file_slug, title, when, tuple(categories), relpath)
    path = dialect.post_path(place, settings.permalink)
    url = absolute(settings.site_url, path)

    separator = text_field(data.get("excerpt_separator"), "excerpt_separator") or settings.excerpt_separator
    excerpt = cut_excerpt(body, separator)  # cut before Liquid, as Jekyll cuts it (excerpts.py)

    # -- Liquid (templating.py): Jekyll renders it before Markdown; bodies without {{ or {% skip it --
    references: tuple[tuple[str, int], ...] = ()
    liquid = dialect.renders_liquid and has_liquid(body) and data.get("render_with_liquid") is not False

    given = neighbours.given if neighbours is not None else {}
    renders: list[Rendered] = []

    def liquid_rendered(source: str, excerpt: bool = False) -> Rendered:
        rendered = render_post_body(source, relpath, body_line, data, settings, title=title, when=when, path=path,
                                    slug=slug, categories=categories, tags=tags, excerpt=excerpt, relative=given)
        renders.append(rendered)
        if neighbours is not None and neighbours.wanted is not None:
            neighbours.wanted.extend(rendered.wanted)
        return rendered

    if liquid:
        rendered = liquid_rendered(body)
        body, references = rendered.text, rendered.references
        warnings.extend(rendered.problems)
    # -- end Liquid --
    expanded = dialect.expand_body(body, relpath, body_line, data)  # Hugo's shortcodes
    body, references = expanded.text, references + expanded.references
    warnings.extend(expanded.problems)
    if not liquid:  # nothing to render on its own: the excerpt is cut from the body as expanded (shortcodes)
        excerpt = cut_excerpt(body, separator)

    content_source = body.replace(separator, "\n\n") if excerpt.separated else body
    markdown = dialect.renders_markdown(relpath)
    summary_key, summary_field = _summary_field(data, dialect.summary_keys)
    # Kept as Markdown when no summary is made from its HTML and no link to another post is resolved in it.
    deferred = defer_body and markdown and not references and (summary_field is not None or excerpt.separated) \
        and deferrable(check_markdown(content_source))
    content_html = "" if deferred else _html(content_source, url, settings, markdown)

    def html_of(source: str) -> str:  # an excerpt that is the whole body (no separator in it) is rendered once
        return content_html if source == content_source and not deferred else _html(source, url, settings, markdown)

    auto_summary = dialect.auto_summary(content_html) if summary_field is None and not excerpt.separated else None
    if summary_field is not None and summary_key in PLAIN_TEXT_SUMMARY_KEYS:
        summary_html = html.escape(summary_field, quote=False)
    elif summary_field is not None:
        summary_html = html_of(summary_field)
    elif auto_summary is not None:
        summary_html = auto_summary
    elif liquid:  # the excerpt rendered on its own, as Jekyll does (its warnings are the post's)
        in_excerpt = liquid_rendered(excerpt.source, excerpt=True)
        references = tuple(dict.fromkeys(references + in_excerpt.references))
        summary_html = html_of(in_excerpt.text)
    else:
        summary_html = html_of(excerpt.source)
    summary_text = html_to_text(summary_html)
    if deferred and references:  # the excerpt's Liquid linked to another post: resolved in the HTML
        deferred, content_html = False, _html(content_source, url, settings, markdown)

    image = _image(data.get("image"), settings.site_url)
    lang = _language_tag(data.get("lang"), relpath, warnings)

    weight, link_title = dialect.ranking(data)
    listing = listing_read(renders, settings)
    shaped_by = settings.liquid_fingerprint + listing + _digest(given) if liquid else settings.fingerprint
    fingerprint = hashlib.sha256(raw + shaped_by.encode() + relpath.encode()).hexdigest()[:24]
    return Post(
        source=relpath,
        fingerprint=fingerprint,
        slug=slug,
        title=smartify(title, settings.markdown) if isinstance(settings.markdown, KramdownOptions) else title,
        date=when,
        updated=max(updated, when),
        url=url,
        authors=authors,
        categories=tuple(categories),
        tags=tuple(tags),
        summary_html=summary_html,
        summary_text=summary_text,
        content_zlib=pack_html(content_source if deferred else content_html, body_level),
        image=image,
        published=published,
        warnings=tuple(warnings),
        references=references,
        liquid=liquid,
        listing=listing,
        publish_at=publish_at,
        expire_at=expire_at,
        entry_id=dialect.entry_id(place, path, settings.site_url),
        language=dialect.language_of(relpath),
        lang=lang,
        weight=weight,
        link_title=link_title,
        aliases=dialect.aliases_of(data, path),
        body_markup=MarkdownBody(settings.markdown) if deferred else None,
        taxonomies=dialect.terms_of(data),
    )


def _summary_field(data: Mapping[Any, Any], keys: tuple[str, ...]) -> tuple[str, str | None]:
    """The first of the dialect's summary keys with a value (jekyll-feed: `description`, else `excerpt`), and
    that value; the last key given blank (`excerpt: ""`) is an empty summary; None: the excerpt is made."""
    for key in keys:
        if key != keys[-1] and isinstance(data.get(key), (dict, list)):
            continue  # a `description` some plugin reads as a mapping: not a summary
        value = text_field(data.get(key), key)
        if value.strip() or (key == keys[-1] and key in data and data[key] is not None):
            return key, value
    return "", None


def _html(source: str, base_url: str, settings: Settings, markdown: bool = True) -> str:
    return body_html(source, base_url, settings.markdown, markdown)


def _words(data: Mapping[Any, Any], plural: str, singular: str, *, merged: bool = False) -> list[str]:
    """Jekyll's rule (`Utils.pluralized_array_from_hash`): a singular value is one name, spaces and all
    (`category: Elixir in Production`); else the plural, a list or a string split on white space. With
    `merged` (categories) the plural's names come first and the singular's is added to them."""
    one = _listed(data, singular, split=False)
    many = _listed(data, plural, split=True)
    if merged:
        return many + one
    return one or many


def _listed(data: Mapping[Any, Any], key: str, *, split: bool) -> list[str]:
    value = data.get(key)
    words: list[str] = []
    if value is None or value == "":
        return words
    if isinstance(value, str):
        text = strip_xml_illegal(value)
        words.extend(text.split() if split else [text.strip()])
    elif isinstance(value, (list, tuple)):
        for item in value:
            if item is None:
                continue
            if isinstance(item, (dict, list)):
                kind = "list" if isinstance(item, list) else "mapping"
                raise PostError(f"`{key}` must hold names, got a nested {kind}")
            words.append(text_field(item, key))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        words.append(str(value))
    else:
        raise PostError(f"`{key}` must be a list or a space-separated string")
    return [word for word in words if word]


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def _capped(names: list[Any], field: str, relpath: str, warnings: list[Problem]) -> list[Any]:
    if len(names) <= MAX_NAMES_PER_FIELD:
        return names
    warnings.append(Problem(relpath, f"`{field}` lists {len(names):,} names; only the first {MAX_NAMES_PER_FIELD} "
                                     "are used (each one is a feed of its own)", "warning"))
    return names[:MAX_NAMES_PER_FIELD]


@lru_cache(maxsize=4)
def _known_authors(site_data: str) -> Mapping[str, Any]:
    """`site.data.authors` (`_data/authors.yml`): the people a post's `author: key` names, as jekyll-feed reads it."""
    authors = json.loads(site_data).get("authors") if site_data else None
    return authors if isinstance(authors, dict) else {}


def _author(value: Any, field: str, site_url: str, known: Mapping[str, Any]) -> Author | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and isinstance(known.get(value), dict):
        value = {"name": value, **known[value]}
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        name = text_field(value, field)
        return Author(name) if name else None
    if isinstance(value, dict):
        name = text_field(value.get("name"), f"{field}.name")
        if not name:
            raise PostError(f"`{field}` mapping has no `name`")
        email = text_field(value.get("email"), f"{field}.email") or None
        uri = text_field(value.get("uri") or value.get("url"), f"{field}.uri") or None
        return Author(name, email, outbound_url(uri, site_url))  # javascript: and kin are dropped
    raise PostError(f"`{field}` must be a name or a mapping with `name`, `email`, `uri`")


def _authors(data: Mapping[Any, Any], site_url: str, known: Mapping[str, Any]) -> tuple[Author, ...]:
    found: list[Author] = []
    single = _author(data.get("author"), "author", site_url, known)
    if single:
        found.append(single)
    many = data.get("authors")
    if many is not None:
        items = many if isinstance(many, list) else [many]
        for item in items:
            author = _author(item, "authors", site_url, known)
            if author and author.name not in {a.name for a in found}:
                found.append(author)
    return tuple(found)


def _language_tag(value: Any, relpath: str, warnings: list[Problem]) -> str:
    """Front matter `lang:` (jekyll-feed's entry `xml:lang`) when it looks like a language tag (BCP 47)."""
    tag = text_field(value, "lang") if isinstance(value, str) else ""
    if tag and not _LANGUAGE_TAG.match(tag):
        warnings.append(Problem(relpath, f"`lang` {tag!r} is not a language tag such as en or pt-BR; ignored",
                                "warning"))
        return ""
    return tag


def _image(value: Any, site_url: str) -> Image | None:
    alt = None
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        src = value.get("path") or value.get("url") or value.get("src")
        alt = text_field(value.get("alt"), "image.alt") or None
    else:
        src = value
    src = text_field(src, "image")
    if not src:
        return None
    url = outbound_url(src, site_url)  # Jekyll's absolute_url: url + baseurl + path; javascript: and kin dropped
    if url is None:
        return None
    extension = posixpath.splitext(url.split("?", 1)[0])[1].lower()
    return Image(url=url, mime_type=_IMAGE_TYPES.get(extension, "application/octet-stream"), alt=alt)


def _digest(files: Mapping[str, str]) -> str:
    """What the files a post include_relatives add to its fingerprint ("" for none)."""
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()[:16] if files else ""
