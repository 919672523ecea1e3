"""Feeds rendered when first asked for: RFC 5005 archive pages and ad-hoc filtered feeds.

There are far too many of both to render ahead (every scope's whole history in three formats,
every combination of names), and few are ever fetched, so they are rendered on request from
the current `Site`, then kept in a bounded cache and served again while their entries stay the
same. Only the builder holds a `Site`; a follower worker asks the builder through the state
folder (workers.py) and caches the answer for the snapshot it serves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from feedsvc.config import Settings
from feedsvc.lru import LRUCache
from feedsvc.model import FeedFormat, Resource, Scope, Site
from feedsvc.site.archives import parse_archive_path
from feedsvc.site.filters import (
    Filter,
    FilterError,
    UnknownNames,
    describe,
    lookup,
    mentions_filter,
    parse_filter,
    select,
)
from feedsvc.snapshot import Built, Served
from feedsvc.urls import absolute, feed_path

if TYPE_CHECKING:  # the renderers (feedgen, Markdown engines): imported at the first render, not at a server start
    from feedsvc.render.documents import FeedDoc
    from feedsvc.render.entrycache import EntryCache
    from feedsvc.render.feeds import ResourceParts

log = logging.getLogger("feedsvc")

MAX_ITEMS = 256
MAX_BYTES = 8 * 1024 * 1024  # of gzip bodies, per process: 200-800 documents, within the memory budget
# A flood of distinct queries must not take every core or request thread from the plain feeds:
# at most this many renders (or, in a follower, questions to the builder) at once, and a request
# that cannot start one soon gets a 503 with Retry-After instead of holding its thread.
RENDERS_AT_ONCE = 2
RENDER_WAIT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why there is no feed to serve: the HTTP status and a message for the reader."""

    status: int
    message: str


Answer = Resource | Refusal


@dataclass(frozen=True, slots=True)
class Target:
    """What was asked for: a feed path (a subscription feed's or an archive page's) and a filter."""

    path: str
    filter: Filter | None = None

    @property
    def key(self) -> str:
        return self.path + ("?" + self.filter.query if self.filter else "")

    @classmethod
    def from_key(cls, key: str) -> Target:
        path, _, query = key.partition("?")
        return cls(path, parse_filter(query) if query else None)


@dataclass(frozen=True, slots=True)
class _Cached:
    generation: int
    key: tuple[object, ...] | None  # what the bytes depend on (None: answered by the builder)
    answer: Answer


class _Index:
    """A site's scopes by slug, by name and by feed path; built once per published site."""

    def __init__(self, site: Site) -> None:
        self.site = site
        # Archive URLs name scopes of the default language only (archives.py); no other language's shadows them.
        self.by_slug = {(scope.kind, scope.slug): scope for scope in site.scopes if scope.language is None}
        self.by_name = lookup(site)
        self.by_path: dict[str, tuple[Scope, FeedFormat]] = {
            feed_path(scope, fmt): (scope, fmt) for scope in site.scopes for fmt in FeedFormat}


def plan(index: _Index, settings: Settings, target: Target) -> FeedDoc | Refusal:
    """The document a target names, or why there is none. Pure: the site and settings decide."""
    from feedsvc.render.documents import FeedDoc
    from feedsvc.render.feeds import archive_doc, feed_title

    site = index.site
    archive = parse_archive_path(target.path)
    if archive is not None:
        if target.filter is not None:
            return Refusal(400, "filters apply to feeds, not to archive pages")
        kind, slug, number, fmt = archive
        scope = index.by_slug.get((kind, slug))
        doc = archive_doc(site, scope, fmt, number, settings) if scope is not None else None
        return doc if doc is not None else Refusal(404, "no such archive page")
    found = index.by_path.get(target.path)
    if found is None or target.filter is None:
        return Refusal(404, "not found")
    scope, fmt = found
    try:
        posts = select(site, site.scopes[scope], target.filter, index.by_name)
    except UnknownNames as exc:
        return Refusal(404, str(exc))
    self_url = absolute(settings.public_url, target.path) + "?" + target.filter.query
    title = f"{feed_title(settings, scope)} ({describe(target.filter, index.by_name)})"
    return FeedDoc(path=target.path, fmt=fmt, title=title, self_url=self_url, feed_id=self_url,
                   entries=posts[: settings.feed_limit], language=scope.language)


def doc_parts(doc: FeedDoc, settings: Settings, entries: EntryCache | None) -> ResourceParts:
    """render.feeds' `doc_parts`, imported by the first render (a server's start imports no renderer)."""
    from feedsvc.render.feeds import doc_parts as parts

    return parts(doc, settings, entries)


