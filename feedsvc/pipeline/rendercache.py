"""The render cache: each feed and page is rendered again only when what it shows has changed.

A feed's render key hashes every setting, its scope, how many archive pages precede it and the
fingerprints of the entries it shows; a scope's page is keyed (and re-rendered) with its feeds.
An edit then re-renders only the feeds that show the edited post, and a rescan that finds
nothing renders nothing. The keys are strings so the post cache can keep them across restarts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import partial

from feedsvc.config import Settings, settings_key
from feedsvc.model import FeedFormat, Post, Resource, Scope, ScopeKind, Site
from feedsvc.pipeline import parallel
from feedsvc.pipeline.lastmodified import LastModified
from feedsvc.pipeline.parallel import RenderJob, render_all
from feedsvc.render.documents import EPOCH
from feedsvc.render.entrycache import EntryCache
from feedsvc.render.feeds import ResourceParts, feed_parts
from feedsvc.render.pages import index_key, page_path, render_index, render_opml, scope_page_parts
from feedsvc.urls import feed_path

_FEED_FILES = tuple(fmt.filename for fmt in FeedFormat)
# Entries are rarely smaller (a few paragraphs; 10,000-post bench corpus: ~5.7 KB): sending a cold build's
# entries of this many posts at most fills the refresher's cache without sending it much that it drops.
_KEPT_ENTRY_BYTES = 4096



def render_key(every_setting: str, scope: Scope, posts: tuple[Post, ...], feed_limit: int) -> str:
    """What a scope's feeds and page are made from: if this is unchanged, so are their bytes."""
    shown = posts[:feed_limit]
    # The archive count names the newest archive page in the feeds' `Link` header (archives.py).
    return hashlib.sha256(repr((every_setting, scope.label, len(posts) // feed_limit,
                                [p.fingerprint for p in shown])).encode("utf-8", "surrogatepass")).hexdigest()


def worth_keeping(site: Site, feed_limit: int, most: int) -> tuple[Post, ...]:
    """At most `most` posts whose entries an edit would render again, most likely first: an edit of a
    post re-renders every feed showing it, so the newest posts bring the entries of all their feeds."""
    windows: dict[str, list[tuple[Post, ...]]] = {}
    for posts in site.scopes.values():
        shown = posts[:feed_limit]
        for post in shown:
            windows.setdefault(post.fingerprint, []).append(shown)
    ranked: dict[str, Post] = {}
    for edited in site.posts:  # newest first
        for shown in windows.get(edited.fingerprint, ()):
            for post in shown:
                ranked.setdefault(post.fingerprint, post)
        if len(ranked) >= most:
            break
    return tuple(ranked.values())[:most]


