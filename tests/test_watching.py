"""Changes seen by the OS: an editor's save, a checkout's burst and moved folders reach the feeds
without any rescan interval, and where watching is impossible the service says so and keeps rescanning.

No scheduler runs in these tests (except the last, whose interval is an hour): only the watcher can
have asked for the refreshes awaited here. Each wait is for an event, with a generous deadline.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import post_text

from feedsvc.deploy.service import Service
from feedsvc.pipeline.refresh import Refresher, RefreshReport
from feedsvc.pipeline.triggers import RefreshQueue
from feedsvc.pipeline.watching import SETTLED_TRIGGER, FolderWatch, filesystem_of
from feedsvc.snapshot import Built, SnapshotStore

DEADLINE = 30.0
POSTS = {f"_posts/2026-01-{day:02d}-post-{day}.md": post_text(f"title: Post {day}\ntags: [t{day % 3}]",
                                                              f"Body of post {day}.\n")
         for day in range(1, 11)}


class Watched:
    """A refresher fed only by a FolderWatch; `until(check)` waits for a published snapshot where check holds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.refresher = Refresher(SnapshotStore(), root, {})
        self.refresher.refresh("startup")
        self.queue = RefreshQueue(self.refresher)
        self.reports: list[RefreshReport] = []
        self.changed = threading.Condition()
        self.queue.on_report.append(self._reported)
        self.queue.start()
        self.watch = FolderWatch(root, self.queue.request)
        assert self.watch.start(), self.watch.fallback

    def _reported(self, report: RefreshReport) -> None:
        with self.changed:
            self.reports.append(report)
            self.changed.notify_all()

    def until(self, check) -> Built:
        with self.changed:
            assert self.changed.wait_for(lambda: check(self.snapshot), DEADLINE), self.reports[-5:]
        return self.snapshot

    @property
    def snapshot(self) -> Built:
        snapshot = self.refresher.store.snapshot
        assert isinstance(snapshot, Built)
        return snapshot

    def stop(self) -> None:
        self.watch.stop()
        self.queue.stop()


@pytest.fixture
def watched(site_dir):
    running = Watched(site_dir(POSTS))
    yield running
    running.stop()


def titles(snapshot: Built) -> set[str]:
    return {post.title for post in snapshot.site.posts}


def bodies(snapshot: Built) -> dict[str, bytes]:
    return {path: resource.body for path, resource in snapshot.resources.items()}


def clean_build(root: Path) -> Built:
    refresher = Refresher(SnapshotStore(), root, {})
    refresher.refresh("startup")
    snapshot = refresher.store.snapshot
    assert isinstance(snapshot, Built)
    return snapshot


def test_an_editors_save_is_served_at_once_without_the_settle_window(watched):
    """Write a temporary file, rename it over the post: the new title is served by an "os event" refresh."""
    post = watched.root / "_posts/2026-01-10-post-10.md"
    temp = post.with_name(".post-10.md.swp")
    temp.write_text(post_text("title: Post 10, saved\ntags: [t1]", "Saved body.\n"), encoding="utf-8")
    os.replace(temp, post)
    snapshot = watched.until(lambda s: "Post 10, saved" in titles(s))
    assert "Post 10" not in titles(snapshot)
    assert any(SETTLED_TRIGGER in report.trigger and report.updated == ("_posts/2026-01-10-post-10.md",)
               for report in watched.reports)
    assert all(not report.pending for report in watched.reports)  # nothing was held back as still being written


def test_a_checkout_like_burst_ends_equal_to_a_clean_build(watched):
    """Deletes, in-place rewrites and new files in quick succession: the served feeds end up as a
    fresh build of the folder makes them."""
    posts = watched.root / "_posts"
    for day in (1, 2, 3):
        (posts / f"2026-01-{day:02d}-post-{day}.md").unlink()
    for day in (4, 5, 6):
        with (posts / f"2026-01-{day:02d}-post-{day}.md").open("w", encoding="utf-8") as out:
            out.write(post_text(f"title: Post {day} rewritten\ntags: [t9]", "Checked out.\n"))
    for day in range(11, 21):
        (posts / f"2026-01-{day:02d}-new-{day}.md").write_text(
            post_text(f"title: New {day}\ntags: [t{day % 2}]", "New.\n"), encoding="utf-8")
    expected = clean_build(watched.root)
    snapshot = watched.until(lambda s: titles(s) == titles(expected))
    assert bodies(snapshot) == bodies(expected)
    assert {"Post 1", "Post 2", "Post 3"}.isdisjoint(titles(snapshot))


