"""A push that names its files: those are looked at first, a full walk follows, and the feeds equal a clean build."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import post_text, webhook_endpoint
from standardwebhooks.webhooks import Webhook
from test_webhooks import SECRET, github_headers

from feedsvc.config import settings_key
from feedsvc.deploy.statefolder import StateFolder
from feedsvc.deploy.workers import Delegate, Deployment, RemoteRefreshes
from feedsvc.model import FeedFormat
from feedsvc.pipeline.refresh import RefreshReport
from feedsvc.pipeline.rendercache import render_key
from feedsvc.pipeline.triggers import WALK_TRIGGER, RefreshQueue
from feedsvc.snapshot import SnapshotStore
from feedsvc.urls import feed_path
from feedsvc.web.forges import MAX_PATHS, content_paths, paths_from, read_push

AFTER = "b" * 40
ALPHA = "_posts/2026-01-10-alpha.md"
BETA = "_posts/2026-01-20-beta.md"
POSTS = {ALPHA: post_text("title: Alpha\ntags: [python]"), BETA: post_text("title: Beta\ntags: [web]")}


def push(commits: list[dict[str, object]] | None = None, **fields: object) -> bytes:
    """A push body as GitHub sends it for one commit changing `_posts/…alpha.md`, with `fields` changed."""
    if commits is None:
        commits = [{"id": AFTER, "added": [], "modified": [ALPHA], "removed": []}]
    return json.dumps({"ref": "refs/heads/main", "before": "a" * 40, "after": AFTER, "created": False,
                       "deleted": False, "forced": False, "commits": commits, **fields}).encode()


def paths_of(body: bytes, sender: str = "X-GitHub-Event", event: str = "push") -> frozenset[str] | None:
    pushes = read_push({sender: event}, body)
    assert isinstance(pushes, tuple)
    return pushes[0].paths


# -- what a push says ---------------------------------------------------------------------

def test_a_push_names_every_file_its_commits_added_modified_or_removed():
    commits = [{"id": "1" * 40, "added": ["_posts/new.md"], "modified": [ALPHA], "removed": []},
               {"id": AFTER, "added": [], "modified": ["_config.yml"], "removed": ["_posts/old.md"]}]
    named = frozenset({"_posts/new.md", ALPHA, "_config.yml", "_posts/old.md"})
    assert paths_of(push(commits)) == named
    assert paths_of(push(commits), "X-Gitea-Event") == named
    assert paths_of(push(commits, total_commits_count=2), "X-Gitlab-Event", "Push Hook") == named


@pytest.mark.parametrize("body", [
    push([{"id": str(i) * 40, "added": [], "modified": [ALPHA], "removed": []} for i in range(10)] * 2),
    push(total_commits_count=3),                      # GitLab listed fewer commits than the push had
    push(forced=True),                                # the branch may have lost commits no list shows
    push(created=True),                               # a new branch: its files are not all in the commits
    push(after="0" * 40, deleted=True),
    push([]),
    push([{"id": AFTER, "modified": [ALPHA]}]),       # a sender that does not list every kind
    push([{"id": AFTER, "added": [], "modified": "x", "removed": []}]),
    push([{"id": AFTER, "added": ["../outside.md"], "modified": [], "removed": []}]),
    push([{"id": AFTER, "added": ["/etc/passwd"], "modified": [], "removed": []}]),
    push([{"id": AFTER, "added": ["_posts//a.md"], "modified": [], "removed": []}]),
    push([{"id": AFTER, "added": ["_posts/./a.md"], "modified": [], "removed": []}]),
    push([{"id": AFTER, "added": ["_posts\\a.md"], "modified": [], "removed": []}]),
    push([{"id": AFTER, "added": ["_posts/a\0.md"], "modified": [], "removed": []}]),
    push([{"id": AFTER, "added": [7], "modified": [], "removed": []}]),
    push([{"id": AFTER, "added": [f"{i}.md" for i in range(MAX_PATHS + 1)], "modified": [], "removed": []}]),
    push([{"id": AFTER, "added": ["_posts/\ud800.md"], "modified": [], "removed": []}]),  # a lone surrogate
])
def test_a_list_that_may_be_cut_short_or_a_name_that_is_not_plain_names_nothing(body):
    assert paths_of(body) is None


def test_bitbucket_names_no_files():
    body = json.dumps({"push": {"changes": [{"new": {"type": "branch", "name": "main",
                                                     "target": {"hash": AFTER}}, "forced": False}]}}).encode()
    assert paths_of(body, "X-Event-Key", "repo:push") is None


def test_repository_paths_become_paths_in_the_site_folder():
    paths = frozenset({"site/_posts/a.md", "README.md", "sitemap/b.md", "site/_config.yml"})
    assert content_paths(paths, "site") == {"_posts/a.md", "_config.yml"}
    assert content_paths(paths, "") == paths


def test_named_paths_read_back_from_another_worker_are_checked():
    assert paths_from([ALPHA, "_config.yml"]) == {ALPHA, "_config.yml"}
    assert paths_from([]) == frozenset()
    for bad in (None, "x", [ALPHA, "../x"], [ALPHA, 3], ["a"] * (MAX_PATHS + 1)):
        assert paths_from(bad) is None


# -- the queue: the named run, then one walk ---------------------------------------------

class Recorder:
    """A refresher that records what each run was asked to look at."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, frozenset[str] | None]] = []
        self.done = threading.Event()

    def refresh(self, trigger: str, named: frozenset[str] | None = None) -> RefreshReport:
        self.runs.append((trigger, named))
        if trigger == WALK_TRIGGER:
            self.done.set()
        return RefreshReport(trigger)


