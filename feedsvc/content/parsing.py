"""One file's bytes -> a `Post`, or a `Problem` that names the file and what is wrong.

Every front-matter field is normalised explicitly here, so nothing downstream guesses. What differs
between generators (front matter formats, file names, permalinks, which keys mean what, Liquid) is
asked of the site's dialect (content/dialects/); reading the front matter itself is front_matter.py's.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from feedsvc.config import Settings
from feedsvc.content.dialects import Dialect, PostPlace, dialect_for
from feedsvc.content.fields import PostError, text_field
from feedsvc.content.front_matter import FrontMatterError, split_front_matter
from feedsvc.content.limits import check_html, check_markdown
from feedsvc.content.links import drop_unsafe_links
from feedsvc.content.markup import absolutize_links, html_to_text, render_markdown, strip_xml_illegal
from feedsvc.content.templating import has_liquid, render_post_body
from feedsvc.model import BODY_LEVEL, Author, Image, Post, Problem, pack_html
from feedsvc.urls import absolute, outbound_url

MAX_POST_BYTES = 5 * 1024 * 1024
# Every category, tag and author is a feed of its own (three, one per format) and every entry lists
# its terms: a post with 10,000 tags would cost 30,000 feeds of 10,000 terms each. Beyond this many
# names per field, the rest are dropped with a warning.
MAX_NAMES_PER_FIELD = 100

_DATE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2}|[+-]\d{2})?\s*$",
    re.IGNORECASE,
)
# Jekyll (Ruby's Time.parse) tolerates junk between the time and the zone; so do we, with a warning.
_LENIENT_DATE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\b"
    r"(?:.*?\s([+-]\d{2}:?\d{2}|Z)(?=\s|$))?",
)
# A fixed table rather than the mimetypes module, whose answers depend on the host's files.
_IMAGE_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".svg": "image/svg+xml", ".bmp": "image/bmp",
    ".ico": "image/vnd.microsoft.icon", ".tif": "image/tiff", ".tiff": "image/tiff",
}


def parse_post(relpath: str, raw: bytes, settings: Settings, body_level: int = BODY_LEVEL) -> Post | Problem:
    """Parse one post file; never raises for bad input, returns a Problem instead.

    `body_level`: how hard to compress the body held in memory (`Post.content_zlib`): 1 where it is
    held for long (serving), 0 (stored, no compression work) for a build that exits when done."""
    try:
        return _parse(relpath, raw, settings, body_level)
    except PostError as exc:
        return Problem(relpath, str(exc), "error", exc.line)
    except RecursionError:
        return Problem(relpath, "front matter is nested too deeply")
    except (ValueError, OverflowError) as exc:  # e.g. a date that cannot move to the site's zone
        return Problem(relpath, f"cannot be used: {exc}")


def _parse(relpath: str, raw: bytes, settings: Settings, body_level: int = BODY_LEVEL) -> Post | Problem:
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
    if front is None:
        if not dialect.requires_front_matter(relpath):
            return Problem(relpath, "no front matter: not a post, skipped", "warning")
        raise PostError("no front matter: a post starts with a line of three dashes (---)", 1)
    notes = [Problem(relpath, f"`{key}` is given more than once; the last one is used", "warning", line)
             for key, line in front.duplicates]
    data = dialect.with_defaults(front.data, relpath, settings.site_config)
    return _build_post(dialect, relpath, raw, data, front.body, settings, front.body_line, notes, body_level)


def _build_post(dialect: Dialect, relpath: str, raw: bytes, data: dict[Any, Any], body: str, settings: Settings,
                body_line: int = 1, notes: Iterable[Problem] = (), body_level: int = BODY_LEVEL) -> Post:
    warnings: list[Problem] = list(notes)
    tz = settings.tz
    file_slug, file_date = dialect.file_name(relpath)

    slug = text_field(data.get("slug"), "slug") or file_slug
    published = data.get("published", True) is not False and data.get("draft", False) is not True \
        and dialect.listed(data)

    if data.get("date") is not None:
        when, note = _parse_date(data["date"], tz, "date")
        if note:
            warnings.append(Problem(relpath, note, "warning"))
    elif file_date is not None:
        when = datetime.combine(file_date, time(), tz)
    else:
        raise PostError("no date: give `date:` in the front matter or name the file YYYY-MM-DD-slug.md")

    updated = when
    for key in dialect.updated_keys:
        if data.get(key) is not None:
            updated, note = _parse_date(data[key], tz, key)
            if note:
                warnings.append(Problem(relpath, note, "warning"))
            break

    publish_at, expire_at = (_first_date(data, keys, tz, relpath, warnings)
                             for keys in (dialect.publish_keys, dialect.expiry_keys))

    title = text_field(data.get("title"), "title")
    if not title:
        title = " ".join(word.capitalize() for word in re.split(r"[-_\s]+", slug) if word) or slug
        warnings.append(Problem(relpath, f"no title; using {title!r} from the file name", "warning"))

    named = _words(data, "categories", "category", merged=True)
    categories = _capped(_unique(dialect.folder_categories(relpath) + named), "categories", relpath, warnings)
    tags = _capped(_unique(_words(data, "tags", "tag")), "tags", relpath, warnings)

    authors = tuple(_capped(list(_authors(data, settings.site_url)), "authors", relpath, warnings))
    if not authors and settings.author is not None:
        authors = (settings.author,)

    when, updated = when.astimezone(tz), updated.astimezone(tz)  # shown in the site's zone, as Jekyll does
    place = PostPlace(data, slug, file_slug, title, when, tuple(categories), relpath)
    path = dialect.post_path(place, settings.permalink)
    url = absolute(settings.site_url, path)

    # -- Liquid (templating.py): Jekyll renders it before Markdown; bodies without {{ or {% skip it --
    references: tuple[tuple[str, int], ...] = ()
    liquid = dialect.renders_liquid and has_liquid(body) and data.get("render_with_liquid") is not False
    if liquid:
        rendered = render_post_body(body, relpath, body_line, data, settings, title=title, when=when, path=path,
                                    slug=slug, categories=categories, tags=tags)
        body, references = rendered.text, rendered.references
        warnings.extend(rendered.problems)
    # -- end Liquid --
    expanded = dialect.expand_body(body, relpath, body_line, data)  # Hugo's shortcodes
    body, references = expanded.text, references + expanded.references
    warnings.extend(expanded.problems)

    body_parts = body.split(settings.excerpt_separator, 1)
    content_source = body.replace(settings.excerpt_separator, "\n\n") if len(body_parts) > 1 else body
    content_html = _html(content_source, url, settings)
    excerpt_field = next((data[key] for key in dialect.summary_keys if key in data), None)
    auto_summary = dialect.auto_summary(content_html) if excerpt_field is None and len(body_parts) == 1 else None
    if excerpt_field is not None:
        summary_html = _html(text_field(excerpt_field, "excerpt"), url, settings)
    elif auto_summary is not None:
        summary_html = auto_summary
    else:
        summary_html = _html(body_parts[0], url, settings)
    summary_text = html_to_text(summary_html)

    image = _image(data.get("image"), settings.site_url)

    weight, link_title = dialect.ranking(data)
    shaped_by = settings.liquid_fingerprint if liquid else settings.fingerprint
    fingerprint = hashlib.sha256(raw + shaped_by.encode() + relpath.encode()).hexdigest()[:24]
    return Post(
        source=relpath,
        fingerprint=fingerprint,
        slug=slug,
        title=title,
        date=when,
        updated=max(updated, when),
        url=url,
        authors=authors,
        categories=tuple(categories),
        tags=tuple(tags),
        summary_html=summary_html,
        summary_text=summary_text,
        content_zlib=pack_html(content_html, body_level),
        image=image,
        published=published,
        warnings=tuple(warnings),
        references=references,
        liquid=liquid,
        publish_at=publish_at,
        expire_at=expire_at,
        entry_id=dialect.entry_id(place, path, settings.site_url),
        language=dialect.language_of(relpath),
        weight=weight,
        link_title=link_title,
        aliases=dialect.aliases_of(data, path),
    )


def _first_date(data: Mapping[Any, Any], keys: tuple[str, ...], tz: ZoneInfo, relpath: str,
                warnings: list[Problem]) -> datetime | None:
    """The first of `keys` the front matter gives, as a date in the site's zone."""
    for key in keys:
        if data.get(key) is not None:
            when, note = _parse_date(data[key], tz, key)
            if note:
                warnings.append(Problem(relpath, note, "warning"))
            return when.astimezone(tz)
    return None


