"""Changes seen by the OS: file events under the content folder become refresh requests.

The only watchdog import (chosen on bench/watchers.py's evidence: no CPU while idle, the event that
says a writer closed its file, one event per file when a folder of posts moves in or is renamed).
A file whose writer closed it (or that was renamed into place, as editors save) is settled: the
refresh it asks for skips the settle window (`SETTLED_TRIGGER`). While some file is still open for
writing, the request waits for its close; if one is never closed, the periodic rescan (kept as a
safety net, much rarer while watching works) still finds it. Where watching is impossible (a network
filesystem, the inotify watch limit) nothing is started and the interval rescan stays the way
changes are seen; `describe` says which for /status.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from feedsvc.pipeline.settle import OS_EVENT_TRIGGER

log = logging.getLogger("feedsvc")

SETTLED_TRIGGER = OS_EVENT_TRIGGER  # settle.py: a trigger naming it skips the settle window
UNSETTLED_TRIGGER = "file event, still open"  # some file was still being written: the settle window applies
QUIET_SECONDS = 0.03  # a burst (git checkout, a copy) is one refresh: wait this long after its last event
MAX_DELAY_SECONDS = 1.0  # ...but never longer than this after the first one
SAFETY_NET_SECONDS = 600.0  # the full stat walk while events arrive: every 10 minutes (or the configured interval)
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "virtiofs", "vboxsf", "ceph", "glusterfs", "fuse.glusterfs",
    "fuse.sshfs", "sshfs", "afs", "lustre", "davfs", "fuse.rclone", "fuse.s3fs", "gcsfuse", "fuse.gcsfuse",
})
MOUNTINFO = Path("/proc/self/mountinfo")


class Watching(Protocol):
    """What `FolderWatch` needs of an observer (watchdog's, or a test's stand-in)."""

    def schedule(self, event_handler: FileSystemEventHandler, path: str, *, recursive: bool = False) -> Any: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...


def filesystem_of(folder: Path, mountinfo: str) -> str | None:
    """The filesystem type `folder` (a resolved path) is on, from /proc/self/mountinfo's text."""
    best, kind = "", None
    target = str(folder)
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ")
        after = line.split(" - ", 1)[1].split()
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best) and after:
            best, kind = mount_point, after[0]
    return kind


def why_not_watchable(folder: Path, mountinfo: str | None) -> str | None:
    """A reason the OS cannot tell us about changes in `folder`, or None when it can."""
    if mountinfo is None:
        return None
    kind = filesystem_of(folder, mountinfo)
    if kind in NETWORK_FILESYSTEMS:
        return f"network filesystem ({kind}): changes made on other machines raise no events"
    return None


def _read_mountinfo() -> str | None:
    try:
        return MOUNTINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