def test_named_webhook_runs_are_followed_by_one_full_walk_and_the_watchers_are_not():
    recorder = Recorder()
    queue = RefreshQueue(recorder)  # type: ignore[arg-type]
    queue.walk_after = 0.3
    queue.start()
    try:
        queue.wait(int(queue.request("os event", named=frozenset({"a.md"}))), 5)
        time.sleep(0.5)
        assert recorder.runs == [("os event", frozenset({"a.md"}))]
        for name in ("a.md", "b.md", "c.md"):
            queue.wait(int(queue.request("webhook", named=frozenset({name}))), 5)
        assert recorder.done.wait(5)
        time.sleep(0.5)
        assert recorder.runs[1:] == [("webhook", frozenset({"a.md"})), ("webhook", frozenset({"b.md"})),
                                     ("webhook", frozenset({"c.md"})), (WALK_TRIGGER, None)]
    finally:
        queue.stop()


def test_stopping_the_queue_drops_the_planned_walk():
    recorder = Recorder()
    queue = RefreshQueue(recorder)  # type: ignore[arg-type]
    queue.walk_after = 0.3
    queue.start()
    queue.wait(int(queue.request("webhook", named=frozenset({"a.md"}))), 5)
    queue.stop()
    time.sleep(0.5)
    assert recorder.runs == [("webhook", frozenset({"a.md"}))]


def test_a_follower_hands_the_named_files_to_the_builder(tmp_path):
    state = StateFolder(tmp_path / "state")
    RemoteRefreshes(state).request("webhook", named=frozenset({ALPHA}))
    (state.requests / "forged.json").write_text(json.dumps({"trigger": "webhook", "named": ["../../etc/passwd"]}))
    asked: list[tuple[str, frozenset[str] | None]] = []

    class Queue:
        def enqueue(self, trigger: str, named: frozenset[str] | None = None) -> int:
            asked.append((trigger, named))
            return len(asked)

    deployment = Deployment(state, SnapshotStore(), Queue(), Delegate(Queue()),  # type: ignore[arg-type]
                            lambda: None, lambda: None, dict)
    deployment._take_requests()
    assert sorted(asked, key=str) == sorted([("webhook", frozenset({ALPHA})), ("webhook", None)], key=str)


# -- the endpoint, with a real refresher ------------------------------------------------

@pytest.fixture
def hinted(site_dir, make_refresher):
    """(root, client, queue, refresher): the webhook of a plain folder, the walk after a push 0.3 s later."""
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    with webhook_endpoint(refresher, SECRET, walk_after=0.3) as (client, queue):
        yield root, client, queue, refresher


def _rss(client) -> bytes:
    return client.get("/rss.xml").data


def test_a_push_naming_the_edited_post_publishes_it_and_a_file_it_did_not_name_comes_with_the_walk(hinted):
    root, client, queue, _ = hinted
    (root / ALPHA).write_text(post_text("title: Alpha Edited\ntags: [python]"), encoding="utf-8")
    (root / BETA).write_text(post_text("title: Beta Edited\ntags: [web]"), encoding="utf-8")  # not named
    body = push()
    outcome = client.post("/hooks/refresh?wait=1", data=body, headers=github_headers(body)).get_json()
    assert outcome["status"] == "done" and outcome["updated"] == [ALPHA]
    assert b"Alpha Edited" in _rss(client) and b"Beta Edited" not in _rss(client)
    deadline = time.monotonic() + 10
    while b"Beta Edited" not in _rss(client):
        assert time.monotonic() < deadline, "the walk after the push never published the file it did not name"
        time.sleep(0.05)
    assert queue.last is not None and queue.last["trigger"] == WALK_TRIGGER


