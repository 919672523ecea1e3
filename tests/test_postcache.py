"""The post cache: a restarted builder carries on from what the last one parsed and rendered."""

from __future__ import annotations

import os
import random

import pytest
from conftest import post_text

import feedsvc.pipeline.postcache as postcache
import feedsvc.pipeline.refresh as refresh_module
import feedsvc.pipeline.rendercache as rendercache_module
from feedsvc.deploy.statefolder import StateFolder
from feedsvc.pipeline.postcache import PostCache
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import Built, SnapshotStore


def _post(n: int, title: str | None = None) -> tuple[str, str]:
    tags = [f"t{n % 4}", f"u{n % 3}"]
    return f"_posts/2026-01-{1 + n % 28:02d}-p{n}.md", post_text(
        f"title: {title or f'Post {n}'}\ntags: {tags}\ncategories: [c{n % 2}]\n", f"Body {n}, *words*.\n")


@pytest.fixture
def counting(monkeypatch):
    """How many files the refresher reads and how many feeds it renders."""
    seen = {"read": 0, "rendered": 0}
    real_read, real_parts = refresh_module.read_posts, rendercache_module.feed_parts

    def read_posts(root, files, settings, **options):
        seen["read"] += len(files)
        return real_read(root, files, settings, **options)

    def feed_parts(*args, **kwargs):
        seen["rendered"] += 1
        return real_parts(*args, **kwargs)

    monkeypatch.setattr(refresh_module, "read_posts", read_posts)
    monkeypatch.setattr(rendercache_module, "feed_parts", feed_parts)
    return seen


def _restarted(root, first: Refresher, tmp_path, clock, environ=None) -> Refresher:
    """A new builder process: the published bytes from the state folder (no parsed site) and the cache."""
    cache = PostCache(tmp_path / "posts")
    cache.save(first.export())
    state = StateFolder(tmp_path / "state")
    state.write_snapshot(first.store.snapshot)
    store = SnapshotStore()
    store.snapshot = state.read_snapshot(None)
    assert not isinstance(store.snapshot, Built)  # served from the state folder, not built here
    second = Refresher(store, root, environ or {}, clock=clock)
    second.seed(PostCache(tmp_path / "posts").load(), store.snapshot.resources)
    return second


def _bodies(refresher: Refresher) -> dict[str, tuple[bytes, str]]:
    return {path: (r.body, r.etag) for path, r in refresher.store.snapshot.resources.items()}


def test_an_unchanged_folder_is_neither_read_nor_rendered_again(site_dir, make_refresher, tmp_path, clock, counting):
    root = site_dir(dict(_post(n) for n in range(40)))
    first = make_refresher(root)
    first.refresh()
    counting.update(read=0, rendered=0)
    second = _restarted(root, first, tmp_path, clock)
    report = second.refresh("startup")
    assert counting == {"read": 0, "rendered": 0}
    assert report.published and report.feeds_changed == ()
    assert _bodies(second) == _bodies(first)
    assert second.store.snapshot.site is not None and len(second.store.snapshot.site.posts) == 40


def test_only_what_changed_while_down_is_read_and_the_result_equals_a_cold_build(
        site_dir, make_refresher, tmp_path, clock, counting):
    root = site_dir(dict(_post(n) for n in range(40)))
    first = make_refresher(root)
    first.refresh()
    edited, added, removed = _post(3, "Post 3, edited"), _post(77), _post(11)
    (root / edited[0]).write_text(edited[1])
    (root / added[0]).write_text(added[1])
    (root / removed[0]).unlink()
    counting.update(read=0, rendered=0)
    second = _restarted(root, first, tmp_path, clock)
    report = second.refresh("webhook")
    assert counting["read"] == 2 and set(report.added) == {added[0]} and report.removed == (removed[0],)
    assert 0 < counting["rendered"] < len(first.store.snapshot.site.scopes) * 3
    cold = make_refresher(root)
    cold.refresh("webhook")
    assert _bodies(second) == _bodies(cold)


