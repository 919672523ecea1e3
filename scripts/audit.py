"""Audit the runtime dependencies for known vulnerabilities with pip-audit.

What is audited: every package in requirements.txt and everything they pull in, at the versions
installed in this environment (the same set `make run` installs), pinned into a temporary
requirements file so pip-audit needs no resolver and no second virtualenv.

Exit codes: 0 clean, 1 vulnerabilities found, 2 the vulnerability database could not be reached.
With `--offline-ok` (used by `make test`) an unreachable database is a skip with a message and exit 0:
network trouble must never fail the test suite; a found vulnerability still does.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("pypi", "osv")  # PyPI's JSON API first; OSV when PyPI does not answer
TIMEOUT_SECONDS = 120
_NETWORK_TROUBLE = re.compile(r"ConnectionError|ConnectTimeout|ReadTimeout|NameResolutionError|gaierror|"
                              r"Max retries exceeded|Temporary failure in name resolution|Network is unreachable|"
                              r"SSLError|ProxyError", re.IGNORECASE)


def runtime_closure(requirements: Path) -> dict[str, str]:
    """Installed name -> version for the requirements and all their (marker-applicable) dependencies."""
    pending = [Requirement(line.split("#", 1)[0].strip()).name
               for line in requirements.read_text(encoding="utf-8").splitlines()
               if line.split("#", 1)[0].strip() and not line.startswith("-")]
    found: dict[str, str] = {}
    while pending:
        name = canonicalize_name(pending.pop())
        if name in found:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"audit: {name} is required but not installed here; run `make test` or `make run` first")
        found[name] = distribution.version
        for spec in distribution.requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return dict(sorted(found.items()))


def run_pip_audit(pins: dict[str, str], service: str) -> tuple[str, object]:
    """('ok', report) | ('unreachable', reason)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("".join(f"{name}=={version}\n" for name, version in pins.items()))
    command = [sys.executable, "-m", "pip_audit", "-r", handle.name, "--no-deps", "--disable-pip", "-f", "json",
               "--progress-spinner", "off", "--vulnerability-service", service, "--timeout", "15"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return "unreachable", f"{service}: no answer within {TIMEOUT_SECONDS}s"
    finally:
        Path(handle.name).unlink(missing_ok=True)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        trouble = _NETWORK_TROUBLE.search(done.stderr)
        if trouble:
            return "unreachable", f"{service}: {trouble.group(0)}"
        raise SystemExit(f"audit: pip-audit failed (exit {done.returncode}):\n{done.stderr[-2000:]}") from None
    dependencies = report.get("dependencies", [])
    if dependencies and all(d.get("skip_reason") for d in dependencies):
        # The service answered nothing about any package: a mirror without the JSON API, or no network.
        return "unreachable", f"{service}: {dependencies[0]['skip_reason']}"
    return "ok", report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline-ok", action="store_true", help="an unreachable database is a skip, not a failure")
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements.txt")
    args = parser.parse_args(argv)
    pins = runtime_closure(args.requirements)
    reasons = []
    for service in SERVICES:
        outcome, result = run_pip_audit(pins, service)
        if outcome == "unreachable":
            reasons.append(str(result))
            continue
        vulnerable = [d for d in result["dependencies"] if d.get("vulns")]
        skipped = [d for d in result["dependencies"] if d.get("skip_reason")]
        for dependency in vulnerable:
            for vuln in dependency["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
                print(f"audit: {dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
        for dependency in skipped:
            print(f"audit: {dependency['name']} not audited: {dependency['skip_reason']}")
        print(f"audit: {len(pins)} runtime packages checked against {service}: "
              f"{len(vulnerable)} with known vulnerabilities")
        return 1 if vulnerable else 0
    message = f"vulnerability database unreachable ({'; '.join(reasons)})"
    if args.offline_ok:
        print(f"audit: SKIPPED: {message}; run `make audit` where it can be reached")
        return 0
    print(f"audit: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
