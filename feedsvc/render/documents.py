"""What a feed document is made of, whatever its format: the document (`FeedDoc`) and the settings
each entry depends on (`EntryShape`). Shared by the format writers (xmlfeed.py, jsonfeed.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from feedsvc.config import Settings
from feedsvc.model import Author, FeedFormat, Language, Post

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def feed_language(settings: Settings, language: Language | None) -> str | None:
    """The language tag a feed declares: its language's own in a multilingual site, else the site's."""
    return language.code or None if language is not None else settings.lang


@dataclass(frozen=True, slots=True)
class FeedDoc:
    """One feed document: a scope's subscription feed, one of its archive pages, or a filtered feed.

    Everything the bytes depend on is here, so two equal docs render the same bytes.
    """

    path: str  # where it is served (unescaped)
    fmt: FeedFormat
    title: str
    self_url: str
    feed_id: str  # the logical feed: archive pages share their subscription feed's id
    entries: tuple[Post, ...]
    links: tuple[tuple[str, str], ...] = ()  # (rel, href) written into the document (RFC 5005)
    archive: bool = False  # RFC 5005 <fh:archive/>: these entries will not change
    next_url: str | None = None  # JSON Feed's paging link
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers
    # WebSub hubs, named only where the builder pings them: subscription feeds. A reader that subscribed
    # at a hub for an archive page or a filtered feed would wait for pushes that never come.
    hubs: tuple[str, ...] = ()
    language: Language | None = None  # the scope's language (None: the site's default one)

    @property
    def cache_key(self) -> tuple[object, ...]:
        return (self.path, self.title, self.self_url, self.feed_id, self.links, self.archive, self.next_url,
                self.headers, self.hubs, self.language, tuple(post.fingerprint for post in self.entries))


@dataclass(frozen=True, slots=True)
class EntryShape:
    """The settings an entry depends on besides its post; the entry cache is keyed by it, so an entry
    built under other settings is never reused (nothing else reaches the entry builders)."""

    excerpt_only: bool
    fallback: tuple[Author, ...]  # Atom requires an author on every entry: the site author, else the site itself

    @classmethod
    def of(cls, settings: Settings) -> EntryShape:
        return cls(settings.excerpt_only, (settings.author or Author(settings.title),))


def terms_of(post: Post) -> list[str]:
    return list(dict.fromkeys(post.categories + post.tags))

