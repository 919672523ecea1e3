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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feedsvc.atomicfile import write_atomically
from feedsvc.config import settings_key
from feedsvc.deploy.statefolder import (
    StateFolder,
    answer_from_json,
    answer_to_json,
    ask,
    await_result,
    read_json,
    signature,
)
from feedsvc.pipeline.refresh import RefreshReport
from feedsvc.pipeline.triggers import RefreshQueue, summarize
from feedsvc.site.filters import FilterError
from feedsvc.snapshot import Built, SnapshotStore
from feedsvc.web.ondemand import Answer, OnDemandFeeds, Refusal, Target
from feedsvc.web.webhooks import Refreshes

log = logging.getLogger("feedsvc")

FOLLOW_SECONDS = 0.1
INBOX_SECONDS = 0.05
INBOX_BUSY_SECONDS = 0.01  # for a while after a request: followers wait on on-demand renders
INBOX_BUSY_FOR = 10.0
RESULT_KEEP_SECONDS = 120.0
RENDER_TIMEOUT_SECONDS = 10.0


class RemoteRefreshes:
    """A follower's way to ask the builder for a refresh (see `webhooks.Refreshes`)."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state

    def request(self, trigger: str, commit: str | None = None) -> str:
        return ask(self.state, {"trigger": trigger, **({"commit": commit} if commit else {})})

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, Any] | None:
        return await_result(self.state, refresh_id, timeout, 0.02)


class RemoteRenders:
    """A follower's way to have the builder render an archive page or a filtered feed."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state

    def __call__(self, key: str) -> Answer:
        request_id = ask(self.state, {"render": key})
        found = await_result(self.state, request_id, RENDER_TIMEOUT_SECONDS, 0.005)
        if found is None:
            return Refusal(503, "the builder did not answer in time; try again shortly")
        with contextlib.suppress(OSError):
            os.unlink(self.state.results / f"{request_id}.json")
        return answer_from_json(found)


class Delegate:
    """The refresh target of this process; switches from follower to builder on takeover."""

    def __init__(self, target: Refreshes) -> None:
        self.target = target

    def request(self, trigger: str, commit: str | None = None) -> str:
        return self.target.request(trigger, commit)

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, Any] | None:
        return self.target.outcome(refresh_id, timeout)


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
        self._threads: list[threading.Thread] = []
        self._pending: dict[str, int] = {}  # request id -> refresh run (builder)

    def start(self) -> None:
        self._lock_fd = os.open(self.state.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._follow()
            self._spawn(self._await_lock, "feedsvc-election")
            return
        self._lead()

    def stop(self) -> None:
        self._stopping.set()
        if self.role == "builder":
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
                self.state.write_snapshot(snapshot, self._key())
            self.state.write_status(self._builder_details(), self.store.status)
        self._start_builder()
        self._inbox()

    def _publish(self, report: RefreshReport, snapshot: Built) -> None:
        self.state.write_snapshot(snapshot, self._key())

    def _key(self) -> str:
        settings = self.queue.refresher.settings
        return settings_key(settings) if settings is not None else ""

    def _after_refresh(self, report: RefreshReport) -> None:
        self.state.write_status(self._builder_details(), self.store.status)

    def _builder_details(self) -> dict[str, Any]:
        return {**self._details(), "worker": {"role": "builder", "pid": os.getpid()}}

    def _inbox(self) -> None:
        """Take other workers' requests (refreshes into the queue, renders at once); answer finished refreshes."""
        busy_until = 0.0
        while not self._stopping.wait(INBOX_BUSY_SECONDS if time.monotonic() < busy_until else INBOX_SECONDS):
            try:
                if self._take_requests():
                    busy_until = time.monotonic() + INBOX_BUSY_FOR
                self._answer_requests()
            except Exception:
                log.exception("state folder: handling refresh requests failed")

    def _take_requests(self) -> bool:
        """True if there were any."""
        taken = False
        for entry in os.scandir(self.state.requests):
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            request = read_json(Path(entry.path)) or {}
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
            taken = True
            if "render" in request:
                self._render(entry.name.removesuffix(".json"), str(request["render"]))
                continue
            trigger = str(request.get("trigger", "worker"))[:40]
            commit = request.get("commit")
            if self.want is not None and isinstance(commit, str):
                self.want(commit)  # checked there: only a commit id is taken
            self._pending[entry.name.removesuffix(".json")] = self.queue.enqueue(trigger)
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
        write_atomically(self.state.results / f"{request_id}.json", json.dumps(answer_to_json(answer)).encode())

    def _answer_requests(self) -> None:
        for refresh_id, run in list(self._pending.items()):
            report = self.queue.wait(run, 0)
            if report is not None:
                write_atomically(self.state.results / f"{refresh_id}.json",
                                  json.dumps(summarize(report, refresh_id)).encode())
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
        if self._stopping.is_set():
            return
        log.warning("worker %d takes over as the builder", os.getpid())
        self._lead()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
