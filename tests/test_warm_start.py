"""A restart serves the last published feeds at once, then catches up; a stale or corrupt state is never trusted."""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from pathlib import Path

from conftest import post_text
from test_server import POSTS, Server, free_port, start  # noqa: F401 (start is a fixture)


def _serve(start, root: Path, state: Path, **env: str) -> Server:  # noqa: F811 (the fixture)
    port = free_port()
    server = start([sys.executable, "-m", "feedsvc", "serve", "--content", str(root), "--host", "127.0.0.1",
                    "--port", str(port)], port,
                   {"FEEDSVC_STATE_DIR": str(state), "FEEDSVC_RESCAN_SECONDS": "3600", **env})
    server.wait_ready()
    return server


def test_restart_serves_the_same_bytes_from_the_state_folder_then_picks_up_changes(start, site_dir, tmp_path):  # noqa: F811
    root, state = site_dir(POSTS), tmp_path / "state"
    first = _serve(start, root, state)
    before = {path: first.get(path) for path in ("/rss.xml", "/atom.xml", "/feed.json")}
    first.wait_for("/status", b'"role":"builder"')
    first.stop()
    (root / "_posts/2026-03-01-while-down.md").write_text(post_text("title: Written While Down"))

    second = _serve(start, root, state)
    assert "warm start: serving" in second.log()
    second.wait_for("/rss.xml", b"Written While Down", timeout=10)  # the background rescan caught up
    # ... reading only the new file: the others came from the post cache (postcache.py)
    assert "post cache: 2 parsed posts" in second.log()
    assert re.search(r"refresh \((startup|settle)\): \+1 ~0 -0 posts", second.log())  # (a new file may settle first)
    assert "+3 ~0 -0" not in second.log()
    for path in ("/rss.xml", "/atom.xml", "/feed.json"):
        status, headers, body = second.get(path)
        assert status == 200 and b"Written While Down" in body
        assert headers["ETag"] != before[path][1]["ETag"]


def test_unchanged_folder_restart_keeps_etag_and_last_modified(start, site_dir, tmp_path):  # noqa: F811
    root, state = site_dir(POSTS), tmp_path / "state"
    first = _serve(start, root, state)
    first.wait_for("/status", b'"role":"builder"')
    _, old, _ = first.get("/rss.xml")
    generation = json.loads(first.get("/status")[2])["generation"]
    first.stop()
    second = _serve(start, root, state)
    assert "warm start: serving" in second.log()
    second.wait_for("/status", b'"trigger":"startup"')  # the background rescan ran, and changed nothing
    _, new, _ = second.get("/rss.xml")
    assert (new["ETag"], new["Last-Modified"]) == (old["ETag"], old["Last-Modified"])
    assert json.loads(second.get("/status")[2])["generation"] == generation  # nothing republished


def test_other_settings_or_a_corrupt_blob_mean_a_full_build_instead(start, site_dir, tmp_path):  # noqa: F811
    root, state = site_dir(POSTS), tmp_path / "state"
    first = _serve(start, root, state)
    first.wait_for("/status", b'"role":"builder"')
    first.stop()

    retitled = _serve(start, root, state, FEEDSVC_TITLE="Another Title")
    assert "warm start" not in retitled.log()
    assert b"Another Title" in retitled.get("/rss.xml")[2]
    retitled.wait_for("/status", b'"role":"builder"')
    retitled.stop()

    manifest = json.loads((state / "manifest.json").read_text())
    etag = manifest["resources"]["/rss.xml"]["etag"]
    (state / "blobs" / f"{etag}.gz").write_bytes(gzip.compress(b"<rss>tampered</rss>"))
    again = _serve(start, root, state, FEEDSVC_TITLE="Another Title")
    assert "warm start" not in again.log()
    assert "does not match its hash" in again.log()
    body = again.get("/rss.xml")[2]
    assert b"tampered" not in body and b"Another Title" in body
    deadline = time.monotonic() + 10  # the new builder rewrites, in the background, what it did not write itself
    while gzip.decompress((state / "blobs" / f"{etag}.gz").read_bytes()) != body and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gzip.decompress((state / "blobs" / f"{etag}.gz").read_bytes()) == body


def test_a_server_stopped_as_soon_as_it_answers_still_leaves_a_warm_start(start, site_dir, tmp_path):  # noqa: F811
    root, state = site_dir(POSTS), tmp_path / "state"
    first = _serve(start, root, state)
    first.stop()  # no time for the builder's background work: the state was written before serving
    second = _serve(start, root, state)
    assert "warm start: serving" in second.log()
    # and the post cache was saved as the worker stopped, so the restarted builder parses nothing
    second.wait_for("/status", b'"trigger":"startup"')
    assert "post cache: 2 parsed posts" in second.log()
    assert "refresh (startup): +0 ~0 -0 posts" in second.log()
