"""One builder per deployment: how the worker processes of one feedsvc share the work.

gunicorn may run several worker processes. Exactly one of them rebuilds; all of them serve
the newest feeds. They meet in a state folder, whose files statefolder.py describes:

- **Election.** Each worker tries an exclusive `flock` on `builder.lock`. The holder is the
  builder: it runs the scheduler and the refresh queue and writes every published snapshot to
  the folder. The others follow, and wait for the lock in a thread: when the builder dies, the
  kernel drops its lock and one follower takes over. No pid files, nothing to clean up.
- **Publishing.** The builder writes each new snapshot's blobs, then replaces the manifest by a
  rename, which is atomic: a reader sees the old manifest or the new one, and every blob either
  names exists. Followers `stat` the manifest ten times a second and swap in a new snapshot,
  reusing the bytes they already hold. A blob whose hash does not match the manifest is never served.
- **Requests.** A follower that receives a webhook drops a request (naming the pushed commit, which
  the builder's git source then fetches by id if its branch lags behind); the builder takes it within
  10-50 ms into its refresh queue (so bursts coalesce across workers too) and writes the result
  when that refresh is done, which the follower reads for `?wait=1`. A follower asked for an
  archive page or a filtered feed (ondemand.py) asks the same way: the builder renders it from
  its `Site` (only a `Built` snapshot holds one) and answers with the bytes in the result.
- **Status.** The builder writes what `/status` shows about it after each refresh; followers read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feedsvc.atomicfile import write_atomically
from feedsvc.config import settings_key
from feedsvc.deploy.statefolder import (
    STATE_FOLDER,
    StateFolder,
    answer_from_json,
    answer_to_json,
    ask,
    await_result,
    cannot_write,
    read_json,
    signature,
)
from feedsvc.pipeline.refresh import RefreshReport
from feedsvc.pipeline.triggers import RefreshQueue, summarize
from feedsvc.site.filters import FilterError
from feedsvc.snapshot import Built, SnapshotStore
from feedsvc.web.forges import paths_from
from feedsvc.web.ondemand import Answer, OnDemandFeeds, Refusal, Target
from feedsvc.web.webhooks import Refreshes

log = logging.getLogger("feedsvc")

FOLLOW_SECONDS = 0.1
INBOX_SECONDS = 0.05
INBOX_BUSY_SECONDS = 0.01  # for a while after a request: followers wait on on-demand renders
INBOX_BUSY_FOR = 10.0
RESULT_KEEP_SECONDS = 120.0
RENDER_TIMEOUT_SECONDS = 10.0
# A request older than this has no one waiting for it any more (webhooks wait at most 10 s, renders
# RENDER_TIMEOUT_SECONDS): a builder that comes back after a stall skips it instead of working the backlog.
REQUEST_STALE_SECONDS = 10.0
ASKED_KEEP = 1024
UNSENT = "unsent-"  # a refresh id for a request the disk had no room for
RETRY_PUBLISH_SECONDS = 1.0


class RemoteRefreshes:
    """A follower's way to ask the builder for a refresh (see `webhooks.Refreshes`)."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state

    def request(self, trigger: str, commit: str | None = None, named: frozenset[str] | None = None) -> str:
        try:
            return ask(self.state, {"trigger": trigger, **({"commit": commit} if commit else {}),
                                    **({"named": sorted(named)} if named is not None else {})})
        except OSError as exc:  # a full disk: the builder's interval rescan still comes
            log.error("cannot ask the builder for a refresh (%s); it rescans on its own schedule", exc)
            return UNSENT + uuid.uuid4().hex

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, Any] | None:
        if refresh_id.startswith(UNSENT):
            return None
        return await_result(self.state, refresh_id, timeout, 0.02)