def _html(markdown: str, base_url: str, settings: Settings) -> str:
    rendered = check_html(render_markdown(check_markdown(markdown), settings.kramdown))  # kramdown's or GFM, bounded
    return strip_xml_illegal(drop_unsafe_links(absolutize_links(rendered, base_url))).strip()


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


def _author(value: Any, field: str, site_url: str) -> Author | None:
    if value is None or value == "":
        return None
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


def _authors(data: Mapping[Any, Any], site_url: str) -> tuple[Author, ...]:
    found: list[Author] = []
    single = _author(data.get("author"), "author", site_url)
    if single:
        found.append(single)
    many = data.get("authors")
    if many is not None:
        items = many if isinstance(many, list) else [many]
        for item in items:
            author = _author(item, "authors", site_url)
            if author and author.name not in {a.name for a in found}:
                found.append(author)
    return tuple(found)


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


def _parse_date(value: Any, tz: ZoneInfo, field: str) -> tuple[datetime, str | None]:
    """A datetime, a date or a Jekyll-style string -> aware datetime (site zone when none given)."""
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=tz)
        _check_range(when, tz, field, value)
        return when, None
    if isinstance(value, date):
        when = datetime.combine(value, time(), tz)
        _check_range(when, tz, field, value)
        return when, None
    if not isinstance(value, str):
        raise PostError(f"`{field}` must be a date such as 2016-10-06 11:10:38 -0700, got {value!r}")
    match = _DATE.match(value)
    note = None
    if not match:
        lenient = _LENIENT_DATE.match(value)
        if not lenient:
            raise PostError(f"`{field}` is not a date Jekyll understands: {value!r} (try 2016-10-06 11:10:38 -0700)")
        y, mo, d, h, mi, s, zone = lenient.groups()
        frac = None
        note = f"`{field}` {value!r} has extra text; read as {y}-{mo}-{d} {h}:{mi}:{s or '00'} {zone or ''}".rstrip()
    else:
        y, mo, d, h, mi, s, frac, zone = match.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        when = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro,
                        tzinfo=_zone(zone, tz, field, value))
    except ValueError as exc:
        raise PostError(f"`{field}` {value!r} is not a real date: {exc}") from None
    _check_range(when, tz, field, value)
    return when, note


def _check_range(when: datetime, tz: ZoneInfo, field: str, value: Any) -> None:
    """Years 1 to 9999 in every zone the date is shown in; the edges overflow once a zone moves them."""
    try:
        when.astimezone(UTC)
        when.astimezone(tz)
    except (OverflowError, ValueError):
        raise PostError(f"`{field}` {value!r} is out of range: dates must fall within the years 1 to 9999 "
                         "in every time zone") from None


def _zone(zone: str | None, tz: ZoneInfo, field: str, value: str) -> timezone | ZoneInfo:
    if zone is None:
        return tz
    if zone.upper() in ("Z", "UTC", "GMT"):
        return UTC
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise PostError(f"`{field}` {value!r} has an impossible zone offset {zone}")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone[0] == "-" else offset)
