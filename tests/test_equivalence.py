"""Optimised paths give the same bytes as the plain one: incremental == cold, pooled == serial."""

from __future__ import annotations

import random

import pytest
from conftest import post_text

from feedsvc.model import FeedFormat, ScopeKind
from feedsvc.render.feeds import render_feed
from feedsvc.render.pages import page_path, render_index, render_opml, render_scope_page
from feedsvc.urls import feed_path

TAGS = ["python", "web", "rust", "go", "Python ", "WEB", "data"]
CATEGORIES = ["News", "Releases", "news", "Notes"]
AUTHORS = ["Ada Quill", "Ben Okafor", "Cy Twombly"]


def _post(rng: random.Random, n: int, day: int) -> tuple[str, str]:
    tags = ", ".join(rng.sample(TAGS, rng.randint(0, 3)))
    cats = ", ".join(rng.sample(CATEGORIES, rng.randint(0, 2)))
    front = (f"title: Post {n} v{rng.randint(0, 999)}\ndate: 2026-01-{day:02d} {rng.randint(0, 23):02d}:00:00 +0000\n"
             f"tags: [{tags}]\ncategories: [{cats}]\nauthor: {rng.choice(AUTHORS)}")
    body = f"Paragraph {n} with a [link](/p/{n}/) and *emphasis*.\n\nSecond paragraph {rng.random()}.\n"
    return f"_posts/2026-01-{day:02d}-post-{n}.md", post_text(front, body)


def _bodies(snapshot) -> dict[str, bytes]:
    return {path: resource.body for path, resource in snapshot.resources.items()}


def test_incremental_refreshes_end_with_exactly_the_bytes_of_a_cold_build(site_dir, make_refresher, tmp_path):
    rng = random.Random(5005)
    files = dict(_post(rng, n, rng.randint(1, 28)) for n in range(40))
    root = site_dir(files)
    refresher = make_refresher(root, {"FEEDSVC_FEED_LIMIT": "5"})
    refresher.refresh()
    names = list(files)
    for step in range(25):
        action = rng.choice(["edit", "edit", "add", "delete", "retitle", "retitle"])
        if action == "retitle" and names:  # moves nothing: the re-index is skipped (indexing.update_site)
            path = root / rng.choice(names)
            text = path.read_text()
            path.write_text(text.replace("title: Post", f"title: Retitled {step} Post", 1).replace(
                "Paragraph", f"Edited {step} paragraph", 1))
        elif action == "add" or not names:
            relpath, text = _post(rng, 100 + step, rng.randint(1, 28))
            names.append(relpath)
            (root / relpath).write_text(text)
        elif action == "delete":
            (root / names.pop(rng.randrange(len(names)))).unlink()
        else:
            relpath = rng.choice(names)
            day = int(relpath.split("-")[2])
            (root / relpath).write_text(_post(rng, int(relpath.rsplit("-", 1)[1][:-3]), day)[1])
        refresher.refresh()
        cold = make_refresher(root, {"FEEDSVC_FEED_LIMIT": "5"})
        cold.refresh()
        assert _bodies(refresher.store.snapshot) == _bodies(cold.store.snapshot), f"after step {step} ({action})"


def test_every_served_feed_equals_a_plain_serial_render(site_dir, make_refresher):
    rng = random.Random(7)
    root = site_dir(dict(_post(rng, n, rng.randint(1, 28)) for n in range(30)))
    refresher = make_refresher(root)
    refresher.refresh()
    snapshot = refresher.store.snapshot
    site, settings = snapshot.site, refresher.settings
    expected = {feed_path(scope, fmt): render_feed(site, scope, fmt, settings) for scope in site.scopes
                for fmt in FeedFormat}
    expected.update({page.path: page for page in (render_index(site, settings), render_opml(site, settings))})
    expected.update({page_path(scope): render_scope_page(scope, posts[: settings.feed_limit], settings)
                     for scope, posts in site.scopes.items() if scope.kind is not ScopeKind.SITE})
    assert snapshot.resources.keys() == expected.keys()
    for path, resource in snapshot.resources.items():
        plain = expected[path]
        assert (resource.body, resource.gzip_body, resource.etag, resource.headers) == \
               (plain.body, plain.gzip_body, plain.etag, plain.headers), path


@pytest.mark.parametrize("forkable", [False, True], ids=["spawned", "forked"])
def test_reading_in_worker_processes_gives_the_same_posts_and_problems_in_order(site_dir, make_refresher,
                                                                               monkeypatch, forkable):
    """Spawned from a threaded process, forked where fork is safe (a build): the same results either way."""
    import feedsvc.pipeline.parallel as parallel
    from feedsvc.content.scanning import take_inventory

    batches: list[tuple[int, str]] = []
    real = parallel._in_children

    def counted(items, start_worker, method, *args, **kwargs):
        batches.append((len(items), method))
        return real(items, start_worker, method, *args, **kwargs)

    rng = random.Random(11)
    files = dict(_post(rng, n, rng.randint(1, 28)) for n in range(40))
    files["_posts/2026-01-05-broken.md"] = "---\ntitle: [unclosed\n---\nbody\n"
    root = site_dir(files)
    refresher = make_refresher(root)
    refresher.refresh()
    inventory, _ = take_inventory(root)
    items = sorted(inventory.items())
    serial = parallel.read_posts(root, items, refresher.settings, processes=1)
    monkeypatch.setattr(parallel, "READ_IN_PROCESSES_FROM", 10)  # the worker-process path with a few posts
    monkeypatch.setattr(parallel, "_READ_CHUNK", 7)
    monkeypatch.setattr(parallel, "_in_children", counted)
    monkeypatch.setattr(parallel, "fork_is_safe", lambda: forkable)
    in_children = parallel.read_posts(root, items, refresher.settings, processes=2)
    assert batches == [(len(items), "fork" if forkable else "spawn")]  # read in worker processes, not here
    assert len(in_children) == len(items)
    assert in_children == serial
    assert any(not hasattr(result, "title") for result in in_children)  # the broken one is a Problem, in place


