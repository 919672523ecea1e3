"""One builder per deployment: how the worker processes of one feedsvc share the work.

gunicorn may run several worker processes. Exactly one of them rebuilds; all of them serve
the newest feeds. They meet in a state folder (FEEDSVC_STATE_DIR, see `config.state_dir_from`):

- **Election.** Each worker tries an exclusive `flock` on `builder.lock`. The holder is the
  builder: it runs the scheduler and the refresh queue and writes every published snapshot to
  the folder. The others follow, and wait for the lock in a thread: when the builder dies, the
  kernel drops its lock and one follower takes over. No pid files, nothing to clean up.
- **Publishing.** Feed bytes (gzip, as served) go to `blobs/<etag>.gz`, written once (content
  addressed), then `manifest.json` is replaced by a rename, which is atomic: a reader sees the
  old manifest or the new one, and every blob either names exists. Followers `stat` the
  manifest ten times a second and swap in a new snapshot, reusing the bytes they already hold.
  A blob whose hash does not match its name is never served.
- **Requests.** A follower that receives a webhook drops `requests/<id>.json`; the builder takes
  it within 50 ms into its refresh queue (so bursts coalesce across workers too) and writes
  `results/<id>.json` when that refresh is done, which the follower reads for `?wait=1`.
  A follower asked for an archive page or a filtered feed (ondemand.py) asks the same way: the
  builder renders it from its `Site` and answers with the bytes in the result.
- `status.json` carries what `/status` shows about the builder (last scan, scheduler, WebSub).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .config import settings_key
from .filters import FilterError
from .model import Resource, Snapshot
from .ondemand import Answer, OnDemandFeeds, Refusal, Target
from .refresh import RefreshReport, ScanStatus, SnapshotStore
from .triggers import RefreshQueue, summarize

log = logging.getLogger("feedsvc")

MANIFEST_FORMAT = 2
FOLLOW_SECONDS = 0.1
INBOX_SECONDS = 0.05
INBOX_BUSY_SECONDS = 0.01  # for a while after a request: followers wait on on-demand renders
INBOX_BUSY_FOR = 10.0
RESULT_KEEP_SECONDS = 120.0
RENDER_TIMEOUT_SECONDS = 10.0


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object written by `_write_atomically`, or None if absent or unreadable."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class StateFolder:
    """The files of the state folder, and how to write and read a snapshot through them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.requests = root / "requests"
        self.results = root / "results"
        self.manifest = root / "manifest.json"
        self.status = root / "status.json"
        self.lock = root / "builder.lock"
        self._written: dict[str, str] = {}  # etag -> sha256 of the gzip blob this process wrote
        self._last: set[str] | None = None  # etags of the last manifest written
        self._before_last: set[str] = set()  # and of the one before it
        for folder in (root, self.blobs, self.requests, self.results):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- the builder's side ----------------------------------------------------------

    def write_snapshot(self, snapshot: Snapshot, key: str = "") -> None:
        """Write the blobs this snapshot needs, then the manifest; drop blobs no manifest names any more."""
        entries: dict[str, dict[str, Any]] = {}
        for path, resource in snapshot.resources.items():
            digest = self._written.get(resource.etag)
            if digest is None:  # a blob this process did not write is never trusted
                digest = hashlib.sha256(resource.gzip_body).hexdigest()
                _write_atomically(self.blobs / f"{resource.etag}.gz", resource.gzip_body)
                self._written[resource.etag] = digest
            entries[path] = {
                "type": resource.content_type,
                "etag": resource.etag,
                "gzip_sha256": digest,
                "size": resource.size,
                "modified": resource.last_modified.isoformat() if resource.last_modified else None,
                "headers": [list(pair) for pair in resource.headers],
            }
        aliases = {alias: resource.path for alias, resource in snapshot.aliases.items()}
        manifest = {"format": MANIFEST_FORMAT, "key": key, "generation": snapshot.generation,
                    "writer": os.getpid(), "stats": dict(snapshot.stats), "resources": entries,
                    "aliases": aliases, "redirects": dict(snapshot.redirects)}
        first = self._last is None
        if first:  # what the manifest we replace names: a follower may still be loading it
            previous = read_json(self.manifest) or {}
            self._last = {entry["etag"] for entry in previous.get("resources", {}).values()}
        _write_atomically(self.manifest, json.dumps(manifest).encode())
        self._collect_garbage({entry["etag"] for entry in entries.values()}, sweep=first)

    def adopt(self, snapshot: Snapshot, key: str) -> bool:
        """Take over what our parent process (`feedsvc serve`, before it started the server) wrote for
        this very snapshot, instead of writing it all again; False if the folder holds anything else."""
        manifest = read_json(self.manifest)
        if not manifest or manifest.get("format") != MANIFEST_FORMAT or manifest.get("key") != key \
                or manifest.get("generation") != snapshot.generation or manifest.get("writer") != os.getppid():
            return False
        entries = manifest.get("resources", {})
        if any(entries.get(path, {}).get("etag") != resource.etag for path, resource in snapshot.resources.items()):
            return False
        self._written = {entry["etag"]: entry["gzip_sha256"] for entry in entries.values()}
        self._last = set(self._written)
        return True

    def _collect_garbage(self, current: set[str], sweep: bool) -> None:
        """Keep the blobs of this manifest and the one before; `sweep` the folder once per builder."""
        last = self._last or set()
        if sweep:
            doomed = {entry.name.removesuffix(".gz") for entry in os.scandir(self.blobs)
                      if not entry.name.startswith(".")} - current - last
        else:
            doomed = self._before_last - last - current
        for etag in doomed:
            with contextlib.suppress(OSError):
                os.unlink(self.blobs / f"{etag}.gz")
            self._written.pop(etag, None)
        self._before_last, self._last = last, current

    def write_status(self, details: Mapping[str, Any], scan: ScanStatus) -> None:
        body = {"details": details, "scan": {"at": scan.at.isoformat() if scan.at else None,
                                             "seconds": scan.seconds, "trigger": scan.trigger, "error": scan.error}}
        _write_atomically(self.status, json.dumps(body, default=str).encode())

    def clear_leftovers(self) -> None:
        """Temporary files of a builder that was killed mid-write."""
        for folder in (self.root, self.blobs, self.requests, self.results):
            for entry in os.scandir(folder):
                if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    # -- a follower's side -------------------------------------------------------------

    def read_snapshot(self, current: Snapshot | None, key: str | None = None) -> Snapshot | None:
        """The published snapshot, reusing `current`'s bytes where the ETag is unchanged; None if unusable.

        With `key`, only a snapshot written under those settings (see `config.settings_key`) will do.
        """
        manifest = read_json(self.manifest)
        if not manifest or manifest.get("format") != MANIFEST_FORMAT:
            return None
        if key is not None and manifest.get("key") != key:
            return None
        known: dict[str, Resource] = {}
        if current is not None:
            known = {r.etag: r for r in current.resources.values()}
        resources: dict[str, Resource] = {}
        for path, entry in manifest["resources"].items():
            modified = datetime.fromisoformat(entry["modified"]) if entry["modified"] else None
            headers = tuple((str(name), str(value)) for name, value in entry.get("headers", ()))
            resource = known.get(entry["etag"])
            if resource is None:
                resource = self._load_blob(path, entry, modified)
                if resource is None:
                    return None
                known[resource.etag] = resource
            if (resource.path, resource.last_modified, resource.content_type, resource.headers) != \
                    (path, modified, entry["type"], headers):
                resource = replace(resource, path=path, last_modified=modified, content_type=entry["type"],
                                   headers=headers)
            resources[path] = resource
        aliases = {alias: resources[target] for alias, target in manifest.get("aliases", {}).items()
                   if target in resources}
        return Snapshot(site=None, resources=MappingProxyType(resources), generation=manifest["generation"],
                        stats=MappingProxyType(manifest.get("stats", {})), aliases=MappingProxyType(aliases),
                        redirects=MappingProxyType(manifest.get("redirects", {})))

    def _load_blob(self, path: str, entry: Mapping[str, Any], modified: datetime | None) -> Resource | None:
        try:
            gzip_body = (self.blobs / f"{entry['etag']}.gz").read_bytes()
        except OSError:
            return None  # collected under our feet: the next manifest will do
        if hashlib.sha256(gzip_body).hexdigest() != entry["gzip_sha256"]:
            log.error("state folder: blob %s for %s does not match its hash; not served", entry["etag"], path)
            return None
        return Resource(path=path, content_type=entry["type"], gzip_body=gzip_body, size=entry["size"],
                        etag=entry["etag"], last_modified=modified,
                        headers=tuple((str(name), str(value)) for name, value in entry.get("headers", ())))

    def read_status(self) -> tuple[ScanStatus, dict[str, Any]] | None:
        body = read_json(self.status)
        if not body:
            return None
        scan = body.get("scan", {})
        at = datetime.fromisoformat(scan["at"]) if scan.get("at") else None
        return ScanStatus(at, scan.get("seconds", 0.0), scan.get("trigger", ""), scan.get("error")), \
            body.get("details", {})



def signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _ask(state: StateFolder, request: Mapping[str, Any]) -> str:
    """Drop a request for the builder; its id names the result it will write."""
    request_id = uuid.uuid4().hex
    _write_atomically(state.requests / f"{request_id}.json", json.dumps(request).encode())
    return request_id


def _await_result(state: StateFolder, request_id: str, timeout: float, interval: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    path = state.results / f"{request_id}.json"
    while True:
        found = read_json(path)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class RemoteRefreshes:
    """A follower's way to ask the builder for a refresh (see `webhooks.Refreshes`)."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state

    def request(self, trigger: str) -> str:
        return _ask(self.state, {"trigger": trigger})

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, Any] | None:
        return _await_result(self.state, refresh_id, timeout, 0.02)


class RemoteRenders:
    """A follower's way to have the builder render an archive page or a filtered feed."""

    def __init__(self, state: StateFolder) -> None:
        self.state = state

    def __call__(self, key: str) -> Answer:
        request_id = _ask(self.state, {"render": key})
        found = _await_result(self.state, request_id, RENDER_TIMEOUT_SECONDS, 0.005)
        if found is None:
            return Refusal(503, "the builder did not answer in time; try again shortly")
        with contextlib.suppress(OSError):
            os.unlink(self.state.results / f"{request_id}.json")
        return answer_from_json(found)


def answer_to_json(answer: Answer) -> dict[str, Any]:
    if isinstance(answer, Refusal):
        return {"status": answer.status, "message": answer.message}
    return {"status": 200, "path": answer.path, "type": answer.content_type, "etag": answer.etag,
            "size": answer.size, "modified": answer.last_modified.isoformat() if answer.last_modified else None,
            "headers": [list(pair) for pair in answer.headers], "gzip": base64.b64encode(answer.gzip_body).decode()}


def answer_from_json(data: Mapping[str, Any]) -> Answer:
    try:
        if data["status"] != 200:
            return Refusal(int(data["status"]), str(data["message"]))
        return Resource(path=data["path"], content_type=data["type"], gzip_body=base64.b64decode(data["gzip"]),
                        size=data["size"], etag=data["etag"],
                        last_modified=datetime.fromisoformat(data["modified"]) if data["modified"] else None,
                        headers=tuple((str(name), str(value)) for name, value in data["headers"]))
    except (KeyError, TypeError, ValueError):
        return Refusal(503, "the builder's answer was unreadable; try again shortly")


class Delegate:
    """The refresh target of this process; switches from follower to builder on takeover."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def request(self, trigger: str) -> str:
        return self.target.request(trigger)

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, Any] | None:
        return self.target.outcome(refresh_id, timeout)


class Deployment:
    """This worker's part: elect, then build or follow. `start` after fork, `stop` at exit."""

    def __init__(self, state: StateFolder, store: SnapshotStore, queue: RefreshQueue, refreshes: Delegate,
                 start_builder: Callable[[], None], stop_builder: Callable[[], None],
                 details: Callable[[], dict[str, Any]], ondemand: OnDemandFeeds | None = None) -> None:
        self.state = state
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
        if snapshot is not None and snapshot.site is not None:
            if not self.state.adopt(snapshot, self._key()):
                self.state.write_snapshot(snapshot, self._key())
            self.state.write_status(self._builder_details(), self.store.status)
        self._start_builder()
        self._inbox()

    def _publish(self, report: RefreshReport, snapshot: Snapshot) -> None:
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
        _write_atomically(self.state.results / f"{request_id}.json", json.dumps(answer_to_json(answer)).encode())

    def _answer_requests(self) -> None:
        for refresh_id, run in list(self._pending.items()):
            report = self.queue.wait(run, 0)
            if report is not None:
                _write_atomically(self.state.results / f"{refresh_id}.json",
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
