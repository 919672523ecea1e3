"""Hugo sites: TOML (`+++`) front matter, the `content/posts/` layout, and Hugo's URL rules.

**How a folder is recognised as Hugo.** A content folder without `_config.yml` that has a Hugo
config file at its root (`hugo.toml`, `hugo.yaml`, `hugo.yml`, `hugo.json`, `config.toml`,
`config.yaml`, `config.yml`, `config.json`) or a `content/posts/` folder. Any folder with a
`_config.yml` is a Jekyll site, exactly as before. In a Hugo site only `content/posts/` is read
(`<slug>.md` or the page bundle `<slug>/index.md`; `_index.md` list pages are not posts), so
themes, archetypes and other pages never become entries.

Settings come from the Hugo config: `baseURL` (its path is the baseurl), `title`,
`params.description` (or `description`), `languageCode`, `timeZone`, `params.author` (or
`author`), and `permalinks.posts`. A post's date is its front matter `date` (the file name
carries none), `lastmod` is its updated time, `draft = true` hides it, `summary` is its excerpt;
its URL is `url` when given, else the posts permalink (default `/posts/:slug/`), where `:slug` is
the `slug` front matter or else the file (or bundle folder) name, lower-cased as Hugo does.
Hugo shortcodes (`{{< … >}}`) are not expanded.

The file-system functions here (`is_hugo_site`, `hugo_config`) are used only at the edges
(scanning and config loading); the rest is pure.
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

HUGO_CONFIG_FILES = ("hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json",
                     "config.toml", "config.yaml", "config.yml", "config.json")
POSTS_FOLDER = "content/posts"
DEFAULT_PERMALINK = "/posts/:slug/"

_TOML_FRONT = re.compile(r"\A\+\+\+[ \t]*\n(.*?)^\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL | re.MULTILINE)
_TOML_LINE = re.compile(r"at line (\d+)")
_URLIZE = re.compile(r"[^\w.~/-]+")
_TOKEN = re.compile(r":([a-z]+)")


class FrontMatterError(ValueError):
    """TOML front matter that cannot be read; `line` is the file line where known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def is_hugo_site(root: Path) -> bool:
    """The rule in the module docstring; a few `stat`s, so it can run on every rescan."""
    if (root / "_config.yml").exists():
        return False
    return hugo_config_file(root) is not None or (root / POSTS_FOLDER).is_dir()


def hugo_config_file(root: Path) -> Path | None:
    for name in HUGO_CONFIG_FILES:
        if (root / name).is_file():
            return root / name
    return None


def hugo_config(text: str, name: str) -> dict[str, Any]:
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


def split_toml(text: str) -> tuple[dict[str, Any], str] | None:
    """`+++`-fenced TOML front matter -> (fields, body); None when the text has none."""
    if not text.startswith("+++"):
        return None
    match = _TOML_FRONT.match(text)
    if match is None:
        raise FrontMatterError("front matter opened on line 1 by +++ is never closed by a line of +++", 1)
    try:
        data = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_LINE.search(str(exc))
        line = int(where.group(1)) + 1 if where else None  # the opening +++ is line 1
        raise FrontMatterError(f"front matter is not valid TOML: {exc}", line) from None
    return data, text[match.end():]


def post_slug(relpath: str) -> str:
    """`content/posts/<slug>.md` or `content/posts/<slug>/index.md` -> `<slug>`."""
    folder, filename = posixpath.split(relpath)
    stem = posixpath.splitext(filename)[0]
    return posixpath.basename(folder) if stem == "index" and folder.count("/") >= 2 else stem


def urlize(text: str) -> str:
    """Hugo's path form: spaces and punctuation to hyphens, lower case."""
    return _URLIZE.sub("-", text.strip()).strip("-").lower()


def post_path(data: Mapping[Any, Any], slug: str, file_slug: str, title: str, when: datetime, pattern: str) -> str:
    """The URL path Hugo gives a post: `url` front matter, else the posts permalink pattern."""
    url = data.get("url")
    if isinstance(url, str) and url.strip():
        path = url.strip()
        return path if path.startswith("/") else "/" + path
    tokens = {
        "year": f"{when.year:04d}", "month": f"{when.month:02d}", "monthname": when.strftime("%B").lower(),
        "day": f"{when.day:02d}", "weekday": str(when.isoweekday() % 7), "weekdayname": when.strftime("%A").lower(),
        "yearday": str(when.timetuple().tm_yday), "section": "posts", "sections": "posts",
        "title": urlize(title), "slug": urlize(slug), "filename": urlize(file_slug),
        "contentbasename": urlize(file_slug), "slugorfilename": urlize(slug), "slugorcontentbasename": urlize(slug),
    }
    pattern = pattern if pattern.startswith("/") else "/" + pattern
    path = _TOKEN.sub(lambda m: tokens.get(m.group(1), m.group(0)), pattern)
    return re.sub(r"/{2,}", "/", path)
