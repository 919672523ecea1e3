"""Incremental rescans, last-good versions and scheduled publishing, with files on disk."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from conftest import post_text

import feedsvc.content.reading as reading_module
import feedsvc.pipeline.refresh as refresh_module

POSTS = {
    "_posts/2026-01-01-one.md": post_text("title: One\ntags: [a]"),
    "_posts/2026-01-02-two.md": post_text("title: Two\ntags: [b]"),
    "_posts/2026-01-03-three.md": post_text("title: Three\ntags: [a, b]"),
}


@pytest.fixture
def parsed_files(monkeypatch):
    """Records which files the refresher actually reads and parses."""
    seen: list[str] = []
    original = reading_module.parse_post

    def counting(relpath, raw, settings, *rest):
        seen.append(relpath)
        return original(relpath, raw, settings, *rest)

    monkeypatch.setattr(reading_module, "parse_post", counting)
    return seen


def _titles(refresher, path="/rss.xml"):
    import feedparser

    return [e.title for e in feedparser.parse(refresher.store.snapshot.resources[path].body).entries]


def _touch(path, text):
    stat = path.stat() if path.exists() else None
    path.write_text(text, encoding="utf-8")
    if stat is not None:  # make sure the change is visible even on coarse-mtime file systems
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_rescan_with_no_change_reads_nothing_and_publishes_nothing(site_dir, make_refresher, parsed_files):
    refresher = make_refresher(site_dir(POSTS))
    refresher.refresh()
    generation = refresher.store.snapshot.generation
    parsed_files.clear()
    report = refresher.refresh("interval")
    assert parsed_files == []
    assert not report.published
    assert refresher.store.snapshot.generation == generation


def test_an_edit_rereads_one_file_and_rerenders_only_the_feeds_showing_it(site_dir, make_refresher, parsed_files):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    before = dict(refresher.store.snapshot.resources)
    parsed_files.clear()
    _touch(root / "_posts/2026-01-02-two.md", post_text("title: Two edited\ntags: [b]"))
    report = refresher.refresh("interval")
    assert parsed_files == ["_posts/2026-01-02-two.md"]
    assert report.updated == ("_posts/2026-01-02-two.md",)
    assert "Two edited" in _titles(refresher)
    after = refresher.store.snapshot.resources
    changed = {p for p in after if p.endswith((".xml", ".json")) and after[p].etag != before[p].etag}
    assert changed - {"/feeds.opml"} == {
        "/rss.xml", "/atom.xml", "/feed.json",
        "/tags/b/rss.xml", "/tags/b/atom.xml", "/tags/b/feed.json",
        "/authors/site-owner/rss.xml", "/authors/site-owner/atom.xml", "/authors/site-owner/feed.json",
    }
    assert after["/tags/a/rss.xml"] is before["/tags/a/rss.xml"]  # not even re-rendered
    assert set(report.feeds_changed) == changed - {"/feeds.opml"}


def test_delete_and_rename_are_picked_up(site_dir, make_refresher, parsed_files):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    (root / "_posts/2026-01-01-one.md").unlink()
    report = refresher.refresh()
    assert report.removed == ("_posts/2026-01-01-one.md",)
    assert _titles(refresher) == ["Three", "Two"]
    parsed_files.clear()
    os.rename(root / "_posts/2026-01-02-two.md", root / "_posts/2026-01-02-renamed.md")
    report = refresher.refresh()
    assert report.removed == ("_posts/2026-01-02-two.md",) and report.added == ("_posts/2026-01-02-renamed.md",)
    assert parsed_files == ["_posts/2026-01-02-renamed.md"]
    urls = [p.url for p in refresher.store.snapshot.site.posts]
    assert urls == ["https://example.org/2026/01/03/three/", "https://example.org/2026/01/02/renamed/"]


def test_a_post_broken_by_an_edit_keeps_its_last_good_version(site_dir, make_refresher):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    _touch(root / "_posts/2026-01-02-two.md", "---\ntitle: [unclosed\n---\nbody\n")
    refresher.refresh()
    assert _titles(refresher) == ["Three", "Two", "One"]
    messages = [(p.path, p.severity, p.message) for p in refresher.store.snapshot.site.problems]
    assert any(path.endswith("two.md") and sev == "error" and "YAML" in msg for path, sev, msg in messages)
    assert any(path.endswith("two.md") and "last good version" in msg for path, _, msg in messages)
    _touch(root / "_posts/2026-01-02-two.md", post_text("title: Two fixed"))
    refresher.refresh()
    assert _titles(refresher) == ["Three", "Two fixed", "One"]
    assert refresher.store.snapshot.site.problems == ()


def test_a_new_broken_file_is_reported_and_every_good_post_still_served(site_dir, make_refresher):
    root = site_dir({**POSTS, "_posts/2026-01-04-bad.md": b"\xff\xfe not utf-8"})
    refresher = make_refresher(root)
    refresher.refresh()
    assert _titles(refresher) == ["Three", "Two", "One"]
    [problem] = refresher.store.snapshot.site.problems
    assert problem.path == "_posts/2026-01-04-bad.md" and "UTF-8" in problem.message


def test_future_post_appears_on_time_without_a_file_change(site_dir, make_refresher, clock, parsed_files):
    future = clock.now + timedelta(hours=2)
    root = site_dir({**POSTS, "_posts/2026-06-01-soon.md": post_text(
        f'title: Soon\ndate: "{future:%Y-%m-%d %H:%M:%S} +0000"')})
    refresher = make_refresher(root)
    refresher.refresh()
    assert "Soon" not in _titles(refresher)
    assert refresher.store.snapshot.site.next_publish_at == future
    clock.now = future - timedelta(seconds=1)
    assert not refresher.refresh().published
    clock.now = future
    parsed_files.clear()
    report = refresher.refresh("scheduled publish")
    assert report.published and parsed_files == []
    assert _titles(refresher)[0] == "Soon"


def test_config_change_reparses_with_new_settings(site_dir, make_refresher):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    config = (root / "_config.yml").read_text().replace("https://example.org", "https://new.example.com")
    _touch(root / "_config.yml", config)
    refresher.refresh()
    assert all(p.url.startswith("https://new.example.com/") for p in refresher.store.snapshot.site.posts)


def test_broken_config_keeps_serving_with_the_last_good_settings(site_dir, make_refresher):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    good_config = (root / "_config.yml").read_text()
    _touch(root / "_config.yml", "title: [broken\n")
    report = refresher.refresh()
    assert report.error is None
    assert _titles(refresher) == ["Three", "Two", "One"]
    [problem] = refresher.store.snapshot.site.problems
    assert problem.path == "_config.yml" and "keeping the previous settings" in problem.message
    _touch(root / "_config.yml", good_config)
    refresher.refresh()
    assert refresher.store.snapshot.site.problems == ()


def test_content_folder_gone_keeps_last_good_feeds_and_recovers(site_dir, make_refresher, tmp_path):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    moved = tmp_path / "moved"
    shutil.move(root, moved)
    report = refresher.refresh()
    assert report.error and "does not exist" in report.error
    assert refresher.store.status.error == report.error
    assert _titles(refresher) == ["Three", "Two", "One"]
    shutil.move(moved, root)
    refresher.refresh()
    assert refresher.store.status.error is None


def test_unchanged_scan_keeps_same_snapshot_object_for_readers(site_dir, make_refresher):
    refresher = make_refresher(site_dir(POSTS))
    refresher.refresh()
    first = refresher.store.snapshot
    refresher.refresh()
    assert refresher.store.snapshot is first
    assert refresher.store.status.at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_an_unexpected_failure_keeps_the_last_snapshot_and_is_reported(site_dir, make_refresher, monkeypatch):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh()
    served = refresher.store.snapshot

    def broken(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(refresh_module, "build_site", broken)
    _touch(root / "_posts/2026-01-02-two.md", post_text("title: Two edited"))
    report = refresher.refresh("interval")
    assert "renderer exploded" in report.error
    assert refresher.store.snapshot is served
    assert "renderer exploded" in refresher.store.status.error
    monkeypatch.undo()
    assert refresher.refresh("interval").published  # retried although no file changed since
    assert _titles(refresher) == ["Three", "Two edited", "One"]
    assert refresher.store.status.error is None


def test_post_bodies_are_held_compressed_when_serving_and_the_html_is_the_same_either_way(site_dir, clock):
    from feedsvc.pipeline.refresh import Refresher
    from feedsvc.snapshot import SnapshotStore

    body = "".join(f"Paragraph {n} with *some* words that repeat, words that repeat.\n\n" for n in range(40))
    root = site_dir({"_posts/2026-01-05-long.md": post_text("title: Long", body)})
    serving = Refresher(SnapshotStore(), root, {}, clock=clock)
    building = Refresher(SnapshotStore(), root, {}, clock=clock, for_build=True)
    serving.refresh()
    building.refresh()
    [held] = serving.store.snapshot.site.posts
    [built] = building.store.snapshot.site.posts
    assert held.content_html == built.content_html and "Paragraph 39" in held.content_html
    assert len(held.content_zlib) * 3 < len(held.content_html.encode())  # memory: held compressed
    assert len(built.content_zlib) > len(body.encode())  # a build exits: stored, no work (kept as its Markdown)
    assert {path: r.body for path, r in serving.store.snapshot.resources.items()} == \
        {path: r.body for path, r in building.store.snapshot.resources.items()}


def _warm_started(refresher, make_refresher, root):
    """A new process that serves what `refresher` published (as the state folder gives it) and holds its posts."""
    from feedsvc.snapshot import Served

    built = refresher.store.snapshot
    later = make_refresher(root)
    later.store.snapshot = Served(resources=built.resources, generation=built.generation, stats=built.stats,
                                  aliases=built.aliases, redirects=built.redirects)
    later.continue_generations(built.generation)
    later.seed(refresher.export(), later.store.snapshot.resources)
    return later


def test_a_warm_start_on_an_unchanged_folder_keeps_the_served_generation(site_dir, make_refresher, parsed_files):
    from feedsvc.snapshot import Built

    root = site_dir(POSTS)
    first = make_refresher(root)
    first.refresh()
    served = first.store.snapshot
    parsed_files.clear()
    later = _warm_started(first, make_refresher, root)
    report = later.refresh("startup")
    snapshot = later.store.snapshot
    assert parsed_files == [] and report.feeds_changed == ()
    assert isinstance(snapshot, Built) and snapshot.generation == served.generation  # followers have nothing new
    assert {p: r.etag for p, r in snapshot.resources.items()} == {p: r.etag for p, r in served.resources.items()}
    _touch(root / "_posts/2026-01-02-two.md", post_text("title: Two Edited\ntags: [b]"))
    later.refresh("webhook")
    assert later.store.snapshot.generation == served.generation + 1
    assert "Two Edited" in _titles(later)


def test_a_warm_start_after_an_edit_while_down_publishes_a_new_generation(site_dir, make_refresher, parsed_files):
    root = site_dir(POSTS)
    first = make_refresher(root)
    first.refresh()
    generation = first.store.snapshot.generation
    _touch(root / "_posts/2026-01-01-one.md", post_text("title: One Edited\ntags: [a]"))
    parsed_files.clear()
    later = _warm_started(first, make_refresher, root)
    report = later.refresh("startup")
    assert parsed_files == ["_posts/2026-01-01-one.md"]
    assert report.published and "/rss.xml" in report.feeds_changed
    assert later.store.snapshot.generation == generation + 1 and "One Edited" in _titles(later)
