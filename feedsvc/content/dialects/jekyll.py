"""Jekyll sites: `_config.yml`, `_posts` folders, `YYYY-MM-DD-slug.md` names and Jekyll's permalinks.

**How a folder is recognised as Jekyll.** It has a `_config.yml` (which decides, whatever else is
there), or, without any generator's config file, a `_posts` folder at its root. Every Markdown file
outside hidden and `_` folders (except `_posts`) is read; one in a `_posts` folder must have front
matter, any other without it is simply not a post. Folders above `_posts` are categories.

Slugs follow Jekyll's `Utils.slugify` (one implementation, for the permalink placeholders and the
Liquid `slugify` filter alike).
"""

from __future__ import annotations

import json
import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from feedsvc.content.dialects.base import ConfigFileError, Expansion, FileName, PostPlace
from feedsvc.content.dialects.jekylldates import read_ruby_date
from feedsvc.content.dialects.jekylldefaults import apply_defaults
from feedsvc.content.fields import PostError, text_field
from feedsvc.content.front_matter import FrontMatterReader, split_toml, split_yaml_or_dots
from feedsvc.content.kramdown import kramdown_options
from feedsvc.content.markup import MarkdownFlavour
from feedsvc.model import Language, Post, Scope
from feedsvc.urls import absolute

CONFIG_FILE = "_config.yml"
POSTS_FOLDER = "_posts"

#: Jekyll's built-in permalink styles.
PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
DEFAULT_PATTERN = PERMALINK_STYLES["date"]

_FILENAME = re.compile(r"^(?:(\d{4})-(\d{1,2})-(\d{1,2})-)?(.+?)(\.[^.]+)$")
# Jekyll's `Document::DATE_FILENAME_MATCHER`: in a `_posts` folder, any file so named is a post.
_DATED_NAME = re.compile(r"^\d{2,4}-\d{1,2}-\d{1,2}-[^/]*\.[^./]+$")
#: Jekyll's default `markdown_ext`: the extensions rendered as Markdown (others are taken as written).
MARKDOWN_EXT = ("markdown", "mkdown", "mkdn", "mkd", "md")
# Files in `_posts` that are never posts: Jekyll reads YAML as data; the rest are not text.
_NOT_POSTS = frozenset((".yml", ".yaml", ".json", ".csv", ".tsv", ".png", ".jpg", ".jpeg", ".gif", ".webp",
                        ".avif", ".svg", ".ico", ".pdf", ".zip", ".gz", ".mp3", ".mp4", ".mov", ".woff", ".woff2"))
_SLUG_PATTERNS = {"raw": r"\s+", "pretty": r"[^\w.~!$&'()+,;=@]+", "ascii": r"[^a-zA-Z0-9]+"}
_DEFAULT_SLUG = r"[\W_]+"
_PLACEHOLDER = re.compile(r":([a-z_]+)")


def slugify(value: Any, mode: Any = "default", cased: Any = False) -> str:
    """Jekyll's `Utils.slugify`, with its modes: none, raw, default, pretty, ascii, latin."""
    text = "" if value is None else str(value)
    mode = mode if isinstance(mode, str) else "default"
    if mode == "none":
        return text
    if mode == "latin":
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        mode = "default"
    slug = re.sub(_SLUG_PATTERNS.get(mode, _DEFAULT_SLUG), "-", text).strip("-")
    return slug if cased is True else slug.lower()


def title_slug(slug: str) -> str:
    """The permalink `:title`: the pretty, cased slug, underscores kept (`snake_case` stays), as Jekyll 4.3."""
    return slugify(slug, "pretty", cased=True)


def _categories_part(categories: tuple[str, ...]) -> str:
    seen: list[str] = []
    for category in categories:
        lowered = category.lower()
        if lowered not in seen:
            seen.append(lowered)
    return "/".join(seen)


