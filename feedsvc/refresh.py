"""Orchestrates one refresh: inventory -> diff -> read changed -> parse -> index -> render changed -> publish.

The only stateful piece of the pipeline. It remembers what it parsed and rendered so a
rescan that finds nothing new costs one `stat` per file, and an edit re-renders only the
feeds that show the edited post. Requests never wait: they read `SnapshotStore.current`,
which is replaced whole by `publish`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from .config import CONFIG_FILE, ConfigError, Settings, config_problems, load_settings
from .indexing import build_site
from .model import FeedFormat, Post, Problem, Resource, Site, Snapshot
from .pages import render_index, render_opml
from .parsing import MAX_POST_BYTES, parse_post
from .rendering import EPOCH, render_feed
from .scanning import (
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
from .urls import feed_path

log = logging.getLogger("feedsvc")


def _from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ScanStatus:
    """How the last refresh went; shown by /status and `check`."""

    at: datetime | None = None
    seconds: float = 0.0
    trigger: str = ""
    error: str | None = None  # the folder as a whole could not be scanned; last good feeds stay up


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


class SnapshotStore:
    """The one place the web layer reads from; swapping the reference is atomic."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.status = ScanStatus()


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
    rendered: dict[str, tuple[tuple, Resource]] = field(default_factory=dict)
    scan_problems: list[Problem] = field(default_factory=list)
    reported: set[Problem] = field(default_factory=set)
    next_publish_at: datetime | None = None
    pending: dict[str, datetime] = field(default_factory=dict)  # held back until then (see _hold_unsettled)


class Refresher:
    def __init__(self, store: SnapshotStore, content_dir: Path, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.content_dir = content_dir
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock
        self.listeners: list[Callable[[RefreshReport, Snapshot], None]] = []
        # Called with a moment to refresh again when files were still being written (set by the scheduler).
        self.follow_up: Callable[[datetime], None] | None = None
        self._lock = threading.Lock()
        self._memory = _Memory()
        self._generation = 0

    @property
    def settings(self) -> Settings | None:
        return self._memory.settings

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
                for listener in list(self.listeners):
                    try:
                        listener(report, snapshot)
                    except Exception:  # a listener must never break refreshing
                        log.exception("refresh listener failed")
            return report

    # -- the steps -------------------------------------------------------------------

    def _refresh(self, trigger: str, now: datetime) -> RefreshReport:
        memory = self._memory
        previous_fingerprint = memory.settings.fingerprint if memory.settings else None
        settings_changed = self._load_settings()
        settings = memory.settings
        assert settings is not None
        folder_mtimes: list[int] = []
        unreadable: list[str] = []
        memory.pending = {}
        inventory, scan_problems = take_inventory(self.content_dir, folder_mtimes, unreadable)
        config_mtime = memory.config_signature.mtime_ns if memory.config_signature else 0
        memory.content_mtime = _from_ns(max(folder_mtimes + [config_mtime]))
        if settings.fingerprint != previous_fingerprint:  # posts themselves depend on these settings
            memory.parsed.clear()
            memory.last_good.clear()
            memory.inventory = {}
        changes = diff_inventory(memory.inventory, inventory)
        if self.store.snapshot is not None and memory.inventory:  # not at startup, nor after a settings change
            changes = self._hold_unsettled(changes, inventory, unreadable, now)
        due = memory.next_publish_at is not None and now >= memory.next_publish_at
        if not changes and not settings_changed and not due and not memory.retry \
                and scan_problems == memory.scan_problems and self.store.snapshot is not None:
            return RefreshReport(trigger)
        for relpath in changes.removed:
            memory.parsed.pop(relpath, None)
            memory.last_good.pop(relpath, None)
        gone: list[str] = []
        for relpath in changes.added + changes.modified:
            result = self._read_and_parse(relpath, inventory[relpath], settings)
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
        site = build_site(posts, problems, settings, now)
        memory.next_publish_at = site.next_publish_at
        resources, changed = self._render(site, settings, now)
        self._report_new_problems(site.problems)
        memory.retry = False
        self._generation += 1
        self.store.snapshot = Snapshot(
            site=site,
            resources=MappingProxyType(resources),
            generation=self._generation,
            stats=MappingProxyType({"files": len(inventory)}),
        )
        added = tuple(p for p in changes.added if p not in gone)
        return RefreshReport(trigger, added=added, updated=changes.modified, removed=changes.removed,
                             feeds_changed=tuple(changed), problems=site.problems, published=True)

    def _load_settings(self) -> bool:
        """Reload settings when `_config.yml` changed; a broken config keeps the last good one."""
        memory = self._memory
        try:
            signature: FileSignature | None = signature_of(os.stat(self.content_dir / CONFIG_FILE))
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

    def _read_and_parse(self, relpath: str, signature: FileSignature, settings: Settings) -> Post | Problem | None:
        if signature.size > MAX_POST_BYTES:
            return Problem(relpath, f"file is {signature.size:,} bytes, over the {MAX_POST_BYTES:,}-byte limit "
                                    "for a post; not read")
        try:
            with open(self.content_dir / relpath, "rb") as handle:
                raw = handle.read(MAX_POST_BYTES + 1)
                read_signature = signature_of(os.fstat(handle.fileno()))
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Problem(relpath, f"cannot read: {exc.strerror or exc}")
        if read_signature != signature:  # replaced or rewritten since the scan: the bytes may be torn
            return None
        return parse_post(relpath, raw, settings)

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
        """Render every feed whose inputs changed; reuse the bytes (and validators) of the others."""
        memory = self._memory
        previous = self.store.snapshot.resources if self.store.snapshot is not None else {}
        resources: dict[str, Resource] = {}
        changed: list[str] = []
        rendered: dict[str, tuple[tuple, Resource]] = {}
        for scope, posts in site.scopes.items():
            shown = posts[: settings.feed_limit]
            key = (settings, scope.label, tuple(p.fingerprint for p in shown))
            for fmt in FeedFormat:
                path = feed_path(scope, fmt)
                cached = memory.rendered.get(path)
                if cached is not None and cached[0] == key:
                    resource = cached[1]
                else:
                    resource = self._dated(render_feed(site, scope, fmt, settings), shown, previous.get(path), now)
                    if cached is None or cached[1].etag != resource.etag:
                        changed.append(path)
                rendered[path] = (key, resource)
                resources[path] = resource
        changed.extend(path for path in memory.rendered if path not in rendered)
        memory.rendered = rendered
        for page in (render_index(site, settings), render_opml(site, settings)):
            resources[page.path] = self._dated(page, site.posts, previous.get(page.path), now)
        return resources, sorted(changed)

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
            return previous
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

