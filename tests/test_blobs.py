"""Served bytes read from the state folder's blobs when sent: the same answers, no bytes held, tampering refused."""

from __future__ import annotations

import gzip
import os

import pytest
from conftest import post_text
from werkzeug.test import Client
from werkzeug.wrappers import Response

from feedsvc.deploy import blobs
from feedsvc.deploy.blobs import Blob, BlobChanged
from feedsvc.deploy.statefolder import StateFolder
from feedsvc.snapshot import SnapshotStore
from feedsvc.web.app import create_app

CONFIG = "title: Blobs\nurl: https://example.org\nfeedsvc:\n  compat: [wordpress]\n"
POSTS = {
    "_posts/2026-01-10-alpha.md": post_text("title: Alpha\ntags: [python]\nauthor: Ada"),
    "_posts/2026-01-11-beta.md": post_text("title: Beta\ncategories: [News]"),
}


@pytest.fixture(autouse=True)
def cold_hot_bodies():
    blobs.HOT.clear()
    yield
    blobs.HOT.clear()


@pytest.fixture
def published(site_dir, make_refresher, tmp_path):
    """(the builder's refresher, the state folder it published to, the snapshot a follower loads from it)."""
    refresher = make_refresher(site_dir(POSTS, config=CONFIG))
    refresher.refresh()
    state = StateFolder(tmp_path / "state")
    state.write_snapshot(refresher.store.snapshot)
    loaded = state.read_snapshot(None)
    assert loaded is not None
    return refresher, state, loaded


def _clients(refresher, snapshot):
    store = SnapshotStore()
    store.snapshot = snapshot
    app = create_app(refresher.settings, store)
    return Client(app, Response), Client(app.wsgi_app.app, Response)  # the fast path, and Flask alone


def _answer(client, method, path, encoding):
    response = client.open(path, method=method, headers={"Accept-Encoding": encoding})
    return response.status, sorted((k, v) for k, v in response.headers.items() if k != "Date"), response.get_data()


def test_a_loaded_snapshot_holds_no_bytes_and_answers_exactly_as_the_builder_does(published):
    refresher, _, loaded = published
    held = refresher.store.snapshot
    assert all(isinstance(resource.gzip, Blob) for resource in loaded.resources.values())
    assert all(isinstance(resource.gzip, bytes) for resource in held.resources.values())
    builder, _ = _clients(refresher, held)
    fast, flask = _clients(refresher, loaded)
    for path in held.resources:
        for method in ("GET", "HEAD"):
            for encoding in ("gzip", "identity", "br, gzip"):
                expected = _answer(builder, method, path, encoding)
                assert expected[0] == "200 OK", path
                assert _answer(fast, method, path, encoding) == expected, (path, method, encoding)
                assert _answer(flask, method, path, encoding) == expected, (path, method, encoding)


def test_a_blob_changed_after_its_check_is_refused_not_served(published):
    refresher, state, loaded = published
    resource = loaded.resources["/rss.xml"]
    tampered = gzip.compress(resource.body.replace(b"Alpha", b"Evil!"), mtime=0)
    (state.blobs / f"{resource.etag}.gz").write_bytes(tampered)
    blobs.HOT.clear()  # what it holds was checked as it was read; a read from disk is checked again
    with pytest.raises(BlobChanged):
        resource.gzip.read()
    fast, flask = _clients(refresher, loaded)
    for client in (fast, flask):
        for encoding in ("gzip", "identity"):
            answer = client.get("/rss.xml", headers={"Accept-Encoding": encoding})
            assert answer.status_code == 503 and b"Evil" not in answer.get_data()
            assert answer.headers["Retry-After"] == "2"
    assert fast.get("/atom.xml").status_code == 200  # the others still are


@pytest.mark.parametrize("change", ["grown", "truncated", "link", "gone"])
def test_a_blob_of_another_size_a_link_or_gone_is_refused(published, tmp_path, change):
    _, state, loaded = published
    resource = loaded.resources["/rss.xml"]
    path = state.blobs / f"{resource.etag}.gz"
    original = path.read_bytes()
    if change == "grown":
        path.write_bytes(original + b"\0")
    elif change == "truncated":
        path.write_bytes(original[:-1])
    elif change == "link":
        (tmp_path / "elsewhere.gz").write_bytes(original)
        os.unlink(path)
        os.symlink(tmp_path / "elsewhere.gz", path)
    else:
        os.unlink(path)
    with pytest.raises(OSError):
        resource.gzip.read()


def test_hot_bodies_are_the_checked_bytes_and_stay_within_their_budget(published, monkeypatch):
    refresher, _, loaded = published
    monkeypatch.setattr(blobs, "HOT", blobs.LRUCache(3000, len))
    for path, resource in loaded.resources.items():
        assert resource.gzip_body == refresher.store.snapshot.resources[path].gzip_body
        assert resource.gzip_size == len(resource.gzip_body)
    assert 0 < blobs.HOT.usage()[1] <= 3000


def test_an_older_snapshot_still_reads_its_blobs_after_two_newer_ones_are_published(published, site_dir):
    refresher, state, loaded = published
    expected = {path: resource.gzip_body for path, resource in refresher.store.snapshot.resources.items()}
    root = refresher.content_dir
    for title in ("Second", "Third"):
        (root / "_posts/2026-01-10-alpha.md").write_text(post_text(f"title: {title}\ntags: [python]"))
        refresher.refresh()
        state.write_snapshot(refresher.store.snapshot)
    assert refresher.store.snapshot.resources["/rss.xml"].etag != loaded.resources["/rss.xml"].etag
    blobs.HOT.clear()
    assert {path: resource.gzip_body for path, resource in loaded.resources.items()} == expected


def test_a_builder_taking_over_checks_the_blobs_it_serves_instead_of_copying_them(published, tmp_path):
    _, state, loaded = published
    inodes = {entry.name: entry.stat().st_ino for entry in os.scandir(state.blobs)}
    successor = StateFolder(state.root)  # a follower elected builder: it wrote nothing itself
    successor.write_snapshot(loaded)
    assert {entry.name: entry.stat().st_ino for entry in os.scandir(state.blobs)} == inodes  # none rewritten
    assert successor.read_snapshot(None) is not None
    resource = loaded.resources["/rss.xml"]
    (state.blobs / f"{resource.etag}.gz").write_bytes(b"changed")
    with pytest.raises(OSError):
        StateFolder(state.root).write_snapshot(loaded)  # never publishes a blob it cannot vouch for
