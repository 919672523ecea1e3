"""Samples (median, min, max) and timing a command as a child process."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Sample:
    """Repeated measurements of one figure; reported as the median with min and max."""

    unit: str
    values: list[float] = field(default_factory=list)
    note: str = ""

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def as_dict(self) -> dict[str, object]:
        if not self.values:
            return {"unit": self.unit, "runs": 0, "note": self.note}
        return {"unit": self.unit, "median": self.median, "min": min(self.values), "max": max(self.values),
                "runs": len(self.values), "values": self.values, "note": self.note}


@dataclass(frozen=True, slots=True)
class ChildRun:
    seconds: float
    max_rss_kb: int
    returncode: int


def run_child(argv: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None,
              cwd: Path | None = None) -> ChildRun:
    """Wall time and peak RSS of one child process (os.wait4 gives that child's own rusage)."""
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=out, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    return ChildRun(seconds, usage.ru_maxrss, child.returncode)


def fmt_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "req/s":
        return f"{value:,.0f}/s"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "ms/s":
        return f"{value:.2f} ms/s"
    return f"{value:g} {unit}"


def fmt_sample(sample: Sample) -> str:
    if not sample.values:
        return "n/a"
    if len(sample.values) == 1:
        return fmt_value(sample.values[0], sample.unit) + " (1 run)"
    low, high = min(sample.values), max(sample.values)
    return f"{fmt_value(sample.median, sample.unit)} ({fmt_value(low, sample.unit)} – {fmt_value(high, sample.unit)})"
