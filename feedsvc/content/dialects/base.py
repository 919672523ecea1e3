"""What one static-site generator's rules look like to the rest of feedsvc: the `Dialect` protocol.

Everything that differs between Jekyll and Hugo (and any later generator) is asked of the site's
dialect, so no other module asks which generator it is. The members that look at the folder
(`config_file`, `has_posts_folder`, `load_config`) are for the edges only (detection, config
loading); the rest take values and return values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from feedsvc.content.front_matter import FrontMatterReader
from feedsvc.content.markup import MarkdownFlavour
from feedsvc.model import Language, Post, Problem, Scope


class SiteKindError(ValueError):
    """Which generator a folder belongs to cannot be told; the message names what was looked for."""


class ConfigFileError(ValueError):
    """A generator's config file that cannot be read; the message names the file (and line, where known)."""


class FileName(NamedTuple):
    """What a post's file name says: its slug, and its date when the name carries one."""

    slug: str
    date: date | None


@dataclass(frozen=True, slots=True)
class PostPlace:
    """What a post's URL is made from, once its front matter and file name are read."""

    front: Mapping[Any, Any]
    slug: str  # front matter `slug`, else the file name's
    file_slug: str  # the file name's
    title: str
    date: datetime  # in the site's zone
    categories: tuple[str, ...]
    source: str = ""  # the file's path in the site folder


@dataclass(frozen=True, slots=True)
class Expansion:
    """A body with the generator's own markup expanded: the Markdown, warnings, and the posts it links to."""

    text: str
    problems: tuple[Problem, ...] = ()
    references: tuple[tuple[str, int], ...] = ()  # (reference key, line in the file)