def test_other_settings_reuse_the_parsed_posts_only_when_they_would_parse_alike(
        site_dir, make_refresher, tmp_path, clock, counting):
    root = site_dir(dict(_post(n) for n in range(12)))
    first = make_refresher(root)
    first.refresh()
    counting.update(read=0, rendered=0)
    fewer = _restarted(root, first, tmp_path / "a", clock, {"FEEDSVC_FEED_LIMIT": "3"})
    fewer.refresh("startup")
    assert counting["read"] == 0 and counting["rendered"] > 0  # same posts, every feed anew
    cold = make_refresher(root, {"FEEDSVC_FEED_LIMIT": "3"})
    cold.refresh("startup")
    assert _bodies(fewer) == _bodies(cold)
    counting.update(read=0, rendered=0)
    moved = _restarted(root, first, tmp_path / "b", clock, {"FEEDSVC_PERMALINK": "/:title/"})
    moved.refresh("startup")
    assert counting["read"] == 12  # entry links depend on it: every post is parsed again


def test_an_unreadable_cache_entry_means_that_file_is_parsed_again(site_dir, make_refresher, tmp_path, clock, counting):
    root = site_dir(dict(_post(n) for n in range(10)))
    first = make_refresher(root)
    first.refresh()
    cache = PostCache(tmp_path / "posts")
    cache.save(first.export())
    victim = sorted((tmp_path / "posts").glob("*.json.z"))[0]
    victim.write_bytes(victim.read_bytes()[:20])
    seed = PostCache(tmp_path / "posts").load()
    assert len(seed.parsed) == 9


def test_another_version_or_model_is_not_trusted(site_dir, make_refresher, tmp_path, monkeypatch):
    root = site_dir(dict(_post(n) for n in range(3)))
    first = make_refresher(root)
    first.refresh()
    PostCache(tmp_path / "posts").save(first.export())
    assert PostCache(tmp_path / "posts").load() is not None
    monkeypatch.setattr(postcache, "model_shape", lambda: "Post:title,something_new")
    assert PostCache(tmp_path / "posts").load() is None
    monkeypatch.undo()
    monkeypatch.setattr(postcache, "__version__", "99.0")
    assert PostCache(tmp_path / "posts").load() is None


def test_saving_writes_only_new_entries_and_drops_the_ones_no_longer_named(site_dir, make_refresher, tmp_path):
    rng = random.Random(3)
    root = site_dir(dict(_post(n) for n in range(20)))
    refresher = make_refresher(root)
    refresher.refresh()
    cache = PostCache(tmp_path / "posts")
    cache.save(refresher.export())
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "posts").glob("*.json.z")}
    assert len(before) == 20
    gone = _post(rng.randrange(20))[0]
    (root / gone).unlink()
    edited = _post(5, "Post 5 again")
    (root / edited[0]).write_text(edited[1])
    refresher.refresh("webhook")
    cache.save(refresher.export())
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "posts").glob("*.json.z")}
    assert len(after) == 19 - (gone == edited[0])
    assert len(set(after) - set(before)) == 1  # the edited post's new entry; the others untouched
    assert all(after[name] == before[name] for name in set(after) & set(before))
    assert not [p for p in os.listdir(tmp_path / "posts") if p.endswith(".tmp")]


def test_a_post_in_error_keeps_its_last_good_version_across_a_restart(site_dir, make_refresher, tmp_path, clock):
    root = site_dir(dict(_post(n) for n in range(6)))
    first = make_refresher(root)
    first.refresh()
    broken = _post(2)[0]
    (root / broken).write_text("---\ntitle: [unclosed\n---\nBody\n")
    first.refresh("webhook")
    assert "Post 2" in {p.title for p in first.store.snapshot.site.posts}  # served from memory
    second = _restarted(root, first, tmp_path, clock)
    second.refresh("startup")
    site = second.store.snapshot.site
    assert "Post 2" in {p.title for p in site.posts}
    messages = [str(p) for p in site.problems if p.path == broken]
    assert any("not valid YAML" in m for m in messages) and any("last good version" in m for m in messages)
    (root / broken).write_text(_post(2, "Post 2, fixed")[1])  # once fixed, the new version replaces it
    second.refresh("webhook")
    assert "Post 2, fixed" in {p.title for p in second.store.snapshot.site.posts}


