"""The values that flow through feedsvc: file -> Post -> Site -> Resource (-> snapshot.py's Served).

Everything here is frozen so a published snapshot can be read by any number of
request threads while a rebuild prepares the next one.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol


class FeedFormat(enum.Enum):
    """A feed syntax, with the file name it is served under and its media type."""

    RSS = ("rss.xml", "application/rss+xml; charset=utf-8")
    ATOM = ("atom.xml", "application/atom+xml; charset=utf-8")
    JSON = ("feed.json", "application/feed+json; charset=utf-8")

    def __init__(self, filename: str, content_type: str) -> None:
        self.filename = filename
        self.content_type = content_type

    @property
    def label(self) -> str:
        return {"RSS": "RSS", "ATOM": "Atom", "JSON": "JSON Feed"}[self.name]


class ScopeKind(enum.Enum):
    """What a feed covers; the value is the URL segment that holds its feeds."""

    SITE = ""
    CATEGORY = "categories"
    TAG = "tags"
    AUTHOR = "authors"
    TERM = "terms"  # a term of a generator's own taxonomy (Hugo's `series`): its feeds are under the taxonomy's name


@dataclass(frozen=True, slots=True)
class Language:
    """A site language besides the default one (a multilingual Hugo site's `fr`): its posts have feeds of
    their own under `/<prefix>/`, which say the language and carry the site's title in it."""

    prefix: str  # the URL segment its feeds live under
    code: str = ""  # what its feeds give as their language (RSS <language>, Atom xml:lang); "" for none
    title: str = ""  # the site's title in this language; "" for the site's own


@dataclass(frozen=True, slots=True)
class Scope:
    """One feed family: the whole site, or one category, tag, author or term of another taxonomy; in the
    default language (None) or in one other language of a multilingual site."""

    kind: ScopeKind
    slug: str = ""
    label: str = ""
    language: Language | None = None
    taxonomy: str = ""  # a TERM's taxonomy, by its plural: the URL segment its feeds live under


SITE_SCOPE = Scope(ScopeKind.SITE)


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    mime_type: str
    alt: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one input file; `error` means the file is not served as is."""

    path: str
    message: str
    severity: str = "error"
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}: {prefix}{self.message}"


class BodyMarkup(Protocol):
    """How a body kept as its source becomes HTML (content/bodies.py): most posts' bodies appear in no
    subscription feed, so a build renders a body only when an entry first shows it."""

    def html(self, source: str, base_url: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Post:
    """One parsed post, with everything a feed needs already normalised."""

    source: str  # path relative to the content folder, with forward slashes
    fingerprint: str  # hash of the file bytes and the settings that shaped this value
    slug: str
    title: str
    date: datetime  # aware
    updated: datetime  # aware
    url: str  # absolute entry link; also the entry's id
    authors: tuple[Author, ...]
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    summary_html: str
    summary_text: str
    # The body's HTML, zlib-compressed: post bodies were most of a builder's memory (10,000 posts:
    # 42 MB as text, 20 MB so), and each is read only when an entry is rendered. `content_html` reads it.
    content_zlib: bytes
    image: Image | None = None
    published: bool = True  # False for drafts and `published: false`
    warnings: tuple[Problem, ...] = ()
    # Other posts this one links to ({% post_url %}, {% link _posts/… %}): (key, line); resolved
    # at index time, where every post is known (references.resolve_references).
    references: tuple[tuple[str, int], ...] = ()
    liquid: bool = False  # its body went through Liquid, so it depends on all of _config.yml
    # Its Liquid read `site.posts` (or categories, tags, related_posts): the digest of the list it saw
    # (content/siteposts.py), so the refresher parses it again when the list changes. "" when it read none.
    listing: str = ""
    # The files its Liquid `include_relative`d, each with the digest of the text it saw ("" for a file it
    # asked for and could not read): the refresher reads the post again when one changes (includes.py).
    relatives: tuple[tuple[str, str], ...] = ()
    # When it is published, if not at `date` (Hugo's publishDate), and when it stops being (expiryDate).
    publish_at: datetime | None = None
    expire_at: datetime | None = None
    # The Atom entry id, where the generator's own feeds used another than the link (jekyll-feed: the
    # post's folder + slug): subscribers see no entry as new when a site switches to feedsvc.
    entry_id: str = ""
    language: Language | None = None  # None: the site's default language
    # What else a generator orders its lists by (the dialect's `order_key`): Hugo's `weight` (0: none)
    # and `linkTitle` ("" for none: the title).
    weight: int = 0
    link_title: str = ""
    # Old paths (unescaped) that answer `301` to the post: Hugo's `aliases`, each in the forms a web
    # server answered its redirect page at (`/old/`, `/old`, `/old/index.html`).
    aliases: tuple[str, ...] = ()
    # Its terms in each of the site's other taxonomies (Hugo's `series = "series"`): (plural, terms), each
    # with feeds of its own; tags and categories are not repeated here.
    taxonomies: tuple[tuple[str, tuple[str, ...]], ...] = ()
    lang: str = ""  # the post's own language tag (front matter `lang:`), shown on its entry; "" for the feed's
    # None: `content_zlib` holds the body's HTML. Else it holds the body's source (Markdown after Liquid and
    # shortcodes), which this renders when the HTML is asked for: the same bytes, made only when shown.
    body_markup: BodyMarkup | None = None

    @property
    def content_html(self) -> str:
        text = zlib.decompress(self.content_zlib).decode("utf-8", "surrogatepass")
        return text if self.body_markup is None else self.body_markup.html(text, self.url)

    def with_content(self, content_html: str) -> Post:
        return replace(self, content_zlib=pack_html(content_html), body_markup=None)


BODY_LEVEL = 1  # zlib level of bodies held by a serving process: 2.1x smaller, ~60 µs a post
UNSERVED_BODY_LEVEL = 0  # a build or check that exits when done: stored, no compression work


def pack_html(html: str, level: int = BODY_LEVEL) -> bytes:
    """How `Post.content_zlib` holds a body."""
    return zlib.compress(html.encode("utf-8", "surrogatepass"), level)


@dataclass(frozen=True, slots=True)
class Site:
    """Everything visible at one moment: the posts and which feeds show which posts."""

    posts: tuple[Post, ...]  # visible, newest first
    scopes: Mapping[Scope, tuple[Post, ...]]  # every scope, feed entries newest first
    problems: tuple[Problem, ...]
    next_publish_at: datetime | None  # when the next future post becomes visible, or an expiring one goes
    hidden: frozenset[str] = frozenset()  # sources of drafts and future posts (their warnings wait)
    own_problems: tuple[Problem, ...] = ()  # what indexing itself found: duplicate links, dangling references


@dataclass(frozen=True, slots=True)
class Resource:
    """Bytes ready to serve, with their validators.

    Held gzip-compressed only: that is what nearly every feed reader asks for, and a seventh of
    the memory (10,000 posts: 25 MB instead of 195 MB). The rare reader that does not accept gzip
    gets `body`, inflated on demand in well under a millisecond. A process serving what the state
    folder published keeps not even those: `gzip` is then the blob they are read (and checked) from
    when sent, so the page cache holds them once for every worker (deploy/blobs.py).
    """

    path: str  # URL path, e.g. "/tags/python/rss.xml"
    content_type: str
    gzip: bytes | StoredGzip
    size: int  # len(body)
    etag: str  # of `body`
    last_modified: datetime | None
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers, e.g. WebSub `Link` discovery

    @property
    def gzip_body(self) -> bytes:
        """The gzip bytes; OSError if they are stored and can no longer be read as they were checked."""
        gzip = self.gzip
        return gzip if isinstance(gzip, bytes) else gzip.read()

    @property
    def gzip_size(self) -> int:
        gzip = self.gzip
        return len(gzip) if isinstance(gzip, bytes) else gzip.length

    @property
    def body(self) -> bytes:
        return zlib.decompress(self.gzip_body, wbits=31)

    @property
    def gzip_etag(self) -> str:
        return self.etag + "-gz"


class StoredGzip(Protocol):
    """Gzip bytes kept outside the process, read when a request needs them."""

    @property
    def length(self) -> int: ...

    def read(self) -> bytes:
        """The very bytes that were checked, or OSError."""
        ...


@dataclass(frozen=True, slots=True)
class ScanStatus:
    """How the last refresh went; shown by /status and `check`."""

    at: datetime | None = None
    seconds: float = 0.0
    trigger: str = ""
    error: str | None = None  # the folder as a whole could not be scanned; last good feeds stay up

