"""Several worker processes, one builder: the state folder, and gunicorn with three workers for real."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import http.client
import json
import os
import signal
import sys
import time

import pytest
from conftest import post_text
from test_server import POSTS, Server, free_port, start  # noqa: F401 (start is a fixture)

from feedsvc.deploy import statefolder
from feedsvc.deploy.statefolder import StateFolder

SECRET = "s3cret for workers"


# -- the state folder, without processes ----------------------------------------------

def test_a_written_snapshot_reads_back_with_identical_bytes_and_validators(site_dir, make_refresher, tmp_path):
    config = "url: https://example.org\nfeedsvc:\n  compat: [wordpress]\n  redirects:\n    /old.xml: /rss.xml\n"
    refresher = make_refresher(site_dir(POSTS, config=config), {"FEEDSVC_WEBSUB_HUBS": "https://hub.example.org/"})
    refresher.refresh()
    snapshot = refresher.store.snapshot
    state = StateFolder(tmp_path / "state")
    state.write_snapshot(snapshot)
    copy = state.read_snapshot(None)
    assert copy is not None and copy.generation == snapshot.generation
    assert copy.resources.keys() == snapshot.resources.keys()
    for path, resource in snapshot.resources.items():
        other = copy.resources[path]
        assert (other.body, other.gzip_body, other.etag, other.last_modified, other.content_type, other.headers) == \
               (resource.body, resource.gzip_body, resource.etag, resource.last_modified, resource.content_type,
                resource.headers)
    assert any(name == "Link" for name, _ in copy.resources["/rss.xml"].headers)
    assert copy.aliases["/feed/"] is copy.resources["/rss.xml"]
    assert dict(copy.redirects) == dict(snapshot.redirects)
    assert copy.redirects["/old.xml"] == "https://example.org/rss.xml"
    assert copy.stats["posts"] == 2


def test_unchanged_bytes_are_reused_and_only_changed_blobs_are_read(site_dir, make_refresher, tmp_path):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    state = StateFolder(tmp_path / "state")
    state.write_snapshot(refresher.store.snapshot)
    first = state.read_snapshot(None)
    (root / "_posts/2026-01-10-alpha.md").write_text(post_text("title: Alpha Renamed\ntags: [python]"))
    report = refresher.refresh()
    state.write_snapshot(refresher.store.snapshot)
    second = state.read_snapshot(first)
    changed = set(report.feeds_changed)
    unchanged = [path for path in second.resources
                 if not (path in changed or path + "rss.xml" in changed or path in ("/", "/feeds.opml"))]
    assert unchanged  # (a scope's page changes with its feeds)
    for path in unchanged:
        assert second.resources[path] is first.resources[path], path  # the very same object: no re-read
    assert b"Alpha Renamed" in second.resources["/rss.xml"].body


def test_a_corrupt_blob_is_never_served(site_dir, make_refresher, tmp_path, caplog):
    refresher = make_refresher(site_dir(POSTS))
    refresher.refresh()
    state = StateFolder(tmp_path / "state")
    state.write_snapshot(refresher.store.snapshot)
    etag = refresher.store.snapshot.resources["/rss.xml"].etag
    (state.blobs / f"{etag}.gz").write_bytes(gzip.compress(b"<rss>tampered</rss>"))
    assert state.read_snapshot(None) is None
    assert "does not match its hash" in caplog.text


def test_old_blobs_are_collected_after_two_generations_and_their_grace(site_dir, make_refresher, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(statefolder, "BLOB_GRACE_SECONDS", 0.0)
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    state = StateFolder(tmp_path / "state")
    state.write_snapshot(refresher.store.snapshot)
    etags = [refresher.store.snapshot.resources["/rss.xml"].etag]
    for title in ("Second", "Third"):
        (root / "_posts/2026-01-10-alpha.md").write_text(post_text(f"title: {title}\ntags: [python]"))
        refresher.refresh()
        state.write_snapshot(refresher.store.snapshot)
        etags.append(refresher.store.snapshot.resources["/rss.xml"].etag)
    assert len(set(etags)) == 3
    blob_names = {entry.name for entry in state.blobs.iterdir()}
    assert f"{etags[0]}.gz" not in blob_names  # two generations old: collected
    assert {f"{etags[1]}.gz", f"{etags[2]}.gz"} <= blob_names  # a follower may still be loading the one before
    assert state.read_snapshot(None) is not None


# -- gunicorn with three workers --------------------------------------------------------

def _signed_post(server: Server, body: bytes = b'{"ref": "refs/heads/main"}') -> int:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("POST", "/hooks/refresh", body=body,
                       headers={"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"})
    status = connection.getresponse().status
    connection.close()
    return status


def _status_by_worker(server: Server, rounds: int = 60, until: int = 3, timeout: float = 10.0) -> dict[int, dict]:
    """Fresh connections until `until` workers answered (the kernel spreads accepts unevenly)."""
    seen: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    done = 0
    while done < rounds or (len(seen) < until and time.monotonic() < deadline):
        done += 1
        try:
            status, _, body = server.get("/status")
        except (ConnectionError, http.client.HTTPException, OSError):
            continue  # a connection accepted by a worker that was just killed
        if status == 200:
            data = json.loads(body)
            seen[data["worker"]["pid"]] = data
    return seen


@pytest.fixture
def three_workers(start, site_dir, tmp_path) -> tuple[Server, object]:  # noqa: F811 (the fixture)
    root = site_dir(POSTS)
    port = free_port()
    server = start([sys.executable, "-m", "feedsvc", "serve", "--content", str(root), "--host", "127.0.0.1",
                    "--port", str(port)], port,
                   {"FEEDSVC_WORKERS": "3", "FEEDSVC_WEBHOOK_SECRET": SECRET, "FEEDSVC_RESCAN_SECONDS": "3600",
                    "FEEDSVC_STATE_DIR": str(tmp_path / "state")})
    server.wait_ready()
    assert len(_status_by_worker(server, 3, timeout=20)) == 3, server.log()
    return server, root


def test_three_workers_elect_exactly_one_builder_and_one_scheduler(three_workers):
    server, _ = three_workers
    seen = _status_by_worker(server)
    assert len(seen) == 3, seen.keys()
    roles = sorted(data["worker"]["role"] for data in seen.values())
    assert roles == ["builder", "follower", "follower"]
    builders = {data["worker"]["pid"] for data in seen.values() if data["worker"]["role"] == "builder"}
    assert {data["worker"].get("builder", data["worker"]["pid"]) for data in seen.values()} == builders
    assert server.log().count("scheduler started") == 1


def test_a_webhook_to_any_worker_reaches_every_worker(three_workers):
    server, root = three_workers
    (root / "_posts/2026-03-01-fresh.md").write_text(post_text("title: Freshly Hooked\ntags: [python]"))
    assert _signed_post(server) == 202
    sent = time.monotonic()
    pending = set(_status_by_worker(server, 3, timeout=20))
    updated: set[int] = set()
    feed_hits = 0
    while time.monotonic() - sent < 20.0 and (updated != pending or feed_hits < 30):  # only a hang takes 20 s
        for pid, data in _status_by_worker(server, 6, timeout=0).items():
            if data["posts"] == 3:
                updated.add(pid)
        status, _, body = server.get("/tags/python/rss.xml")
        if status == 200 and b"Freshly Hooked" in body:
            feed_hits += 1
    elapsed = time.monotonic() - sent
    assert updated == pending and len(updated) == 3, f"after {elapsed:.2f}s only {updated} of {pending}"
    # and from here on, no worker serves the old feed
    for _ in range(30):
        status, _, body = server.get("/tags/python/rss.xml")
        assert status == 200 and b"Freshly Hooked" in body


def test_when_the_builder_dies_a_follower_takes_over(three_workers):
    server, root = three_workers
    seen = _status_by_worker(server)
    builder = next(pid for pid, data in seen.items() if data["worker"]["role"] == "builder")
    os.kill(builder, signal.SIGKILL)
    deadline = time.monotonic() + 15
    new_builder = None
    while time.monotonic() < deadline and new_builder is None:
        for pid, data in _status_by_worker(server, 10, timeout=0).items():
            if pid != builder and data["worker"]["role"] == "builder":
                new_builder = pid
        time.sleep(0.1)
    assert new_builder is not None, server.log()
    (root / "_posts/2026-03-02-after.md").write_text(post_text("title: After Takeover"))
    assert _signed_post(server) == 202
    server.wait_for("/rss.xml", b"After Takeover", timeout=5)


def test_metrics_add_up_the_requests_of_every_worker(three_workers):
    from prometheus_client.parser import text_string_to_metric_families

    server, _ = three_workers
    for _ in range(40):
        assert server.get("/atom.xml")[0] == 200
    assert len(_status_by_worker(server, 3)) == 3
    status, headers, body = server.get("/metrics")
    assert status == 200
    counted = {tuple(sorted(s.labels.items())): s.value
               for family in text_string_to_metric_families(body.decode())
               for s in family.samples if s.name == "feedsvc_http_requests_total"}
    assert counted[(("route", "feed"), ("status", "200"))] == 40


def test_followers_serve_archive_pages_and_filtered_feeds_rendered_by_the_builder(start, site_dir, tmp_path):  # noqa: F811
    from prometheus_client.parser import text_string_to_metric_families

    posts = dict(POSTS)
    for day in (3, 4, 5):
        posts[f"_posts/2026-03-0{day}-more-{day}.md"] = post_text(f"title: More {day}\ntags: [python, web]")
    root = site_dir(posts)
    port = free_port()
    server = start([sys.executable, "-m", "feedsvc", "serve", "--content", str(root), "--host", "127.0.0.1",
                    "--port", str(port)], port,
                   {"FEEDSVC_WORKERS": "3", "FEEDSVC_FEED_LIMIT": "2", "FEEDSVC_RESCAN_SECONDS": "3600",
                    "FEEDSVC_WEBHOOK_SECRET": SECRET, "FEEDSVC_STATE_DIR": str(tmp_path / "state")})
    server.wait_ready()
    assert len(_status_by_worker(server, 3, timeout=20)) == 3, server.log()
    # A published refresh: followers now serve the builder's manifest and hold no parsed site.
    (root / "_posts/2026-03-06-six.md").write_text(post_text("title: Six\ntags: [rust]"))
    assert _signed_post(server) == 202
    deadline = time.monotonic() + 10
    while {data["posts"] for data in _status_by_worker(server, 6, timeout=0).values()} != {6}:
        assert time.monotonic() < deadline, server.log()
    answers: dict[str, set[tuple[int, str, bytes]]] = {}
    for _ in range(12):  # fresh connections: the kernel spreads them over the workers
        for path in ("/archive/1/atom.xml", "/tags/python/archive/1/rss.xml", "/rss.xml?tags=web&tags=python",
                     "/archive/9/atom.xml", "/rss.xml?tags=nope"):
            status, headers, body = server.get(path)
            answers.setdefault(path, set()).add((status, headers.get("ETag", ""), body))
    assert len(answers["/archive/1/atom.xml"]) == 1  # every worker served the same bytes and validators
    (status, _, body), = answers["/archive/1/atom.xml"]
    assert status == 200 and b"<fh:archive/>" in body and b"Alpha Post" in body and b"Beta Post" in body
    (status, _, body), = answers["/tags/python/archive/1/rss.xml"]
    assert status == 200 and b"Alpha Post" in body and b"More 3" in body
    (status, _, body), = answers["/rss.xml?tags=web&tags=python"]
    assert status == 200 and body.count(b"<item>") == 2 and b"More 5" in body and b"Beta Post" not in body
    assert {status for status, _, _ in answers["/archive/9/atom.xml"] | answers["/rss.xml?tags=nope"]} == {404}
    _, _, metrics = server.get("/metrics")
    outcomes = {(s.labels["kind"], s.labels["outcome"]): s.value
                for family in text_string_to_metric_families(metrics.decode())
                for s in family.samples if s.name == "feedsvc_ondemand_total"}
    assert outcomes.get(("archive", "from_builder"), 0) >= 1, outcomes  # a follower asked the builder
    assert outcomes[("archive", "rendered")] == 2, outcomes  # each page rendered once, by the builder alone
    assert outcomes[("filter", "rendered")] == 1
