"""Wires one running feedsvc: settings, snapshot store, refresher, queue, webhooks, app and scheduler."""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing.util
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedsvc.config import (
    ConfigError,
    Settings,
    content_dir_from,
    load_settings,
    settings_key,
    state_dir_from,
    watch_enabled,
    webhook_body_seconds,
)
from feedsvc.deploy.accesslog import show_query_strings
from feedsvc.deploy.activity import ReaderActivity
from feedsvc.deploy.gitconfig import git_config_from
from feedsvc.deploy.logsetup import configure_logging as configure_logging  # re-exported for feedsvc.wsgi
from feedsvc.deploy.privatefolder import claim_folder, subfolder
from feedsvc.deploy.settingsinputs import ReadNames, forget, recall, remember
from feedsvc.deploy.statefolder import STATE_FOLDER, StateFolder, cannot_write
from feedsvc.snapshot import Built, SnapshotStore
from feedsvc.web.fastpath import FastPath, WSGIApp
from feedsvc.web.hookbudget import BODY_SECONDS
from feedsvc.web.metrics import Metrics, enable_multiprocess, reserve_space

if TYPE_CHECKING:
    # The server stack, imported where it starts, so `build` and `check` never load it; and the builder's parts
    # (parsers, renderers, the queue), imported when a warm start first needs them: after the fork, off the
    # readers' path (`_parts`).
    from flask import Flask

    from feedsvc.deploy.builderparts import BuilderParts
    from feedsvc.deploy.gitsource import GitSource
    from feedsvc.deploy.websub import HubPinger
    from feedsvc.deploy.workers import Delegate, Deployment
    from feedsvc.pipeline.postcache import CacheWriter
    from feedsvc.pipeline.refresh import Progress, Refresher, RefreshReport
    from feedsvc.pipeline.scheduling import RefreshScheduler
    from feedsvc.pipeline.triggers import RefreshQueue
    from feedsvc.pipeline.watching import FolderWatch
    from feedsvc.web.ondemand import OnDemandFeeds
    from feedsvc.web.webhooks import WebhookReceiver

log = logging.getLogger("feedsvc")

RECENT_REFRESHES = 10
RECENT_NAMES = 50
LOADING_SWITCH_SECONDS = 0.001