def test_folders_moved_in_renamed_and_written_into_are_followed(watched, tmp_path):
    outside = tmp_path / "drafts-elsewhere"
    outside.mkdir()
    for day in (21, 22):
        (outside / f"2026-01-{day}-moved-{day}.md").write_text(post_text(f"title: Moved {day}"), encoding="utf-8")
    posts = watched.root / "_posts"
    shutil.move(str(outside), str(posts / "batch"))
    watched.until(lambda s: {"Moved 21", "Moved 22"} <= titles(s))

    os.rename(posts / "batch", posts / "renamed")
    (posts / "renamed" / "2026-01-23-after-23.md").write_text(post_text("title: After 23"), encoding="utf-8")
    snapshot = watched.until(lambda s: "After 23" in titles(s))
    expected = clean_build(watched.root)
    snapshot = watched.until(lambda s: bodies(s) == bodies(expected))
    assert {"Moved 21", "Moved 22", "After 23"} <= titles(snapshot)

    shutil.move(str(posts / "renamed"), str(tmp_path / "gone"))  # moved out: its posts are removed
    watched.until(lambda s: not {"Moved 21", "Moved 22", "After 23"} & titles(s))


def test_a_file_still_being_written_is_not_read_before_its_writer_closes_it(watched):
    post = watched.root / "_posts/2026-01-09-post-9.md"
    with post.open("w", encoding="utf-8") as out:
        out.write(post_text("title: Post 9, half"))
        out.flush()
        deadline = time.monotonic() + 0.5  # well inside MAX_DELAY_SECONDS: no refresh may read it meanwhile
        while time.monotonic() < deadline:
            assert "Post 9, half" not in titles(watched.snapshot)
            time.sleep(0.02)
        out.write("The rest of the body.\n")
    snapshot = watched.until(lambda s: "Post 9, half" in titles(s))
    assert "The rest of the body." in next(p for p in snapshot.site.posts if p.title == "Post 9, half").content_html


class _LimitReached:
    """An observer as watchdog's behaves when inotify has no watches left."""

    def schedule(self, event_handler, path, *, recursive=False):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    def start(self):
        pass

    def stop(self):
        pass

    def join(self, timeout=None):
        pass


def test_the_watch_limit_falls_back_to_rescans_and_says_why(site_dir):
    requests: list[str] = []
    watch = FolderWatch(site_dir(POSTS), requests.append, observer=_LimitReached)
    assert not watch.start()
    described = watch.describe()
    assert described["mode"] == "rescans only" and "watch limit" in described["fallback"]
    assert watch.safety_net_seconds(60.0) == 60.0  # the interval rescan stays as configured


NFS_MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:45 / /srv/sites rw,relatime shared:20 - nfs4 fileserver:/export/sites rw,vers=4.2
41 40 0:46 / /srv/sites/local rw,relatime shared:21 - tmpfs tmpfs rw
"""


def test_a_network_filesystem_is_recognised_and_not_watched(tmp_path):
    assert filesystem_of(Path("/srv/sites/blog"), NFS_MOUNTINFO) == "nfs4"
    assert filesystem_of(Path("/srv/sites/local/blog"), NFS_MOUNTINFO) == "tmpfs"
    assert filesystem_of(Path("/srv/sitesX"), NFS_MOUNTINFO) == "ext4"
    (tmp_path / "_posts").mkdir()
    mountinfo = f"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n40 22 0:45 / {tmp_path} rw - nfs4 server:/x rw\n"
    watch = FolderWatch(tmp_path, lambda trigger: None, mountinfo=lambda: mountinfo)
    assert not watch.start()
    assert "network filesystem (nfs4)" in watch.describe()["fallback"]


def _running(service: Service) -> None:
    """Wait until the builder's threads run (start_background starts them on another thread)."""
    deadline = time.monotonic() + DEADLINE
    while service.scheduler is None or not service.scheduler.scheduler.running:
        assert time.monotonic() < deadline, "the builder never started"
        time.sleep(0.01)


