"""Files caught while being written: readers see the previous version or nothing, never half a post.

The settle window is judged against the injected clock: a test puts the clock a moment after
a file's change (still settling) or past the window (settled) instead of sleeping.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import post_text

import feedsvc.content.reading as reading_module
from feedsvc.content.scanning import SETTLE_SECONDS, changed_at, signature_of
from feedsvc.pipeline.refresh import Refresher
from feedsvc.pipeline.scheduling import RefreshScheduler
from feedsvc.pipeline.triggers import RefreshQueue
from feedsvc.snapshot import SnapshotStore

POSTS = {
    "_posts/2026-01-01-one.md": post_text("title: One\ntags: [a]", "One body, complete.\n"),
    "_posts/2026-01-02-two.md": post_text("title: Two\ntags: [a]", "Two body, complete.\n"),
    "_posts/2026-01-03-three.md": post_text("title: Three\ntags: [b]", "Three body, complete.\n"),
}
WINDOW = timedelta(seconds=SETTLE_SECONDS)


def _moment_after(clock, path, seconds: float = 0.2) -> None:
    """Put the clock just after the file's (or folder's) last change: it is still settling."""
    clock.now = changed_at(signature_of(os.stat(path))) + timedelta(seconds=seconds)


def _settled(clock, path) -> None:
    clock.now = changed_at(signature_of(os.stat(path))) + WINDOW + timedelta(seconds=0.1)


def _contents(refresher) -> dict[str, str]:
    return {p.title: p.content_html for p in refresher.store.snapshot.site.posts}


def _feed_titles(refresher, path="/tags/a/rss.xml"):
    import feedparser

    return sorted(e.title for e in feedparser.parse(refresher.store.snapshot.resources[path].body).entries)


@pytest.fixture
def served(site_dir, make_refresher):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh("startup")
    assert sorted(_contents(refresher)) == ["One", "Three", "Two"]
    return root, refresher


def test_files_changed_just_before_startup_are_served_at_once(site_dir, make_refresher, clock):
    """At startup there is no older version to serve instead, so nothing is held back."""
    root = site_dir(POSTS)
    _moment_after(clock, root / "_posts/2026-01-02-two.md")
    refresher = make_refresher(root)
    report = refresher.refresh("startup")
    assert sorted(_contents(refresher)) == ["One", "Three", "Two"] and report.pending == ()


def test_an_in_place_rewrite_in_several_steps_is_never_seen_half_done(served, clock):
    root, refresher = served
    path = root / "_posts/2026-01-02-two.md"
    steps = [
        b"",  # truncated: O_TRUNC before the first write
        b"---\ntitle: Two v2\n",  # front matter not yet closed
        b"---\ntitle: Two v2\ntags: [a]\n---\nTwo v2 bo",  # parses fine, but the body is cut
        post_text("title: Two v2\ntags: [a]", "Two v2 body, complete.\n").encode(),
    ]
    for step in steps:
        path.write_bytes(step)
        _moment_after(clock, path)
        report = refresher.refresh("interval")
        assert report.pending == ("_posts/2026-01-02-two.md",)
        assert _contents(refresher)["Two"] == "<p>Two body, complete.</p>"
        assert _feed_titles(refresher) == ["One", "Two"]
        assert refresher.store.snapshot.site.problems == ()  # nothing to report about a file mid-write
    _settled(clock, path)
    report = refresher.refresh("settle")
    assert report.pending == () and report.updated == ("_posts/2026-01-02-two.md",)
    assert _contents(refresher)["Two v2"] == "<p>Two v2 body, complete.</p>"
    assert _feed_titles(refresher) == ["One", "Two v2"]


def test_a_zero_byte_file_that_fills_is_only_served_whole(served, clock):
    root, refresher = served
    path = root / "_posts/2026-01-04-four.md"
    path.write_bytes(b"")
    _moment_after(clock, path)
    report = refresher.refresh("interval")
    assert report.pending == ("_posts/2026-01-04-four.md",) and not report.published
    assert refresher.store.snapshot.site.problems == ()  # not "empty file": it is being written
    path.write_text(post_text("title: Four\ntags: [a]", "Four body, complete.\n"))
    _moment_after(clock, path)
    refresher.refresh("interval")
    assert "Four" not in _contents(refresher)
    _settled(clock, path)
    refresher.refresh("settle")
    assert _contents(refresher)["Four"] == "<p>Four body, complete.</p>"
    assert _feed_titles(refresher) == ["Four", "One", "Two"]


def test_a_file_that_stays_empty_is_reported_once_it_settles(served, clock):
    root, refresher = served
    path = root / "_posts/2026-01-04-four.md"
    path.write_bytes(b"")
    _settled(clock, path)
    refresher.refresh("interval")
    [problem] = refresher.store.snapshot.site.problems
    assert (problem.path, problem.severity, problem.message) == ("_posts/2026-01-04-four.md", "error", "empty file")
    assert sorted(_contents(refresher)) == ["One", "Three", "Two"]


def test_an_editors_rename_and_rewrite_save_keeps_the_post_in_every_feed(served, clock):
    """vim's default save: rename the original to a backup name, write the new file, delete the backup."""
    root, refresher = served
    path = root / "_posts/2026-01-02-two.md"
    (root / "_posts/.2026-01-02-two.md.swp").write_bytes(b"\x00swap file junk\xff")
    backup = root / "_posts/2026-01-02-two.md~"
    os.rename(path, backup)
    _moment_after(clock, root / "_posts")
    report = refresher.refresh("interval")
    assert report.removed == () and report.pending == ("_posts/2026-01-02-two.md",)
    assert _feed_titles(refresher) == ["One", "Two"]
    path.write_text(post_text("title: Two saved\ntags: [a]", "Saved body.\n"))
    backup.unlink()
    _moment_after(clock, path)
    refresher.refresh("interval")
    assert _feed_titles(refresher) == ["One", "Two"]
    _settled(clock, path)
    refresher.refresh("settle")
    assert _feed_titles(refresher) == ["One", "Two saved"]
    assert refresher.store.snapshot.site.problems == ()