class RenderCache:
    """What each path was last rendered under (its key) and the bytes made so; one per refresher."""

    def __init__(self, gzip_level: int, entries: EntryCache | None) -> None:
        """`entries`: the entry cache renders in this process use (render/entrycache.py); None builds every entry."""
        self.gzip_level = gzip_level
        self.entries = entries
        self._rendered: dict[str, tuple[str, Resource]] = {}  # path -> (render key, bytes)
        self._pages: dict[str, tuple[object, Resource]] = {}  # "index" | "opml" -> (key, bytes)
        # scope -> (its posts, settings key, render key): an edit rebuilds only the tuples of the scopes
        # that show the post (site/indexing.py update_site), so only their keys are hashed again.
        self._keys: dict[Scope, tuple[tuple[Post, ...], str, str]] = {}

    def keys(self) -> dict[str, tuple[str, str]]:
        """Path -> (render key, ETag of the bytes made under it): what the post cache saves."""
        return {path: (key, resource.etag) for path, (key, resource) in self._rendered.items()}

    def adopt(self, keys: Mapping[str, tuple[str, str]], served: Mapping[str, Resource]) -> None:
        """Carry on from an earlier builder's keys; each counts only where `served` still holds the
        very bytes made under it."""
        self._rendered = {path: (key, served[path]) for path, (key, etag) in keys.items()
                          if path in served and served[path].etag == etag}

    def render(self, site: Site, settings: Settings, previous: Mapping[str, Resource], dating: LastModified,
                progress: Callable[[int, int], None]) -> tuple[dict[str, Resource], list[str]]:
        """Render every feed and scope page whose inputs changed; reuse the bytes (and validators) of the others.

        Returns what to serve and the feeds that changed for readers (for WebSub). How the work
        is spread over the cores is `_make`'s business; the output never depends on it.
        """
        resources: dict[str, Resource | None] = {}
        fresh: dict[str, tuple[str, tuple[Post, ...], RenderJob]] = {}
        rendered: dict[str, tuple[str, Resource]] = {}
        every_setting = settings_key(settings)
        total = len(site.scopes) * (len(FeedFormat) + 1) - 1  # the site scope's page is the index
        keys: dict[Scope, tuple[tuple[Post, ...], str, str]] = {}
        for scope, posts in site.scopes.items():
            shown = posts[: settings.feed_limit]
            memo = self._keys.get(scope)
            if memo is not None and memo[0] is posts and memo[1] == every_setting:
                key = memo[2]  # the very same posts under the same settings (feed_limit is one)
            else:
                key = render_key(every_setting, scope, posts, settings.feed_limit)
            keys[scope] = (posts, every_setting, key)
            # A scope's page shows what its feeds show: it is keyed, and re-rendered, with them.
            parts: dict[str, RenderJob] = {
                feed_path(scope, fmt): partial(feed_parts, site, scope, fmt, settings) for fmt in FeedFormat}
            if scope.kind is not ScopeKind.SITE:
                parts[page_path(scope)] = partial(_scope_page, scope, shown, settings)
            for path, render in parts.items():
                cached = self._rendered.get(path)
                if cached is not None and cached[0] == key:
                    if dating.redates_all:  # same bytes, but their time follows the served commit
                        cached = (key, dating.date(cached[1], shown, previous.get(path)))
                    rendered[path] = cached
                    resources[path] = cached[1]
                else:
                    fresh[path] = (key, shown, render)
                    resources[path] = None  # keeps the order
        reused = total - len(fresh)
        progress(reused, total)
        # The posts whose bodies the feeds to render show, each once (the entries of excerpt-only feeds show none).
        bodies = () if settings.excerpt_only else tuple({id(post): post for path, (_, shown, _) in fresh.items()
                                                          if path.endswith(_FEED_FILES) for post in shown}.values())
        made = self._make([render for _, _, render in fresh.values()], lambda done: progress(reused + done, total),
                          site, settings.feed_limit, bodies)
        pages = self._site_pages(site, settings)
        changed: list[str] = []
        for (path, (key, shown, _)), made_resource in zip(fresh.items(), made, strict=True):
            served = previous.get(path)
            resource = dating.date(made_resource, shown, served)
            if path.endswith(_FEED_FILES) and (served is None or served.etag != resource.etag):
                changed.append(path)  # a feed that changed for readers, not just for us
            rendered[path] = (key, resource)
            resources[path] = resource
        feed_types = {fmt.content_type for fmt in FeedFormat}
        known = self._rendered.keys() or {p for p, r in previous.items() if r.content_type in feed_types}
        changed.extend(path for path in known if path not in rendered and path.endswith(_FEED_FILES))  # gone
        self._rendered = rendered
        self._keys = keys
        for page in pages:
            resources[page.path] = dating.date(page, site.posts, previous.get(page.path))
        return {path: resource for path, resource in resources.items() if resource is not None}, sorted(changed)

    def _make(self, renders: list[RenderJob], progress: Callable[[int], None], site: Site,
              feed_limit: int, bodies: tuple[Post, ...]) -> list[Resource]:
        """Render, hash and compress each job, in order: on every core for a cold build, else here
        with this cache's entry cache (parallel.py); `bodies`: the posts whose bodies the jobs show."""
        keep: tuple[Post, ...] = ()
        if self.entries is not None and len(renders) >= parallel.FORK_FROM:  # the children's entries would be lost
            keep = worth_keeping(site, feed_limit, self.entries.max_bytes // (_KEPT_ENTRY_BYTES * len(FeedFormat)))
        return render_all(renders, self.entries, progress, self.gzip_level, keep, bodies)

    def _site_pages(self, site: Site, settings: Settings) -> list[Resource]:
        """The OPML lists scopes and counts, the index those and the site's newest entries: most edits
        leave both as they were, and neither is rendered again then."""
        newest = max((p.updated for p in site.posts), default=EPOCH)
        keys: dict[str, object] = {
            "index": index_key(site, settings),
            "opml": (settings, tuple((scope, len(posts)) for scope, posts in site.scopes.items()), newest),
        }
        renderers = {"index": render_index, "opml": render_opml}
        for name, page_key in keys.items():
            cached = self._pages.get(name)
            if cached is None or cached[0] != page_key:
                self._pages[name] = (page_key, renderers[name](site, settings))
        return [self._pages[name][1] for name in keys]


def _scope_page(scope: Scope, shown: tuple[Post, ...], settings: Settings, entries: EntryCache | None) -> ResourceParts:
    """A scope page as a render job: it shows no feed entries, so the entry cache goes unused."""
    return scope_page_parts(scope, shown, settings)