def test_status_says_how_changes_are_seen(site_dir, tmp_path):
    root = site_dir(POSTS)
    service = Service({"FEEDSVC_STATE_DIR": str(tmp_path / "state"), "FEEDSVC_RESCAN_SECONDS": "3600"}, root)
    service.start_background()
    try:
        _running(service)
        seen_by = service.app.test_client().get("/status").get_json()["changes_seen_by"]
        assert seen_by["mode"] == "os events" and seen_by["fallback"] is None
        (root / "_posts/2026-01-24-late.md").write_text(post_text("title: Late"), encoding="utf-8")
        deadline = time.monotonic() + DEADLINE
        while "Late" not in {p.title for p in service.store.snapshot.site.posts}:
            assert time.monotonic() < deadline, "the new post was never served"
            time.sleep(0.01)
    finally:
        service.stop()

    off = Service({"FEEDSVC_STATE_DIR": str(tmp_path / "state-off"), "FEEDSVC_WATCH": "off"}, root)
    off.start_background()
    try:
        _running(off)
        seen_by = off.app.test_client().get("/status").get_json()["changes_seen_by"]
        assert seen_by == {"mode": "rescans only", "fallback": "FEEDSVC_WATCH=off", "events": 0,
                           "refreshes_requested": 0}
    finally:
        off.stop()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_edits_seen_only_by_the_watcher_end_equal_to_a_clean_build(site_dir, tmp_path, seed):
    """Saves, in-place writes, deletes, adds and folder moves in random order, no pause between them."""
    import random

    rng = random.Random(seed)
    running = Watched(site_dir(POSTS))
    posts = running.root / "_posts"
    try:
        for step in range(25):
            existing = sorted(p for p in posts.rglob("*.md"))
            action = rng.choice(["save", "write", "delete", "add", "move in", "move out"])
            text = post_text(f"title: Step {step}\ntags: [t{rng.randrange(4)}]", f"Step {step} of seed {seed}.\n")
            if action == "save" and existing:
                temp = posts / f".save-{step}.tmp"
                temp.write_text(text, encoding="utf-8")
                os.replace(temp, rng.choice(existing))
            elif action == "write" and existing:
                rng.choice(existing).write_text(text, encoding="utf-8")
            elif action == "delete" and existing:
                rng.choice(existing).unlink()
            elif action == "move in":
                folder = tmp_path / f"batch-{step}"
                folder.mkdir()
                (folder / f"2026-02-{step + 1:02d}-batch-{step}.md").write_text(text, encoding="utf-8")
                os.rename(folder, posts / f"batch-{step}")
            elif action == "move out":
                folders = sorted(p for p in posts.iterdir() if p.is_dir())
                if folders:
                    os.rename(folders[0], tmp_path / f"out-{step}")
            else:
                (posts / f"2026-03-{step + 1:02d}-added-{step}.md").write_text(text, encoding="utf-8")
        expected = clean_build(running.root)
        snapshot = running.until(lambda s: bodies(s) == bodies(expected))
        assert titles(snapshot) == titles(expected)
    finally:
        running.stop()


def test_a_file_left_open_gets_an_ordinary_request_and_its_close_a_settled_one(site_dir):
    """A writer that keeps its file open (or a touch) cannot hold refreshes back for ever: after the
    longest delay the request names it still open, so that refresh applies the settle window."""
    from feedsvc.pipeline.watching import UNSETTLED_TRIGGER

    requests: list[str] = []
    arrived = threading.Condition()

    def request(trigger: str, named: frozenset[str] | None = None) -> None:
        with arrived:
            requests.append(trigger)
            arrived.notify_all()

    root = site_dir(POSTS)
    watch = FolderWatch(root, request, max_delay_seconds=0.3)
    assert watch.start()
    try:
        with (root / "_posts/2026-01-30-slow.md").open("w", encoding="utf-8") as out:
            out.write(post_text("title: Slow"))
            out.flush()
            with arrived:
                assert arrived.wait_for(lambda: len(requests) >= 1, DEADLINE)
            assert requests == [UNSETTLED_TRIGGER]
        with arrived:
            assert arrived.wait_for(lambda: len(requests) >= 2, DEADLINE)
        assert requests[1] == SETTLED_TRIGGER
    finally:
        watch.stop()