def test_the_cache_keeps_every_field_of_a_post():
    """A field `Post` gains must be kept by the cache too, or a warm restart serves other bytes than a cold build."""
    from dataclasses import fields
    from datetime import UTC, datetime

    from feedsvc.model import Language, Post, pack_html
    from feedsvc.pipeline.postcodec import decode, encode

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    post = Post(source="_posts/2026-01-02-a.md", fingerprint="f", slug="a", title="A", date=moment, updated=moment,
                url="https://example.org/a/", authors=(), categories=("c",), tags=("t",), summary_html="<p>s</p>",
                summary_text="s", content_zlib=pack_html("<p>body</p>"), publish_at=moment, expire_at=moment,
                entry_id="https://example.org/a", language=Language("fr", "fr-FR", "Le site"))
    assert set(encode(post)["post"]) == {field.name for field in fields(Post)}
    assert decode(encode(post)) == post


def test_a_cache_entry_holding_other_bytes_than_the_index_names_is_parsed_again(site_dir, make_refresher, tmp_path):
    """Each file is checked against the digest the index holds: well-formed bytes of another post do not pass."""
    root = site_dir(dict(_post(n) for n in range(4)))
    first = make_refresher(root)
    first.refresh()
    PostCache(tmp_path / "posts").save(first.export())
    one, other = sorted((tmp_path / "posts").glob("*.json.z"))[:2]
    one.write_bytes(other.read_bytes())
    seed = PostCache(tmp_path / "posts").load()
    assert len(seed.parsed) == 3 and len({post.title for post in seed.parsed.values()}) == 3


def test_a_save_after_an_unreadable_entry_writes_it_again(site_dir, make_refresher, tmp_path):
    root = site_dir(dict(_post(n) for n in range(3)))
    first = make_refresher(root)
    first.refresh()
    PostCache(tmp_path / "posts").save(first.export())
    victim = sorted((tmp_path / "posts").glob("*.json.z"))[0]
    victim.write_bytes(b"not zlib")
    cache = PostCache(tmp_path / "posts")
    assert len(cache.load().parsed) == 2
    cache.save(first.export())
    assert len(PostCache(tmp_path / "posts").load().parsed) == 3


def test_a_save_cut_short_leaves_an_index_of_what_it_wrote(site_dir, make_refresher, tmp_path, monkeypatch):
    """A builder stopped while a cold build's cache is still being written keeps that much for the next start."""
    root = site_dir(dict(_post(n) for n in range(10)))
    first = make_refresher(root)
    first.refresh()
    monkeypatch.setattr(postcache, "INTERIM_INDEX_SECONDS", 0.0)
    real_write, writes = postcache.write_atomically, []

    def write_until_stopped(path, data):
        if path.name != postcache.INDEX:
            if len(writes) == 6:
                raise OSError(28, "stopped")
            writes.append(path.name)
        real_write(path, data)

    monkeypatch.setattr(postcache, "write_atomically", write_until_stopped)
    with pytest.raises(OSError):
        PostCache(tmp_path / "posts").save(first.export())
    monkeypatch.undo()
    seed = PostCache(tmp_path / "posts").load()
    assert seed is not None and len(seed.parsed) == 5  # the sixth written as the index was not
    assert set(seed.rendered) == set(first.export().rendered)


def test_a_big_cache_loaded_in_other_processes_gives_the_same_seed(site_dir, make_refresher, tmp_path, monkeypatch,
                                                                   caplog):
    """Past LOAD_IN_PROCESSES_FROM posts the files are read in spawned processes; the seed is the same."""
    root = site_dir(dict(_post(n) for n in range(12)))
    first = make_refresher(root)
    first.refresh()
    PostCache(tmp_path / "posts").save(first.export())
    victim = sorted((tmp_path / "posts").glob("*.json.z"))[0]
    victim.write_bytes(b"not zlib")  # a bad file is skipped the same way in a child
    here = PostCache(tmp_path / "posts").load()
    monkeypatch.setattr(postcache, "LOAD_IN_PROCESSES_FROM", 1)
    batches = []
    real_run_batch = postcache.run_batch

    def run_batch(items, start_worker, **options):
        batches.append(len(items))
        return real_run_batch(items, start_worker, processes=2, **options)

    monkeypatch.setattr(postcache, "run_batch", run_batch)
    elsewhere = PostCache(tmp_path / "posts").load()
    assert batches == [12] and len(here.parsed) == 11
    assert elsewhere == here
    assert "worker processes failed" not in caplog.text  # read there, not here after all
