"""Orchestrates one refresh: inventory -> diff -> read changed -> parse -> index -> render changed -> publish.

The only stateful piece of the pipeline. It remembers what it parsed and rendered so a
rescan that finds nothing new costs one `stat` per file, and an edit re-renders only the
feeds that show the edited post. Requests never wait: they read `SnapshotStore.current`,
which is replaced whole by `publish`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import MappingProxyType

from feedsvc.config import CONFIG_FILE, ConfigError, Settings, config_path, config_problems, load_settings, settings_key
from feedsvc.content.dialects import dialect_for
from feedsvc.content.reading import read_posts
from feedsvc.content.scanning import (
    SETTLE_SECONDS,
    Changes,
    FileSignature,
    ScanError,
    diff_inventory,
    removal_settles_at,
    settles_at,
    signature_of,
    take_inventory,
)
from feedsvc.model import (
    BODY_LEVEL,
    UNSERVED_BODY_LEVEL,
    FeedFormat,
    Post,
    Problem,
    Resource,
    ScanStatus,
    ScopeKind,
    Site,
    Snapshot,
)
from feedsvc.pipeline.parallel import FORK_FROM, fork_is_safe, render_forked
from feedsvc.pipeline.postcache import Seed
from feedsvc.render.feeds import EPOCH, GZIP_LEVEL, UNSERVED_GZIP_LEVEL, ResourceParts, as_resource, feed_parts
from feedsvc.render.pages import page_path, render_index, render_opml, scope_page_parts
from feedsvc.site.compat import compat_routes
from feedsvc.site.indexing import build_site, update_site
from feedsvc.urls import feed_path

log = logging.getLogger("feedsvc")

_HASH_THREADS = 2
_FEED_FILES = tuple(fmt.filename for fmt in FeedFormat)

Progress = Callable[[str, int, int], None]
"""`progress(phase, done, total)`: called with done=0 as a phase starts, then as it advances; done == total ends it."""


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


def _from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


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


class SnapshotStore:
    """The one place the web layer reads from; swapping the reference is atomic."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.status = ScanStatus()
        # More for /status (scheduler, last refresh, WebSub, role), supplied by whoever runs this process.
        self.details: Callable[[], Mapping[str, object]] = dict


@dataclass
class _Memory:
    """What the refresher carries between runs (never shared with request threads)."""

    settings: Settings | None = None
    config_signature: FileSignature | None = None
    config_errors: tuple[Problem, ...] = ()
    retry: bool = False  # the last refresh failed half-way: the next one must publish even if nothing changed
    content_mtime: datetime = datetime(1970, 1, 1, tzinfo=UTC)  # newest folder or config change
    inventory: dict[str, FileSignature] = field(default_factory=dict)
    parsed: dict[str, Post | Problem] = field(default_factory=dict)
    last_good: dict[str, Post] = field(default_factory=dict)
    rendered: dict[str, tuple[str, Resource]] = field(default_factory=dict)  # path -> (render key, bytes)
    scan_problems: list[Problem] = field(default_factory=list)
    reported: set[Problem] = field(default_factory=set)
    next_publish_at: datetime | None = None
    pages: dict[str, tuple[tuple[object, ...], Resource]] = field(default_factory=dict)
    liquid_fingerprint: str | None = None  # settings.liquid_fingerprint the parsed posts were made under
    seeded_fingerprint: str | None = None  # settings.fingerprint of posts taken from the post cache (seed)
    pending: dict[str, datetime] = field(default_factory=dict)  # held back until then (see _hold_unsettled)


