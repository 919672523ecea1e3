"""Real processes on 127.0.0.1: `feedsvc serve` and gunicorn as the Procfile runs it.

Every wait is bounded and every process is stopped (SIGTERM, then SIGKILL after 5 s) in a fixture.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import pytest
from conftest import free_port, post_text
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 20.0
RESCAN = "0.5"

POSTS = {
    "_posts/2026-01-10-alpha.md": post_text("title: Alpha Post\ncategories: [News]\ntags: [python]\nauthor: Ada Quill"),
    "_posts/2026-02-15-beta.md": post_text(
        "title: Beta Post\ntags: [web]\nauthor: {name: Ben Okafor, email: ben@example.org}"),
}
NEW_POST = ("_posts/2026-03-01-fresh.md", post_text("title: Freshly Added\ntags: [python]"))


class Server:
    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the process wrote to stderr so far (its log)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0):
        """(status, headers, body); HTTP errors are answers too, not exceptions."""
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers, exc.read()

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode} before answering:\n{self.log()}")
            try:
                status, _, _ = self.get("/healthz", timeout=1.0)
                if status == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)
        pytest.fail(f"/healthz did not answer 200 within {timeout:.0f}s:\n{self.log()}")

    def wait_for(self, path: str, needle: bytes, timeout: float = 10.0, interval: float = 0.1) -> bytes:
        deadline = time.monotonic() + timeout
        body = b""
        while time.monotonic() < deadline:
            status, _, body = self.get(path)
            if status == 200 and needle in body:
                return body
            time.sleep(interval)
        pytest.fail(f"{needle!r} did not appear in {path} within {timeout:.0f}s; last body:\n"
                    f"{body[:2000]!r}\nserver log:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM to the whole process group (server and its workers), SIGKILL after 10 s: no orphans."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # workers a killed master left behind
        if self.process.poll() is None:
            self.process.wait(timeout=5)


@pytest.fixture
def content(site_dir) -> Path:
    return site_dir(POSTS)


class Launcher:
    """Starts server processes whose logs and state folders go under `folder`; `stop_all` stops every one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.servers: list[Server] = []

    def __call__(self, argv: list[str], port: int, env_extra: dict[str, str]) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_") and k not in ("PORT", "HOST")}
        env["FEEDSVC_STATE_DIR"] = str(self.folder / f"state-{len(self.servers)}")  # not the shared temp folder
        env.update(env_extra)
        env["PYTHONUNBUFFERED"] = "1"
        log_path = self.folder / f"server-{len(self.servers)}.stderr"
        with open(log_path, "wb") as err, open(log_path.with_suffix(".stdout"), "wb") as out:
            process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                       start_new_session=True)
        server = Server(process, port, log_path)
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def start(tmp_path) -> Iterator[Callable[..., Server]]:
    """Start a server process; every one started is stopped at teardown, whatever happened."""
    launcher = Launcher(tmp_path)
    yield launcher
    launcher.stop_all()


def _add_post(root: Path) -> None:
    relpath, text = NEW_POST
    path = root / relpath
    tmp = path.with_suffix(".tmp")  # not a post name: the scanner ignores it until the rename
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _procfile_web_command() -> list[str]:
    commands = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = command.strip()
    return shlex.split(commands["web"])


GUNICORN_ARGV = [
    sys.executable, "-m", "gunicorn", "--config", "python:feedsvc.deploy.gunicorn_conf", "feedsvc.wsgi:app",
]


def _scheduler_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "scheduler started" in line]


# -- `feedsvc serve` -----------------------------------------------------------------

@pytest.fixture
def cli_server(start, content) -> Server:
    port = free_port()
    server = start([sys.executable, "-m", "feedsvc", "serve", "--content", str(content), "--host", "127.0.0.1",
                    "--port", str(port)], port, {"FEEDSVC_RESCAN_SECONDS": RESCAN})
    server.wait_ready()
    return server


def test_cli_serve_serves_rss_and_picks_up_a_new_post(cli_server, content):
    status, headers, body = cli_server.get("/rss.xml")
    assert status == 200
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    root = etree.fromstring(body)
    assert root.tag == "rss"
    assert {e.title for e in feedparser.parse(body).entries} == {"Alpha Post", "Beta Post"}

    _add_post(content)
    body = cli_server.wait_for("/rss.xml", b"Freshly Added", timeout=10.0, interval=0.1)
    assert {e.title for e in feedparser.parse(body).entries} == {"Alpha Post", "Beta Post", "Freshly Added"}
    _, _, tag_body = cli_server.get("/tags/python/rss.xml")
    assert b"Freshly Added" in tag_body


