"""A `Site` scope -> feed bytes in RSS 2.0, Atom 1.0 or JSON Feed 1.1: which documents there are
(subscription feeds and RFC 5005 archive pages), their bytes (xmlfeed.py, jsonfeed.py) and validators.

Output depends on the posts and settings only (never the clock), so the same content
gives the same bytes and ETag on every worker, machine and restart. Each entry's bytes are
made once per (post, format, EntryShape) and reused by every document that shows the entry
(entrycache.py): the caller passes its cache in. Without one (None), whole documents are built,
and the bytes are the same.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable
from datetime import datetime
from types import MappingProxyType

from feedsvc.config import Settings
from feedsvc.model import FeedFormat, Resource, Scope, ScopeKind, Site
from feedsvc.render.documents import FeedDoc
from feedsvc.render.entrycache import EntryCache
from feedsvc.render.jsonfeed import render_json
from feedsvc.render.xmlfeed import render_xml
from feedsvc.site.archives import archive_count, archive_links, archive_path, archive_range, subscription_links
from feedsvc.urls import absolute, feed_path

GZIP_LEVEL = 5  # measured on 10k-post feeds: 2.5x the speed of level 6 for 7% more bytes
# Where the gzip bytes are never served (`feedsvc build` writes plain files, `check` writes nothing):
# 2.8x the speed of level 5; gzip was over half of a cold build's rendering time.
UNSERVED_GZIP_LEVEL = 1
_KIND_LABEL = MappingProxyType({ScopeKind.CATEGORY: "category", ScopeKind.TAG: "tag"})

ResourceParts = tuple[str, str, bytes, datetime | None, tuple[tuple[str, str], ...]]
"""`as_resource`'s positional arguments: what a render job hands to hashing and gzip (which may run elsewhere)."""


def etag_of(body: bytes) -> str:
    """A strong ETag of our own for these bytes: equal ETags, equal bytes."""
    return hashlib.sha256(body).hexdigest()[:32]


def as_resource(path: str, content_type: str, body: bytes, last_modified: datetime | None,
                headers: tuple[tuple[str, str], ...] = (), gzip_level: int = GZIP_LEVEL) -> Resource:
    """Bytes plus what HTTP caching needs: a strong ETag of our own and a gzip variant."""
    etag = etag_of(body)
    return Resource(
        path=path,
        content_type=content_type,
        gzip=gzip.compress(body, compresslevel=gzip_level, mtime=0),
        size=len(body),
        etag=etag,
        last_modified=last_modified,
        headers=headers,
    )


def feed_url(settings: Settings, scope: Scope, fmt: FeedFormat) -> str:
    return absolute(settings.public_url, feed_path(scope, fmt))


def link_header(links: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(rel, href) pairs as one RFC 8288 `Link` response header, or none."""
    values = [f'<{href}>; rel="{rel}"' for rel, href in links]
    return (("Link", ", ".join(values)),) if values else ()


def websub_links(settings: Settings, self_url: str) -> list[tuple[str, str]]:
    """WebSub discovery by HTTP header: a hub only relays topics whose responses name it and themselves."""
    if not settings.websub_hubs:
        return []
    return [("hub", hub) for hub in settings.websub_hubs] + [("self", self_url)]


def feed_title(settings: Settings, scope: Scope) -> str:
    title = scope.language.title or settings.title if scope.language is not None else settings.title
    if scope.kind is ScopeKind.SITE:
        return title
    if scope.kind is ScopeKind.AUTHOR:
        return f"{title}: posts by {scope.label}"
    if scope.kind is ScopeKind.TERM:
        return f"{title}: {scope.taxonomy} {scope.label}"
    return f"{title}: {_KIND_LABEL[scope.kind]} {scope.label}"


def render_feed(site: Site, scope: Scope, fmt: FeedFormat, settings: Settings,
                entries: EntryCache | None = None) -> Resource:
    """Render one scope's feed; entries are the `feed_limit` newest of that scope."""
    return as_resource(*feed_parts(site, scope, fmt, settings, entries))


def subscription_doc(site: Site, scope: Scope, fmt: FeedFormat, settings: Settings) -> FeedDoc:
    """The feed readers subscribe to: the scope's `feed_limit` newest entries. Its archives are named in
    the document (RFC 5005's links; JSON Feed's `next_url`) and in the `Link` response header: no reader
    tried follows a header alone. The bytes change when an archive page is added, which is honest."""
    self_url = feed_url(settings, scope, fmt)
    posts = site.scopes[scope]
    paging = subscription_links(settings, scope, fmt, len(posts))
    return FeedDoc(path=feed_path(scope, fmt), fmt=fmt, title=feed_title(settings, scope), self_url=self_url,
                   feed_id=self_url, entries=posts[: settings.feed_limit], links=tuple(paging),
                   next_url=dict(paging).get("next"),
                   headers=link_header([*websub_links(settings, self_url), *paging]), hubs=settings.websub_hubs,
                   language=scope.language)


def archive_doc(site: Site, scope: Scope, fmt: FeedFormat, number: int, settings: Settings) -> FeedDoc | None:
    """Archive page `number` of a scope (archives.py), or None if the scope has no such page."""
    posts = site.scopes[scope]
    count = archive_count(len(posts), settings.feed_limit)
    if not 1 <= number <= count:
        return None
    path = archive_path(scope, number, fmt)
    previous = archive_path(scope, number - 1, fmt) if number > 1 else None
    return FeedDoc(path=path, fmt=fmt, title=f"{feed_title(settings, scope)} (archive {number})",
                   self_url=absolute(settings.public_url, path), feed_id=feed_url(settings, scope, fmt),
                   entries=posts[archive_range(len(posts), settings.feed_limit, number)],
                   links=tuple(archive_links(settings, scope, fmt, number, count)), archive=True,
                   next_url=absolute(settings.public_url, previous) if previous else None,
                   language=scope.language)


def feed_parts(site: Site, scope: Scope, fmt: FeedFormat, settings: Settings,
               entries: EntryCache | None) -> ResourceParts:
    """`render_feed` up to `as_resource`'s arguments: the part that needs the GIL (hashing and
    gzip do not, so a caller can run `as_resource` on another core)."""
    return doc_parts(subscription_doc(site, scope, fmt, settings), settings, entries)


def doc_parts(doc: FeedDoc, settings: Settings, entries: EntryCache | None) -> ResourceParts:
    """One document's bytes and headers; `entries`: the caller's entry cache, or None to build every entry."""
    newest = max((p.updated for p in doc.entries), default=None)
    if doc.fmt is FeedFormat.JSON:
        body = render_json(doc, settings, entries)
    else:
        body = render_xml(doc, settings, newest, entries)
    return doc.path, doc.fmt.content_type, body, newest, doc.headers


