"""One refresh: inventory -> diff -> read -> index -> render -> publish (`Refresher._refresh`).

The stateful piece of the pipeline. It remembers what it parsed (refreshmemory.py), what it rendered
(rendercache.py) and what it held back while being written (settle.py), so a rescan that finds
nothing new costs one `stat` per file and an edit re-renders only the feeds that show the edited
post; lastmodified.py says when validators move. Requests never wait: they read
`SnapshotStore.snapshot` (snapshot.py), which `_publish` replaces whole. The steps in their own
modules: settingsreload.py (settings), inventorystep.py (inventory and diff), publishing.py (stats).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from feedsvc.config import ConfigError, Settings, config_problems
from feedsvc.content.bodies import UnprovenBody, unproven_failing
from feedsvc.content.dialects import dialect_for
from feedsvc.content.scanning import Changes, ScanError
from feedsvc.content.siteposts import listing_digest, listing_of
from feedsvc.model import BODY_LEVEL, UNSERVED_BODY_LEVEL, Post, Problem, Resource, ScanStatus, Site
from feedsvc.pipeline.inventorystep import diff_scan, mark_changed_relatives, take_scan
from feedsvc.pipeline.lastmodified import LastModified, from_ns
from feedsvc.pipeline.parallel import read_posts
from feedsvc.pipeline.postcache import Seed
from feedsvc.pipeline.publishing import serves_the_same, site_stats
from feedsvc.pipeline.refreshmemory import RefreshMemory, Scan
from feedsvc.pipeline.rendercache import RenderCache
from feedsvc.pipeline.settingsreload import current_settings
from feedsvc.pipeline.settle import Settling
from feedsvc.render.entrycache import EntryCache
from feedsvc.render.feeds import GZIP_LEVEL, UNSERVED_GZIP_LEVEL
from feedsvc.site.compat import compat_routes
from feedsvc.site.indexing import build_site, update_site
from feedsvc.snapshot import Built, SnapshotStore

log = logging.getLogger("feedsvc")

Progress = Callable[[str, int, int], None]
"""`progress(phase, done, total)`: called with done=0 as a phase starts, then as it advances; done == total ends it."""


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    trigger: str
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    feeds_changed: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    error: str | None = None
    seconds: float = 0.0
    published: bool = False
    pending: tuple[str, ...] = ()  # still being written: previous version kept, read by a follow-up refresh


class Refresher:
    def __init__(self, store: SnapshotStore, content_dir: Path, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = utc_now, progress: Progress | None = None,
                 for_build: bool = False, entries: EntryCache | None = None) -> None:
        """`for_build`: for `feedsvc build` or `check`, which serve nothing and exit when done: gzip
        and post bodies are then compressed for speed, not size (render/feeds.py, model.py).
        `entries`: the entry cache its renders use (render/entrycache.py); by default one of its own."""
        self.store = store
        self.body_level = UNSERVED_BODY_LEVEL if for_build else BODY_LEVEL
        self.progress = progress or _no_progress
        self.content_dir = content_dir
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock
        self.listeners: list[Callable[[RefreshReport, Built], None]] = []
        # Called with a moment to refresh again when files were still being written (set by the scheduler).
        self.follow_up: Callable[[datetime], None] | None = None
        self._lock = threading.Lock()
        self._memory = RefreshMemory()
        self.entries = entries if entries is not None else EntryCache()
        self._renders = RenderCache(UNSERVED_GZIP_LEVEL if for_build else GZIP_LEVEL, self.entries)
        self._settling = Settling()
        self._generation = 0

    def continue_generations(self, generation: int) -> None:
        """A worker taking over as builder numbers its snapshots after the ones already served."""
        with self._lock:
            self._generation = max(self._generation, generation)

    @property
    def settings(self) -> Settings | None:
        return self._memory.settings

    def moved(self, changed: frozenset[str] | None) -> None:
        """The content folder was replaced whole by a complete copy (a git checkout) in which only
        `changed` differ (None: unknown). Every file there has a new inode, so without this the next
        refresh would re-read them all; with it, only those. Nothing is held back as still being written."""
        with self._lock:
            memory = self._memory
            known = memory.moved_changes if memory.moved else frozenset()
            memory.moved = True
            memory.moved_changes = None if changed is None or known is None else known | changed

    def dated_by(self, changed_at: datetime | None) -> None:
        """Date every resource by this time from now on instead of by file times (a git source's commit,
        deploy/githistory.py); the next refresh publishes if it moved, so replicas on one commit agree."""
        with self._lock:
            memory = self._memory
            if changed_at != memory.history:
                memory.history = changed_at
                memory.redate = True

    def seed(self, seed: Seed, served: Mapping[str, Resource]) -> None:
        """Carry on from what an earlier builder parsed and rendered (postcache.py), before the first refresh.

        That refresh then reads only the files whose signature changed since, and renders only what
        they touch; render keys count only where `served` still holds the very bytes made under them.
        """
        with self._lock:
            memory = self._memory
            if memory.settings is not None:
                return  # this process has refreshed already: its own memory is newer
            memory.seeded_fingerprint = seed.settings_fingerprint
            memory.liquid_fingerprint = seed.liquid_fingerprint
            memory.inventory = dict(seed.inventory)
            memory.parsed = dict(seed.parsed)
            memory.last_good = {**seed.last_good,
                                **{path: post for path, post in seed.parsed.items() if isinstance(post, Post)}}
            self._renders.adopt(seed.rendered, served)

    def export(self) -> Seed | None:
        """What `seed` takes, as of the last refresh; call it from a refresh listener (it does not lock)."""
        memory = self._memory
        if memory.settings is None:
            return None
        parsed = memory.parsed
        last_good = {path: memory.last_good[path] for path, value in parsed.items()
                     if isinstance(value, Problem) and path in memory.last_good}
        return Seed(memory.settings.fingerprint, memory.settings.liquid_fingerprint,
                    {path: signature for path, signature in memory.inventory.items() if path in parsed},
                    dict(parsed), self._renders.keys(), last_good)

    def refresh(self, trigger: str = "manual", named: frozenset[str] | None = None) -> RefreshReport:
        """Bring the served snapshot up to date with the folder; safe to call from any thread.

        `named`: the OS said only these files (relative paths) changed (watching.py); they alone are
        looked at again where namedpaths.py can tell, else (None) every file is."""
        with self._lock:
            started = time.perf_counter()
            now = self.clock()
            try:
                try:
                    report = self._refresh(trigger, now, named)
                except UnprovenBody as exc:
                    log.warning("%s; its post is read again", exc)
                    self._forget_unproven()
                    report = self._refresh(trigger, now, named)
            except ScanError as exc:
                report = RefreshReport(trigger, error=str(exc))
                log.error("refresh (%s): %s; still serving the last good feeds", trigger, exc)
            except ConfigError:
                raise  # only at the first refresh: there are no last good settings to keep
            except Exception as exc:  # a bug must not take the service down: keep serving the last snapshot
                log.exception("refresh (%s) failed; still serving the last good feeds", trigger)
                self._memory.retry = True
                report = RefreshReport(trigger, error=f"refresh failed: {type(exc).__name__}: {exc}")
            seconds = time.perf_counter() - started
            self.store.status = ScanStatus(now, seconds, trigger, report.error)
            report = replace(report, seconds=seconds, pending=tuple(sorted(self._settling.pending)))
            self._plan_follow_up(trigger)
            if report.published:
                log.info("refresh (%s): +%d ~%d -%d posts, %d feeds changed, %.3fs", trigger, len(report.added),
                         len(report.updated), len(report.removed), len(report.feeds_changed), seconds)
                snapshot = self.store.snapshot
                assert isinstance(snapshot, Built)  # just published by `_publish`
                for listener in list(self.listeners):
                    try:
                        listener(report, snapshot)
                    except Exception:  # a listener must never break refreshing
                        log.exception("refresh listener failed")
            return report

    def _forget_unproven(self) -> None:
        """Posts from a cache whose bodies fail the proof left to their first render: read them again, and
        index everything again (the failed refresh may have got as far as rendering)."""
        memory = self._memory
        for posts in (memory.parsed, memory.last_good):
            for relpath, known in list(posts.items()):
                if isinstance(known, Post) and unproven_failing(known):
                    del posts[relpath]
                    memory.inventory.pop(relpath, None)
        memory.retry = True

    # -- the sequence ------------------------------------------------------------------

    def _refresh(self, trigger: str, now: datetime, named: frozenset[str] | None = None) -> RefreshReport:
        """Settings, inventory, diff; then, unless nothing changed: read, index, render, publish."""
        memory = self._memory
        self._settling.start()
        settings, settings_changed = current_settings(memory, self.content_dir, self.environ)
        serving = self.store.snapshot is not None
        scan = take_scan(memory, self.content_dir, settings, None if settings_changed else named, serving)
        mark_changed_relatives(memory, self.content_dir)
        changes = diff_scan(memory, self._settling, self.content_dir, scan, trigger, now, serving)
        due = memory.next_publish_at is not None and now >= memory.next_publish_at
        rebuild = settings_changed or due or memory.retry  # index everything again, and publish
        # Until this process has built a site (a warm start serves bytes it loaded), there is one to build.
        publish = rebuild or memory.redate or scan.problems != memory.scan_problems \
            or not isinstance(self.store.snapshot, Built)
        if not (changes or publish):
            return RefreshReport(trigger)
        gone = self._read(changes, scan, settings, now)
        site = self._index(changes, gone, settings, rebuild, now)
        site = self._list_posts(site, settings, now)
        resources, feeds_changed = self._render(site, settings, now)
        self._publish(site, resources, settings)
        return RefreshReport(trigger, added=tuple(p for p in changes.added if p not in gone),
                             updated=changes.modified, removed=changes.removed, feeds_changed=tuple(feeds_changed),
                             problems=site.problems, published=True)

    def _read(self, changes: Changes, scan: Scan, settings: Settings, now: datetime) -> list[str]:
        """Parse the added and modified files; forget the removed. Returns the files gone before they were read."""
        memory = self._memory
        for relpath in changes.removed:
            memory.parsed.pop(relpath, None)
            memory.last_good.pop(relpath, None)
        gone: list[str] = []
        to_read = [(relpath, scan.inventory[relpath]) for relpath in changes.added + changes.modified]
        self.progress("reading", 0, len(to_read))
        read = read_posts(self.content_dir, to_read, replace(settings, site_posts=memory.listing),
                          body_level=self.body_level,
                          progress=lambda done: self.progress("reading", done, len(to_read)))
        for (relpath, _), result in zip(to_read, read, strict=True):
            if result is None:  # vanished, or changed, between listing and reading: look again shortly
                gone.append(relpath)
                self._settling.hold_vanished(relpath, memory.inventory, scan.inventory, now)
                continue
            memory.parsed[relpath] = result
            if isinstance(result, Post):
                memory.last_good[relpath] = result
        memory.inventory = scan.inventory
        memory.scan_problems = scan.problems
        return gone

    def _index(self, changes: Changes, gone: list[str], settings: Settings, rebuild: bool, now: datetime) -> Site:
        """The site from every current post: patched when posts were only edited, else built anew."""
        memory = self._memory
        posts, problems = self._current_posts()
        problems.extend(memory.scan_problems)
        problems.extend(config_problems(settings))
        problems.extend(memory.config_errors)
        site = None
        previous = self.store.snapshot
        if isinstance(previous, Built) and changes.modified and not (changes.added or changes.removed or gone) \
                and not rebuild:
            replaced = {relpath: memory.parsed.get(relpath) for relpath in changes.modified}
            if all(isinstance(post, Post) for post in replaced.values()):
                site = update_site(previous.site, replaced, problems)  # type: ignore[arg-type]
        if site is None:
            site = build_site(posts, problems, settings, now, memory.resolved)
        memory.next_publish_at = site.next_publish_at
        return site

    def _list_posts(self, site: Site, settings: Settings, now: datetime) -> Site:
        """Posts whose Liquid reads `site.posts` see the list as indexed: parsed again, and the site
        indexed again, when it is not the list they saw (content/siteposts.py)."""
        memory = self._memory
        readers = any(isinstance(post, Post) and post.listing for post in memory.parsed.values())
        if not readers:  # the common case: the list (10,000 posts: ~0.2 s with its digest) is not made at all
            memory.listing = ""
            return site
        listing = listing_of(site.posts, settings.site_url)
        digest = listing_digest(listing)
        stale = [(relpath, memory.inventory[relpath]) for relpath, post in memory.parsed.items()
                 if isinstance(post, Post) and post.listing not in ("", digest) and relpath in memory.inventory]
        memory.listing = listing
        if not stale:
            return site
        read = read_posts(self.content_dir, stale, replace(settings, site_posts=listing), body_level=self.body_level)
        for (relpath, _), result in zip(stale, read, strict=True):
            if result is not None:  # else: changed since the scan; the next refresh reads it
                memory.parsed[relpath] = result
                if isinstance(result, Post):
                    memory.last_good[relpath] = result
        return self._index(Changes((), (), ()), [], settings, True, now)

    def _render(self, site: Site, settings: Settings, now: datetime) -> tuple[dict[str, Resource], list[str]]:
        """Every resource to serve (only what changed is rendered again, rendercache.py), and the feeds
        that changed for readers."""
        memory = self._memory
        previous = self.store.snapshot.resources if self.store.snapshot is not None else {}
        dating = LastModified(now, memory.content_mtime, memory.inventory, memory.history)
        return self._renders.render(site, settings, previous, dating,
                                    lambda done, total: self.progress("rendering", done, total))

    def _publish(self, site: Site, resources: dict[str, Resource], settings: Settings) -> None:
        """Swap in the new snapshot: one reference, so a request sees the old one or the new one whole."""
        memory = self._memory
        self._report_new_problems(site.problems)
        memory.retry = memory.redate = False
        aliases, redirects = compat_routes(resources, site.scopes, settings.compat, settings.public_url,
                                           dialect_for(settings.dialect, settings.dialect_rules).own_feed_paths,
                                           site.posts)
        previous = self.store.snapshot
        if previous is not None and not isinstance(previous, Built) \
                and serves_the_same(previous, resources, aliases, redirects):
            # A warm start's first site, serving what was loaded: readers and followers keep its generation.
            self._generation = previous.generation
        else:
            self._generation += 1
        self.store.snapshot = Built(
            site=site,
            resources=MappingProxyType(resources),
            generation=self._generation,
            stats=MappingProxyType(site_stats(site, resources, len(memory.inventory))),
            aliases=MappingProxyType(aliases),
            redirects=MappingProxyType(redirects),
            modified=memory.history or max(memory.content_mtime, from_ns(max(
                (max(sig.mtime_ns, sig.ctime_ns) for sig in memory.inventory.values()), default=0))),
        )

    # -- helpers of the steps ------------------------------------------------------------

    def _plan_follow_up(self, trigger: str) -> None:
        pending = self._settling.pending
        when = self._settling.follow_up_at(self.clock())
        if when is None:
            return
        log.info("refresh (%s): %d files still changing (%s); looking again at %s", trigger, len(pending),
                 ", ".join(sorted(pending)[:3]) + (", ..." if len(pending) > 3 else ""), when.isoformat())
        if self.follow_up is not None:
            try:
                self.follow_up(when)
            except Exception:  # planning must never break refreshing; the interval rescan still comes
                log.exception("planning the follow-up refresh failed")

    def _current_posts(self) -> tuple[list[Post], list[Problem]]:
        memory = self._memory
        posts: list[Post] = []
        problems: list[Problem] = []
        for relpath in sorted(memory.parsed):
            result = memory.parsed[relpath]
            if isinstance(result, Post):
                posts.append(result)
                problems.extend(result.warnings)
                continue
            problems.append(result)
            previous = memory.last_good.get(relpath)
            if previous is not None and result.severity == "error":
                posts.append(previous)
                problems.append(Problem(relpath, "serving the last good version until this is fixed", "warning"))
        return posts, problems

    def _report_new_problems(self, problems: tuple[Problem, ...]) -> None:
        memory = self._memory
        current = set(problems)
        for problem in problems:
            if problem not in memory.reported:
                (log.error if problem.severity == "error" else log.warning)("%s", problem)
        memory.reported = current
