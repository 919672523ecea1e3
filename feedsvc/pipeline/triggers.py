"""One refresh at a time, whoever asks: webhooks, the scheduler and other workers share one queue.

A burst of triggers collapses: while a refresh runs, every new request joins the single
queued one, so fifty webhooks in a second cost at most two rescans. Each request gets the
number of the run that will serve it, so a caller can wait for exactly that outcome.

A webhook may name the files its push changed (web/forges.py): a run then looks at those alone, and a
full walk of the folder follows `WALK_AFTER_SECONDS` later (one walk for a burst of pushes), since a
sender's list can be cut short or wrong; the OS watcher's names need no such walk (it has its own).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from feedsvc.config import ConfigError
from feedsvc.pipeline.refresh import Refresher, RefreshReport

log = logging.getLogger("feedsvc")

_KEEP_REPORTS = 256
HINTED_TRIGGERS = ("webhook",)
"""Named files from a request with one of these triggers are a sender's word, not the OS's: a walk follows."""
WALK_AFTER_SECONDS = 2.0
WALK_TRIGGER = "after push"


class RefreshQueue:
    def __init__(self, refresher: Refresher) -> None:
        self.refresher = refresher
        self.on_report: list[Callable[[RefreshReport], None]] = []  # after every run, published or not
        # Before every run, in the queue's thread: e.g. move a git checkout (gitsource.py) while nothing scans it.
        self.before_run: list[Callable[[str], None]] = []
        self._condition = threading.Condition()
        self._queued: list[str] | None = None  # the triggers waiting for the next run
        self._named: set[str] | None = None  # ...the only files they say changed (None: any may have)
        self._started = 0
        self._finished = 0
        self._reports: OrderedDict[int, RefreshReport] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._walk: threading.Timer | None = None  # the full walk planned after a webhook's named files
        self.walk_after = WALK_AFTER_SECONDS
        self._stopping = False
        self.last: dict[str, Any] | None = None  # summary of the latest run, for /status

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="feedsvc-refresh", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
            walk, self._walk = self._walk, None
        if walk is not None:
            walk.cancel()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def request(self, trigger: str, commit: str | None = None, named: frozenset[str] | None = None) -> str:
        """Ask for a refresh that starts after now; returns the id of the run that will serve it.

        `commit` (a push's) is for a builder in another process; here the receiver told the source itself.
        `named`: the only files that changed (the OS watcher's, or a webhook's hint); a run looks at those
        alone only if every request it serves named its files."""
        return str(self.enqueue(trigger, named))

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, Any] | None:
        report = self.wait(int(refresh_id), timeout)
        return None if report is None else summarize(report, refresh_id)

    def enqueue(self, trigger: str, named: frozenset[str] | None = None) -> int:
        with self._condition:
            if self._queued is None:
                self._queued = []
                self._named = set(named) if named is not None else None
            elif self._named is not None:
                self._named = self._named | named if named is not None else None
            self._queued.append(trigger)
            self._condition.notify_all()
            if named is not None and trigger in HINTED_TRIGGERS:
                self._plan_walk()
            return self._started + 1

    def _plan_walk(self) -> None:
        """A full walk `walk_after` seconds from now, unless one is planned already (it comes after this
        request's run, or joins it). Called holding the condition."""
        if self._walk is not None or self._stopping:
            return
        self._walk = threading.Timer(self.walk_after, self._walk_now)
        self._walk.daemon = True
        self._walk.start()

    def _walk_now(self) -> None:
        with self._condition:
            self._walk = None
        self.enqueue(WALK_TRIGGER)

    def wait(self, run: int, timeout: float) -> RefreshReport | None:
        """The report of run `run` (or of a later one, if that report was dropped); None on timeout."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._finished >= run, timeout):
                return None
            found = self._reports.get(run)
            if found is None and self._reports:
                found = next(reversed(self._reports.values()))
            return found

    @property
    def runs(self) -> tuple[int, int]:
        """(started, finished) counts, for /metrics and tests."""
        with self._condition:
            return self._started, self._finished

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._stopping or self._queued is not None)
                if self._stopping:
                    return
                triggers, self._queued = self._queued or [], None
                named = frozenset(self._named) if self._named is not None else None
                self._started += 1
                run = self._started
            for prepare in list(self.before_run):
                try:
                    prepare(_describe(triggers))
                except Exception:  # a failed preparation leaves the content as it was: refresh that
                    log.exception("preparing a refresh failed")
            try:
                trigger = _describe(triggers)
                report = self.refresher.refresh(trigger) if named is None else self.refresher.refresh(trigger, named)
            except Exception as exc:  # an unusable config with no last good one (a warm start): keep serving
                log.error("refresh failed: %s; still serving the last feeds", exc,
                          exc_info=not isinstance(exc, ConfigError))  # a bad config is no bug: no traceback
                report = RefreshReport(_describe(triggers), error=str(exc))
            for callback in list(self.on_report):
                try:
                    callback(report)
                except Exception:  # reporting must never stop refreshing
                    log.exception("refresh report callback failed")
            with self._condition:
                self._reports[run] = report
                while len(self._reports) > _KEEP_REPORTS:
                    self._reports.popitem(last=False)
                self._finished = run
                self.last = summarize(report, str(run))
                self._condition.notify_all()


def _describe(triggers: list[str]) -> str:
    """'webhook', or 'webhook x12, interval' when several requests shared one run."""
    counts: dict[str, int] = {}
    for trigger in triggers:
        counts[trigger] = counts.get(trigger, 0) + 1
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in counts.items()) or "manual"


def summarize(report: RefreshReport, refresh_id: str) -> dict[str, Any]:
    """What a webhook sender (and another worker) learns about a refresh: JSON-able, no secrets."""
    errors = [str(p) for p in report.problems if p.severity == "error"]
    return {
        "refresh": refresh_id,
        "trigger": report.trigger,
        "published": report.published,
        "added": list(report.added),
        "updated": list(report.updated),
        "removed": list(report.removed),
        "feeds_changed": list(report.feeds_changed),
        "error_count": len(errors),
        "errors": errors[:100],
        "failure": report.error,
        "seconds": round(report.seconds, 4),
    }