def test_a_push_without_a_commit_list_and_a_standard_webhook_walk_the_folder_at_once(hinted):
    root, client, _, _ = hinted
    (root / BETA).write_text(post_text("title: Beta Edited\ntags: [web]"), encoding="utf-8")
    body = json.dumps({"ref": "refs/heads/main", "source": "no commit list"}).encode()
    outcome = client.post("/hooks/refresh?wait=1", data=body, headers=github_headers(body)).get_json()
    assert outcome["updated"] == [BETA]
    (root / ALPHA).write_text(post_text("title: Alpha Edited\ntags: [python]"), encoding="utf-8")
    body = push([{"id": AFTER, "added": [], "modified": [BETA], "removed": []}])  # names the wrong file
    at = datetime.now(UTC)
    headers = {"webhook-id": "m1", "webhook-timestamp": str(int(at.timestamp())), "X-GitHub-Event": "push",
               "webhook-signature": Webhook(SECRET.encode()).sign("m1", at, body.decode())}
    outcome = client.post("/hooks/refresh?wait=1", data=body, headers=headers).get_json()
    assert outcome["updated"] == [ALPHA]  # the standard scheme names no forge: its list is not read


def test_after_named_pushes_every_feed_equals_a_clean_build(hinted, make_refresher):
    root, client, queue, refresher = hinted
    (root / ALPHA).write_text(post_text("title: Alpha Moved\ntags: [web, rust]"), encoding="utf-8")
    gamma = "_posts/2026-02-01-gamma.md"
    (root / gamma).write_text(post_text("title: Gamma\ntags: [python]"), encoding="utf-8")
    (root / BETA).unlink()
    body = push([{"id": AFTER, "added": [gamma], "modified": [ALPHA], "removed": [BETA]}])
    outcome = client.post("/hooks/refresh?wait=1", data=body, headers=github_headers(body)).get_json()
    assert outcome["added"] == [gamma] and outcome["updated"] == [ALPHA] and outcome["removed"] == [BETA]
    hinted_site = refresher.store.snapshot
    clean = make_refresher(root)
    clean.refresh("startup")
    assert hinted_site.resources.keys() == clean.store.snapshot.resources.keys()
    for path, resource in clean.store.snapshot.resources.items():
        assert hinted_site.resources[path].body == resource.body, path
        assert hinted_site.resources[path].etag == resource.etag, path


def test_a_named_file_that_is_a_link_is_left_to_the_walk(hinted, tmp_path):
    root, client, _, _ = hinted
    outside = tmp_path / "outside.md"
    outside.write_text(post_text("title: Linked\ntags: [python]"), encoding="utf-8")
    (root / ALPHA).unlink()
    (root / ALPHA).symlink_to(outside)
    body = push()
    outcome = client.post("/hooks/refresh?wait=1", data=body, headers=github_headers(body)).get_json()
    # The named look declines a link: this run walked the folder, which refuses a link leaving it.
    assert outcome["removed"] == [ALPHA] and b"Linked" not in _rss(client)
    assert Path(root / ALPHA).is_symlink()


# -- the render after the change ----------------------------------------------------------

def test_render_keys_reused_for_untouched_scopes_are_the_keys_of_what_they_show(site_dir, make_refresher):
    root = site_dir({**POSTS, "_posts/2026-01-05-gamma.md": post_text("title: Gamma\ntags: [rust]")})
    refresher = make_refresher(root)
    refresher.refresh("startup")
    for title in ("Alpha Retitled", "Alpha Again"):  # a retitle: the site is patched, not indexed again
        (root / ALPHA).write_text(post_text(f"title: {title}\ntags: [python]"), encoding="utf-8")
        assert refresher.refresh("webhook", frozenset({ALPHA})).updated == (ALPHA,)
        seed, settings = refresher.export(), refresher.settings
        assert seed is not None and settings is not None
        for scope, posts in refresher.store.snapshot.site.scopes.items():
            for fmt in FeedFormat:
                expected = render_key(settings_key(settings), scope, posts, settings.feed_limit)
                assert seed.rendered[feed_path(scope, fmt)][0] == expected, (scope, fmt)
    assert b"Alpha Again" in refresher.store.snapshot.resources["/tags/python/rss.xml"].body
