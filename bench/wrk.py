"""Running wrk (Debian's package) and reading its report: requests/s, p99 latency, errors."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

CONNECTIONS = 32
THREADS = 2
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_second: float
    p99_ms: float
    errors: int
    raw: str


def _to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Read `wrk --latency` output; non-2xx/3xx answers and socket errors count as errors."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return WrkResult(float(rps.group(1)), _to_ms(p99.group(1)), errors, output)


def run_wrk(wrk: str, url: str, headers: dict[str, str], seconds: int) -> WrkResult:
    argv = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    result = subprocess.run([*argv, url], capture_output=True, text=True, check=False, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr}")
    return parse_wrk(result.stdout)