class Dialect(Protocol):
    """One generator's rules: how its folder is recognised and configured, which files are posts, and
    how a post's front matter, file name and permalink become its fields."""

    @property
    def name(self) -> str:
        """The key `Settings.dialect` holds (`dialects.dialect_named` turns it back into the dialect)."""

    @property
    def looked_for(self) -> str:
        """What recognises such a folder, in words, for the error that names what was looked for."""

    def configured(self, rules: str) -> Dialect:
        """This dialect with one site's own rules (`Settings.dialect_rules`, as `site_rules` gave them)."""

    def site_rules(self, config: Mapping[str, Any]) -> str:
        """The site's own rules, from the mapping `load_config` returned, as text ("" for none)."""

    # -- the folder (edges only) --

    def config_file(self, root: Path) -> Path | None:
        """The config file of this generator in `root`, if there is one."""

    def has_posts_folder(self, root: Path) -> bool:
        """Whether `root` has the folder this generator keeps posts in (a hint, weaker than a config file)."""

    def load_config(self, root: Path) -> dict[str, Any]:
        """The site's config as the common mapping `config.build_settings` validates; raises ConfigFileError."""

    # -- settings --

    @property
    def default_permalink(self) -> str:
        """The permalink (a style name or a pattern) of a site that sets none."""

    def permalink_setting(self, config: Mapping[str, Any]) -> Any:
        """The permalink the config sets for posts, as written (None when it sets none)."""

    def permalink_pattern(self, permalink: str) -> str:
        """A configured permalink (a style name or a pattern) as the pattern `post_path` fills."""

    # -- which files are posts --

    @property
    def post_folders(self) -> tuple[str, ...]:
        """The folders, relative to the root ("" for the root itself), walked for posts."""

    def walks_folder(self, name: str) -> bool:
        """Whether a folder with this name, inside a posts folder, is walked."""

    def is_post_file(self, relpath: str) -> bool:
        """Whether the file at `relpath` (in the site folder), inside a walked folder, is read as a post."""

    def renders_markdown(self, relpath: str) -> bool:
        """Whether the post at `relpath` is Markdown (else its body is HTML, taken as written)."""

    # -- one post --

    @property
    def front_matter_readers(self) -> tuple[FrontMatterReader, ...]:
        """The front matter formats a post may open with, tried in order."""

    def always_a_post(self, relpath: str) -> bool:
        """Whether the file is a post even without front matter (Jekyll's `_posts`); elsewhere it is not one."""

    def with_defaults(self, front: dict[Any, Any], relpath: str, site_config: str) -> dict[Any, Any]:
        """The post's front matter with the defaults the site's config (`site_config`, JSON) gives it."""

    def file_name(self, relpath: str) -> FileName:
        """The slug and date a post's path gives it; raises fields.PostError for a name that cannot be."""

    def folder_categories(self, relpath: str) -> list[str]:
        """The categories a post's folders give it."""

    @property
    def updated_keys(self) -> tuple[str, ...]:
        """Front matter keys for when a post was last updated; the first one given wins."""

    @property
    def summary_keys(self) -> tuple[str, ...]:
        """Front matter keys for a post's summary; the first one present wins."""

    @property
    def publish_keys(self) -> tuple[str, ...]:
        """Front matter keys for when a post is published, if not at its date; the first one given wins."""

    @property
    def expiry_keys(self) -> tuple[str, ...]:
        """Front matter keys for when a post stops being published; the first one given wins."""

    def listed(self, front: Mapping[Any, Any]) -> bool:
        """Whether front matter that is not a draft's still keeps the post out of the feeds (False)."""

    def auto_summary(self, content_html: str) -> str | None:
        """The summary of a post without a summary field or excerpt separator; None: the part before the
        separator (the whole post when there is none)."""

    def markdown_flavour(self, config: Mapping[str, Any], errors: list[str]) -> MarkdownFlavour:
        """How Markdown is rendered (the generator's renderer with the site's settings, from the mapping
        `load_config` returned; a bad setting is named in `errors`); None: plain GFM."""
        ...

    @property
    def renders_liquid(self) -> bool:
        """Whether post bodies are Liquid templates, rendered before Markdown."""

    def expand_body(self, body: str, relpath: str, first_line: int, front: Mapping[Any, Any]) -> Expansion:
        """The body with the generator's own markup that is not Markdown (Hugo's shortcodes) expanded, the
        warnings that gives, and the posts it links to (reference keys, content/references.py)."""

    def post_path(self, place: PostPlace, pattern: str) -> str:
        """The post's URL path (unescaped), from its front matter and the site's permalink pattern."""

    def entry_id(self, place: PostPlace, path: str, site_url: str) -> str:
        """The Atom entry id the generator's own feeds give the post whose URL path is `path`."""

    def language_of(self, relpath: str) -> Language | None:
        """The language of the post at `relpath` in a multilingual site; None for the default language."""

    def date_from_text(self, text: str, tz: tzinfo) -> tuple[datetime, str] | None:
        """A front matter date written as text, as the generator reads it (`tz`: the site's zone), with the
        text it ignored ("" for none); None leaves it to feedsvc's shared reading (ISO 8601 and near)."""

    def ranking(self, front: Mapping[Any, Any]) -> tuple[int, str]:
        """(weight, link title) the front matter gives a post for `order_key` ((0, "") for none)."""

    def aliases_of(self, front: Mapping[Any, Any], path: str) -> tuple[str, ...]:
        """Old paths (unescaped) that answer `301` to the post whose URL path is `path` (Hugo's `aliases`)."""

    def terms_of(self, front: Mapping[Any, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The post's terms in the site's taxonomies besides tags and categories, as `Post.taxonomies` holds them."""

    def own_feed_paths(self, scope: Scope) -> tuple[str, ...]:
        """Where the generator itself publishes the RSS feed of `scope` (unescaped paths): feedsvc answers
        there too, so subscribers of a site that moves to feedsvc keep their feeds (site/compat.py)."""

    def order_key(self, post: Post) -> tuple[Any, ...]:
        """The key the generator's own feeds sort posts by, ascending: the site's feed order, and its
        tie-breaks between posts of the same date."""
