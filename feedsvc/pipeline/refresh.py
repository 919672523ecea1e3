"""One refresh: inventory -> diff -> read -> index -> render -> publish (`Refresher._refresh`).

The stateful piece of the pipeline. It remembers what it parsed (here), what it rendered
(rendercache.py) and what it held back while being written (settle.py), so a rescan that finds
nothing new costs one `stat` per file and an edit re-renders only the feeds that show the edited
post; lastmodified.py says when validators move. Requests never wait: they read
`SnapshotStore.snapshot` (snapshot.py), which `_publish` replaces whole.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import MappingProxyType

from feedsvc.config import CONFIG_FILE, ConfigError, Settings, config_path, config_problems, load_settings
from feedsvc.content.datafiles import data_signature
from feedsvc.content.dialects import dialect_for
from feedsvc.content.includes import changed_relatives, includes_signature
from feedsvc.content.scanning import (
    Changes,
    FileSignature,
    ScanError,
    diff_inventory,
    removal_settles_at,
    signature_of,
    take_inventory,
)
from feedsvc.content.siteposts import listing_digest, listing_of
from feedsvc.model import BODY_LEVEL, UNSERVED_BODY_LEVEL, Post, Problem, Resource, ScanStatus, Site
from feedsvc.pipeline.lastmodified import LastModified, from_ns
from feedsvc.pipeline.namedpaths import inventory_with
from feedsvc.pipeline.parallel import read_posts
from feedsvc.pipeline.postcache import Seed, in_other_flavours
from feedsvc.pipeline.rendercache import RenderCache
from feedsvc.pipeline.settle import WRITER_DONE_TRIGGERS, Settling
from feedsvc.render.documents import EPOCH
from feedsvc.render.entrycache import EntryCache
from feedsvc.render.feeds import GZIP_LEVEL, UNSERVED_GZIP_LEVEL
from feedsvc.site.compat import compat_routes
from feedsvc.site.indexing import build_site, update_site
from feedsvc.snapshot import Built, Served, SnapshotStore

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


def site_stats(site: Site, resources: Mapping[str, Resource], files: int) -> dict[str, object]:
    """The JSON-able facts /status shows, computed once per publish (workers that follow get only these)."""
    return {
        "posts": len(site.posts),
        "feeds": sum(1 for path in resources if path.endswith((".xml", ".json")) and path != "/feeds.opml"),
        "scopes": {kind: sum(1 for s in site.scopes if s.kind.name.lower() == kind)
                   for kind in ("category", "tag", "author")},
        "files": files,
        "errors": sum(1 for p in site.problems if p.severity == "error"),
        "problems": [{"path": p.path, "line": p.line, "severity": p.severity, "message": p.message}
                     for p in site.problems],
    }


@dataclass(frozen=True, slots=True)
class _Scan:
    """What one look at the folder found; `inventory` is edited in place for the files held back."""

    inventory: dict[str, FileSignature]
    problems: list[Problem]
    unreadable: list[str]  # folders ("…/") and files that could not be read


@dataclass
class _Memory:
    """What the refresher carries between runs about settings and posts (never shared with request threads)."""

    settings: Settings | None = None
    config_signature: FileSignature | None = None
    data_signature: tuple[tuple[str, int, int, int], ...] = ()  # the `_data` and `_includes` folders (Liquid)
    config_errors: tuple[Problem, ...] = ()
    retry: bool = False  # the last refresh failed half-way: the next one must publish even if nothing changed
    content_mtime: datetime = EPOCH  # newest folder or config change
    inventory: dict[str, FileSignature] = field(default_factory=dict)
    parsed: dict[str, Post | Problem] = field(default_factory=dict)
    last_good: dict[str, Post] = field(default_factory=dict)
    scan_problems: list[Problem] = field(default_factory=list)
    reported: set[Problem] = field(default_factory=set)
    next_publish_at: datetime | None = None
    liquid_fingerprint: str | None = None  # settings.liquid_fingerprint the parsed posts were made under
    seeded_fingerprint: str | None = None  # settings.fingerprint of posts taken from the post cache (seed)
    moved: bool = False  # the folder was replaced whole since the last scan (see `Refresher.moved`)
    linked: list[str] = field(default_factory=list)  # links and hard-linked posts the last full walk met
    moved_changes: frozenset[str] | None = None  # ...and only these files differ (None: unknown)
    listing: str = ""  # Liquid's site.posts as last indexed, when a post reads it (content/siteposts.py)
    history: datetime | None = None  # git: when the served commit last changed the site (lastmodified.py)
    redate: bool = False  # `history` moved since the last publish: publish even if no post changed


def _serves_the_same(served: Served, resources: Mapping[str, Resource], aliases: Mapping[str, Resource],
                     redirects: Mapping[str, str]) -> bool:
    """Whether a new snapshot would answer every request as `served` does (same paths, validators, headers)."""
    def seen(resource: Resource) -> tuple[object, ...]:
        return resource.path, resource.etag, resource.last_modified, resource.content_type, resource.headers

    return served.resources.keys() == resources.keys() and dict(served.redirects) == dict(redirects) \
        and all(seen(resource) == seen(served.resources[path]) for path, resource in resources.items()) \
        and {alias: seen(r) for alias, r in served.aliases.items()} == {alias: seen(r) for alias, r in aliases.items()}


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
        self._memory = _Memory()
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

    # -- the sequence ------------------------------------------------------------------

    def _refresh(self, trigger: str, now: datetime, named: frozenset[str] | None = None) -> RefreshReport:
        """Settings, inventory, diff; then, unless nothing changed: read, index, render, publish."""
        memory = self._memory
        self._settling.start()
        settings, settings_changed = self._current_settings()
        scan = self._take_inventory(settings, None if settings_changed else named)
        self._mark_changed_relatives()
        changes = self._diff(scan, trigger, now)
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

    def _current_settings(self) -> tuple[Settings, bool]:
        """The settings to refresh under, and whether they changed; posts they shaped are forgotten."""
        memory = self._memory
        previous_fingerprint = memory.settings.fingerprint if memory.settings else memory.seeded_fingerprint
        seeded = memory.settings is None and memory.seeded_fingerprint is not None
        changed = self._load_settings()
        settings = memory.settings
        assert settings is not None
        if seeded and settings.fingerprint == previous_fingerprint and not memory.config_errors:
            # New to this process, not to its posts (a warm start): whatever else they shape is in the
            # render keys, so only the feeds they change are rendered, and published.
            changed = False
        if seeded and settings.fingerprint == previous_fingerprint:  # a cache's bodies in another flavour
            for relpath in in_other_flavours(memory.parsed, settings.markdown):
                memory.inventory[relpath] = FileSignature(-1, -1, -1, -1)
            for relpath in in_other_flavours(memory.last_good, settings.markdown):
                del memory.last_good[relpath]
        if settings.fingerprint != previous_fingerprint:  # posts themselves depend on these settings
            memory.parsed.clear()
            memory.last_good.clear()
            memory.inventory = {}
        elif memory.liquid_fingerprint not in (None, settings.liquid_fingerprint):
            # Only posts rendered with Liquid see the rest of _config.yml (`site.*`): read those again.
            for relpath, known in memory.parsed.items():
                if isinstance(known, Post) and known.liquid and relpath in memory.inventory:
                    memory.inventory[relpath] = FileSignature(-1, -1, -1, -1)
        memory.liquid_fingerprint = settings.liquid_fingerprint
        return settings, changed

    def _mark_changed_relatives(self) -> None:
        """A post whose `include_relative`d file changed is read again, as if it had changed itself: the
        inventory holds only posts, so neither the walk nor the watcher's named paths would see it."""
        memory = self._memory
        for relpath, known in memory.parsed.items():
            if isinstance(known, Post) and known.relatives and relpath in memory.inventory \
                    and changed_relatives(self.content_dir, known.relatives):
                memory.inventory[relpath] = FileSignature(-1, -1, -1, -1)

    def _take_inventory(self, settings: Settings, named: frozenset[str] | None = None) -> _Scan:
        """Every post file's signature, with the newest change of any folder or of the site's config.

        With `named` files, and a complete inventory from an earlier scan, only those are looked at."""
        memory = self._memory
        dialect = dialect_for(settings.dialect, settings.dialect_rules)
        config_mtime = memory.config_signature.mtime_ns if memory.config_signature else 0
        if named is not None and memory.inventory and self.store.snapshot is not None and not memory.moved \
                and not memory.scan_problems and not memory.linked:
            updated = inventory_with(memory.inventory, self.content_dir, named, dialect)
            if updated is not None:
                inventory, folder_mtimes = updated
                memory.content_mtime = max(memory.content_mtime, from_ns(max(folder_mtimes + [config_mtime])))
                return _Scan(inventory, [], [])
        folder_mtimes = []
        unreadable: list[str] = []
        memory.linked = []
        inventory, problems = take_inventory(self.content_dir, folder_mtimes, unreadable, dialect=dialect,
                                             linked=memory.linked)
        memory.content_mtime = from_ns(max(folder_mtimes + [config_mtime]))
        return _Scan(inventory, problems, unreadable)

    def _diff(self, scan: _Scan, trigger: str, now: datetime) -> Changes:
        """What changed since the last refresh, less what is still being written (settle.py)."""
        memory = self._memory
        known = memory.inventory
        changes = diff_inventory(known, scan.inventory)
        moved, memory.moved = memory.moved, False
        if moved and memory.moved_changes is not None:  # a new checkout: only the files its diff names
            forced = FileSignature(-1, -1, -1, -1)  # marked for a re-read by a settings change
            changes = replace(changes, modified=tuple(p for p in changes.modified
                                                      if p in memory.moved_changes or known[p] == forced))
        # Not at startup, nor after a settings change, nor after a checkout; nor when a webhook (or the OS,
        # watching.py) said the writer is done.
        writer_done = any(name in trigger for name in WRITER_DONE_TRIGGERS)
        if self.store.snapshot is not None and known and not writer_done and not moved:
            changes = self._settling.hold_unsettled(changes, known, scan.inventory, scan.unreadable, now,
                                                    partial(removal_settles_at, self.content_dir))
        return changes

    def _read(self, changes: Changes, scan: _Scan, settings: Settings, now: datetime) -> list[str]:
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
            site = build_site(posts, problems, settings, now)
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
                and _serves_the_same(previous, resources, aliases, redirects):
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

    def _load_settings(self) -> bool:
        """Reload settings when `_config.yml`, a `_data` or an `_includes` file changed; a broken config keeps
        the last good one."""
        memory = self._memory
        try:
            signature: FileSignature | None = signature_of(os.stat(config_path(self.content_dir)))
        except OSError:
            signature = None
        data = data_signature(self.content_dir) + includes_signature(self.content_dir)
        if memory.settings is not None and signature == memory.config_signature and data == memory.data_signature:
            return False
        memory.data_signature = data
        try:
            settings = load_settings(self.environ, self.content_dir)
        except ConfigError as exc:
            if memory.settings is None:
                raise
            log.error("%s; keeping the previous settings", exc)
            memory.config_signature = signature
            memory.config_errors = tuple(
                Problem(CONFIG_FILE, f"{problem}; keeping the previous settings") for problem in exc.problems)
            return True  # nothing to re-parse, but /status must show the problem
        memory.config_signature = signature
        changed = memory.settings is None or memory.settings != settings or bool(memory.config_errors)
        memory.settings = settings
        memory.config_errors = ()
        return changed

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
