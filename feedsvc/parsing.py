"""One file's bytes -> a `Post`, or a `Problem` that names the file and what is wrong.

The only module that knows python-frontmatter and YAML. Every front-matter field is
normalised explicitly here, with Jekyll's rules, so nothing downstream guesses.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from frontmatter.default_handlers import YAMLHandler

from . import hugo
from .config import Settings
from .markup import absolutize_links, html_to_text, render_markdown, strip_xml_illegal
from .model import Author, Image, Post, Problem
from .templating import has_liquid, render_post_body
from .urls import absolute, expand_permalink, permalink_placeholders

MAX_POST_BYTES = 5 * 1024 * 1024
# Every category, tag and author is a feed of its own (three, one per format) and every entry lists
# its terms: a post with 10,000 tags would cost 30,000 feeds of 10,000 terms each. Beyond this many
# names per field, the rest are dropped with a warning.
MAX_NAMES_PER_FIELD = 100

_FILENAME = re.compile(r"^(?:(\d{4})-(\d{1,2})-(\d{1,2})-)?(.+?)\.(?:md|markdown)$", re.IGNORECASE)
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


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
# libyaml's composer recurses on the C stack: some 30,000 nested `[` crash the whole process. Front
# matter that may nest deeper than this goes to the pure-Python loader, which raises RecursionError.
_C_LOADER_MAX_NESTING = 200
_BRACKETS = re.compile(r"[^\[\]{}]+")


def _loader_class(base: type) -> type:
    class Loader(base):  # type: ignore[misc,valid-type]
        """YAML without the 1.1 surprises: `no` stays "no", `10:00` stays "10:00", dates stay text.

        Jekyll-style date strings are then parsed by `_parse_date`, one code path for all.
        Keys given twice are recorded (YAML keeps the last one silently; we warn).
        """

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.duplicates: list[tuple[str, int]] = []  # (key, 0-based line of the repeat)

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in seen:
                        self.duplicates.append((key_node.value, key_node.start_mark.line))
                    seen.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                               "tag:yaml.org,2002:float")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for tag, pattern, firsts in (
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9_]*)$", "-+0123456789"),
        ("tag:yaml.org,2002:float", r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?$", "-+0123456789."),
    ):
        Loader.add_implicit_resolver(tag, re.compile(pattern), list(firsts))
    return Loader


_FrontMatterLoader = _loader_class(_BaseLoader)
_DeepFrontMatterLoader = _loader_class(yaml.SafeLoader)


def _flow_nesting_bound(front_text: str) -> int:
    """An upper bound on `[`/`{` nesting (quotes ignored, so it errs towards the safe side)."""
    if front_text.count("[") + front_text.count("{") <= _C_LOADER_MAX_NESTING:
        return 0
    depth = deepest = 0
    for char in _BRACKETS.sub("", front_text):
        depth = depth + 1 if char in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


_HANDLER = YAMLHandler()


class _PostError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def parse_post(relpath: str, raw: bytes, settings: Settings) -> Post | Problem:
    """Parse one post file; never raises for bad input, returns a Problem instead."""
    try:
        return _parse(relpath, raw, settings)
    except _PostError as exc:
        return Problem(relpath, str(exc), "error", exc.line)
    except RecursionError:
        return Problem(relpath, "front matter is nested too deeply")
    except (ValueError, OverflowError) as exc:  # e.g. a date that cannot move to the site's zone
        return Problem(relpath, f"cannot be used: {exc}")


def is_in_posts_folder(relpath: str) -> bool:
    return "_posts" in relpath.split("/")[:-1]


def _parse(relpath: str, raw: bytes, settings: Settings) -> Post | Problem:
    if len(raw) > MAX_POST_BYTES:
        raise _PostError(f"file is {len(raw):,} bytes, over the {MAX_POST_BYTES:,}-byte limit for a post")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _PostError(f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}", line) from None
    text = strip_xml_illegal(text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise _PostError("empty file")
    hugo_front = _hugo_front_matter(text)  # Hugo's +++ TOML front matter (hugo.py)
    if hugo_front is not None:
        return _build_post(relpath, raw, hugo_front[0], hugo_front[1], settings, _first_line(text, hugo_front[1]))
    if not _HANDLER.detect(text):
        if not is_in_posts_folder(relpath):
            return Problem(relpath, "no front matter: not a post, skipped", "warning")
        raise _PostError("no front matter: a post starts with a line of three dashes (---)", 1)
    try:
        front_text, body = _HANDLER.split(text)
    except ValueError:
        raise _PostError("front matter opened on line 1 is never closed by a line of ---", 1) from None
    # YAML counts from the start of the front matter; the file has the opening --- before it.
    first_line = text.count("\n", 0, text.find(front_text, 3)) + 1
    nesting = _flow_nesting_bound(front_text)
    if nesting > 5000:  # the Python loader would take seconds only to hit its recursion limit
        raise _PostError(f"front matter is nested too deeply ({nesting:,} levels of [ or {{)")
    loader = (_DeepFrontMatterLoader if nesting > _C_LOADER_MAX_NESTING else _FrontMatterLoader)(front_text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = first_line + mark.line if mark is not None else None
        raise _PostError(f"front matter is not valid YAML: {problem}", line) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _PostError(f"front matter must be a mapping of fields, got a {_yaml_kind(data)}", 2)
    notes = [Problem(relpath, f"`{key}` is given more than once; the last one is used", "warning", first_line + line)
             for key, line in loader.duplicates]
    return _build_post(relpath, raw, data, body, settings, _first_line(text, body), notes)


def _hugo_front_matter(text: str) -> tuple[dict[Any, Any], str] | None:
    try:
        return hugo.split_toml(text)
    except hugo.FrontMatterError as exc:
        raise _PostError(str(exc), exc.line) from None


def _first_line(text: str, body: str) -> int:
    """The file line the body starts on (the body is the tail of the text)."""
    return text.count("\n", 0, len(text) - len(body)) + 1


def _yaml_kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "scalar")


def _build_post(relpath: str, raw: bytes, data: dict[Any, Any], body: str, settings: Settings,
                body_line: int = 1, notes: Iterable[Problem] = ()) -> Post:
    warnings: list[Problem] = list(notes)
    tz = settings.tz
    filename = posixpath.basename(relpath)
    name_match = _FILENAME.match(filename)
    file_slug = name_match.group(4) if name_match else posixpath.splitext(filename)[0]
    file_date: date | None = None
    if name_match and name_match.group(1):
        try:
            file_date = date(*(int(name_match.group(i)) for i in (1, 2, 3)))
        except ValueError:
            raise _PostError(f"the file name's date {filename[:10]!r} is not a real date") from None
    is_hugo = settings.generator == "hugo"
    if is_hugo:  # Hugo (hugo.py): <slug>.md or <slug>/index.md, the date only from front matter
        file_slug, file_date = hugo.post_slug(relpath), None

    slug = _text(data.get("slug"), "slug") or file_slug
    published = data.get("published", True) is not False and data.get("draft", False) is not True

    if data.get("date") is not None:
        when, note = _parse_date(data["date"], tz, "date")
        if note:
            warnings.append(Problem(relpath, note, "warning"))
    elif file_date is not None:
        when = datetime.combine(file_date, time(), tz)
    else:
        raise _PostError("no date: give `date:` in the front matter or name the file YYYY-MM-DD-slug.md")

    updated = when
    for key in ("last_modified_at", "updated") + (("lastmod",) if is_hugo else ()):
        if data.get(key) is not None:
            updated, note = _parse_date(data[key], tz, key)
            if note:
                warnings.append(Problem(relpath, note, "warning"))
            break

    title = _text(data.get("title"), "title")
    if not title:
        title = " ".join(word.capitalize() for word in re.split(r"[-_\s]+", slug) if word) or slug
        warnings.append(Problem(relpath, f"no title; using {title!r} from the file name", "warning"))

    folders = relpath.split("/")[:-1]
    folder_categories = folders[: folders.index("_posts")] if "_posts" in folders else []
    categories = _capped(_unique(folder_categories + _words(data, "categories", "category")), "categories",
                         relpath, warnings)
    tags = _capped(_unique(_words(data, "tags", "tag")), "tags", relpath, warnings)

    authors = tuple(_capped(list(_authors(data)), "authors", relpath, warnings))
    if not authors and settings.author is not None:
        authors = (settings.author,)

    when, updated = when.astimezone(tz), updated.astimezone(tz)  # shown in the site's zone, as Jekyll does
    permalink = _text(data.get("permalink"), "permalink") or settings.permalink
    if is_hugo:
        path = hugo.post_path(data, slug, file_slug, title, when, settings.permalink)
    else:
        path = expand_permalink(permalink, permalink_placeholders(slug, when, tuple(categories)))
    url = absolute(settings.site_url, path)

    # -- Liquid (templating.py): Jekyll renders it before Markdown; bodies without {{ or {% skip it --
    references: tuple[tuple[str, int], ...] = ()
    liquid = not is_hugo and has_liquid(body) and data.get("render_with_liquid") is not False
    if liquid:
        rendered = render_post_body(body, relpath, body_line, data, settings, title=title, when=when, path=path,
                                    slug=slug, categories=categories, tags=tags)
        body, references = rendered.text, rendered.references
        warnings.extend(rendered.problems)
    # -- end Liquid --

    body_parts = body.split(settings.excerpt_separator, 1)
    content_source = body.replace(settings.excerpt_separator, "\n\n") if len(body_parts) > 1 else body
    content_html = _html(content_source, url)
    excerpt_field = data.get("excerpt") if not is_hugo else data.get("summary", data.get("excerpt"))
    if excerpt_field is not None:
        summary_html = _html(_text(excerpt_field, "excerpt"), url)
    else:
        summary_html = _html(body_parts[0], url)
    summary_text = html_to_text(summary_html)

    image = _image(data.get("image"), settings.site_url)

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
        content_html=content_html,
        image=image,
        published=published,
        warnings=tuple(warnings),
        references=references,
        liquid=liquid,
    )


def _html(markdown: str, base_url: str) -> str:
    return strip_xml_illegal(absolutize_links(render_markdown(markdown), base_url)).strip()


def _text(value: Any, field: str) -> str:
    """A scalar front-matter field as clean text; a list or mapping where text belongs is an error."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return strip_xml_illegal(str(value)).strip()
    raise _PostError(f"`{field}` must be text, got a {_yaml_kind(value) if not isinstance(value, dict) else 'mapping'}")


