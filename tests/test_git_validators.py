"""Validators from the content, not the disk: a git source's Last-Modified comes from its history.

Two properties (issue 16): a reader sending only If-Modified-Since never gets a 304 for bytes it has
not seen, and replicas serving one commit answer every URL alike, however and whenever they cloned.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import BASIC_CONFIG, post_text
from gitforge import Forge, git
from werkzeug.http import http_date, parse_date

from feedsvc.deploy.service import Service
from feedsvc.model import Resource
from feedsvc.pipeline.lastmodified import LastModified
from feedsvc.render.documents import EPOCH
from feedsvc.render.feeds import as_resource

POSTS = {
    f"_posts/2026-01-{day:02d}-post-{day}.md": post_text(
        f"title: Post {day}\ndate: 2026-01-{day:02d} 10:00:00 +0000\ntags: [{'odd' if day % 2 else 'even'}, all]")
    for day in range(1, 7)
}
FEEDS = ("/atom.xml", "/rss.xml", "/feed.json")
AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _resource(body: bytes, last_modified: datetime | None = None) -> Resource:
    return as_resource("/atom.xml", "application/atom+xml", body, last_modified)


# -- the policy, with times as values ------------------------------------------------------------

def test_every_resource_is_dated_by_the_commit_not_by_its_newest_entry_or_the_files() -> None:
    policy = LastModified(AT + timedelta(days=30), content_mtime=AT + timedelta(days=20), inventory={}, history=AT)
    assert policy.date(_resource(b"a", AT - timedelta(days=3)), (), None).last_modified == AT
    assert policy.modified == AT


def test_history_never_goes_back_and_changed_bytes_move_it() -> None:
    policy = LastModified(AT + timedelta(days=30), EPOCH, {}, history=AT - timedelta(days=1))  # a rewind
    served = _resource(b"old", AT)
    same = policy.date(_resource(b"old"), (), served)
    assert same is served  # same bytes: the validators stay
    changed = policy.date(_resource(b"new"), (), served).last_modified
    assert changed is not None and changed > AT  # a reader holding `AT` must not get a 304


def test_a_future_post_that_came_out_after_its_commit_dates_its_feeds() -> None:
    out_at = AT + timedelta(days=2)
    policy = LastModified(AT + timedelta(days=3), EPOCH, {}, history=AT)
    assert policy.date(_resource(b"a", out_at), (), None).last_modified == out_at
    not_yet = LastModified(AT + timedelta(days=1), EPOCH, {}, history=AT)
    assert not_yet.date(_resource(b"a", out_at), (), None).last_modified == AT + timedelta(days=1)


# -- against a real repository -------------------------------------------------------------------

@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    forge = Forge(tmp_path / "forge")
    forge.commit("start", {"_config.yml": BASIC_CONFIG, **POSTS})
    return forge


def _service(forge: Forge, state: Path) -> Service:
    return Service({"FEEDSVC_GIT_URL": str(forge.remote), "FEEDSVC_STATE_DIR": str(state),
                    "FEEDSVC_FEED_LIMIT": "4"})


def _fetch(service: Service) -> None:
    """What a push webhook or the interval job does: fetch, then refresh."""
    service._fetch("webhook")
    service.refresher.refresh("webhook")


def _commit_time(forge: Forge) -> datetime:
    return datetime.fromtimestamp(int(git("log", "-1", "--format=%ct", cwd=forge.work)), UTC)


def test_a_reader_sending_only_if_modified_since_sees_every_change(forge: Forge, tmp_path: Path) -> None:
    running = _service(forge, tmp_path / "running")
    client = running.app.test_client()
    seen = {path: client.get(path) for path in FEEDS + ("/tags/odd/atom.xml",)}
    assert all(r.status_code == 200 and r.last_modified == _commit_time(forge) for r in seen.values())
    edits = {
        "retitle": {"_posts/2026-01-05-post-5.md": post_text(
            "title: Post 5, retitled\ndate: 2026-01-05 10:00:00 +0000\ntags: [odd, all]")},
        "leave a tag": {"_posts/2026-01-03-post-3.md": post_text(
            "title: Post 3\ndate: 2026-01-03 10:00:00 +0000\ntags: [all]")},
        "delete": {"_posts/2026-01-06-post-6.md": None},
        "settings": {"_config.yml": BASIC_CONFIG.replace("title: Test Site", "title: Renamed Site")},
    }
    for what, files in edits.items():
        forge.commit(what, files)
        _fetch(running)
        fresh = _service(forge, tmp_path / f"fresh-{len(what)}-{what[:3]}")  # a replica cloned just now
        for path, before in seen.items():
            for replica in (client, fresh.app.test_client()):
                answer = replica.get(path, headers={"If-Modified-Since": before.headers["Last-Modified"]})
                if answer.status_code == 304:
                    assert replica.get(path).get_etag() == before.get_etag(), (what, path)
                    continue
                assert answer.status_code == 200 and answer.last_modified > before.last_modified, (what, path)
                assert answer.get_etag() != before.get_etag() or answer.last_modified > before.last_modified
        changed = [path for path in seen if client.get(path).get_etag() != seen[path].get_etag()]
        assert changed, what  # every edit here changes some feed
        seen = {path: client.get(path) for path in seen}


def test_two_replicas_cloned_at_different_times_answer_every_url_alike(forge: Forge, tmp_path: Path) -> None:
    early = _service(forge, tmp_path / "early")  # cloned first, then follows every push
    for day in (7, 8):
        forge.commit(f"post {day}", {f"_posts/2026-01-{day:02d}-post-{day}.md": post_text(
            f"title: Post {day}\ndate: 2026-01-{day:02d} 10:00:00 +0000\ntags: [all]")})
        _fetch(early)
    forge.commit("retitle", {"_posts/2026-01-02-post-2.md": post_text(
        "title: Post 2, retitled\ndate: 2026-01-02 10:00:00 +0000\ntags: [even]")})
    _fetch(early)
    forge.commit("not the site's files", {"README.md": "about\n"})  # still moves the site's time
    _fetch(early)
    tree = early.git.content_dir.resolve()  # type: ignore[union-attr]
    old = (datetime.now(UTC) - timedelta(days=400)).timestamp()
    for path in tree.rglob("*"):  # that checkout's files look a year older than the other's
        os.utime(path, (old, old), follow_symlinks=False)
    os.utime(tree, (old, old))
    late = _service(forge, tmp_path / "late")  # cloned later, at the last commit only
    assert late.git is not None and early.git is not None
    assert late.git.served_commit() == early.git.served_commit()

    snapshot = late.store.snapshot
    assert snapshot is not None
    paths = sorted({*snapshot.resources, *snapshot.aliases, *snapshot.redirects, "/", "/feeds.opml", "/feed.xml",
                    "/archive/1/atom.xml", "/tags/odd/archive/1/rss.xml", "/rss.xml?tags=odd",
                    "/feed.json?tags=all&tags=even", "/missing"})
    assert len(paths) > 20
    compared = 0
    for path in paths:
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            a = early.app.test_client().get(path, headers=headers)
            b = late.app.test_client().get(path, headers=headers)
            assert (a.status_code, a.data) == (b.status_code, b.data), path
            assert _headers(a) == _headers(b), path
            compared += 1
            if a.status_code == 200 and "Last-Modified" in a.headers:
                assert a.last_modified is not None and a.last_modified <= _commit_time(forge) + timedelta(seconds=1)
    assert compared == 2 * len(paths)
    for rendered_on_request in ("/archive/1/atom.xml", "/rss.xml?tags=odd", "/feed.json?tags=all&tags=even"):
        assert late.app.test_client().get(rendered_on_request).status_code == 200
    # A redeploy of the same commit (a new state folder) changes no validator either.
    again = _service(forge, tmp_path / "again")
    for path in FEEDS:
        assert _headers(again.app.test_client().get(path)) == _headers(early.app.test_client().get(path))


def _headers(response: object) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.items() if k != "Date")  # type: ignore[attr-defined]


def test_an_if_modified_since_from_before_the_commit_is_answered_with_the_bytes(forge: Forge, tmp_path: Path) -> None:
    service = _service(forge, tmp_path / "state")
    client = service.app.test_client()
    changed_at = _commit_time(forge)
    before = http_date(changed_at - timedelta(seconds=1))
    assert client.get("/atom.xml", headers={"If-Modified-Since": before}).status_code == 200
    answer = client.get("/atom.xml", headers={"If-Modified-Since": http_date(changed_at)})
    assert answer.status_code == 304
    assert parse_date(client.get("/atom.xml").headers["Last-Modified"]) == changed_at


def test_a_force_push_back_to_older_commits_still_moves_the_validator(forge: Forge, tmp_path: Path) -> None:
    service = _service(forge, tmp_path / "state")
    client = service.app.test_client()
    forge.commit("retitle", {"_posts/2026-01-06-post-6.md": post_text(
        "title: Post 6, retitled\ndate: 2026-01-06 10:00:00 +0000\ntags: [even, all]")})
    _fetch(service)
    seen = client.get("/rss.xml")
    assert b"retitled" in seen.data
    git("reset", "--quiet", "--hard", "HEAD~1", cwd=forge.work)
    forge.push(force=True)  # the history goes back to a commit older than what readers saw
    _fetch(service)
    answer = client.get("/rss.xml", headers={"If-Modified-Since": seen.headers["Last-Modified"]})
    assert answer.status_code == 200 and b"retitled" not in answer.data
    assert answer.last_modified is not None and seen.last_modified is not None
    assert answer.last_modified > seen.last_modified
