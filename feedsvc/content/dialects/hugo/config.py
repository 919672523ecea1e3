"""Reading a Hugo site's config: one file at the root, or the config directory, as Hugo merges them.

Forms read: `hugo.toml|yaml|yml|json` (or `config.*`) at the root; `config/_default/` with its root file
(`hugo.*` or `config.*`) and one file per top-level key (`params.toml` holds `[params]`, `languages.toml`
holds `[languages]`, ...); then `config/production/` over it, the environment `hugo` builds for. Keys are
case-insensitive, as in Hugo. The merged config becomes the common mapping `config.build_settings`
validates, plus the `HugoRules` that decide which files are posts and what their links are.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from feedsvc.content.dialects.hugo.dates import date_sources
from feedsvc.content.dialects.hugo.languages import language_settings
from feedsvc.content.dialects.hugo.rules import DEFAULT_SUMMARY_LENGTH, HugoRules
from feedsvc.content.dialects.hugo.taxonomies import taxonomies_of
from feedsvc.content.fields import deep_merge

ROOT_NAMES = ("hugo", "config")
SUFFIXES = (".toml", ".yaml", ".yml", ".json")
CONFIG_FILES = tuple(name + suffix for name in ROOT_NAMES for suffix in SUFFIXES)
CONFIG_FOLDER = "config/_default"
ENVIRONMENT_FOLDER = "config/production"  # what `hugo` builds for unless told otherwise
DEFAULT_PERMALINK = "/posts/:slug/"
EVERY_POST = 1_000_000_000  # an rss limit of -1 (or 0): every post is in the feed
RULES_KEY = "hugo_rules"  # where `load` puts the rules in the common mapping
_PAGE_SUFFIXES = (".md", ".markdown", ".html", ".htm")


def read_file(path: Path) -> dict[str, Any]:
    """One config file as a mapping with lower-cased keys; raises ValueError naming what is wrong."""
    text = path.read_text(encoding="utf-8-sig")
    name = path.name
    if name.endswith(".toml"):
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{name}: invalid TOML: {exc}") from None
    elif name.endswith(".json"):
        data = json.loads(text) if text.strip() else {}
    else:
        data = yaml.safe_load(text) if text.strip() else {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{name}: expected a mapping of settings")
    return _lowered(data)


def _lowered(data: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key).lower(): _lowered(value) if isinstance(value, Mapping) else value for key, value in data.items()}


def _read_folder(folder: Path) -> dict[str, Any]:
    """A config directory: the root file's keys, and each other file's content under its own name."""
    config: dict[str, Any] = {}
    for path in sorted(folder.iterdir()):
        stem, suffix = os.path.splitext(path.name)
        if suffix not in SUFFIXES or not path.is_file() or "." in stem:  # `params.en.toml`: not read yet
            continue
        data = read_file(path)
        config = deep_merge(config, data if stem.lower() in ROOT_NAMES else {stem.lower(): data})
    return config


def read_config(root: Path) -> dict[str, Any] | None:
    """The merged config of the site at `root`, or None when it has no Hugo config at all."""
    found = False
    config: dict[str, Any] = {}
    for name in CONFIG_FILES:
        if (root / name).is_file():
            config, found = read_file(root / name), True
            break
    for folder in (CONFIG_FOLDER, ENVIRONMENT_FOLDER):
        if (root / folder).is_dir():
            config, found = deep_merge(config, _read_folder(root / folder)), True
    return config if found else None


def common_config(config: Mapping[str, Any], rules: HugoRules) -> dict[str, Any]:
    """The `_config.yml` keys feedsvc reads, from a merged Hugo config."""
    params = config.get("params") if isinstance(config.get("params"), Mapping) else {}
    assert isinstance(params, Mapping)
    common: dict[str, Any] = {"permalink": DEFAULT_PERMALINK, "excerpt_separator": "<!--more-->",
                              RULES_KEY: rules.to_json()}
    base = str(config.get("baseurl") or "").strip()
    if base:
        parts = urlsplit(base)
        if parts.scheme and parts.netloc:
            common["url"] = f"{parts.scheme}://{parts.netloc}"
            common["baseurl"] = parts.path.rstrip("/")
    language = _language(config, rules.default_language)
    for key, value in (("title", language.get("title") or config.get("title")),
                       ("description", params.get("description") or config.get("description")),
                       ("lang", language.get("languagecode") or config.get("languagecode")),
                       ("timezone", config.get("timezone")),
                       ("author", params.get("author") or config.get("author"))):
        if value and isinstance(value, (str, Mapping)):
            common[key] = value
    if isinstance(config.get("markup"), Mapping):  # [markup.goldmark]: how Markdown is rendered
        common["markup"] = config["markup"]
    limit = _rss_limit(config)
    if limit is not None:
        common["feed"] = {"posts_limit": limit}
    return common


def _language(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    languages = config.get("languages")
    found = languages.get(name) if isinstance(languages, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _rss_limit(config: Mapping[str, Any]) -> Any:
    services = config.get("services")
    rss = services.get("rss") if isinstance(services, Mapping) else None
    limit = rss.get("limit") if isinstance(rss, Mapping) and "limit" in rss else config.get("rsslimit")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit < 1:
        return EVERY_POST
    return limit


def rules_of(config: Mapping[str, Any], root: Path) -> HugoRules:
    """The HugoRules of a merged config; `mainSections` unset means the section with the most pages."""
    params = config.get("params") if isinstance(config.get("params"), Mapping) else {}
    assert isinstance(params, Mapping)
    default_language = str(config.get("defaultcontentlanguage") or "en").lower()
    others, tags, dirs = language_settings(config, default_language)
    content_dir = dict(dirs).get(default_language) or str(config.get("contentdir") or "content").strip("/") \
        or "content"
    main = params.get("mainsections", config.get("mainsections"))
    if isinstance(main, str):
        main = [main]
    sections = tuple(str(s) for s in main) if isinstance(main, list) else _biggest_section(root / content_dir)
    permalinks = config.get("permalinks")
    patterns = tuple(sorted((str(k), v) for k, v in permalinks.items() if isinstance(v, str) and v.strip())) \
        if isinstance(permalinks, Mapping) else ()
    length = config.get("summarylength")
    return HugoRules(
        content_dir=content_dir,
        main_sections=sections,
        permalinks=patterns,
        nested_sections=tuple(sorted({section for folder in (content_dir, *(d for _, d in dirs))
                                      for section in _nested_sections(root / folder)})),
        ugly_urls=config.get("uglyurls") is True,
        summary_length=length if isinstance(length, int) and not isinstance(length, bool) and length >= 0
        else DEFAULT_SUMMARY_LENGTH,
        default_language=default_language,
        other_languages=others,
        language_tags=tags,
        language_dirs=dirs,
        default_in_subdir=config.get("defaultcontentlanguageinsubdir") is True,
        params=tuple(sorted(_plain_params(params))),
        date_sources=date_sources(config.get("frontmatter")),
        taxonomies=taxonomies_of(config),
        time_zone=str(config.get("timezone") or ""),
    )


def _plain_params(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """The site's params the `param` shortcode can print: plain values, by dotted key in lower case."""
    for key, value in params.items():
        name = f"{prefix}{str(key).lower()}"
        if isinstance(value, Mapping):
            yield from _plain_params(value, name + ".")
        elif isinstance(value, bool):
            yield name, str(value).lower()
        elif isinstance(value, (str, int, float)):
            yield name, str(value)


def _biggest_section(content: Path) -> tuple[str, ...]:
    """Hugo's default main section: the top-level section with the most pages (none when there is none)."""
    counts: dict[str, int] = {}
    try:
        sections = sorted((entry for entry in os.scandir(content) if entry.is_dir() and not entry.name.startswith(".")),
                          key=lambda entry: entry.name)
    except OSError:
        return ()
    for section in sections:
        count = 0
        for _folder, _dirs, files in os.walk(section.path):
            count += sum(1 for f in files if f.lower().endswith(_PAGE_SUFFIXES) and not f.startswith("_index."))
        counts[section.name] = count
    best = max(counts.values(), default=0)
    return tuple(name for name, count in counts.items() if count == best)[:1] if best else ()


def _nested_sections(content: Path) -> tuple[str, ...]:
    """Folders below the top level with an `_index` page: Hugo's nested sections (`:sections` lists them)."""
    found: list[str] = []
    for folder, dirs, files in os.walk(content):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        relative = Path(folder).relative_to(content).as_posix()
        if "/" in relative and any(f.startswith("_index.") for f in files):
            found.append(relative)
    return tuple(found)
