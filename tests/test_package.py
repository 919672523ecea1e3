"""feedsvc as an installed package: `pip install .` gives a working `feedsvc` command, and pyproject.toml
names the same dependencies as the requirements.txt lock the Procfile deploys from."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_CONTENT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pins(path: Path) -> dict[str, Version]:
    """Canonical name -> pinned version, for a requirements file of `name==version  # why` lines."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if not spec or spec.startswith("-"):
            continue
        requirement = Requirement(spec)
        (pin,) = requirement.specifier  # exactly one specifier, and it is `==`: a lock
        assert pin.operator == "==", f"{path.name}: {spec} is not pinned"
        pins[canonicalize_name(requirement.name)] = Version(pin.version)
    return pins


def test_pyproject_names_the_locked_packages_and_every_pin_satisfies_its_range():
    declared = {canonicalize_name(r.name): r for r in map(Requirement, PYPROJECT["project"]["dependencies"])}
    locked = _pins(ROOT / "requirements.txt")
    assert sorted(declared) == sorted(locked)
    outside = {name: f"{locked[name]} not in {r.specifier}" for name, r in declared.items()
               if not r.specifier.contains(locked[name], prereleases=True)}
    assert outside == {}


def test_the_build_backend_is_the_one_the_test_requirements_install():
    """`pip install --no-build-isolation --no-index .` (offline) builds with what `make test` installed."""
    (backend,) = PYPROJECT["build-system"]["requires"]
    requirement = Requirement(backend)
    pins = _pins(ROOT / "requirements-test.txt")
    assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)])


# -- an installed copy, in a virtual environment of its own ------------------------------------------------------

def _source_copy(target: Path) -> Path:
    """What an sdist holds: building from a copy leaves no build/ or *.egg-info in the work tree."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "feedsvc", target / "feedsvc", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def _environ(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FEEDSVC_", "PYTHON", "PIP_")) and k not in ("PORT", "HOST", "VIRTUAL_ENV")}
    env["FEEDSVC_STATE_DIR"] = str(state)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with feedsvc installed from a copy of the source, offline: the dependencies (and pip and
    setuptools) are the running environment's, made visible with a .pth file rather than downloaded."""
    base = tmp_path_factory.mktemp("package")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    (Path(purelib) / "dependencies.pth").write_text("".join(f"{path}\n" for path in ours), encoding="utf-8")
    source = _source_copy(base / "source")
    result = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                             "--quiet", str(source)], cwd=base, env=_environ(base / "state"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.rmtree(source)  # whatever runs from here on runs from the installed copy
    yield venv


def _feedsvc(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "feedsvc"), *args], cwd=cwd, env=_environ(cwd / "state"),
                          capture_output=True, text=True, timeout=120)


def test_the_installed_package_is_the_built_copy_with_its_templates_and_type_marker(installed, tmp_path):
    located = subprocess.run([str(installed / "bin" / "python"), "-c",
                              "import feedsvc, feedsvc.render; print(feedsvc.__file__)"],
                             cwd=tmp_path, env=_environ(tmp_path / "state"), capture_output=True, text=True,
                             timeout=60)
    assert located.returncode == 0, located.stderr
    package = Path(located.stdout.strip()).parent
    assert package.resolve().is_relative_to(installed.resolve()), package  # not the work tree
    assert (package / "py.typed").is_file()
    assert sorted(p.name for p in (package / "render" / "templates").iterdir()) == \
        sorted(p.name for p in (ROOT / "feedsvc" / "render" / "templates").glob("*.html"))


def test_the_installed_command_builds_the_sample_site(installed, tmp_path):
    out = tmp_path / "out"
    result = _feedsvc(installed, "build", "--content", str(SAMPLE_CONTENT), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("index.html", "feeds.opml", "rss.xml", "atom.xml", "feed.json"):
        assert (out / name).is_file(), name
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<html" in index and "rss.xml" in index  # rendered from the packaged templates
    assert b"<rss" in (out / "rss.xml").read_bytes()


def test_the_installed_command_checks_the_sample_site(installed, tmp_path):
    result = _feedsvc(installed, "check", "--content", str(SAMPLE_CONTENT), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 errors" in result.stderr


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_the_installed_command_serves_the_sample_site(installed, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.log"
    with open(log, "wb") as stream:
        server = subprocess.Popen([str(installed / "bin" / "feedsvc"), "serve", "--content", str(SAMPLE_CONTENT),
                                   "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                                  env=_environ(tmp_path / "state"), stdin=subprocess.DEVNULL, stdout=stream,
                                  stderr=stream, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        answer: tuple[int, bytes] = (0, b"")
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                time.sleep(0.2)
        assert answer[0] == 200, log.read_text(errors="replace")
        assert b"rss.xml" in answer[1]
        assert _get(f"http://127.0.0.1:{port}/atom.xml")[0] == 200
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # workers a stopped server left behind
        server.wait(timeout=5)
