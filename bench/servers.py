"""Servers under test on 127.0.0.1: `feedsvc serve` (granian by default) and nginx; small HTTP and /proc helpers."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str] | None = None,
        method: str = "GET", body: bytes | None = None) -> Reply:
    """One request on a kept-alive connection; reconnects once if the server closed it."""
    for attempt in (1, 2):
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
            conn.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def connect(port: int, timeout: float = 30.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(HOST, port, timeout=timeout)


def wait_for_200(port: int, path: str, deadline: float, process: subprocess.Popen | None = None,
                 interval: float = 0.005) -> float:
    """perf_counter() at the first 200 for `path`; raises if the deadline passes or the server dies."""
    while time.perf_counter() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving {path}")
        conn = connect(port, timeout=5)
        try:
            if get(conn, path).status == 200:
                return time.perf_counter()
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(interval)
    raise TimeoutError(f"no 200 for {path} on port {port}")


def feed_paths(port: int) -> list[str]:
    """Every feed the server lists in /feeds.opml, as URL paths."""
    conn = connect(port)
    try:
        reply = get(conn, "/feeds.opml")
    finally:
        conn.close()
    root = ElementTree.fromstring(reply.body)
    urls = [outline.get("xmlUrl") for outline in root.iter("outline") if outline.get("xmlUrl")]
    return [_path_of(url) for url in urls if url]


def _path_of(url: str) -> str:
    after_scheme = url.split("://", 1)[-1]
    slash = after_scheme.find("/")
    return after_scheme[slash:] if slash >= 0 else "/"


@dataclass
class FeedsvcServer:
    process: subprocess.Popen
    port: int
    started: float  # perf_counter() just before the process was spawned

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid)


def feedsvc_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update({"FEEDSVC_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)})
    env.update(extra or {})
    return env


@contextmanager
def feedsvc_server(content: Path, log: Path, extra_env: dict[str, str] | None = None) -> Iterator[FeedsvcServer]:
    """`python -m feedsvc serve` as a user runs it (granian, one worker), stopped on exit."""
    port = free_port()
    argv = [sys.executable, "-m", "feedsvc", "serve", "--content", str(content), "--host", HOST, "--port", str(port)]
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=feedsvc_env(extra_env), stdout=out, stderr=out, cwd=REPO)
    try:
        yield FeedsvcServer(process, port, started)
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the peak resident set size of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def nginx_conf(tmp: Path, http: str, workers: str = "auto", connections: int = 1024) -> str:
    """An nginx configuration that keeps everything (pid, logs, temporary files) in `tmp`, in the foreground;
    `http` is the inside of its `http` block (the benchmark's static server, the tests' caching proxy)."""
    return f"""\
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{http}}}
"""


STATIC_SERVER = """\
    types {{ application/rss+xml xml; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    server {{
        listen {host}:{port};
        root {tmp}/root;
        gzip_static on;
        gzip_vary on;
        add_header Cache-Control "public, max-age=300";
    }}
"""


@contextmanager
def nginx_server(nginx: str, files: dict[str, bytes]) -> Iterator[int]:
    """nginx serving `files` (URL path -> bytes, `.gz` twins included) from disk; yields its port.

    Its folder is world-readable: nginx started as root runs its workers as an unprivileged user.
    """
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="feedsvc-bench-nginx-"))
    try:
        root = tmp / "root"
        for path, body in files.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            target.chmod(0o644)
        for folder in [tmp, root, *(p for p in root.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_conf(tmp, STATIC_SERVER.format(tmp=tmp, host=HOST, port=port)))
        with (tmp / "nginx.out").open("ab") as out:
            process = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
                                       stdout=out, stderr=out)
        try:
            wait_for_200(port, next(iter(files)), time.perf_counter() + 15, process)
            yield port
        finally:
            stop(process)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