class Service:
    """Built before gunicorn forks (one initial build for all workers); threads start after, per worker.

    A warm start (`serving`, the published feeds' settings inputs unchanged) holds only what serves them before
    the fork: the snapshot, the fast path and the HTTP server. The refresher, queue, webhooks receiver, on-demand
    renderer and pinger (`_parts`), and the settings themselves, are built when first asked for: by the builder
    after the fork, by a request Flask answers, or by a follower that needs them.
    """

    def __init__(self, environ: Mapping[str, str] | None = None, content_dir: str | Path | None = None,
                 serving: bool = False, progress: Progress | None = None, for_build: bool = False,
                 seed: Callable[[Refresher], None] | None = None) -> None:
        """`serving`: this process will fork HTTP workers (metrics are then kept across processes).
        `progress`: told how the builds advance (`feedsvc build` and `check` show it).
        `for_build`: `build` and `check`, which serve nothing (see `Refresher`).
        `seed`: given the refresher before its first refresh (`build --cache`, deploy/buildcache.py)."""
        environ = dict(os.environ if environ is None else environ)
        self._environ = environ
        root = content_dir_from(environ, content_dir)
        self.state_dir = state_dir_from(environ, root)
        # `build` and `check` keep no state (unless they clone a repository); a server refuses a folder others
        # could write
        if not for_build or environ.get("FEEDSVC_GIT_URL", "").strip():
            self.state_dir = claim_folder(self.state_dir)
        self.git, moved_at_start = _git_source(environ, self.state_dir)
        if self.git is not None:
            root = self.git.content_dir
        self._root = root
        self._progress = progress
        self._for_build = for_build
        self._lock = threading.RLock()  # the parts and settings built on first use, once, by whichever thread asks
        self._refresher: Refresher | None = None
        self._settings: Settings | None = None
        self._built_parts: BuilderParts | None = None
        self._remembered_key: str | None = None  # a warm start's settings key, taken from the inputs record
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REFRESHES)  # for /status, newest last
        self.store = SnapshotStore()
        if serving:
            self.store.trouble("metrics", enable_multiprocess(self.state_dir / "metrics"))
        self.metrics: Metrics
        if not for_build:  # prometheus-client: for the server only
            self.metrics = Metrics()
        if moved_at_start:  # posts a warm start remembers were read from an older checkout: compare them all
            self.refresher.moved(None)
        if self.git is not None:
            self.refresher.dated_by(self.git.site_changed_at())
        # The warm start's reader of the state folder, kept for the builder: it knows which blobs it checked.
        self.state_folder: StateFolder | None = None
        cache_max_age = self._warm_start(environ, root) if serving else None
        if cache_max_age is None:
            if seed is not None:
                seed(self.refresher)
            startup = self.refresher.refresh("startup")  # raises ConfigError when the settings are unusable
            assert self.refresher.settings is not None
            self._settings = self.refresher.settings
            cache_max_age = self._settings.cache_max_age
            if not for_build:
                self.metrics.refreshed(startup, self.store.snapshot.stats if self.store.snapshot else None)
            self._remember(startup)
        if for_build:
            return  # `build` and `check` read the store and the refresher; what follows serves
        release_memory(freeze=True)  # before gunicorn forks the workers
        self._hook_seconds = webhook_body_seconds(environ, BODY_SECONDS)
        self._app: Flask | None = None
        self._app_lock = threading.Lock()
        # What the HTTP server calls: the fast path answers the feeds from the snapshot at once; Flask, for
        # everything else, is imported and built after the first readers' rush (`app`, `start_background`).
        # The activity notes readers, so a warm-started builder waits for a lull (activity.py).
        self.activity = ReaderActivity(FastPath(self.store, lambda environ, start_response: self.app(
            environ, start_response), cache_max_age, self.metrics))
        self.scheduler: RefreshScheduler | None = None
        self.deployment: Deployment | None = None
        self._starting: threading.Thread | None = None
        self._stopping = threading.Event()
        self.watch: FolderWatch | None = None
        self._watch_wanted = watch_enabled(environ)
        self.cache_writer: CacheWriter | None = None
        self.store.details = self._details  # the deployment (workers.py) adds its own once it starts
        # Behind one cache, replicas serve the same feeds: one of them pings the hubs (docs/deployment.md).
        self.pings = environ.get("FEEDSVC_WEBSUB_PING", "1").strip().lower() not in ("0", "false", "no", "off")
        if self._settings is not None:  # built here: the parts' imports are made already, and forked workers share them
            self._parts()

    @property
    def content_dir(self) -> Path:
        """The folder the posts are read from (a git source's checkout, with one)."""
        return self._root

    @property
    def refresher(self) -> Refresher:
        """The refresher, built on first use (a warm start builds it in the builder, after the fork)."""
        with self._lock:
            if self._refresher is None:
                from feedsvc.pipeline.refresh import Refresher

                self._refresher = Refresher(self.store, self._root, self._environ, progress=self._progress,
                                            for_build=self._for_build)
            return self._refresher

    @property
    def settings(self) -> Settings:
        """The settings the served feeds were built under: read on first use after a warm start that did not."""
        with self._lock:
            if self._settings is None:
                self._settings = load_settings(self._environ, self._root)
            return self._settings

    def _parts(self) -> BuilderParts:
        """Build, once, what refreshes and answers beyond the published feeds (the slow imports are there)."""
        with self._lock:
            if self._built_parts is None:
                from feedsvc.deploy.builderparts import builder_parts

                self._built_parts = builder_parts(
                    self.refresher, lambda: self.settings, self.metrics, self._environ, self.state_dir, self.git,
                    on_report=[lambda report: self.metrics.refreshed(
                                   report, self.store.snapshot.stats if self.store.snapshot else None),
                               lambda report: release_memory() if len(report.added) > 100 else None,
                               self._remember],
                    before_run=[self._fetch] if self.git is not None else [])
            return self._built_parts

    @property
    def queue(self) -> RefreshQueue:
        return self._parts().queue

    @property
    def refreshes(self) -> Delegate:
        return self._parts().refreshes

    @property
    def webhooks(self) -> WebhookReceiver | None:
        return self._parts().webhooks

    @property
    def ondemand(self) -> OnDemandFeeds:
        return self._parts().ondemand

    @property
    def pinger(self) -> HubPinger:
        return self._parts().pinger

    @property
    def app(self) -> Flask:
        """The Flask app (with the same fast path in front), built on first use: the serving path does not wait
        for Flask's imports (`wsgi` answers the feeds without it)."""
        with self._app_lock:
            if self._app is None:
                from feedsvc.web.app import create_app
                from feedsvc.web.hookbudget import HookBudget

                self._app = create_app(self.settings, self.store, self.webhooks, self.metrics, self.ondemand,
                                       HookBudget(seconds=self._hook_seconds))
            return self._app

    def _app_after_lull(self) -> None:
        self.activity.wait_for_first_readers()
        if not self.activity.stopping:
            self.app  # noqa: B018 (built for its side effect: Flask imported and ready)

    @property
    def wsgi(self) -> WSGIApp:
        """What an HTTP server calls: the fast path, then the Flask app."""
        return self.activity

    def _warm_start(self, environ: Mapping[str, str], root: Path) -> int | None:
        """Serve the last published feeds at once if they were built under these very settings; returns their
        cache lifetime (`Settings.cache_max_age`), or None when a build must come first.

        The builder then rescans in the background and publishes whatever changed while we were
        down; a reader may get the previous bytes for that long, never a 503 or a missing feed.
        "These very settings": the inputs the state folder's record names are unchanged (settingsinputs.py),
        or else the settings, read (which imports the dialects' parsers), have the published feeds' key.
        """
        started = time.perf_counter()
        remembered = recall(self.state_dir, environ, root)
        if remembered is not None:
            key, max_age = remembered.key, remembered.cache_max_age
            self._remembered_key = key
        else:
            read = ReadNames(environ)
            settings = load_settings(read, root)  # raises ConfigError when the settings are unusable
            key, max_age = settings_key(settings), settings.cache_max_age
        state = StateFolder(self.state_dir)
        snapshot = state.read_snapshot(None, key)
        if snapshot is None:
            return None
        if remembered is None:
            self._settings = settings
            remember(self.state_dir, environ, root, read.names, key, max_age)
        self.state_folder = state
        self.store.snapshot = snapshot
        log.info("warm start: serving %d files of generation %d from %s in %.3fs (settings %s); rescanning in the "
                 "background", len(snapshot.resources), snapshot.generation, self.state_dir,
                 time.perf_counter() - started, "inputs unchanged" if remembered is not None else "read")
        return max_age

    def publish_state(self) -> None:
        """Write a fresh build to the state folder before serving, so the next start is warm even if
        this one is stopped at once; the elected builder adopts it instead of writing it again."""
        snapshot = self.store.snapshot
        if isinstance(snapshot, Built):  # not one loaded by a warm start: that is on disk already
            started = time.perf_counter()
            key = settings_key(self.settings)
            try:
                StateFolder(self.state_dir).write_snapshot(snapshot, key)
            except OSError as exc:  # a full disk: serve from memory; the builder writes it once it can
                log.error("cannot write the feeds to %s (%s); serving them from memory", self.state_dir, exc)
                self.store.trouble(STATE_FOLDER, cannot_write(exc))
                return
            log.info("wrote %d files to %s in %.2fs", len(snapshot.resources), self.state_dir,
                     time.perf_counter() - started)
            self._remember_inputs(key)

    def _remember_inputs(self, key: str) -> None:
        """Note what these settings were read from, so the next start can serve without reading them."""
        read = ReadNames(self._environ)
        try:
            again = load_settings(read, self._root)
        except ConfigError:
            return
        if settings_key(again) == key:  # else something besides the inputs decides: no record, settings read
            remember(self.state_dir, self._environ, self._root, read.names, key, again.cache_max_age)

    def start_background(self) -> None:
        """Elect this process builder or follower and start its threads; call once per process, after any fork.

        After a warm start that built none of the builder's parts, they are built (and the election held) in a
        thread once the first readers pause, so this worker answers feeds before their imports."""
        if self.deployment is not None or self._starting is not None:
            return
        self.activity.last = self.activity.clock()  # this worker starting: its first readers are about to arrive
        trouble = reserve_space()  # this process's own metric files (a forked worker has a new pid)
        if trouble is not None:
            log.error("%s; this worker counts alone", trouble)
            self.metrics.count_alone()
            self.store.trouble("metrics", trouble)
        if self._built_parts is not None:
            self._deploy()
        else:
            self._starting = threading.Thread(target=self._deploy_after_lull, name="feedsvc-start", daemon=True)
            self._starting.start()
        # Flask's imports and app, off the first readers' path (the builder's own lull wait is separate)
        threading.Thread(target=self._app_after_lull, name="feedsvc-app", daemon=True).start()

    def _deploy_after_lull(self) -> None:
        self.activity.wait_for_first_readers()
        if self._stopping.is_set():
            return
        started = time.perf_counter()
        try:
            self._parts()
        except Exception:
            log.exception("cannot start the builder's parts; serving the published feeds as they are")
            return
        log.info("builder's parts imported and built in %.2fs", time.perf_counter() - started)
        self._deploy()

    def _deploy(self) -> None:
        from feedsvc.deploy.workers import Deployment

        with self._lock:
            if self._stopping.is_set():
                return
            state = self.state_folder or StateFolder(self.state_dir)
            self.deployment = Deployment(state, self.store, self.queue, self.refreshes, self._start_builder,
                                         self._stop_builder, self._details, self.ondemand,
                                         want=self.git.want if self.git is not None else None)
            self.deployment.start()

    def started(self, timeout: float | None = None) -> Deployment | None:
        """This process's deployment once elected (after a warm start, once the first readers pause)."""
        if self._starting is not None:
            self._starting.join(timeout)
        return self.deployment

    def stop(self) -> None:
        self.activity.stop()  # a builder still waiting for a lull holds the deployment's role lock
        with self._lock:
            self._stopping.set()  # a deployment not started yet never will be
        if self._starting is not None:
            self._starting.join(10)
        if self.deployment is not None:
            self.deployment.stop()
            self.deployment = None

    def _start_builder(self) -> None:
        from feedsvc.pipeline.postcache import CacheWriter, PostCache

        if self.pings:
            self.refresher.listeners.append(self.pinger)  # after the startup build: a restart pings only real changes
            self.pinger.start()
        if self._remembered_key is not None and settings_key(self.settings) != self._remembered_key:
            # the record named inputs that were not all of them: its first refresh republishes what they make
            log.warning("the settings differ from those the published feeds were built under, though what they "
                        "are read from did not change; the first rescan publishes the feeds they make")
            forget(self.state_dir)
        cache = PostCache(subfolder(self.state_dir, "posts"))
        if self.refresher.settings is None and self.store.snapshot is not None:  # a warm start, or a takeover
            waited = self.activity.wait_for_lull()  # the first readers' rush before the CPU-heavy load
            started = time.perf_counter()
            # This runs while the first readers are served from the same process: let a waiting request
            # thread have the interpreter after 1 ms instead of 5 (a sleep per file instead would hand the
            # CPU to other processes too, which on a loaded machine made the load several times slower).
            interval = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, LOADING_SWITCH_SECONDS))
            try:
                seed = cache.load()
            finally:
                sys.setswitchinterval(interval)
            if seed is not None:
                self.refresher.seed(seed, self.store.snapshot.resources)
                log.info("post cache: %d parsed posts and %d render keys from %s in %.2fs (after waiting %.2fs for "
                         "readers to pause)", len(seed.parsed), len(seed.rendered), cache.folder,
                         time.perf_counter() - started, waited)
        self.cache_writer = CacheWriter(cache, lambda error: self.store.trouble(
            "post cache", None if error is None else cannot_write(error)))
        self.refresher.listeners.append(self._save_posts)
        if self.refresher.settings is not None:  # built in this process (or its parent) before serving
            self._save_posts()
        built_here = self.refresher.settings is not None  # else a warm start: nothing scanned in this process yet
        self.queue.start()
        from feedsvc.pipeline.scheduling import RefreshScheduler
        from feedsvc.pipeline.watching import FolderWatch

        self.watch = FolderWatch(self.refresher.content_dir, self.queue.request)
        if self.git is not None:
            self.watch.fallback = "git source: pushes and the interval fetch bring changes"
        elif not self._watch_wanted:
            self.watch.fallback = "FEEDSVC_WATCH=off"
        watching = self.watch.fallback == "not started" and self.watch.start()
        interval = self.watch.safety_net_seconds(self.settings.rescan_seconds)
        self.scheduler = RefreshScheduler(self.refresher, self.queue.request, interval)
        # Before the first refresh is asked for: a file it finds still being written is looked at again
        # by the scheduler's settle job, which a refresher without a scheduler cannot plan.
        self.scheduler.start()
        if not built_here:
            self.queue.request("startup")
        elif watching:
            self.queue.request("watch started")  # whatever changed since the build, before the watch began

    def _save_posts(self, *_: object) -> None:
        """A refresh listener (so the refresher's memory is still): hand the newest state to the writer."""
        seed = self.refresher.export()
        if seed is not None and self.cache_writer is not None:
            self.cache_writer.submit(seed)

    def _stop_builder(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        self.queue.stop()
        if self._save_posts in self.refresher.listeners:
            self.refresher.listeners.remove(self._save_posts)
        if self.cache_writer is not None:
            self.cache_writer.stop()
            self.cache_writer = None
        self.pinger.stop()
        if self.pinger in self.refresher.listeners:
            self.refresher.listeners.remove(self.pinger)

    def _fetch(self, trigger: str) -> None:
        """Before each refresh, in the queue's thread: move the checkout to the branch's head (gitsource.py)."""
        assert self.git is not None
        update = self.git.update()
        if update is not None and update.moved:
            self.refresher.moved(update.changed)
        self.refresher.dated_by(self.git.site_changed_at())  # also when another builder moved the checkout

    def _remember(self, report: RefreshReport) -> None:
        """What /status lists of a refresh: when, why, what it changed (long lists cut, with their counts)."""
        from feedsvc.pipeline.triggers import summarize

        summary = summarize(report, "")
        del summary["refresh"]
        for name in ("added", "updated", "removed", "feeds_changed", "errors"):
            if len(summary[name]) > RECENT_NAMES:
                summary[name + "_count"] = len(summary[name])
                summary[name] = summary[name][:RECENT_NAMES]
        self.recent.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), **summary})

    def _details(self) -> dict[str, Any]:
        details = {
            "scheduler": self.scheduler.describe() if self.scheduler is not None else None,
            "last_refresh": self.queue.last,
            "recent_refreshes": list(reversed(self.recent)),
            "websub": self.pinger.status() if self.pings else {"running": False, "off": "FEEDSVC_WEBSUB_PING=0"},
            "changes_seen_by": self.watch.describe() if self.watch is not None else None,
        }
        if self.git is not None:
            details["git"] = self.git.status()
        return details