def test_cli_serve_starts_exactly_one_scheduler(cli_server):
    time.sleep(3 * float(RESCAN))  # a few rescans: a second scheduler would have logged by now
    assert len(_scheduler_lines(cli_server.log())) == 1, cli_server.log()


def test_cli_serve_conditional_get_and_gzip_over_http(cli_server):
    status, headers, body = cli_server.get("/atom.xml")
    assert status == 200
    etag = headers["ETag"]
    status, _, again = cli_server.get("/atom.xml", headers={"If-None-Match": etag})
    assert status == 304 and again == b""
    status, zipped_headers, zipped = cli_server.get("/atom.xml", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and zipped_headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped) == body
    status, _, _ = cli_server.get("/nope")
    assert status == 404


def test_cli_serve_stops_cleanly_on_sigterm(cli_server):
    cli_server.process.send_signal(signal.SIGTERM)
    assert cli_server.process.wait(timeout=10) == 0, cli_server.log()


def test_cli_serve_dot_segments_in_the_raw_path_are_404(cli_server):
    for raw in ("/categories/../rss.xml", "/%2e%2e/rss.xml", "/tags/nope/rss.xml"):
        connection = http.client.HTTPConnection("127.0.0.1", cli_server.port, timeout=5)
        try:
            connection.request("GET", raw)  # sent byte for byte: no client-side normalisation
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 404, (raw, response.status, body[:200])
        assert response.getheader("Content-Type", "").startswith("text/plain")


# -- the Procfile, and gunicorn as the documented alternative --------------------------------

def test_procfile_runs_feedsvc_serve_on_all_interfaces_at_port():
    assert _procfile_web_command() == ["python", "-m", "feedsvc", "serve", "--host", "0.0.0.0", "--port", "$PORT"]


def test_procfile_command_serves(start, content):
    port = free_port()
    argv = [sys.executable if word == "python" else word for word in _procfile_web_command()]
    argv = [str(port) if word == "$PORT" else "127.0.0.1" if word == "0.0.0.0" else word for word in argv]
    server = start(argv, port, {"FEEDSVC_CONTENT_DIR": str(content)})
    server.wait_ready()
    assert server.get("/rss.xml")[0] == 200
    assert "(granian)" in server.log()


@pytest.fixture
def procfile_server(start, content) -> Server:
    """gunicorn, for deployments that want it: the command the README gives."""
    port = free_port()
    server = start(GUNICORN_ARGV, port, {
        "PORT": str(port), "HOST": "127.0.0.1", "FEEDSVC_CONTENT_DIR": str(content),
        "FEEDSVC_RESCAN_SECONDS": RESCAN,
    })
    server.wait_ready()
    return server


def test_procfile_gunicorn_serves_index_and_rss(procfile_server):
    status, headers, body = procfile_server.get("/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'rel="alternate"' in body
    status, headers, body = procfile_server.get("/rss.xml")
    assert status == 200 and headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert etree.fromstring(body).tag == "rss"
    assert {e.title for e in feedparser.parse(body).entries} == {"Alpha Post", "Beta Post"}
    status, _, _ = procfile_server.get("/feeds.opml")
    assert status == 200


def test_procfile_gunicorn_starts_exactly_one_scheduler_and_it_rescans(procfile_server, content):
    _add_post(content)
    procfile_server.wait_for("/rss.xml", b"Freshly Added", timeout=10.0, interval=0.1)
    time.sleep(3 * float(RESCAN))
    lines = _scheduler_lines(procfile_server.log())
    assert len(lines) == 1, procfile_server.log()


def test_cli_serve_with_gunicorn_serves_and_starts_one_scheduler(start, content):
    port = free_port()
    server = start([sys.executable, "-m", "feedsvc", "serve", "--server", "gunicorn", "--content", str(content),
                    "--host", "127.0.0.1", "--port", str(port)], port, {"FEEDSVC_RESCAN_SECONDS": RESCAN})
    server.wait_ready()
    assert server.get("/rss.xml")[0] == 200
    _add_post(content)
    server.wait_for("/rss.xml", b"Freshly Added", timeout=10.0)
    assert len(_scheduler_lines(server.log())) == 1 and "Using worker: gthread" in server.log()