def test_when_worker_processes_cannot_start_posts_are_read_here(site_dir, make_refresher, monkeypatch, caplog):
    from multiprocessing.context import SpawnProcess

    import feedsvc.pipeline.parallel as parallel
    from feedsvc.content.scanning import take_inventory

    def broken(self):
        raise OSError("no more processes")

    rng = random.Random(3)
    root = site_dir(dict(_post(rng, n, 1 + n % 28) for n in range(25)))
    refresher = make_refresher(root)
    refresher.refresh()
    items = sorted(take_inventory(root)[0].items())
    serial = parallel.read_posts(root, items, refresher.settings, processes=1)
    monkeypatch.setattr(parallel, "READ_IN_PROCESSES_FROM", 10)
    monkeypatch.setattr(SpawnProcess, "start", broken)
    monkeypatch.setattr(parallel, "fork_is_safe", lambda: False)  # read from a threaded process: spawned
    assert parallel.read_posts(root, items, refresher.settings, processes=2) == serial
    assert "reading 25 posts in worker processes failed (no more processes); reading them here instead" \
        in caplog.text


def test_rendering_in_forked_processes_gives_the_same_resources_in_order(site_dir, make_refresher, monkeypatch,
                                                                         caplog):
    from functools import partial

    import feedsvc.pipeline.parallel as parallel
    from feedsvc.render.entrycache import EntryCache
    from feedsvc.render.feeds import as_resource, feed_parts

    rng = random.Random(9)
    refresher = make_refresher(site_dir(dict(_post(rng, n, rng.randint(1, 28)) for n in range(40))))
    refresher.refresh()
    site, settings = refresher.store.snapshot.site, refresher.settings
    jobs = [partial(feed_parts, site, scope, fmt, settings) for scope in site.scopes for fmt in FeedFormat]
    monkeypatch.setattr(parallel, "FORK_FROM", 1)
    monkeypatch.setattr(parallel, "fork_is_safe", lambda: True)
    seen: list[int] = []
    forked = parallel.render_all(jobs, EntryCache(), seen.append)
    assert "rendering them here" not in caplog.text  # it really rendered in forked processes
    assert forked == [as_resource(*job(None)) for job in jobs]
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] == len(jobs)


def test_a_cold_build_that_forks_serves_what_the_serial_build_serves(site_dir, make_refresher, monkeypatch, caplog):
    """Forked, the shown bodies kept as Markdown are rendered first, each once, spread over the children, and the
    feed renderers render none of them again (one that tried would fail, and the batch would run here)."""
    import feedsvc.content.bodies as bodies
    import feedsvc.pipeline.parallel as parallel

    rng = random.Random(13)
    root = site_dir(dict(_post(rng, n, rng.randint(1, 28)) for n in range(40)))
    serial = make_refresher(root)
    serial.refresh()
    kept = {post.url for post in serial.store.snapshot.site.posts if post.body_markup is not None}
    assert len(kept) > 20
    monkeypatch.setattr(parallel, "FORK_FROM", 1)
    monkeypatch.setattr(parallel, "fork_is_safe", lambda: True)
    made: list[tuple[str, int]] = []
    real = parallel._in_children

    def counted(items, start_worker, method, *args, **kwargs):
        result = real(items, start_worker, method, *args, **kwargs)
        made.append((method, len(result)))
        return result

    def no_body_rendered(source, base_url, flavour):
        raise AssertionError(f"{base_url} rendered again in a feed renderer")

    start_renderer = parallel._start_renderer

    def renderer_that_renders_no_body(*args):
        bodies._rendered = no_body_rendered  # in the child only: start_worker runs there
        return start_renderer(*args)

    monkeypatch.setattr(parallel, "_in_children", counted)
    monkeypatch.setattr(parallel, "_start_renderer", renderer_that_renders_no_body)
    forked = make_refresher(root)
    forked.refresh()
    assert {p: r.body for p, r in forked.store.snapshot.resources.items()} == \
           {p: r.body for p, r in serial.store.snapshot.resources.items()}
    # it really rendered in forked processes: first each shown body once, then the files
    assert made == [("fork", len(kept)), ("fork", len(serial.store.snapshot.resources) - 2)]  # not index, OPML
    assert "here instead" not in caplog.text
    assert not bodies._MADE_ELSEWHERE  # nothing held once the files are rendered


def test_a_retitle_skips_the_re_index_and_a_moved_post_does_not(site_dir, make_refresher, monkeypatch):
    import feedsvc.pipeline.refresh as refresh_module

    rng = random.Random(21)
    root = site_dir(dict(_post(rng, n, 1 + n) for n in range(10)))
    refresher = make_refresher(root)
    refresher.refresh()
    calls: list[int] = []
    real = refresh_module.build_site
    monkeypatch.setattr(refresh_module, "build_site", lambda *a, **k: calls.append(1) or real(*a, **k))
    path = root / "_posts/2026-01-04-post-3.md"
    path.write_text(path.read_text().replace("title: Post 3", "title: Renamed Post 3"))
    refresher.refresh()
    assert calls == [] and "Renamed Post 3" in [p.title.split(" v")[0] for p in refresher.store.snapshot.site.posts]
    path.write_text(path.read_text().replace("date: 2026-01-04", "date: 2026-01-05"))
    refresher.refresh()
    assert calls == [1]  # the date moved it: a real re-index