def _words(data: Mapping[Any, Any], plural: str, singular: str) -> list[str]:
    """Jekyll's rule: a list, or a string split on white space; both keys may be present."""
    words: list[str] = []
    for key in (singular, plural):
        value = data.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            words.extend(strip_xml_illegal(value).split())
        elif isinstance(value, (list, tuple)):
            for item in value:
                if item is None:
                    continue
                if isinstance(item, (dict, list)):
                    kind = "list" if isinstance(item, list) else "mapping"
                    raise _PostError(f"`{key}` must hold names, got a nested {kind}")
                words.append(_text(item, key))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            words.append(str(value))
        else:
            raise _PostError(f"`{key}` must be a list or a space-separated string")
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


def _author(value: Any, field: str) -> Author | None:
    if value is None or value == "":
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        name = _text(value, field)
        return Author(name) if name else None
    if isinstance(value, dict):
        name = _text(value.get("name"), f"{field}.name")
        if not name:
            raise _PostError(f"`{field}` mapping has no `name`")
        email = _text(value.get("email"), f"{field}.email") or None
        uri = _text(value.get("uri") or value.get("url"), f"{field}.uri") or None
        return Author(name, email, uri)
    raise _PostError(f"`{field}` must be a name or a mapping with `name`, `email`, `uri`")


