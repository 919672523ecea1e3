"""Hugo sites: Hugo's config (file or config directory), its content folder and main sections, its links.

**How a folder is recognised as Hugo.** Without a `_config.yml` (which makes any folder Jekyll), it has a
Hugo config file at its root (`hugo.toml|yaml|yml|json`, `config.*`) or a `config/_default/` folder, or,
without any generator's config file, a `content/posts/` folder.

**Which files are posts.** The pages (`.md`, `.markdown`, `.html`) of the site's main sections: the
`mainSections` param, else the top-level section of the content folder (`contentDir`) with the most pages,
nested sections included; `_index.*` list pages are not posts, nor headless bundles, drafts, pages whose
`_build` options keep them out of lists, pages whose `publishDate` is to come or whose `expiryDate` is past
(each date from where the `[frontmatter]` settings find it: dates.py). Tags and categories are the
`[taxonomies]` the site names so (taxonomies.py). Pages in other configured languages (`index.fr.md`,
or in a language's own `contentDir`) are posts of that language, with feeds of their own (languages.py).
A page's link is its `url`, else its section's `[permalinks]` pattern, else its path (urls.py); a post
without `summary` or `<!--more-->` gets Hugo's automatic summary (summary.py). Feeds keep Hugo's order
(order.py): weight, then newest first, then link title.
Bodies are not Liquid; shortcodes are expanded before Markdown (shortcodes.py): Hugo's built-in ones as HTML
a reader can use (builtins.py), a site's own ones to their inner content, with a warning.
Markdown is Goldmark's as Hugo configures it (content/goldmark.py): typographer and heading ids, per the
site's `[markup.goldmark]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from feedsvc.content.dialects.base import ConfigFileError, Expansion, FileName, PostPlace
from feedsvc.content.dialects.hugo.aliases import alias_paths
from feedsvc.content.dialects.hugo.builtins import renderer
from feedsvc.content.dialects.hugo.config import (
    CONFIG_FILES,
    CONFIG_FOLDER,
    DEFAULT_PERMALINK,
    RULES_KEY,
    common_config,
    read_config,
    rules_of,
)
from feedsvc.content.dialects.hugo.dates import (
    DATE,
    EXPIRY_DATE,
    LASTMOD,
    OUTPUT_KEYS,
    PUBLISH_DATE,
    resolve_dates,
    zero_date,
)
from feedsvc.content.dialects.hugo.feeds import own_feed_paths
from feedsvc.content.dialects.hugo.languages import language_value, locate, url_prefix
from feedsvc.content.dialects.hugo.order import order_key, ranking
from feedsvc.content.dialects.hugo.rules import HugoRules
from feedsvc.content.dialects.hugo.shortcodes import expand, has_shortcodes
from feedsvc.content.dialects.hugo.summary import auto_summary
from feedsvc.content.dialects.hugo.taxonomies import custom_terms, with_taxonomies
from feedsvc.content.dialects.hugo.urls import base_name, page_path, sections, urlize
from feedsvc.content.front_matter import FrontMatterReader, split_toml, split_yaml
from feedsvc.content.goldmark import goldmark_options
from feedsvc.content.markup import MarkdownFlavour
from feedsvc.model import Language, Post, Problem, Scope
from feedsvc.urls import absolute

__all__ = ["HUGO", "Hugo", "HugoRules", "urlize"]

POSTS_FOLDER = "content/posts"
_PAGE_SUFFIXES = (".md", ".markdown", ".html", ".htm")


class Hugo:
    """The Hugo dialect: `HUGO` with Hugo's defaults, `HUGO.configured(...)` with one site's rules."""

    __slots__ = ("rules", "zero_date")
    name = "hugo"
    looked_for = f"a Hugo site has one of {', '.join(CONFIG_FILES)}, a {CONFIG_FOLDER} folder or a " \
                 f"{POSTS_FOLDER} folder"
    default_permalink = DEFAULT_PERMALINK
    front_matter_readers: tuple[FrontMatterReader, ...] = (split_toml, split_yaml)
    # each date as the site's [frontmatter] settings find it, by `with_defaults` (dates.py)
    updated_keys = (OUTPUT_KEYS[LASTMOD],)
    summary_keys = ("summary",)
    publish_keys = (OUTPUT_KEYS[PUBLISH_DATE],)
    expiry_keys = (OUTPUT_KEYS[EXPIRY_DATE],)
    renders_liquid = False

    def __init__(self, rules: HugoRules | None = None) -> None:
        self.rules = rules or HugoRules()
        self.zero_date = zero_date(self.rules.time_zone)

    def configured(self, rules: str) -> Hugo:
        """This dialect with one site's rules (`Settings.dialect_rules`)."""
        return _configured(rules) if rules else HUGO

    def site_rules(self, config: Mapping[str, Any]) -> str:
        return str(config.get(RULES_KEY) or "")

    # -- the folder (edges only) --

    def config_file(self, root: Path) -> Path | None:
        """A config file at the root, else Hugo's config folder."""
        for name in CONFIG_FILES:
            if (root / name).is_file():
                return root / name
        folder = root / CONFIG_FOLDER
        return folder if folder.is_dir() else None

    def has_posts_folder(self, root: Path) -> bool:
        return (root / POSTS_FOLDER).is_dir()

    def load_config(self, root: Path) -> dict[str, Any]:
        try:
            config = read_config(root) or {}
            return common_config(config, rules_of(config, root))
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise ConfigFileError(f"{self.config_file(root) or root}: {exc}") from None

    # -- settings --

    def markdown_flavour(self, config: Mapping[str, Any], errors: list[str]) -> MarkdownFlavour:
        """Goldmark as Hugo configures it, with the site's `[markup.goldmark]` settings."""
        return goldmark_options(config.get("markup"), errors)

    def permalink_setting(self, config: Mapping[str, Any]) -> Any:
        return config.get("permalink")

    def permalink_pattern(self, permalink: str) -> str:
        return permalink if permalink.startswith("/") else "/" + permalink

    def with_defaults(self, front: dict[Any, Any], relpath: str, site_config: str) -> dict[Any, Any]:
        """Each date from where the site's `[frontmatter]` settings find it (dates.py), and the slug a dated file
        name gives; tags and categories as the site's `[taxonomies]` name them (taxonomies.py); Hugo's
        `cascade` is not read yet."""
        dated = resolve_dates(front, base_name(locate(relpath, self.rules)[1], self.rules.languages),
                              self.rules.date_sources, self.zero_date)
        return with_taxonomies(dated, self.rules.taxonomies)

    def entry_id(self, place: PostPlace, path: str, site_url: str) -> str:
        """Hugo's feeds identify an entry by its link."""
        return absolute(site_url, path)

    # -- which files are posts --

    @property
    def post_folders(self) -> tuple[str, ...]:
        return tuple(f"{content}/{section}" for content in self.rules.content_dirs
                     for section in self.rules.main_sections)

    def walks_folder(self, name: str) -> bool:
        """Hidden and `_` folders are skipped, as in every site feedsvc reads."""
        return not name.startswith((".", "_"))

    def is_post_file(self, relpath: str) -> bool:
        """A page (Markdown or HTML), not hidden, not an `_index` list page; in any configured language."""
        name = relpath.rsplit("/", 1)[-1]
        lowered = name.lower()
        return not (name.startswith(".") or not lowered.endswith(_PAGE_SUFFIXES) or lowered.startswith("_index."))

    # -- one post --

    def always_a_post(self, relpath: str) -> bool:
        return False

    def file_name(self, relpath: str) -> FileName:
        """The file's base name (a bundle's folder name); the date comes only from front matter."""
        return FileName(base_name(locate(relpath, self.rules)[1], self.rules.languages), None)

    def folder_categories(self, relpath: str) -> list[str]:
        return []

    def listed(self, front: Mapping[Any, Any]) -> bool:
        """A headless bundle is never a page of its own; a page whose `_build` options say `list: never` (or
        false) is in no page collection, so in no feed, and `list: local` only in its section's, so not in the
        home feed, which is feedsvc's site feed (Hugo 0.111 reads `_build`, not the later `build`)."""
        if front.get("headless") is True:
            return False
        options = next((value for key, value in front.items() if str(key).lower() == "_build"), None)
        if not isinstance(options, Mapping):
            return True
        listing = next((value for key, value in options.items() if str(key).lower() == "list"), True)
        return not (listing is False or str(listing).lower() in ("never", "false", "local"))

    def auto_summary(self, content_html: str) -> str | None:
        return auto_summary(content_html, self.rules.summary_length)

    def expand_body(self, body: str, relpath: str, first_line: int, front: Mapping[Any, Any]) -> Expansion:
        """Shortcodes expanded (shortcodes.py, builtins.py): none reaches a reader as written."""
        undated = (Problem(relpath, "no date: Hugo dates it 0001-01-01, so it comes last in the feeds; give `date` "
                           "in the front matter (or see [frontmatter] in the config)", "warning"),) \
            if front.get(OUTPUT_KEYS[DATE]) is self.zero_date else ()
        if not has_shortcodes(body):
            return Expansion(body, undated)
        expansion = expand(body, relpath, first_line,
                           renderer(relpath, front, dict(self.rules.params), self.rules.content_dir))
        return Expansion(expansion.text, undated + expansion.problems, expansion.references)

    def post_path(self, place: PostPlace, pattern: str) -> str:
        """`url` front matter, else the section's [permalinks] pattern, else the path; `pattern` is not used
        (Hugo's patterns are per section, in the rules)."""
        url = place.front.get("url")
        front_slug = place.front.get("slug")
        language, path = locate(place.source, self.rules)
        return page_path(path, url.strip() if isinstance(url, str) else "",
                         str(front_slug).strip() if isinstance(front_slug, (str, int, float)) else "",
                         place.title, place.date, self.rules, url_prefix(language, self.rules))

    def renders_markdown(self, relpath: str) -> bool:
        """Every page goes through the Markdown renderer, as before the seam asked."""
        return True

    def date_from_text(self, text: str, tz: tzinfo) -> tuple[datetime, str] | None:
        """Hugo's date layouts are the shared reading's."""
        return None

    def language_of(self, relpath: str) -> Language | None:
        """By file name (`index.fr.md`), else by the language's own content folder; None: the default one."""
        return language_value(locate(relpath, self.rules)[0], self.rules)

    def ranking(self, front: Mapping[Any, Any]) -> tuple[int, str]:
        return ranking(front)

    def aliases_of(self, front: Mapping[Any, Any], path: str) -> tuple[str, ...]:
        """`aliases`: absolute ones as written, relative ones beside the page's own link (aliases.py)."""
        return alias_paths(front.get("aliases"), path)

    def terms_of(self, front: Mapping[Any, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Each custom taxonomy's terms (`series = "series"`: `series:`), a string as one term (taxonomies.py)."""
        return custom_terms(front, self.rules.taxonomies)

    def own_feed_paths(self, scope: Scope) -> tuple[str, ...]:
        """`/index.xml`, `/<section>/index.xml`, `/tags/<term>/index.xml`, each under its language (feeds.py)."""
        return own_feed_paths(scope, self.rules)

    def order_key(self, post: Post) -> tuple[Any, ...]:
        """Hugo's own order (order.py): weight, newest first, link title, path."""
        return order_key(post)

    def sections_of(self, relpath: str) -> list[str]:
        return sections(locate(relpath, self.rules)[1], self.rules.nested_sections)


@lru_cache(maxsize=8)  # one site per process, give or take a config edit
def _configured(rules: str) -> Hugo:
    return Hugo(HugoRules.from_json(rules))


HUGO = Hugo()