def _git_source(environ: Mapping[str, str], state_dir: Path) -> tuple[GitSource | None, bool]:
    """With FEEDSVC_GIT_URL: the repository, fetched and checked out (or its last checkout, offline),
    and whether the checkout moved since the last run."""
    try:
        config = git_config_from(environ)
    except ValueError as exc:
        raise ConfigError(str(exc).split("; ")) from None
    if config is None:
        return None, False
    from feedsvc.deploy.gitsource import GitError, GitSource

    source = GitSource(config, state_dir / "git", environ)
    try:
        update = source.start()
    except GitError as exc:
        raise ConfigError([f"FEEDSVC_GIT_URL {config.shown_url}: {exc}"]) from None
    return source, update is not None and update.moved and update.previous is not None


PRELOADED: Service | None = None  # set by `feedsvc serve` before granian forks its workers


def worker_app() -> WSGIApp:
    """granian's app factory, called in each worker process: its threads start here, after the fork."""
    global PRELOADED
    if PRELOADED is None:  # a worker started without fork: warm-start from the state folder, or build
        configure_logging()
        PRELOADED = Service(serving=True)
    show_query_strings()  # granian logs requests in this process: with their query strings
    PRELOADED.start_background()
    # granian runs each worker as a multiprocessing.Process, which skips atexit but runs these
    # finalizers when the worker stops: the builder lets go cleanly and saves its post cache.
    multiprocessing.util.Finalize(None, PRELOADED.stop, exitpriority=10)
    return PRELOADED.wsgi


def release_memory(freeze: bool = False) -> None:
    """After a big build: give the parser's garbage back to the OS (glibc keeps freed heap otherwise).

    `freeze` (once, before fork): keep the garbage collector off what is left, so forked workers
    do not copy shared pages just to scan them.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
    if freeze:
        gc.freeze()
