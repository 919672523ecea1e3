"""How long builds show their progress: a bar on a terminal, plain log lines anywhere else.

The refresher only calls `progress(phase, done, total)` (see `refresh.Progress`); this edge
decides what a person sees. A bar's carriage returns would fill a CI log or a piped file with
noise, so without a terminal each phase is a line when it starts, one every few seconds while
it runs, and one when it ends.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import NoReturn, TextIO

from tqdm import tqdm

log = logging.getLogger("feedsvc")

_UNITS = {"reading": "files", "rendering": "files", "writing": "files"}
_DONE = {"reading": "read", "rendering": "rendered", "writing": "wrote"}
PLAIN_EVERY_SECONDS = 5.0


class BuildProgress:
    """A `progress(phase, done, total)` callback; `interactive` defaults to whether `stream` is a terminal."""

    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = _is_terminal(self.stream) if interactive is None else interactive
        self.clock = clock
        self._phase: str | None = None
        self._bar: tqdm[NoReturn] | None = None
        self._started = 0.0
        self._last_line = 0.0
        self._done = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self.close()
            self._start(phase, total)
        self._done = done
        if self.interactive:
            assert self._bar is not None
            self._bar.update(done - self._bar.n)
        elif done < total and self.clock() - self._last_line >= PLAIN_EVERY_SECONDS:
            self._last_line = self.clock()
            log.info("%s: %d of %d %s", phase, done, total, _UNITS.get(phase, "items"))
        if done >= total:
            self.close()

    def _start(self, phase: str, total: int) -> None:
        self._phase = phase
        self._started = self._last_line = self.clock()
        if self.interactive:
            columns, rows = _size(self.stream)
            self._bar = tqdm(total=total, desc=phase, unit=" " + _UNITS.get(phase, "items"), file=self.stream,
                             ncols=columns, nrows=rows, mininterval=0.1, leave=True)
        else:
            log.info("%s %d %s", phase, total, _UNITS.get(phase, "items"))

    def close(self) -> None:
        """End the current phase (its bar, or its closing line); safe to call twice."""
        if self._phase is None:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        else:
            log.info("%s %d %s in %.2fs", _DONE.get(self._phase, self._phase), self._done,
                     _UNITS.get(self._phase, "items"), self.clock() - self._started)
        self._phase = None


def _size(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and rows; a pseudo-terminal nobody sized says 0 x 0, where tqdm shows nothing."""
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, rows = size.columns, size.lines
    except (AttributeError, ValueError, OSError):
        columns = rows = 0
    return (min(columns, 100) if columns >= 40 else 80), (rows or 24)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False