class OnDemandFeeds:
    """Answers targets for one process: renders from the snapshot's site, or asks `remote` (a follower).

    `entries`: the entry cache its renders use (a builder shares the refresher's: archive pages and
    filtered feeds show entries the subscription feeds built); by default one of its own."""

    def __init__(self, settings: Callable[[], Settings], max_items: int = MAX_ITEMS,
                 max_bytes: int = MAX_BYTES, entries: EntryCache | None = None) -> None:
        self.settings = settings
        if entries is None:
            from feedsvc.render.entrycache import EntryCache

            entries = EntryCache()
        self.entries = entries
        self.remote: Callable[[str], Answer] | None = None  # set while this process is a follower
        self.observe: Callable[[str, str], None] = lambda kind, outcome: None  # (archive|filter, outcome): metrics
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._cache: LRUCache[str, _Cached] = LRUCache(max_bytes, _size, max_items)
        self._lock = threading.Lock()  # for `_running`
        self._renders = threading.BoundedSemaphore(RENDERS_AT_ONCE)
        self._running: dict[str, threading.Event] = {}
        self._index: _Index | None = None

    def answer(self, snapshot: Served, target: Target) -> Answer:
        answer, outcome = self._answer(snapshot, target)
        kind = "filter" if target.filter is not None else "archive"
        self.observe(kind, "refused" if isinstance(answer, Refusal) else outcome)
        return answer

    def _answer(self, snapshot: Served, target: Target) -> tuple[Answer, str]:
        cached = self._get(target.key)
        if cached is not None and cached.generation == snapshot.generation:
            return cached.answer, "cached"
        if not isinstance(snapshot, Built):  # a follower: only the builder holds the posts
            return self._ask_builder(snapshot, target, cached), "from_builder"
        settings = self.settings()
        index = self._index
        if index is None or index.site is not snapshot.site:
            index = self._index = _Index(snapshot.site)
        doc = plan(index, settings, target)
        if isinstance(doc, Refusal):
            return doc, "refused"  # cheap to find again; not cached, so made-up names cannot evict real feeds
        key = (settings, doc.cache_key)
        if cached is not None and cached.key == key:
            self._put(target.key, replace(cached, generation=snapshot.generation))
            return cached.answer, "cached"
        with self._lock:  # one render per key at a time: the others wait for it and take its answer
            running = self._running.get(target.key)
            if running is None:
                self._running[target.key] = threading.Event()
        if running is not None:
            running.wait(RENDER_WAIT_SECONDS)
            return self._answer(snapshot, target)
        try:
            return self._render(snapshot, target, doc, settings, key, cached)
        finally:
            with self._lock:
                self._running.pop(target.key).set()

    def _render(self, snapshot: Served, target: Target, doc: FeedDoc, settings: Settings, key: tuple[object, ...],
                cached: _Cached | None) -> tuple[Answer, str]:
        from feedsvc.render.feeds import as_resource

        if not self._renders.acquire(timeout=RENDER_WAIT_SECONDS):
            return Refusal(503, "busy rendering other feeds; try again shortly"), "refused"
        try:
            path, content_type, body, newest, headers = doc_parts(doc, settings, self.entries)
        finally:
            self._renders.release()
        resource = as_resource(path, content_type, body, self._last_modified(snapshot, newest, cached), headers)
        self._put(target.key, _Cached(snapshot.generation, key, resource))
        log.debug("rendered %s on demand (generation %d, %d entries)", target.key, snapshot.generation,
                  len(doc.entries))
        return resource, "rendered"

    def _ask_builder(self, snapshot: Served, target: Target, cached: _Cached | None) -> Answer:
        remote = self.remote  # read once: a takeover sets it to None at any moment
        if remote is None:
            return Refusal(503, "feeds are being rebuilt; try again shortly")
        if not self._renders.acquire(timeout=RENDER_WAIT_SECONDS):
            return Refusal(503, "busy rendering other feeds; try again shortly")
        try:
            answer = remote(target.key)
        finally:
            self._renders.release()
        if isinstance(answer, Resource):
            if cached is not None and isinstance(cached.answer, Resource) and cached.answer.etag == answer.etag:
                answer = cached.answer  # the same bytes: keep the object (and memory) we already hold
            self._put(target.key, _Cached(snapshot.generation, None, answer))
        return answer

    @staticmethod
    def _last_modified(snapshot: Served, newest: datetime | None, cached: _Cached | None) -> datetime | None:
        """New bytes are at least as new as the newest change in the content, and newer than what we served."""
        moments = [moment for moment in (newest, snapshot.modified) if moment is not None]
        if cached is not None and isinstance(cached.answer, Resource) and cached.answer.last_modified:
            moments.append(cached.answer.last_modified + timedelta(seconds=1))
        return max(moments).replace(microsecond=0) if moments else None

    def _get(self, key: str) -> _Cached | None:
        return self._cache.get(key)

    def _put(self, key: str, entry: _Cached) -> None:
        self._cache.put(key, entry)

    def stats(self) -> Mapping[str, int]:
        items, held = self._cache.usage()
        return {"items": items, "bytes": held}


def _size(entry: _Cached) -> int:
    return len(entry.answer.gzip_body) if isinstance(entry.answer, Resource) else 0


def target_for(path: str, query_string: bytes, base: Resource | None) -> Target | Refusal | None:
    """What a request asks of this module, if anything: an archive page, or a filtered feed
    (`base` is the feed its path serves, if any); None when the plain snapshot answers."""
    wanted = None
    if query_string and mentions_filter(query_string.decode("latin-1")):
        try:
            wanted = parse_filter(query_string.decode("utf-8"))
        except UnicodeDecodeError:
            return Refusal(400, "the query string is not UTF-8")
        except FilterError as exc:
            return Refusal(400, str(exc))
    if base is not None:
        if wanted is None or not base.content_type.startswith(tuple(f.content_type for f in FeedFormat)):
            return None
        return Target(base.path, wanted)
    if parse_archive_path(path) is None:
        return None
    return Target(path, wanted)