def test_a_real_deletion_counts_once_the_folder_is_still(served, clock):
    root, refresher = served
    (root / "_posts/2026-01-02-two.md").unlink()
    _moment_after(clock, root / "_posts")
    refresher.refresh("interval")
    assert _feed_titles(refresher) == ["One", "Two"]
    _settled(clock, root / "_posts")
    report = refresher.refresh("settle")
    assert report.removed == ("_posts/2026-01-02-two.md",)
    assert _feed_titles(refresher) == ["One"]


def test_a_checkout_changing_1000_files_never_drops_a_post_that_exists_before_and_after(site_dir, make_refresher,
                                                                                        clock):
    before = {f"_posts/2025-{1 + i % 12:02d}-{1 + i % 28:02d}-p{i}.md": post_text(f"title: P{i} old",
                                                                                  f"Old body {i}.\n")
              for i in range(1000)}
    root = site_dir(before)
    refresher = make_refresher(root)
    refresher.refresh("startup")
    removed = sorted(before)[:50]
    kept = sorted(before)[50:]
    added = [f"_posts/2026-03-{1 + i % 28:02d}-new{i}.md" for i in range(50)]
    survivors = set(kept)

    def check_consistent() -> None:
        posts = {p.source: p for p in refresher.store.snapshot.site.posts}
        assert survivors <= set(posts), "a post that exists before and after went missing"
        for post in posts.values():  # each post whole: old or new, never a mixture or a torn body
            number = post.title.split()[0][1:]
            assert post.content_html in (f"<p>Old body {number}.</p>", f"<p>New body {number}.</p>",
                                         f"<p>Added body {number}.</p>"), post

    # git writes each changed file anew (unlink + create) and removes and adds files, one by one.
    for index, relpath in enumerate(kept + removed):
        path = root / relpath
        path.unlink()
        if relpath in survivors:
            number = relpath.split("-p")[-1][:-3]
            path.write_text(post_text(f"title: P{number} new", f"New body {number}.\n"))
        if index % 250 == 0:
            clock.now = datetime.now(UTC)
            refresher.refresh("interval")
            check_consistent()
    for index, relpath in enumerate(added):
        (root / relpath).write_text(post_text(f"title: N{index} added", f"Added body {index}.\n"))
    clock.now = datetime.now(UTC)
    report = refresher.refresh("interval")
    check_consistent()
    # Held: every removal (the folder just changed) and every file written within the window. On a machine quick
    # enough to write them all within it that is all 1050; on a loaded one the first rewrites have settled and
    # were read (whole: check_consistent).
    still_changing = {relpath for relpath in kept + added
                      if changed_at(signature_of(os.stat(root / relpath))) > clock.now - WINDOW}
    assert set(report.pending) == set(removed) | still_changing
    clock.now += WINDOW + timedelta(seconds=1)
    report = refresher.refresh("settle")
    assert report.pending == ()
    sources = {p.source for p in refresher.store.snapshot.site.posts}
    assert sources == survivors | set(added)
    assert all(p.title.endswith(("new", "added")) for p in refresher.store.snapshot.site.posts)


