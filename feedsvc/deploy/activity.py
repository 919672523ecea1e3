"""When readers are being served: a warm-started builder waits for a lull before its CPU-heavy load.

After a restart, feed readers (and caches in front) ask for every feed at once, and the builder's
first steps (the post cache load in two spawned processes, then a refresh over every post) compete
with them for the same two cores and the same interpreter. Measured on bench's 10,000-post corpus
(docs/performance.md, "Warm start and memory"), the sweep of every feed took about 40 % longer with
the builder loading beside it. So the builder of a warm start waits until no reader has asked for
anything for a short while, but never longer than a fixed bound: under steady traffic it starts
at most `LATEST_START_SECONDS` late, and it serves the published bytes meanwhile anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

QUIET_SECONDS = 0.3  # no reader's request for this long: the start-up rush is over
LATEST_START_SECONDS = 2.0  # never wait longer than this for a lull
# Operators' probes poll on their own schedule: they are not readers waiting for feeds.
PROBES = frozenset({"/healthz", "/status", "/metrics"})


class ReaderActivity:
    """WSGI middleware noting when the last reader's request arrived (one clock read per request)."""

    def __init__(self, app: WSGIApp, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock
        self.last = clock()  # the process starting counts as activity: readers are about to arrive
        self._stopping = threading.Event()
        self._first_reader = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in PROBES:
            self.last = self.clock()
            if not self._first_reader.is_set():
                self._first_reader.set()
        return self.app(environ, start_response)

    def wait_for_lull(self, quiet: float = QUIET_SECONDS, latest: float = LATEST_START_SECONDS) -> float:
        """Block until no reader asked for `quiet` s, or `latest` s passed, or `stop`; returns the seconds waited."""
        started = self.clock()
        while not self._stopping.is_set():
            now = self.clock()
            if now - self.last >= quiet or now - started >= latest:
                break
            self._stopping.wait(min(quiet - (now - self.last), latest - (now - started)))
        return self.clock() - started

    def wait_for_first_readers(self, latest: float = LATEST_START_SECONDS) -> float:
        """`wait_for_lull`, but the quiet before the first reader's request does not count (a server that has
        not begun answering yet is not in a lull): at most `latest` s for that request, then the lull after it."""
        started = self.clock()
        self._first_reader.wait(latest)
        return self.clock() - started + self.wait_for_lull(latest=latest)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Let a waiting builder go at once (the process is stopping)."""
        self._stopping.set()