class FolderWatch(FileSystemEventHandler):
    """Watches one content folder; `request(trigger, named=...)` queues a refresh (triggers.RefreshQueue.request).

    `named` is the burst's files, relative to the folder, or None when a folder itself was created,
    moved or deleted (then every file is looked at)."""

    def __init__(self, root: Path, request: Callable[..., object],
                 observer: Callable[[], Watching] = Observer, mountinfo: Callable[[], str | None] = _read_mountinfo,
                 quiet_seconds: float = QUIET_SECONDS, max_delay_seconds: float = MAX_DELAY_SECONDS) -> None:
        self.root = root
        self.request = request
        self._make_observer = observer
        self._mountinfo = mountinfo
        self.quiet_seconds = quiet_seconds
        self.max_delay_seconds = max_delay_seconds
        self.fallback: str | None = "not started"  # why changes are found by rescans only (None: watching)
        self.events = 0
        self.requests = 0
        self._observer: Watching | None = None
        self._condition = threading.Condition()
        self._open: set[str] = set()  # files written to and not yet closed
        self._first: float | None = None  # when the pending burst began (None: nothing pending)
        self._named: set[str] | None = set()  # the pending burst's files (None: a folder event, walk them all)
        self._last = 0.0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._real = root

    @property
    def watching(self) -> bool:
        return self.fallback is None

    def start(self) -> bool:
        """Start watching; False (and `fallback` says why) where the OS cannot tell us what changed."""
        try:
            real = self.root.resolve(strict=True)
        except OSError as exc:
            self.fallback = f"content folder cannot be resolved: {exc.strerror or exc}"
            return False
        self._real = real
        reason = why_not_watchable(real, self._mountinfo())
        if reason is None:
            reason = self._start_observer(real)
        self.fallback = reason
        if reason is not None:
            log.warning("not watching %s (%s): changes are found by the interval rescan", self.root, reason)
            return False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="feedsvc-watch", daemon=True)
        self._thread.start()
        log.info("watching %s for changes (OS events)", self.root)
        return True

    def _start_observer(self, real: Path) -> str | None:
        observer = self._make_observer()
        try:
            observer.schedule(self, str(real), recursive=True)
            observer.start()
        except OSError as exc:
            try:
                observer.stop()
            except Exception:  # it never started: nothing to stop
                pass
            if exc.errno == errno.ENOSPC:
                return "inotify watch limit reached (raise fs.inotify.max_user_watches)"
            if exc.errno == errno.EMFILE:
                return "inotify instance limit reached (raise fs.inotify.max_user_instances)"
            return f"cannot watch: {exc.strerror or exc}"
        self._observer = observer
        return None

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5.0)
            self._observer = None
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self.fallback is None:
            self.fallback = "stopped"

    def safety_net_seconds(self, rescan_seconds: float) -> float:
        """How often the full stat walk runs: the configured interval, made rare while events arrive."""
        return max(rescan_seconds, SAFETY_NET_SECONDS) if self.watching else rescan_seconds

    def describe(self) -> dict[str, Any]:
        """For /status: how changes are seen, and why not by the OS when they are not."""
        return {"mode": "os events" if self.watching else "rescans only", "fallback": self.fallback,
                "events": self.events, "refreshes_requested": self.requests}

    # -- events (watchdog's thread) --

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write") or (kind == "modified" and event.is_directory):
            return  # a folder's own change comes with the events of the files in it
        path = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        if _hidden(self._real, dest or path) and (not dest or _hidden(self._real, path)):
            return  # .git, editors' swap files: what they become (by a rename) is what counts
        with self._condition:
            self.events += 1
            self._name(event.is_directory, path, dest)
            if kind in ("modified", "created") and not event.is_directory and not event.is_synthetic:
                self._open.add(path)  # being written: its close (or a rename into place) settles it
                # (a synthetic "created" is a file found in a folder moved in whole: it is complete)
            else:
                self._open.discard(path)  # closed, deleted, or moved away
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._last = now
            self._condition.notify_all()

    def _name(self, is_directory: bool, *paths: str) -> None:
        """Add an event's paths to the burst's (holding the condition): a folder's, or one outside, names none."""
        if self._named is None:
            return
        if is_directory:
            self._named = None
            return
        for path in paths:
            if not path:
                continue
            relative = os.path.relpath(path, self._real)
            if relative.startswith(".."):
                self._named = None
                return
            self._named.add(Path(relative).as_posix())

    def _run(self) -> None:
        """Ask for one refresh per burst, once it has been quiet and no file is half-written.

        A file that stays open past `max_delay_seconds` (a slow writer, or a `touch` that never closes
        anything) gets an ordinary request: that refresh holds it back for the settle window."""
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._stopping or self._first is not None)
                if self._stopping:
                    return
                assert self._first is not None
                now = time.monotonic()
                deadline = self._first + self.max_delay_seconds
                due = deadline if self._open else min(self._last + self.quiet_seconds, deadline)
                if now < due:
                    self._condition.wait(timeout=due - now)  # an event (or a close) wakes us earlier
                    continue
                trigger = UNSETTLED_TRIGGER if self._open else SETTLED_TRIGGER
                named = frozenset(self._named) if self._named is not None else None
                self._open.clear()
                self._first = None
                self._named = set()
                self.requests += 1
            try:
                self.request(trigger, named=named)
            except Exception:  # a failed request must not stop watching; the safety net still rescans
                log.exception("requesting a refresh after a file event failed")


def _hidden(root: Path, path: str) -> bool:
    """A path under a hidden folder or a hidden file (relative to the content folder)."""
    try:
        relative = os.path.relpath(path, root)
    except ValueError:
        return False
    return any(part.startswith(".") and part not in (".", "..") for part in Path(relative).parts)