_Placeholder = Callable[[str, datetime, tuple[str, ...]], str]
# Each placeholder from (slug, date in the site's zone, categories): a pattern uses a few, so only those are made.
_PLACEHOLDERS: dict[str, _Placeholder] = {
    "year": lambda slug, when, categories: f"{when.year:04d}",
    "short_year": lambda slug, when, categories: f"{when.year % 100:02d}",
    "month": lambda slug, when, categories: f"{when.month:02d}",
    "i_month": lambda slug, when, categories: str(when.month),
    "short_month": lambda slug, when, categories: when.strftime("%b"),
    "long_month": lambda slug, when, categories: when.strftime("%B"),
    "day": lambda slug, when, categories: f"{when.day:02d}",
    "i_day": lambda slug, when, categories: str(when.day),
    "y_day": lambda slug, when, categories: f"{when.timetuple().tm_yday:03d}",
    "w_year": lambda slug, when, categories: str(when.isocalendar()[0]),
    "week": lambda slug, when, categories: f"{when.isocalendar()[1]:02d}",
    "w_day": lambda slug, when, categories: str(when.isocalendar()[2]),
    "short_day": lambda slug, when, categories: when.strftime("%a"),
    "long_day": lambda slug, when, categories: when.strftime("%A"),
    "hour": lambda slug, when, categories: f"{when.hour:02d}",
    "minute": lambda slug, when, categories: f"{when.minute:02d}",
    "second": lambda slug, when, categories: f"{when.second:02d}",
    "title": lambda slug, when, categories: title_slug(slug),
    "slug": lambda slug, when, categories: slugify(slug),
    "name": lambda slug, when, categories: slugify(slug),
    "categories": lambda slug, when, categories: _categories_part(categories),
    "output_ext": lambda slug, when, categories: ".html",
}


def permalink_placeholders(slug: str, when: datetime, categories: tuple[str, ...],
                           names: Iterable[str] = _PLACEHOLDERS) -> dict[str, str]:
    """Jekyll's placeholders for a post (those of `names` it has), with `when` already in the site's time zone."""
    return {name: _PLACEHOLDERS[name](slug, when, categories) for name in names if name in _PLACEHOLDERS}


@lru_cache(maxsize=64)
def pattern_placeholders(pattern: str) -> tuple[str, ...]:
    """The placeholders `expand_permalink` may look up in `pattern`: every known prefix of each token."""
    tokens = _PLACEHOLDER.findall(pattern)
    return tuple(name for name in _PLACEHOLDERS if any(token.startswith(name) for token in tokens))


def expand_permalink(pattern: str, placeholders: Mapping[str, str]) -> str:
    """Fill a Jekyll permalink pattern; empty parts collapse as Jekyll collapses them."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        # Longest known placeholder that prefixes the token (":title:output_ext" has two).
        for end in range(len(name), 0, -1):
            if name[:end] in placeholders:
                return placeholders[name[:end]] + name[end:]
        return match.group(0)

    url = "/" + _PLACEHOLDER.sub(fill, pattern)
    url = url.replace("..", "/").replace("./", "")
    return re.sub(r"/{2,}", "/", url)


def parse_config(text: str) -> dict[str, Any]:
    """The text of `_config.yml` as a mapping; raises ConfigFileError naming the line of a YAML mistake."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigFileError(f"{CONFIG_FILE}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{CONFIG_FILE}: expected a mapping of settings, got {type(data).__name__}")
    return data


