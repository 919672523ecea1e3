"""A full disk degrades, it does not stop: the last feeds are served from memory, /healthz says why.

On a real full filesystem (a tiny tmpfs: CI runs as root, where `mount` works; elsewhere these tests
skip). Once space returns, the builder publishes what it could not write.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_server import POSTS, Server, free_port, start  # noqa: F401 (start is a fixture)
from werkzeug.test import Client
from werkzeug.wrappers import Response

from feedsvc.cli import main
from feedsvc.deploy.service import Service


@pytest.fixture
def full_disk(tmp_path) -> Iterator[Path]:
    """A 4 MB filesystem, filled to the last block; removing `<it>/filler` gives the space back."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        with open(mount / "filler", "wb") as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _leftovers(folder: Path) -> list[Path]:
    return [path for path in folder.rglob(".*.tmp")]


def test_a_full_state_folder_keeps_serving_from_memory_says_degraded_and_recovers(site_dir, full_disk):
    root = site_dir(POSTS)
    service = Service({"FEEDSVC_STATE_DIR": str(full_disk / "state"), "FEEDSVC_RESCAN_SECONDS": "3600"},
                      content_dir=root, serving=True)
    service.publish_state()  # once a traceback that stopped `serve`
    service.start_background()
    try:
        client = Client(service.app, Response)
        assert client.get("/rss.xml").status_code == 200
        health = client.get("/healthz").get_data(as_text=True)
        assert health.startswith("degraded") and "state folder: cannot write (No space left on device)" in health
        status = client.get("/status").get_json()
        assert status["degraded"] and any("No space left" in reason for reason in status["degraded_reasons"])
        assert not (full_disk / "state" / "manifest.json").exists()

        (full_disk / "filler").unlink()  # space returns
        deadline = time.monotonic() + 10
        while "state folder" in client.get("/healthz").get_data(as_text=True) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "state folder" not in client.get("/healthz").get_data(as_text=True)
        assert (full_disk / "state" / "manifest.json").exists()  # published for the other workers
    finally:
        service.stop()
    # No half-written temporary file stays behind. Judged once the writers have stopped: while the disk is
    # full they retry (feeds every second, the post cache every 5 s), each try holding one for a moment.
    assert not _leftovers(full_disk)


def test_serve_with_two_workers_on_a_full_disk_answers_instead_of_crashing(start, site_dir, full_disk):  # noqa: F811
    """prometheus-client maps sparse files: a full disk once killed every worker with SIGBUS, in a loop."""
    port = free_port()
    server: Server = start([sys.executable, "-m", "feedsvc", "serve", "--content", str(site_dir(POSTS)),
                            "--host", "127.0.0.1", "--port", str(port)], port,
                           {"FEEDSVC_STATE_DIR": str(full_disk / "state"), "FEEDSVC_WORKERS": "2",
                            "FEEDSVC_RESCAN_SECONDS": "3600"})
    server.wait_ready()
    for _ in range(10):  # both workers, whichever answers
        status, _, body = server.get("/rss.xml")
        assert status == 200 and b"Alpha Post" in body
    status, _, body = server.get("/healthz")
    assert status == 200 and body.startswith(b"degraded")
    assert server.process.poll() is None


def test_build_on_a_full_disk_fails_cleanly_and_leaves_nothing_behind(site_dir, full_disk, capsys):
    code = main(["build", "--content", str(site_dir(POSTS)), "--out", str(full_disk / "out")])
    assert code == 1
    error = capsys.readouterr().err
    assert "build failed" in error and "No space left on device" in error and "unchanged" in error
    assert sorted(path.name for path in full_disk.iterdir()) == ["filler"]