def _authors(data: Mapping[Any, Any]) -> tuple[Author, ...]:
    found: list[Author] = []
    single = _author(data.get("author"), "author")
    if single:
        found.append(single)
    many = data.get("authors")
    if many is not None:
        items = many if isinstance(many, list) else [many]
        for item in items:
            author = _author(item, "authors")
            if author and author.name not in {a.name for a in found}:
                found.append(author)
    return tuple(found)


def _image(value: Any, site_url: str) -> Image | None:
    alt = None
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        src = value.get("path") or value.get("url") or value.get("src")
        alt = _text(value.get("alt"), "image.alt") or None
    else:
        src = value
    src = _text(src, "image")
    if not src:
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", src):
        url = src
    elif src.startswith("//"):
        url = "https:" + src
    else:
        url = absolute(site_url, src)  # Jekyll's absolute_url: url + baseurl + path
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
        raise _PostError(f"`{field}` must be a date such as 2016-10-06 11:10:38 -0700, got {value!r}")
    match = _DATE.match(value)
    note = None
    if not match:
        lenient = _LENIENT_DATE.match(value)
        if not lenient:
            raise _PostError(f"`{field}` is not a date Jekyll understands: {value!r} (try 2016-10-06 11:10:38 -0700)")
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
        raise _PostError(f"`{field}` {value!r} is not a real date: {exc}") from None
    _check_range(when, tz, field, value)
    return when, note


def _check_range(when: datetime, tz: ZoneInfo, field: str, value: Any) -> None:
    """Years 1 to 9999 in every zone the date is shown in; the edges overflow once a zone moves them."""
    try:
        when.astimezone(UTC)
        when.astimezone(tz)
    except (OverflowError, ValueError):
        raise _PostError(f"`{field}` {value!r} is out of range: dates must fall within the years 1 to 9999 "
                         "in every time zone") from None


def _zone(zone: str | None, tz: ZoneInfo, field: str, value: str) -> timezone | ZoneInfo:
    if zone is None:
        return tz
    if zone.upper() in ("Z", "UTC", "GMT"):
        return UTC
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise _PostError(f"`{field}` {value!r} has an impossible zone offset {zone}")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone[0] == "-" else offset)