class Jekyll:
    """The Jekyll dialect: `JEKYLL` with Jekyll's defaults, `JEKYLL.configured(...)` with a site's `markdown_ext`
    and `collections_dir` (posts under `<collections_dir>/_posts`, that folder no category)."""

    __slots__ = ("collections_dir", "markdown_suffixes", "post_folders")
    name = "jekyll"
    looked_for = f"a Jekyll site has {CONFIG_FILE} or a {POSTS_FOLDER} folder"
    default_permalink = "date"
    # TOML too, as feedsvc has always read it in every site (Jekyll itself reads only YAML).
    front_matter_readers: tuple[FrontMatterReader, ...] = (split_toml, split_yaml_or_dots)
    updated_keys = ("last_modified_at", "updated")
    summary_keys = ("description", "excerpt")  # jekyll-feed: `post.description | default: post.excerpt`
    renders_liquid = True

    def __init__(self, markdown_ext: tuple[str, ...] = MARKDOWN_EXT, collections_dir: str = "") -> None:
        self.markdown_suffixes = tuple(f".{ext.lower()}" for ext in markdown_ext)
        self.collections_dir = collections_dir
        self.post_folders = (collections_dir,)  # "": the root

    def config_file(self, root: Path) -> Path | None:
        path = root / CONFIG_FILE
        return path if path.exists() else None

    def has_posts_folder(self, root: Path) -> bool:
        return (root / POSTS_FOLDER).is_dir()

    def load_config(self, root: Path) -> dict[str, Any]:
        path = root / CONFIG_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # recognised by its _posts folder alone: Jekyll's defaults
            return {}
        except OSError as exc:
            raise ConfigFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigFileError(f"{path}: not UTF-8 (byte {exc.start})") from None
        return parse_config(text)

    def markdown_flavour(self, config: Mapping[str, Any], errors: list[str]) -> MarkdownFlavour:
        """kramdown as Jekyll configures it, with the site's `kramdown:` settings."""
        return kramdown_options(config.get("kramdown"), errors)

    def permalink_setting(self, config: Mapping[str, Any]) -> Any:
        collections = config.get("collections")
        posts = collections.get("posts") if isinstance(collections, Mapping) else None
        collection_permalink = posts.get("permalink") if isinstance(posts, Mapping) else None
        return collection_permalink or config.get("permalink")

    def permalink_pattern(self, permalink: str) -> str:
        pattern = PERMALINK_STYLES.get(permalink, permalink)
        return pattern if pattern.startswith("/") else "/" + pattern

    def walks_folder(self, name: str) -> bool:
        """Hidden folders and `_folders` are not content, except `_posts`."""
        return not name.startswith(".") and (not name.startswith("_") or name == POSTS_FOLDER)

    def is_post_file(self, relpath: str) -> bool:
        """Markdown anywhere (feedsvc's own rule); in a `_posts` folder, any file named as a dated post."""
        name = posixpath.basename(relpath)
        if name.startswith((".", "_", "#")) or name.endswith("~"):  # Jekyll's EntryFilter: hidden, special, backups
            return False
        if self.renders_markdown(name):
            return True
        return self.always_a_post(relpath) and _DATED_NAME.match(name) is not None \
            and posixpath.splitext(name)[1].lower() not in _NOT_POSTS

    def renders_markdown(self, relpath: str) -> bool:
        """Whether the file is Markdown by the site's `markdown_ext`; others (`.html`, `.text`) are taken as written."""
        return relpath.lower().endswith(self.markdown_suffixes)

    def always_a_post(self, relpath: str) -> bool:
        return POSTS_FOLDER in relpath.split("/")[:-1]

    def file_name(self, relpath: str) -> FileName:
        """`YYYY-MM-DD-slug.md`: the date is optional (front matter may give it)."""
        filename = posixpath.basename(relpath)
        match = _FILENAME.match(filename)
        if match is None:
            return FileName(posixpath.splitext(filename)[0], None)
        slug = match.group(4).rstrip(".")  # Jekyll: "slugs shouldn't end with a period"
        if not match.group(1):
            return FileName(slug, None)
        try:
            return FileName(slug, date(*(int(match.group(i)) for i in (1, 2, 3))))
        except ValueError:
            raise PostError(f"the file name's date {filename[:10]!r} is not a real date") from None

    def folder_categories(self, relpath: str) -> list[str]:
        if self.collections_dir and relpath.startswith(self.collections_dir + "/"):
            relpath = relpath[len(self.collections_dir) + 1:]
        folders = relpath.split("/")[:-1]
        return folders[: folders.index(POSTS_FOLDER)] if POSTS_FOLDER in folders else []

    def post_path(self, place: PostPlace, pattern: str) -> str:
        """The `permalink` front matter, else the site's pattern, filled with Jekyll's placeholders."""
        permalink = text_field(place.front.get("permalink"), "permalink") or pattern
        placeholders = permalink_placeholders(place.slug, place.date, place.categories,
                                              pattern_placeholders(permalink))
        if place.source and not self.renders_markdown(place.source):  # Jekyll's identity converter keeps the ext
            extension = posixpath.splitext(place.source)[1]
            placeholders["output_ext"] = ".html" if extension.lower() in (".html", ".htm") else extension
        return expand_permalink(permalink, placeholders)

    # -- what Hugo needs of the seam, which Jekyll does not have --
    publish_keys: tuple[str, ...] = ()
    expiry_keys: tuple[str, ...] = ()

    def configured(self, rules: str) -> Jekyll:
        """`rules`: JSON of the site's `markdown_ext` and `collections_dir` ("" for Jekyll's defaults)."""
        return _configured(rules) if rules else JEKYLL

    def site_rules(self, config: Mapping[str, Any]) -> str:
        """The site's `markdown_ext` and `collections_dir` where they differ from Jekyll's defaults, as JSON."""
        rules: dict[str, str] = {}
        value = config.get("markdown_ext")
        if isinstance(value, str):
            extensions = ",".join(ext.strip().lstrip(".") for ext in value.split(",") if ext.strip())
            if tuple(extensions.split(",")) != MARKDOWN_EXT:
                rules["markdown_ext"] = extensions
        folder = config.get("collections_dir")
        if isinstance(folder, str) and folder.strip("/. "):
            rules["collections_dir"] = posixpath.normpath(folder.strip("/ "))
        return json.dumps(rules, sort_keys=True) if rules else ""

    def listed(self, front: Mapping[Any, Any]) -> bool:
        return True

    def auto_summary(self, content_html: str) -> str | None:
        return None

    def expand_body(self, body: str, relpath: str, first_line: int, front: Mapping[Any, Any]) -> Expansion:
        return Expansion(body)  # Liquid is rendered on its own (templating.py)

    def with_defaults(self, front: dict[Any, Any], relpath: str, site_config: str) -> dict[Any, Any]:
        """`defaults:` of `_config.yml` (jekylldefaults.py), under the post's own front matter."""
        return apply_defaults(front, relpath, site_config)

    def entry_id(self, place: PostPlace, path: str, site_url: str) -> str:
        """jekyll-feed's entry id, `post.id | absolute_url`: the URL's folder joined with the slug (Ruby's
        `File.join(File.dirname(url), slug)`), so no trailing `/` and no `.html`. A `#` in the slug stays
        as written (Addressable reads it as a fragment, and so does every reader that compares ids)."""
        folder = posixpath.dirname(path.rstrip("/") or "/")
        return absolute(site_url, posixpath.join(folder, place.slug)).replace("%23", "#")

    def date_from_text(self, text: str, tz: tzinfo) -> tuple[datetime, str] | None:
        """Ruby's `Time.parse`, as Jekyll reads a `date:` its YAML left as text (jekylldates.py)."""
        reading = read_ruby_date(text, tz)
        return None if reading is None else (reading.when, reading.leftover)

    def language_of(self, relpath: str) -> Language | None:
        """A Jekyll site has one language."""
        return None

    def ranking(self, front: Mapping[Any, Any]) -> tuple[int, str]:
        return 0, ""

    def aliases_of(self, front: Mapping[Any, Any], path: str) -> tuple[str, ...]:
        return ()

    def terms_of(self, front: Mapping[Any, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Jekyll has tags and categories only."""
        return ()

    def own_feed_paths(self, scope: Scope) -> tuple[str, ...]:
        """Jekyll has no feeds of its own: jekyll-feed's paths are a compatibility style (site/compat.py)."""
        return ()

    def order_key(self, post: Post) -> tuple[Any, ...]:
        """Newest first; posts of the same date by path."""
        return -post.date.timestamp(), post.source


JEKYLL = Jekyll()


@lru_cache(maxsize=8)
def _configured(rules: str) -> Jekyll:
    loaded = json.loads(rules)
    markdown_ext = tuple(loaded["markdown_ext"].split(",")) if "markdown_ext" in loaded else MARKDOWN_EXT
    return Jekyll(markdown_ext, loaded.get("collections_dir", ""))