class Refresher:
    def __init__(self, store: SnapshotStore, content_dir: Path, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = utc_now, progress: Progress | None = None,
                 for_build: bool = False) -> None:
        """`for_build`: for `feedsvc build` or `check`, which serve nothing and exit when done: gzip
        and post bodies are then compressed for speed, not size (render/feeds.py, model.py)."""
        self.store = store
        self.gzip_level = UNSERVED_GZIP_LEVEL if for_build else GZIP_LEVEL
        self.body_level = UNSERVED_BODY_LEVEL if for_build else BODY_LEVEL
        self.progress = progress or _no_progress
        self.content_dir = content_dir
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock
        self.listeners: list[Callable[[RefreshReport, Snapshot], None]] = []
        # Called with a moment to refresh again when files were still being written (set by the scheduler).
        self.follow_up: Callable[[datetime], None] | None = None
        self._lock = threading.Lock()
        self._memory = _Memory()
        self._generation = 0

    def continue_generations(self, generation: int) -> None:
        """A worker taking over as builder numbers its snapshots after the ones already served."""
        with self._lock:
            self._generation = max(self._generation, generation)

    @property
    def settings(self) -> Settings | None:
        return self._memory.settings

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
            memory.rendered = {path: (key, served[path]) for path, (key, etag) in seed.rendered.items()
                               if path in served and served[path].etag == etag}

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
                    dict(parsed), {path: (key, resource.etag) for path, (key, resource) in memory.rendered.items()},
                    last_good)

    def refresh(self, trigger: str = "manual") -> RefreshReport:
        """Bring the served snapshot up to date with the folder; safe to call from any thread."""
        with self._lock:
            started = time.perf_counter()
            now = self.clock()
            try:
                report = self._refresh(trigger, now)
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
            report = replace(report, seconds=seconds, pending=tuple(sorted(self._memory.pending)))
            self._plan_follow_up(trigger)
            if report.published:
                log.info("refresh (%s): +%d ~%d -%d posts, %d feeds changed, %.3fs", trigger, len(report.added),
                         len(report.updated), len(report.removed), len(report.feeds_changed), seconds)
                snapshot = self.store.snapshot
                assert snapshot is not None  # published: there is one to hand over
                for listener in list(self.listeners):
                    try:
                        listener(report, snapshot)
                    except Exception:  # a listener must never break refreshing
                        log.exception("refresh listener failed")
            return report

    # -- the steps -------------------------------------------------------------------

    def _refresh(self, trigger: str, now: datetime) -> RefreshReport:
        memory = self._memory
        previous_fingerprint = memory.settings.fingerprint if memory.settings else memory.seeded_fingerprint
        settings_changed = self._load_settings()
        settings = memory.settings
        assert settings is not None
        folder_mtimes: list[int] = []
        unreadable: list[str] = []
        memory.pending = {}
        inventory, scan_problems = take_inventory(self.content_dir, folder_mtimes, unreadable,
                                                  dialect=dialect_for(settings.dialect, settings.dialect_rules))
        config_mtime = memory.config_signature.mtime_ns if memory.config_signature else 0
        memory.content_mtime = _from_ns(max(folder_mtimes + [config_mtime]))
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
        changes = diff_inventory(memory.inventory, inventory)
        # Not at startup, nor after a settings change; nor when a webhook said the writer is done.
        if self.store.snapshot is not None and memory.inventory and "webhook" not in trigger:
            changes = self._hold_unsettled(changes, inventory, unreadable, now)
        due = memory.next_publish_at is not None and now >= memory.next_publish_at
        if not changes and not settings_changed and not due and not memory.retry \
                and scan_problems == memory.scan_problems and self.store.snapshot is not None:
            return RefreshReport(trigger)
        for relpath in changes.removed:
            memory.parsed.pop(relpath, None)
            memory.last_good.pop(relpath, None)
        gone: list[str] = []
        to_read = [(relpath, inventory[relpath]) for relpath in changes.added + changes.modified]
        self.progress("reading", 0, len(to_read))
        read = read_posts(self.content_dir, to_read, settings, body_level=self.body_level,
                          progress=lambda done: self.progress("reading", done, len(to_read)))
        for (relpath, _), result in zip(to_read, read, strict=True):
            if result is None:  # vanished, or changed, between listing and reading: look again shortly
                gone.append(relpath)
                memory.pending[relpath] = now + timedelta(seconds=SETTLE_SECONDS)
                continue
            memory.parsed[relpath] = result
            if isinstance(result, Post):
                memory.last_good[relpath] = result
        for relpath in gone:  # what was served before (if anything) stays until the next look
            if relpath in memory.inventory:
                inventory[relpath] = memory.inventory[relpath]
            else:
                inventory.pop(relpath, None)
        memory.inventory = inventory
        memory.scan_problems = scan_problems

        posts, problems = self._current_posts()
        problems.extend(scan_problems)
        problems.extend(config_problems(settings))
        problems.extend(memory.config_errors)
        site = None
        previous_site = self.store.snapshot.site if self.store.snapshot is not None else None
        if previous_site is not None and changes.modified and not (changes.added or changes.removed or gone) \
                and not settings_changed and not due and not memory.retry:
            replaced = {relpath: memory.parsed.get(relpath) for relpath in changes.modified}
            if all(isinstance(post, Post) for post in replaced.values()):
                site = update_site(previous_site, replaced, problems)  # type: ignore[arg-type]
        if site is None:
            site = build_site(posts, problems, settings, now)
        memory.next_publish_at = site.next_publish_at
        resources, changed = self._render(site, settings, now)
        self._report_new_problems(site.problems)
        memory.retry = False
        aliases, redirects = compat_routes(resources, site.scopes, settings.compat, settings.public_url)
        self._generation += 1
        self.store.snapshot = Snapshot(
            site=site,
            resources=MappingProxyType(resources),
            generation=self._generation,
            stats=MappingProxyType(site_stats(site, resources, len(inventory))),
            aliases=MappingProxyType(aliases),
            redirects=MappingProxyType(redirects),
            modified=max(memory.content_mtime, _from_ns(max(
                (max(sig.mtime_ns, sig.ctime_ns) for sig in inventory.values()), default=0))),
        )
        added = tuple(p for p in changes.added if p not in gone)
        return RefreshReport(trigger, added=added, updated=changes.modified, removed=changes.removed,
                             feeds_changed=tuple(changed), problems=site.problems, published=True)

    def _load_settings(self) -> bool:
        """Reload settings when `_config.yml` changed; a broken config keeps the last good one."""
        memory = self._memory
        try:
            signature: FileSignature | None = signature_of(os.stat(config_path(self.content_dir)))
        except OSError:
            signature = None
        if memory.settings is not None and signature == memory.config_signature:
            return False
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

    def _hold_unsettled(self, changes: Changes, inventory: dict[str, FileSignature], unreadable: list[str],
                        now: datetime) -> Changes:
        """Keep serving what was there while files are still being written, so no reader sees half a post.

        A file changed within the settle window keeps its previous version (or stays unseen if
        new); a file found missing stays while its folder changed within the window (editors
        save by rename, `git checkout` deletes and rewrites); a file under a folder that cannot
        be read stays as long as that lasts. Held files keep their old signature here, so the
        next refresh sees them as changed and looks again.
        """
        memory = self._memory
        for relpath in changes.added + changes.modified:
            when = settles_at(inventory[relpath], now)
            if when is not None:
                memory.pending[relpath] = when
                if relpath in memory.inventory:
                    inventory[relpath] = memory.inventory[relpath]
                else:
                    del inventory[relpath]
        for relpath in changes.removed:
            if any(relpath == entry or (entry.endswith("/") and relpath.startswith(entry)) for entry in unreadable):
                inventory[relpath] = memory.inventory[relpath]  # unknown, not gone
                continue
            when = removal_settles_at(self.content_dir, relpath, now)
            if when is not None:
                memory.pending[relpath] = when
                inventory[relpath] = memory.inventory[relpath]
        return diff_inventory(memory.inventory, inventory)

    def _plan_follow_up(self, trigger: str) -> None:
        pending = self._memory.pending
        if not pending:
            return
        when = max(min(pending.values()), self.clock())
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

    def _render(self, site: Site, settings: Settings, now: datetime) -> tuple[dict[str, Resource], list[str]]:
        """Render every feed and scope page whose inputs changed; reuse the bytes (and validators) of the others.

        How the work is spread over the cores is `_make`'s business; the output never depends on it.
        """
        memory = self._memory
        previous = self.store.snapshot.resources if self.store.snapshot is not None else {}
        resources: dict[str, Resource | None] = {}
        fresh: dict[str, tuple[str, tuple[Post, ...], Callable[[], ResourceParts]]] = {}
        rendered: dict[str, tuple[str, Resource]] = {}
        every_setting = settings_key(settings)
        total = len(site.scopes) * (len(FeedFormat) + 1) - 1  # the site scope's page is the index
        for scope, posts in site.scopes.items():
            shown = posts[: settings.feed_limit]
            # The archive count names the newest archive page in the feeds' `Link` header (archives.py).
            # A string, so the post cache can keep it across restarts (postcache.py).
            key = hashlib.sha256(repr((every_setting, scope.label, len(posts) // settings.feed_limit,
                                       [p.fingerprint for p in shown])).encode("utf-8", "surrogatepass")).hexdigest()
            # A scope's page shows what its feeds show: it is keyed, and re-rendered, with them.
            parts = {feed_path(scope, fmt): partial(feed_parts, site, scope, fmt, settings) for fmt in FeedFormat}
            if scope.kind is not ScopeKind.SITE:
                parts[page_path(scope)] = partial(scope_page_parts, scope, shown, settings)
            for path, render in parts.items():
                cached = memory.rendered.get(path)
                if cached is not None and cached[0] == key:
                    rendered[path] = cached
                    resources[path] = cached[1]
                else:
                    fresh[path] = (key, shown, render)
                    resources[path] = None  # keeps the order
        reused = total - len(fresh)
        self.progress("rendering", reused, total)
        made = self._make(list(fresh.values()), lambda done: self.progress("rendering", reused + done, total))
        pages = self._pages(site, settings)
        changed: list[str] = []
        for (path, (key, shown, _)), made_resource in zip(fresh.items(), made, strict=True):
            served = previous.get(path)
            resource = self._dated(made_resource, shown, served, now)
            if path.endswith(_FEED_FILES) and (served is None or served.etag != resource.etag):
                changed.append(path)  # a feed that changed for readers, not just for us
            rendered[path] = (key, resource)
            resources[path] = resource
        feed_types = {fmt.content_type for fmt in FeedFormat}
        known = memory.rendered.keys() or {p for p, r in previous.items() if r.content_type in feed_types}
        changed.extend(path for path in known if path not in rendered and path.endswith(_FEED_FILES))  # gone
        memory.rendered = rendered
        for page in pages:
            resources[page.path] = self._dated(page, site.posts, previous.get(page.path), now)
        return {path: resource for path, resource in resources.items() if resource is not None}, sorted(changed)

    def _make(self, jobs: list[tuple[str, tuple[Post, ...], Callable[[], ResourceParts]]],
              progress: Callable[[int], None]) -> list[Resource]:
        """Render, hash and compress each job, in order: on every core for a cold build (parallel.py),
        else here, with hashing and gzip (which release the GIL) on a second thread."""
        renders = [render for _, _, render in jobs]
        if len(renders) >= FORK_FROM and fork_is_safe():
            made = render_forked(renders, progress, self.gzip_level)
            if made is not None:
                return made
        with ThreadPoolExecutor(max_workers=_HASH_THREADS, thread_name_prefix="feedsvc-gzip") as pool:
            futures = [pool.submit(as_resource, *render(), gzip_level=self.gzip_level) for render in renders]
            progress(len(futures))
            return [future.result() for future in futures]

    def _pages(self, site: Site, settings: Settings) -> list[Resource]:
        """The OPML lists scopes and counts, the index those and the site's newest entries: most edits
        leave both as they were."""
        newest = max((p.updated for p in site.posts), default=EPOCH)
        key = (settings, tuple((scope, len(posts)) for scope, posts in site.scopes.items()), newest)
        shown = tuple(p.fingerprint for p in site.posts[: settings.feed_limit])
        keys = {"index": (key, shown), "opml": key}
        renderers = {"index": render_index, "opml": render_opml}
        for name, page_key in keys.items():
            cached = self._memory.pages.get(name)
            if cached is None or cached[0] != page_key:
                self._memory.pages[name] = (page_key, renderers[name](site, settings))
        return [self._memory.pages[name][1] for name in keys]

    def _dated(self, resource: Resource, posts: tuple[Post, ...], previous: Resource | None,
               now: datetime) -> Resource:
        """Give Last-Modified a value that moves forward whenever the bytes change.

        The newest entry's date alone would not: a retitled or deleted post changes the
        feed without a newer date, and a reader sending only If-Modified-Since would get
        a stale 304. So the entries' file mtimes count, and so do the folders' and
        `_config.yml`'s (deletions, renames, settings: also across a restart); a change seen
        while running counts as now.
        """
        if previous is not None and previous.etag == resource.etag:
            # Same bytes, same validators; only a `Link` header (a new archive page) may have moved.
            return previous if previous.headers == resource.headers else replace(previous, headers=resource.headers)
        candidates = [resource.last_modified or EPOCH, self._memory.content_mtime]
        inventory = self._memory.inventory
        candidates.extend(_from_ns(inventory[p.source].mtime_ns) for p in posts if p.source in inventory)
        last_modified = max(candidates)
        if previous is not None:
            last_modified = max(last_modified, now, (previous.last_modified or EPOCH) + timedelta(seconds=1))
        return replace(resource, last_modified=last_modified.replace(microsecond=0))

    def _report_new_problems(self, problems: tuple[Problem, ...]) -> None:
        memory = self._memory
        current = set(problems)
        for problem in problems:
            if problem not in memory.reported:
                (log.error if problem.severity == "error" else log.warning)("%s", problem)
        memory.reported = current

