"""Hugo sites: a Hugo config file, TOML (`+++`) front matter, `content/posts/` and Hugo's URL rules.

**How a folder is recognised as Hugo.** Without a `_config.yml` (which makes any folder Jekyll),
it has a Hugo config file at its root (`hugo.toml`, `hugo.yaml`, `hugo.yml`, `hugo.json`,
`config.toml`, `config.yaml`, `config.yml`, `config.json`) or a `config/_default/` folder (recognised,
but refused by name until it is read), or, without any generator's config file, a `content/posts/`
folder. In a Hugo site only `content/posts/` is read (`<slug>.md` or the
page bundle `<slug>/index.md`; `_index.md` list pages are not posts), so themes, archetypes and
other pages never become entries.

Settings come from the Hugo config: `baseURL` (its path is the baseurl), `title`,
`params.description` (or `description`), `languageCode`, `timeZone`, `params.author` (or
`author`), and `permalinks.posts`. A post's date is its front matter `date` (the file name
carries none), `lastmod` is its updated time, `draft = true` hides it, `summary` is its excerpt;
its URL is `url` when given, else the posts permalink (default `/posts/:slug/`), where `:slug` is
the `slug` front matter or else the file (or bundle folder) name, lower-cased as Hugo does.
Bodies are not Liquid, and Hugo shortcodes (`{{< … >}}`) are not expanded.
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from feedsvc.content.dialects.base import ConfigFileError, FileName, PostPlace
from feedsvc.content.front_matter import FrontMatterReader, split_toml, split_yaml
from feedsvc.urls import absolute

HUGO_CONFIG_FILES = ("hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json",
                     "config.toml", "config.yaml", "config.yml", "config.json")
CONFIG_FOLDER = "config/_default"  # Hugo's config directory: recognised, not read yet
POSTS_FOLDER = "content/posts"
DEFAULT_PERMALINK = "/posts/:slug/"

_POST_SUFFIXES = (".md", ".markdown")
_URLIZE = re.compile(r"[^\w.~/-]+")
_TOKEN = re.compile(r":([a-z]+)")


def parse_config(text: str, name: str) -> dict[str, Any]:
    """A Hugo config file -> the `_config.yml` keys feedsvc reads (raises ValueError for a broken file)."""
    if name.endswith(".toml"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{name}: invalid TOML: {exc}") from None
    elif name.endswith(".json"):
        data = json.loads(text) if text.strip() else {}
    else:
        data = yaml.safe_load(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError(f"{name}: expected a mapping of settings")
    lowered = {str(k).lower(): v for k, v in data.items()}
    params = {str(k).lower(): v for k, v in (lowered.get("params") or {}).items()} \
        if isinstance(lowered.get("params"), Mapping) else {}
    config: dict[str, Any] = {"permalink": DEFAULT_PERMALINK}
    base = str(lowered.get("baseurl") or "").strip()
    if base:
        parts = urlsplit(base)
        if parts.scheme and parts.netloc:
            config["url"] = f"{parts.scheme}://{parts.netloc}"
            config["baseurl"] = parts.path.rstrip("/")
    for key, value in (("title", lowered.get("title")),
                       ("description", params.get("description") or lowered.get("description")),
                       ("lang", lowered.get("languagecode")),
                       ("timezone", lowered.get("timezone")),
                       ("author", params.get("author") or lowered.get("author"))):
        if value and isinstance(value, (str, Mapping)):
            config[key] = value
    permalinks = lowered.get("permalinks")
    if isinstance(permalinks, Mapping):
        posts = {str(k).lower(): v for k, v in permalinks.items()}.get("posts")
        if isinstance(posts, str) and posts.strip():
            config["permalink"] = posts.strip()
    return config


def post_slug(relpath: str) -> str:
    """`content/posts/<slug>.md` or `content/posts/<slug>/index.md` -> `<slug>`."""
    folder, filename = posixpath.split(relpath)
    stem = posixpath.splitext(filename)[0]
    return posixpath.basename(folder) if stem == "index" and folder.count("/") >= 2 else stem


def urlize(text: str) -> str:
    """Hugo's path form: spaces and punctuation to hyphens, lower case."""
    return _URLIZE.sub("-", text.strip()).strip("-").lower()