class RemoteRenders:
    """A follower's way to have the builder render an archive page or a filtered feed."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state

    def __call__(self, key: str) -> Answer:
        try:
            request_id = ask(self.state, {"render": key})
        except OSError as exc:
            log.error("cannot ask the builder for %s (%s)", key, exc)
            return Refusal(503, "the server cannot reach its builder right now; try again shortly")
        found = await_result(self.state, request_id, RENDER_TIMEOUT_SECONDS, 0.005)
        if found is None:
            return Refusal(503, "the builder did not answer in time; try again shortly")
        with contextlib.suppress(OSError):
            os.unlink(self.state.results / f"{request_id}.json")
        return answer_from_json(found)


class Delegate:
    """The refresh target of this process; switches from follower to builder on takeover.

    An outcome is asked of whoever took the request: a follower that becomes the builder while a
    `?wait=1` webhook waits still reads the answer to the request it dropped (its own inbox now
    takes that request), instead of asking its queue about an id the queue never issued.
    """

    def __init__(self, target: Refreshes) -> None:
        self.target = target
        self._asked: OrderedDict[str, Refreshes] = OrderedDict()  # refresh id -> who took the request
        self._lock = threading.Lock()

    def request(self, trigger: str, commit: str | None = None, named: frozenset[str] | None = None) -> str:
        target = self.target  # read once: a takeover may switch it at any moment
        refresh_id = target.request(trigger, commit, named)
        with self._lock:
            self._asked[refresh_id] = target
            while len(self._asked) > ASKED_KEEP:
                self._asked.popitem(last=False)
        return refresh_id

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, Any] | None:
        with self._lock:
            target = self._asked.get(refresh_id, self.target)
        return target.outcome(refresh_id, timeout)


class Deployment:
    """This worker's part: elect, then build or follow. `start` after fork, `stop` at exit."""

    def __init__(self, state: StateFolder, store: SnapshotStore, queue: RefreshQueue, refreshes: Delegate,
                 start_builder: Callable[[], None], stop_builder: Callable[[], None],
                 details: Callable[[], dict[str, Any]], ondemand: OnDemandFeeds | None = None,
                 want: Callable[[str], None] | None = None) -> None:
        """`want`: the builder's git source's `want` (gitsource.py), told the commits pushed to other workers."""
        self.state = state
        self.want = want
        self.ondemand = ondemand
        self.store = store
        self.queue = queue
        self.refreshes = refreshes
        self._start_builder = start_builder
        self._stop_builder = stop_builder
        self._details = details
        self.role = "starting"
        self._lock_fd: int | None = None
        self._stopping = threading.Event()
        # Held while the builder's threads start and while `stop` decides what to stop: a follower may take
        # over at the very moment its own process is told to stop (a server shutting down stops the builder
        # first), and builder threads started after `stop` looked would keep the process alive.
        self._role_lock = threading.Lock()
        self._builder_started = False
        self._threads: list[threading.Thread] = []
        self._pending: dict[str, int] = {}  # request id -> refresh run (builder)
        self._unpublished: Built | None = None  # a snapshot the disk had no room for; written when it has
        self._last_try = 0.0
        self._publishing = threading.Lock()

    def start(self) -> None:
        self._lock_fd = os.open(self.state.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._follow()
            self._spawn(self._await_lock, "feedsvc-election")
            return
        self._lead()

    def stop(self) -> None:
        with self._role_lock:
            self._stopping.set()
            started, self._builder_started = self._builder_started, False
        if started:
            self._stop_builder()
        for thread in self._threads:
            if thread is not threading.current_thread() and thread.name != "feedsvc-election":
                thread.join(2)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock: another worker takes over
            self._lock_fd = None

    # -- builder -----------------------------------------------------------------------

    def _lead(self) -> None:
        self.role = "builder"
        log.info("worker %d is the builder (state folder %s)", os.getpid(), self.state.root)
        self.state.clear_leftovers()
        if self.store.snapshot is not None:
            self.queue.refresher.continue_generations(self.store.snapshot.generation)
        self.refreshes.target = self.queue
        if self.ondemand is not None:
            self.ondemand.remote = None  # renders from its own site from now on
        self.store.details = self._builder_details
        self.queue.on_report.append(self._after_refresh)
        self.queue.refresher.listeners.append(self._publish)
        self._spawn(self._lead_in_background, "feedsvc-builder")

    def _lead_in_background(self) -> None:
        snapshot = self.store.snapshot
        if isinstance(snapshot, Built):  # built here (or by our parent), not loaded from the folder
            if not self.state.adopt(snapshot, self._key()):
                self._publish_now(snapshot)
            self._after_refresh(None)
        with self._role_lock:
            if self._stopping.is_set():
                return
            self._start_builder()
            self._builder_started = True
        self._inbox()

    def _publish(self, report: RefreshReport, snapshot: Built) -> None:
        self._publish_now(snapshot)

    def _publish_now(self, snapshot: Built, retry: bool = False) -> None:
        """Write the snapshot for the followers; on a full disk, keep serving it here and retry (`_inbox`)."""
        with self._publishing:  # the refresh thread and the inbox's retry
            if retry and self._unpublished is not snapshot:
                return  # a newer one came meanwhile
            self._last_try = time.monotonic()
            try:
                self.state.write_snapshot(snapshot, self._key())
            except OSError as exc:
                self._publish_failed(snapshot, exc)
                return
            if self._unpublished is not None:
                log.warning("state folder writable again: generation %d published", snapshot.generation)
            self._unpublished = None
            self.store.trouble(STATE_FOLDER, None)

    def _publish_failed(self, snapshot: Built, exc: OSError) -> None:
        if self._unpublished is None:
            log.error("cannot write generation %d to the state folder (%s); serving it from memory, "
                      "other workers serve the last one written", snapshot.generation, exc)
        self._unpublished = snapshot
        self.store.trouble(STATE_FOLDER, cannot_write(exc))

    def _key(self) -> str:
        settings = self.queue.refresher.settings
        return settings_key(settings) if settings is not None else ""

    def _after_refresh(self, report: RefreshReport | None) -> None:
        try:
            self.state.write_status(self._builder_details(), self.store.status)
        except OSError as exc:  # followers show the last status written; the next refresh tries again
            log.error("cannot write the builder's status to the state folder (%s)", exc)

    def _builder_details(self) -> dict[str, Any]:
        return {**self._details(), "worker": {"role": "builder", "pid": os.getpid()}}

    def _inbox(self) -> None:
        """Take other workers' requests (refreshes into the queue, renders at once); answer finished refreshes."""
        busy_until = 0.0
        while not self._stopping.wait(INBOX_BUSY_SECONDS if time.monotonic() < busy_until else INBOX_SECONDS):
            try:
                unpublished = self._unpublished
                if unpublished is not None and time.monotonic() - self._last_try > RETRY_PUBLISH_SECONDS:
                    self._publish_now(unpublished, retry=True)
                if self._take_requests():
                    busy_until = time.monotonic() + INBOX_BUSY_FOR
                self._answer_requests()
            except Exception:
                log.exception("state folder: handling refresh requests failed")

    def _take_requests(self) -> bool:
        """True if there were any. Stale ones are dropped: a render no one awaits is not made, and stale
        refreshes become one (the folder is rescanned once for all of them)."""
        taken = False
        stale = {"render": 0, "refresh": 0}
        horizon = time.time() - REQUEST_STALE_SECONDS
        for entry in os.scandir(self.state.requests):
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            request = read_json(Path(entry.path)) or {}
            try:
                old = entry.stat(follow_symlinks=False).st_mtime < horizon
                os.unlink(entry.path)
            except OSError:
                continue  # gone already
            taken = True
            kind = "render" if "render" in request else "refresh"
            if old:
                stale[kind] += 1
            elif kind == "render":
                self._render(entry.name.removesuffix(".json"), str(request["render"]))
            else:
                trigger = str(request.get("trigger", "worker"))[:40]
                commit = request.get("commit")
                if self.want is not None and isinstance(commit, str):
                    self.want(commit)  # checked there: only a commit id is taken
                named = paths_from(request.get("named"))  # a webhook's hint (forges.py), checked as untrusted
                self._pending[entry.name.removesuffix(".json")] = self.queue.enqueue(trigger, named)
        if stale["refresh"]:
            self.queue.enqueue("worker")
        if stale["render"] or stale["refresh"]:
            log.warning("state folder: skipped %d render and %d refresh requests older than %.0fs (no one awaits "
                        "them; the refreshes became one)", stale["render"], stale["refresh"], REQUEST_STALE_SECONDS)
        return taken

    def _render(self, request_id: str, key: str) -> None:
        snapshot = self.store.snapshot
        if self.ondemand is None or snapshot is None:
            answer: Answer = Refusal(503, "feeds are being built; try again shortly")
        else:
            try:
                answer = self.ondemand.answer(snapshot, Target.from_key(key))
            except FilterError as exc:
                answer = Refusal(400, str(exc))
        try:
            write_atomically(self.state.results / f"{request_id}.json", json.dumps(answer_to_json(answer)).encode())
        except OSError as exc:  # the asker times out and answers 503
            log.error("cannot write the answer for %s to the state folder (%s)", key, exc)

    def _answer_requests(self) -> None:
        for refresh_id, run in list(self._pending.items()):
            report = self.queue.wait(run, 0)
            if report is not None:
                try:
                    write_atomically(self.state.results / f"{refresh_id}.json",
                                      json.dumps(summarize(report, refresh_id)).encode())
                except OSError:
                    continue  # a full disk: tried again on the next round
                del self._pending[refresh_id]
        horizon = time.time() - RESULT_KEEP_SECONDS
        for entry in os.scandir(self.state.results):
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < horizon:
                    os.unlink(entry.path)

    # -- follower ----------------------------------------------------------------------

    def _follow(self) -> None:
        self.role = "follower"
        self.refreshes.target = RemoteRefreshes(self.state)
        if self.ondemand is not None:
            self.ondemand.remote = RemoteRenders(self.state)
        self.store.details = self._follower_details
        self._spawn(self._watch, "feedsvc-follower")

    def _watch(self) -> None:
        seen_manifest = seen_status = None
        while not self._stopping.wait(FOLLOW_SECONDS) and self.role == "follower":
            manifest = signature(self.state.manifest)
            if manifest is not None and manifest != seen_manifest:
                snapshot = self.state.read_snapshot(self.store.snapshot)
                if snapshot is not None:
                    seen_manifest = manifest
                    if self.role == "follower":
                        self.store.snapshot = snapshot
            status = signature(self.state.status)
            if status is not None and status != seen_status:
                found = self.state.read_status()
                if found is not None:
                    seen_status = status
                    self.store.status = found[0]

    def _follower_details(self) -> dict[str, Any]:
        found = self.state.read_status()
        details = dict(found[1]) if found else {}
        details["worker"] = {"role": "follower", "pid": os.getpid(), "builder": details.get("worker", {}).get("pid")}
        return details

    def _await_lock(self) -> None:
        """Blocks until the builder is gone (its lock is released), then takes over."""
        fd = self._lock_fd
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            return
        with self._role_lock:
            if self._stopping.is_set():
                return
            log.warning("worker %d takes over as the builder", os.getpid())
            self._lead()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
