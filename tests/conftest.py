"""Shared fixtures: a clean environment, and small content folders written per test."""

from __future__ import annotations

import os
import socket
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsvc.config import Settings, build_settings, parse_config_yaml
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore
from feedsvc.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONTENT = ROOT / "content"
SHARED = ROOT.parent / "shared"
JEKYLL_NEWS = SHARED / "corpora" / "jekyll-news"
# Read once at import: the autouse fixture below clears FEEDSVC_* for every test.
REQUIRE_TOOLS = os.environ.get("FEEDSVC_REQUIRE_TOOLS", "").strip().lower() in ("1", "true", "yes")

BASIC_CONFIG = """\
title: Test Site
description: A site for tests
url: https://example.org
author:
  name: Site Owner
  email: owner@example.org
timezone: Europe/Berlin
permalink: pretty
lang: en
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("FEEDSVC_"):
            monkeypatch.delenv(name)
    # A serving Service switches prometheus-client to multiprocess mode for the whole process (by this
    # variable): setting it through monkeypatch first makes it undone after every test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a server the test starts (the kernel picks it, so parallel runs differ)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def exchange_raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are to 127.0.0.1:`port`; return all the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


def settings_from(config: str = BASIC_CONFIG, environ: dict[str, str] | None = None,
                  content_dir: Path = Path("content")) -> Settings:
    return build_settings(environ or {}, parse_config_yaml(textwrap.dedent(config)), content_dir)


def post_text(front: str, body: str = "Hello **world**.\n") -> str:
    return "---\n" + textwrap.dedent(front).strip("\n") + "\n---\n" + textwrap.dedent(body)


class Clock:
    """An injected clock: tests move time instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


def write_site(root: Path, files: dict[str, str | bytes], config: str | None = BASIC_CONFIG) -> Path:
    """A content folder at `root`: `_config.yml` (unless None) and `files` (relative path -> text or bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "_config.yml").write_text(textwrap.dedent(config), encoding="utf-8")
    for relpath, data in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    return root


@pytest.fixture
def site_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write a content folder: `site_dir({"_posts/2026-01-02-a.md": text}, config=...)`."""

    def write(files: dict[str, str | bytes], config: str | None = BASIC_CONFIG) -> Path:
        return write_site(tmp_path / "content", files, config)

    return write


@pytest.fixture
def make_refresher(clock: Clock) -> Callable[..., Refresher]:
    def make(root: Path, environ: dict[str, str] | None = None) -> Refresher:
        return Refresher(SnapshotStore(), root, environ or {}, clock=clock)

    return make


@contextmanager
def webhook_endpoint(refresher: Refresher, secret: str, walk_after: float | None = None) -> Iterator[tuple[Any, Any]]:
    """(test client, queue): `refresher` after its startup refresh, behind a running queue and a webhook
    receiving with `secret`; `walk_after`: seconds from a push that names files to the walk that follows."""
    from feedsvc.pipeline.triggers import RefreshQueue
    from feedsvc.web.webhooks import SeenInMemory, WebhookReceiver

    refresher.refresh("startup")
    queue = RefreshQueue(refresher)
    if walk_after is not None:
        queue.walk_after = walk_after
    app = create_app(refresher.settings, refresher.store, WebhookReceiver(secret, queue, SeenInMemory()))
    queue.start()
    try:
        yield app.test_client(), queue
    finally:
        queue.stop()


def require_tool(name: str, present: bool, how: str) -> None:
    """An outside tool a test checks against: skip with the reason where it is missing, fail in CI.

    `.ci/run` installs every tool and sets FEEDSVC_REQUIRE_TOOLS=1, so a missing tool there is a
    failure rather than a test that silently proves nothing.
    """
    if present:
        return
    message = f"{name} is not available ({how})"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message}; FEEDSVC_REQUIRE_TOOLS=1 requires it")
    pytest.skip(message)


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as the server saw it: what the client sent, and the status it got."""

    method: str
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int


class LiveServer:
    """A Refresher's store served by the real Flask app over HTTP on 127.0.0.1, in a thread."""

    def __init__(self, refresher: Refresher) -> None:
        from werkzeug.serving import make_server

        assert refresher.settings is not None, "refresh once before serving"
        self.refresher = refresher
        self.requests: list[SeenRequest] = []
        app = create_app(refresher.settings, refresher.store)

        def recording(environ, start_response):
            def start(status, headers, exc_info=None):
                self.requests.append(SeenRequest(
                    environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("HTTP_IF_NONE_MATCH"),
                    environ.get("HTTP_IF_MODIFIED_SINCE"), int(status.split()[0])))
                return start_response(status, headers, exc_info)

            return app(environ, start)

        self._server = make_server("127.0.0.1", 0, recording, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),  # poll: quick shutdown
                                        name="live-server", daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def live_server() -> Iterator[Callable[[Refresher], LiveServer]]:
    """Serve a refreshed Refresher on 127.0.0.1; refresh it again in-process to change what is served."""
    servers: list[LiveServer] = []

    def start(refresher: Refresher) -> LiveServer:
        server = LiveServer(refresher)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