def test_a_file_rewritten_while_it_is_read_is_held_and_read_again(served, clock, monkeypatch):
    root, refresher = served
    path = root / "_posts/2026-01-02-two.md"
    path.write_text(post_text("title: Two v2\ntags: [a]", "Two v2 bo"))
    _settled(clock, path)  # settled at the scan...
    real_open = open

    def open_then_rewrite(file, *args, **kwargs):
        handle = real_open(file, *args, **kwargs)
        if str(file).endswith("two.md"):  # ...but the writer is back while we read
            with real_open(file, "ab") as writer:
                writer.write(b"dy, complete.\n")
        return handle

    monkeypatch.setattr(reading_module, "open", open_then_rewrite, raising=False)
    report = refresher.refresh("interval")
    assert report.pending == ("_posts/2026-01-02-two.md",)
    assert "Two" in _contents(refresher)
    monkeypatch.undo()
    _settled(clock, path)
    refresher.refresh("settle")
    assert _contents(refresher)["Two v2"] == "<p>Two v2 body, complete.</p>"


def test_a_file_that_vanishes_between_listing_and_reading_is_no_error(served, clock, monkeypatch):
    root, refresher = served
    path = root / "_posts/2026-01-04-four.md"
    path.write_text(post_text("title: Four"))
    _settled(clock, path)
    real_open = open

    def vanish_then_open(file, *args, **kwargs):
        if str(file).endswith("four.md"):
            os.unlink(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(reading_module, "open", vanish_then_open, raising=False)
    report = refresher.refresh("interval")
    assert report.error is None and report.added == ()
    assert sorted(_contents(refresher)) == ["One", "Three", "Two"]
    assert refresher.store.snapshot.site.problems == ()
    monkeypatch.undo()
    clock.now += WINDOW
    report = refresher.refresh("settle")
    assert report.error is None and sorted(_contents(refresher)) == ["One", "Three", "Two"]


def test_held_files_plan_a_follow_up_refresh_when_they_settle(served, clock):
    root, refresher = served
    planned: list[datetime] = []
    refresher.follow_up = planned.append
    path = root / "_posts/2026-01-04-four.md"
    path.write_text(post_text("title: Four"))
    _moment_after(clock, path, 0.5)
    refresher.refresh("interval")
    assert planned == [changed_at(signature_of(os.stat(path))) + WINDOW]
    _settled(clock, path)
    refresher.refresh("settle")
    assert len(planned) == 1  # nothing left to wait for


def test_the_scheduler_reads_a_held_file_by_itself_once_it_settles(site_dir):
    root = site_dir(POSTS)
    store = SnapshotStore()
    refresher = Refresher(store, root, {})  # real time
    refresher.refresh("startup")
    queue = RefreshQueue(refresher)
    queue.start()
    scheduler = RefreshScheduler(refresher, queue.request, 3600)  # no interval run during the test
    scheduler.start()
    try:
        (root / "_posts/2026-01-04-four.md").write_text(post_text("title: Four"))
        report = refresher.refresh("interval")
        assert report.pending == ("_posts/2026-01-04-four.md",)
        deadline = time.monotonic() + SETTLE_SECONDS + 5
        while time.monotonic() < deadline and "Four" not in [p.title for p in store.snapshot.site.posts]:
            time.sleep(0.05)
        assert "Four" in [p.title for p in store.snapshot.site.posts]
        assert store.status.trigger == "settle"
    finally:
        scheduler.shutdown()
        queue.stop()


def test_a_webhook_says_the_writer_is_done_so_nothing_is_held(served, clock):
    """The settle window guards rescans that may catch a write half-way; a webhook comes after the write."""
    root, refresher = served
    path = root / "_posts/2026-01-04-four.md"
    path.write_text(post_text("title: Four"))
    _moment_after(clock, path, 0.5)
    report = refresher.refresh("webhook")
    assert report.pending == ()
    assert "Four" in _contents(refresher)
