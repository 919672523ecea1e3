"""WebSub publishing: after a rebuild, tell each hub which feeds changed, in the background.

A `HubPinger` is a refresher listener. Called after each publish, it only queues one
publish ping per changed feed per hub and returns, so a slow or dead hub never delays a
refresh or a request. One sender thread per hub (so one black-holed hub cannot hold up the
others) POSTs `hub.mode=publish` with the feed's URL as both `hub.url` and `hub.topic`
(older hubs read the first, WebSub-era ones the second), retrying failures with exponential
backoff. A ping still queued absorbs any duplicate: the hub fetches the newest bytes anyway.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPRedirectHandler, OpenerDirector, Request, build_opener

from feedsvc import __version__
from feedsvc.config import Settings
from feedsvc.pipeline.refresh import RefreshReport
from feedsvc.snapshot import Built
from feedsvc.urls import absolute

log = logging.getLogger("feedsvc")

#: Answers worth another try: the hub may recover. Other 3xx/4xx mean the ping itself is unwelcome.
_RETRYABLE = frozenset({408, 425, 429})
_USER_AGENT = f"feedsvc/{__version__} (WebSub publisher)"


class _NoRedirects(HTTPRedirectHandler):
    """A redirected POST would silently become a GET without the form: report it as a failure instead."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Ping:
    url: str
    tries: int  # attempts made so far
    seq: int  # identifies this ping's current place in the heap


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int | None  # HTTP status, None when no answer arrived
    error: str | None  # why there was no usable answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in _RETRYABLE

    def __str__(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else (self.error or "no answer")


class _HubQueue:
    """One hub's pending pings (a heap ordered by due time) and the thread that sends them."""

    def __init__(self, hub: str, pinger: HubPinger) -> None:
        self.hub = hub
        self.pinger = pinger
        self.cond = threading.Condition()
        self.heap: list[tuple[float, int, str]] = []  # (due, seq, url); stale entries are skipped
        self.pending: dict[str, _Ping] = {}
        self.in_flight: str | None = None
        self.seq = 0
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.last: dict[str, Any] | None = None

    # -- called with self.cond held ---------------------------------------------------------

    def schedule(self, url: str, due: float, tries: int) -> None:
        self.seq += 1
        self.pending[url] = _Ping(url, tries, self.seq)
        heapq.heappush(self.heap, (due, self.seq, url))
        self.cond.notify_all()

    def add(self, url: str) -> None:
        queued = self.pending.get(url)
        if queued is not None:
            queued.tries = 0  # new content: a full set of tries, but any backoff wait still holds
            return
        self.schedule(url, self.pinger.clock(), 0)

    def _next_due(self) -> _Ping | None:
        """The next ping to send now; waits for one to come due. None once stopping."""
        while not self.stopping:
            if not self.heap:
                self.cond.wait()
                continue
            due, seq, url = self.heap[0]
            ping = self.pending.get(url)
            if ping is None or ping.seq != seq:
                heapq.heappop(self.heap)
                continue
            delay = due - self.pinger.clock()
            if delay > 0:
                self.pinger.wait(self, delay)
                continue
            heapq.heappop(self.heap)
            del self.pending[url]
            self.in_flight = url
            return ping
        return None

    # -- the sender thread --------------------------------------------------------------------

    def start(self) -> None:
        with self.cond:
            if self.thread is not None and self.thread.is_alive():
                return
            self.stopping = False
            self.thread = threading.Thread(target=self.run, name=f"websub {self.hub}", daemon=True)
            self.thread.start()

    def run(self) -> None:
        while True:
            with self.cond:
                ping = self._next_due()
            if ping is None:
                return
            outcome = self.pinger.send(self.hub, ping.url)
            with self.cond:
                self.in_flight = None
                self._record(ping, outcome)
                self.cond.notify_all()

    def _record(self, ping: _Ping, outcome: _Outcome) -> None:
        self._record_outcome(ping, outcome)
        if self.pinger.on_outcome is not None and self.last is not None:
            try:
                self.pinger.on_outcome(self.last["outcome"])
            except Exception:
                log.exception("websub: outcome callback failed")

    def _record_outcome(self, ping: _Ping, outcome: _Outcome) -> None:
        tries = ping.tries + 1
        self.last = {"at": self.pinger.now().isoformat(), "feed": ping.url, "status": outcome.status,
                     "error": outcome.error}
        if outcome.ok:
            self.sent += 1
            self.last["outcome"] = "ok"
            log.info("websub: hub %s accepted the ping for %s (%s)", self.hub, ping.url, outcome)
            return
        limit = self.pinger.tries
        if outcome.retryable and tries < limit:
            self.retried += 1
            self.last["outcome"] = "retrying"
            delay = self.pinger.first_delay * 2 ** (tries - 1)
            log.warning("websub: hub %s failed the ping for %s (%s); try %d of %d in %gs",
                        self.hub, ping.url, outcome, tries + 1, limit, delay)
            if ping.url not in self.pending:  # else a newer ping for this feed is queued already
                self.schedule(ping.url, self.pinger.clock() + delay, tries)
            return
        self.failed += 1
        self.last["outcome"] = "failed"
        log.error("websub: hub %s failed the ping for %s (%s); giving up after %d %s",
                  self.hub, ping.url, outcome, tries, "try" if tries == 1 else "tries")

    def status(self) -> dict[str, Any]:
        with self.cond:
            return {
                "hub": self.hub,
                "queued": len(self.pending) + (self.in_flight is not None),
                "sent": self.sent,
                "failed": self.failed,
                "retried": self.retried,
                "last": dict(self.last) if self.last else None,
            }


class HubPinger:
    """Refresher listener: `pinger(report, snapshot)` queues publish pings for `report.feeds_changed`.

    `settings` returns the current settings (hubs and the public URL may change with
    `_config.yml`), e.g. `lambda: refresher.settings`. Attach it after the startup refresh,
    so a restart does not ping every feed. `wait(seconds)` replaces the pause before a retry
    comes due (tests pass one that advances their `clock` instead of sleeping).
    """

    def __init__(self, settings: Callable[[], Settings | None], *, tries: int = 5, first_delay: float = 1.0,
                 timeout: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 wait: Callable[[float], None] | None = None, now: Callable[[], datetime] = _utc_now,
                 on_outcome: Callable[[str], None] | None = None) -> None:
        """`on_outcome` hears "ok", "retrying" or "failed" for every ping sent (for /metrics)."""
        self._settings = settings
        self.on_outcome = on_outcome
        self.tries = max(1, tries)
        self.first_delay = first_delay
        self.timeout = timeout
        self.clock = clock
        self.now = now
        self._wait = wait
        self._opener: OpenerDirector = build_opener(_NoRedirects)
        self._lock = threading.Lock()
        self._queues: dict[str, _HubQueue] = {}
        self._started = False

    def __call__(self, report: RefreshReport, snapshot: Built) -> None:
        """Queue a ping for every changed feed still served (a removed feed has nothing to fetch)."""
        settings = self._settings()
        if settings is None or not settings.websub_hubs:
            return
        urls = [absolute(settings.public_url, path) for path in report.feeds_changed if path in snapshot.resources]
        self.enqueue(settings.websub_hubs, urls)

    def enqueue(self, hubs: Iterable[str], urls: Iterable[str]) -> None:
        """Queue `urls` for each hub; never blocks on the network."""
        urls = list(urls)
        if not urls:
            return
        for hub in hubs:
            queue = self._queue(hub)
            with queue.cond:
                for url in urls:
                    queue.add(url)

    def start(self) -> None:
        """Start the sender threads (one per hub, also for hubs that appear later)."""
        with self._lock:
            self._started = True
            queues = list(self._queues.values())
        for queue in queues:
            queue.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop sending; pings still queued are dropped. True if every thread ended within `timeout`."""
        with self._lock:
            self._started = False
            queues = list(self._queues.values())
        for queue in queues:
            with queue.cond:
                queue.stopping = True
                dropped = len(queue.pending)
                queue.pending.clear()
                queue.heap.clear()
                queue.cond.notify_all()
            if dropped:
                log.warning("websub: stopping with %d pings for hub %s unsent", dropped, queue.hub)
        deadline = time.monotonic() + timeout
        for queue in queues:
            if queue.thread is not None:
                queue.thread.join(max(0.0, deadline - time.monotonic()))
        return not any(q.thread is not None and q.thread.is_alive() for q in queues)

    def flush(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight (e.g. before a planned shutdown); True if so."""
        deadline = time.monotonic() + timeout
        for queue in list(self._queues.values()):
            with queue.cond:
                while queue.pending or queue.in_flight is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    queue.cond.wait(remaining)
        return True

    def status(self) -> dict[str, object]:
        """JSON-able state for /status: per hub, what is queued, counts, and the last ping's outcome."""
        settings = self._settings()
        configured = settings.websub_hubs if settings is not None else ()
        for hub in configured:
            self._queue(hub)
        with self._lock:
            queues = list(self._queues.values())
            running = self._started
        hubs = [queue.status() for queue in queues]
        return {"running": running, "queued": sum(hub["queued"] for hub in hubs), "hubs": hubs}

    # -- internals used by the queues ---------------------------------------------------------

    def _queue(self, hub: str) -> _HubQueue:
        with self._lock:
            queue = self._queues.get(hub)
            if queue is None:
                queue = self._queues[hub] = _HubQueue(hub, self)
                if self._started:
                    queue.start()
            return queue

    def wait(self, queue: _HubQueue, seconds: float) -> None:
        """Pause until a retry comes due; by default new work or stop() wakes it early."""
        if self._wait is not None:
            self._wait(seconds)
        else:
            queue.cond.wait(seconds)

    def send(self, hub: str, url: str) -> _Outcome:
        """One publish ping, with a short timeout. Never raises."""
        form = urlencode({"hub.mode": "publish", "hub.url": url, "hub.topic": url}).encode("ascii")
        request = Request(hub, data=form, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "User-Agent": _USER_AGENT})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
                return _Outcome(response.status, None)
        except HTTPError as exc:
            exc.close()
            return _Outcome(exc.code, None)
        except Exception as exc:  # URLError, timeouts, resets, bad URLs: all mean "no answer"
            reason = getattr(exc, "reason", None) or exc
            return _Outcome(None, f"{type(exc).__name__}: {reason}")
