"""scripts/audit.py: what it audits, and that only a real finding fails (never the network)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("pip_audit", reason="pip-audit is installed by `make test` (requirements-audit.txt)")
_spec = importlib.util.spec_from_file_location("audit_script", ROOT / "scripts" / "audit.py")
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


def test_the_runtime_closure_is_requirements_txt_and_what_it_pulls_in():
    pins = audit.runtime_closure(ROOT / "requirements.txt")
    assert {"flask", "werkzeug", "feedgen", "lxml", "pyyaml", "gunicorn", "apscheduler"} <= set(pins)
    assert {"jinja2", "markupsafe", "itsdangerous"} <= set(pins)  # Flask's own dependencies
    assert "pytest" not in pins and "pip-audit" not in pins and "hypothesis" not in pins
    assert pins["flask"] == "3.1.3"


def _fake_run(stdout: str, stderr: str = "", returncode: int = 0):
    def run(command, **kwargs):
        assert "--no-deps" in command and "--disable-pip" in command
        return subprocess.CompletedProcess(command, returncode, stdout, stderr)

    return run


def test_no_network_is_a_skip_with_offline_ok_and_exit_2_without(monkeypatch, capsys):
    monkeypatch.setattr(audit.subprocess, "run", _fake_run(
        "", "requests.exceptions.ConnectionError: HTTPSConnectionPool: Max retries exceeded", 1))
    assert audit.main(["--offline-ok"]) == 0
    assert "audit: SKIPPED: vulnerability database unreachable" in capsys.readouterr().out
    assert audit.main([]) == 2


def test_a_database_that_knows_no_package_counts_as_unreachable(monkeypatch, capsys):
    report = {"dependencies": [{"name": "flask", "version": "3.1.3", "skip_reason": "Dependency not found on PyPI"}]}
    monkeypatch.setattr(audit.subprocess, "run", _fake_run(json.dumps(report)))
    assert audit.main(["--offline-ok"]) == 0
    assert "SKIPPED" in capsys.readouterr().out


def test_a_hung_database_is_a_skip(monkeypatch, capsys):
    def run(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(audit.subprocess, "run", run)
    assert audit.main(["--offline-ok"]) == 0
    assert "no answer within" in capsys.readouterr().out


def test_a_known_vulnerability_fails_even_with_offline_ok(monkeypatch, capsys):
    report = {"dependencies": [
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {"name": "werkzeug", "version": "3.1.9", "vulns": [
            {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": ["3.1.10"], "aliases": [], "description": "d"}]},
    ]}
    monkeypatch.setattr(audit.subprocess, "run", _fake_run(json.dumps(report), returncode=1))
    assert audit.main(["--offline-ok"]) == 1
    out = capsys.readouterr().out
    assert "werkzeug 3.1.9: GHSA-xxxx-yyyy-zzzz (fixed in 3.1.10)" in out and "1 with known vulnerabilities" in out


def test_a_clean_report_passes(monkeypatch, capsys):
    report = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}]}
    monkeypatch.setattr(audit.subprocess, "run", _fake_run(json.dumps(report)))
    assert audit.main([]) == 0
    assert "0 with known vulnerabilities" in capsys.readouterr().out