def post_path(place: PostPlace, pattern: str) -> str:
    """The URL path Hugo gives a post: `url` front matter, else the posts permalink pattern."""
    url = place.front.get("url")
    if isinstance(url, str) and url.strip():
        path = url.strip()
        return path if path.startswith("/") else "/" + path
    when, slug, file_slug = place.date, place.slug, place.file_slug
    tokens = {
        "year": f"{when.year:04d}", "month": f"{when.month:02d}", "monthname": when.strftime("%B").lower(),
        "day": f"{when.day:02d}", "weekday": str(when.isoweekday() % 7), "weekdayname": when.strftime("%A").lower(),
        "yearday": str(when.timetuple().tm_yday), "section": "posts", "sections": "posts",
        "title": urlize(place.title), "slug": urlize(slug), "filename": urlize(file_slug),
        "contentbasename": urlize(file_slug), "slugorfilename": urlize(slug), "slugorcontentbasename": urlize(slug),
    }
    pattern = pattern if pattern.startswith("/") else "/" + pattern
    path = _TOKEN.sub(lambda m: tokens.get(m.group(1), m.group(0)), pattern)
    return re.sub(r"/{2,}", "/", path)


class Hugo:
    """The Hugo dialect (a module-level singleton, `HUGO`)."""

    __slots__ = ()
    name = "hugo"
    looked_for = f"a Hugo site has one of {', '.join(HUGO_CONFIG_FILES)}, a {CONFIG_FOLDER} folder or a " \
                 f"{POSTS_FOLDER} folder"
    default_permalink = DEFAULT_PERMALINK
    post_folders = (POSTS_FOLDER,)
    front_matter_readers: tuple[FrontMatterReader, ...] = (split_toml, split_yaml)
    updated_keys = ("last_modified_at", "updated", "lastmod")
    summary_keys = ("summary", "excerpt")
    renders_liquid = False

    def config_file(self, root: Path) -> Path | None:
        """A config file at the root, else Hugo's config folder (which `load_config` refuses, by name)."""
        for name in HUGO_CONFIG_FILES:
            if (root / name).is_file():
                return root / name
        folder = root / CONFIG_FOLDER
        return folder if folder.is_dir() else None

    def has_posts_folder(self, root: Path) -> bool:
        return (root / POSTS_FOLDER).is_dir()

    def load_config(self, root: Path) -> dict[str, Any]:
        path = self.config_file(root)
        if path is None:  # recognised by its content/posts folder alone: Hugo's defaults
            return {"permalink": DEFAULT_PERMALINK}
        if path.is_dir():
            raise ConfigFileError(f"{path}: a Hugo config folder, which feedsvc does not read yet; put the "
                                  f"settings in one config file at the site's root ({HUGO_CONFIG_FILES[0]})")
        try:
            return parse_config(path.read_text(encoding="utf-8-sig"), path.name)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise ConfigFileError(f"{path}: {exc}") from None

    def permalink_setting(self, config: Mapping[str, Any]) -> Any:
        return config.get("permalink")

    def permalink_pattern(self, permalink: str) -> str:
        return permalink if permalink.startswith("/") else "/" + permalink

    def with_defaults(self, front: dict[Any, Any], relpath: str, site_config: str) -> dict[Any, Any]:
        """Hugo's `cascade` is not read yet: the front matter as written."""
        return front

    def entry_id(self, place: PostPlace, path: str, site_url: str) -> str:
        """Hugo's feeds identify an entry by its link."""
        return absolute(site_url, path)

    def walks_folder(self, name: str) -> bool:
        """Hidden and `_` folders are skipped, as in every site feedsvc reads."""
        return not name.startswith((".", "_"))

    def is_post_file(self, name: str) -> bool:
        """Markdown, not hidden, and not an `_index.md` list page."""
        lowered = name.lower()
        return not name.startswith(".") and lowered.endswith(_POST_SUFFIXES) and not lowered.startswith("_index.")

    def requires_front_matter(self, relpath: str) -> bool:
        return False

    def file_name(self, relpath: str) -> FileName:
        """`<slug>.md` or `<slug>/index.md`; the date comes only from front matter."""
        return FileName(post_slug(relpath), None)

    def folder_categories(self, relpath: str) -> list[str]:
        return []

    def post_path(self, place: PostPlace, pattern: str) -> str:
        return post_path(place, pattern)


HUGO = Hugo()
