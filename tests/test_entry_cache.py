"""Entries built once and reused (entrycache.py) give exactly the bytes feedgen gives for whole documents.

The cache is whoever renders's own, passed in: None renders without one (the reference path)."""

from __future__ import annotations

import multiprocessing
import random
import threading
from dataclasses import replace
from functools import partial

import pytest
from conftest import SAMPLE_CONTENT, post_text

from feedsvc.model import FeedFormat, Resource
from feedsvc.render.documents import EntryShape
from feedsvc.render.entrycache import EntryCache
from feedsvc.render.feeds import archive_doc, as_resource, doc_parts, feed_parts, subscription_doc
from feedsvc.site.archives import archive_count
from feedsvc.site.filters import parse_filter
from feedsvc.urls import feed_path
from feedsvc.web.ondemand import OnDemandFeeds, Target, _Index, plan

TAGS = ["python", "web", "Rust", "go", "data", "C++", "日本語", "a & b", "<script>"]
CATEGORIES = ["News", "Releases", "Notes", "Field Trips"]
AUTHORS = ["Ada Quill", "{name: Ben Okafor, email: ben@example.org}",
           "{name: Cy Twombly, uri: 'https://cy.example'}", None]
TITLES = ["Post {n}", "Fish & chips no. {n}", "Using <code>x < y</code> in post {n}", "A &amp; B, part {n}",
          "Ünïcode “{n}” — 日本語"]

NO_SITE_AUTHOR = """\
title: No Author Site
url: https://example.net
baseurl: /blog
permalink: date
"""


def _post(rng: random.Random, n: int) -> tuple[str, str]:
    month, day = 1 + n % 12, 1 + n % 28
    front = [f'title: "{rng.choice(TITLES).format(n=n)}"',
             f"date: 2025-{month:02d}-{day:02d} {n % 24:02d}:{n % 60:02d}:00 +0100",
             f"tags: {rng.sample(TAGS, rng.randint(0, 4))}".replace("'", '"'),
             f"categories: {rng.sample(CATEGORIES, rng.randint(0, 2))}".replace("'", '"')]
    author = rng.choice(AUTHORS)
    if author:
        front.append(f"author: {author}")
    if n % 3 == 0:
        front.append(f"image: /img/{n}.png")
    if n % 5 == 0:
        front.append(f"excerpt: 'An excerpt for {n} with <em>markup</em> & an ampersand'")
    body = (f"First paragraph of {n} with a [link](/p/{n}/), `code` and *emphasis*.\n\n"
            f"Second paragraph {rng.random()} with <b>inline HTML</b> & a table:\n\n"
            f"| a | b |\n|---|---|\n| {n} | x |\n")
    return f"_posts/2025-{month:02d}-{day:02d}-post-{n}.md", post_text("\n".join(front), body)


def _documents(site, settings) -> list:
    """Every subscription feed and every archive page of every scope, in every format."""
    docs = []
    for scope, posts in site.scopes.items():
        for fmt in FeedFormat:
            docs.append(subscription_doc(site, scope, fmt, settings))
            docs += [archive_doc(site, scope, fmt, n, settings)
                     for n in range(1, archive_count(len(posts), settings.feed_limit) + 1)]
    return docs


def _bodies(docs, settings, entries: EntryCache | None) -> dict[str, bytes]:
    return {doc.path: doc_parts(doc, settings, entries)[2] for doc in docs}


def _generated(site_dir, make_refresher, environ: dict[str, str], config: str | None = None):
    rng = random.Random(42)
    files = dict(_post(rng, n) for n in range(60))
    root = site_dir(files, **({"config": config} if config else {}))
    refresher = make_refresher(root, environ)
    refresher.refresh()
    return refresher


CASES = {
    "site author, archives": ({"FEEDSVC_FEED_LIMIT": "4"}, None),
    "no site author, excerpts only, hubs": ({"FEEDSVC_FEED_LIMIT": "6", "FEEDSVC_EXCERPT_ONLY": "1",
                                              "FEEDSVC_WEBSUB_HUBS": "https://hub.example/"}, NO_SITE_AUTHOR),
}


@pytest.mark.parametrize("case", CASES)
def test_every_document_has_the_bytes_feedgen_gives_without_the_cache(site_dir, make_refresher, case):
    environ, config = CASES[case]
    refresher = _generated(site_dir, make_refresher, environ, config)
    site, settings = refresher.store.snapshot.site, refresher.settings
    docs = _documents(site, settings)
    assert sum(doc.archive for doc in docs) > 20  # archive pages are covered too
    plain = _bodies(docs, settings, None)
    entries = EntryCache()
    cold = _bodies(docs, settings, entries)
    reused = entries.stats()
    warm = _bodies(docs, settings, entries)
    assert cold == plain
    assert warm == plain
    # Each (post, format) was built once, then reused by every other document that shows it.
    shown = {(post.fingerprint, doc.fmt) for doc in docs for post in doc.entries}
    assert reused.misses == len(shown)
    assert reused.hits == sum(len(doc.entries) for doc in docs) - len(shown)


def test_the_sample_content_renders_the_same_bytes_with_and_without_the_cache(make_refresher):
    refresher = make_refresher(SAMPLE_CONTENT, {"FEEDSVC_FEED_LIMIT": "2"})
    refresher.refresh()
    site, settings = refresher.store.snapshot.site, refresher.settings
    docs = _documents(site, settings)
    plain = _bodies(docs, settings, None)
    entries = EntryCache()
    assert _bodies(docs, settings, entries) == plain == _bodies(docs, settings, entries)


def test_filtered_feeds_have_the_same_bytes_with_and_without_the_cache(site_dir, make_refresher):
    refresher = _generated(site_dir, make_refresher, {"FEEDSVC_FEED_LIMIT": "5"})
    snapshot, settings = refresher.store.snapshot, refresher.settings
    targets = [Target(feed_path(scope, fmt), parse_filter(query))
               for scope in list(snapshot.site.scopes)[:6] for fmt in FeedFormat
               for query in ("tags=python,web", "categories=news&authors=ada-quill", "tags=go")]
    index = _Index(snapshot.site)
    plain = [doc_parts(plan(index, settings, target), settings, None)[2] for target in targets]
    ondemand = OnDemandFeeds(lambda: settings)
    assert [ondemand.answer(snapshot, target).body for target in targets] == plain
    assert sum(b"<item>" in body or b"<entry>" in body for body in plain) > 10  # the filters select entries


def test_an_edited_post_never_serves_its_old_entry(site_dir, make_refresher):
    root = site_dir({"_posts/2026-01-02-a.md": post_text("title: Old title\ntags: [x]", "Old body.\n"),
                     "_posts/2026-01-01-b.md": post_text("title: Other\ntags: [x]", "Other body.\n")})
    refresher = make_refresher(root)
    refresher.refresh()
    before = {path: r.body for path, r in refresher.store.snapshot.resources.items()}
    assert b"Old title" in before["/tags/x/atom.xml"]
    (root / "_posts/2026-01-02-a.md").write_text(post_text("title: New title\ntags: [x]", "New body.\n"))
    refresher.refresh()
    after = {path: r.body for path, r in refresher.store.snapshot.resources.items()}
    for path in ("/rss.xml", "/atom.xml", "/feed.json", "/tags/x/rss.xml", "/tags/x/atom.xml", "/tags/x/feed.json"):
        assert b"New title" in after[path] and b"New body" in after[path], path
        assert b"Old title" not in after[path] and b"Old body" not in after[path], path
    site, settings = refresher.store.snapshot.site, refresher.settings
    subscriptions = [subscription_doc(site, scope, fmt, settings) for scope in site.scopes for fmt in FeedFormat]
    assert {doc.path: doc_parts(doc, settings, None)[2] for doc in subscriptions} == \
        {doc.path: after[doc.path] for doc in subscriptions}


def test_posts_that_share_a_fingerprint_never_share_an_entry(make_refresher):
    refresher = make_refresher(SAMPLE_CONTENT)
    refresher.refresh()
    site, settings = refresher.store.snapshot.site, refresher.settings
    post = site.posts[0]
    twin = replace(post, title="A hand-made twin").with_content("<p>Twin body</p>")
    assert twin.fingerprint == post.fingerprint
    scope = next(iter(site.scopes))
    entries = EntryCache()
    for fmt in FeedFormat:
        original = doc_parts(replace(subscription_doc(site, scope, fmt, settings), entries=(post,)), settings,
                             entries)[2]
        changed = doc_parts(replace(subscription_doc(site, scope, fmt, settings), entries=(twin,)), settings,
                            entries)[2]
        assert b"Twin body" in changed and b"hand-made twin" in changed and b"Twin body" not in original


def test_entries_are_kept_per_shape_of_the_settings(site_dir, make_refresher):
    """Settings that shape entries (excerpt only, the fallback author) never see another's entries."""
    results = {}
    entries = EntryCache()  # one cache through every settings
    for name, environ in {"full": {}, "excerpt": {"FEEDSVC_EXCERPT_ONLY": "1"},
                          "other author": {"FEEDSVC_AUTHOR": "Someone Else"}}.items():
        refresher = _generated(site_dir, make_refresher, {"FEEDSVC_FEED_LIMIT": "5", **environ}, NO_SITE_AUTHOR)
        site, settings = refresher.store.snapshot.site, refresher.settings
        docs = _documents(site, settings)
        plain = _bodies(docs, settings, None)
        assert _bodies(docs, settings, entries) == plain, name  # the cache holds the other settings' entries now
        results[name] = plain
    assert results["full"]["/atom.xml"] != results["excerpt"]["/atom.xml"] != results["other author"]["/atom.xml"]
    assert EntryShape.of(refresher.settings) != EntryShape.of(replace(refresher.settings, excerpt_only=True))


def test_a_bounded_cache_shared_by_threads_still_gives_the_same_bytes(site_dir, make_refresher):
    refresher = _generated(site_dir, make_refresher, {"FEEDSVC_FEED_LIMIT": "3"})
    site, settings = refresher.store.snapshot.site, refresher.settings
    docs = _documents(site, settings)
    plain = _bodies(docs, settings, None)
    small = EntryCache(max_bytes=40_000)  # a few dozen entries: constant eviction
    results: list[dict[str, bytes]] = []
    threads = [threading.Thread(target=lambda order=order: results.append(_bodies(order, settings, small)))
               for order in (docs, docs[::-1], docs[1::2] + docs[::2], docs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(threads)
    assert all(result == plain for result in results)
    stats = small.stats()
    assert 0 < stats.bytes <= small.max_bytes and stats.hits and stats.misses > stats.entries  # some were evicted


def test_a_forked_renderer_makes_its_own_cache_even_if_the_parents_was_locked_at_fork(site_dir, make_refresher,
                                                                                     monkeypatch):
    """A cold build's forked children never touch the refresher's cache: a lock held at fork cannot hang them."""
    import feedsvc.pipeline.parallel as parallel

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    refresher = _generated(site_dir, make_refresher, {"FEEDSVC_FEED_LIMIT": "5"})
    site, settings = refresher.store.snapshot.site, refresher.settings
    jobs = [partial(feed_parts, site, scope, fmt, settings) for scope in site.scopes for fmt in FeedFormat]
    plain = [as_resource(*job(None)) for job in jobs]
    monkeypatch.setattr(parallel, "FORK_FROM", 1)
    monkeypatch.setattr(parallel, "fork_is_safe", lambda: True)
    made: list[list[Resource]] = []
    with refresher.entries._lock, refresher.entries._entries._lock:  # as if another thread was inside it
        renderer = threading.Thread(target=lambda: made.append(parallel.render_all(jobs, refresher.entries)),
                                    daemon=True)
        renderer.start()
        renderer.join(60)
    assert not renderer.is_alive(), "a forked child hung on the parent's cache"
    assert made == [plain]


def test_the_first_edit_after_a_forked_cold_build_builds_only_the_edited_posts_entries(site_dir, make_refresher,
                                                                                      monkeypatch, caplog):
    """A cold build renders in forked children, whose entry caches die with them: they send back the entries
    an edit would need again, so the refresher's cache has them, and the bytes are those of a serial build."""
    import feedsvc.pipeline.parallel as parallel

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    rng = random.Random(7)
    files = dict(_post(rng, n) for n in range(60))
    serial = make_refresher(site_dir(files), {"FEEDSVC_FEED_LIMIT": "5"})
    serial.refresh()
    monkeypatch.setattr(parallel, "FORK_FROM", 1)
    monkeypatch.setattr(parallel, "fork_is_safe", lambda: True)
    root = site_dir(files)
    pooled = make_refresher(root, {"FEEDSVC_FEED_LIMIT": "5"})
    pooled.refresh()
    assert "rendering them here" not in caplog.text  # it really rendered in forked processes
    assert {p: r.body for p, r in pooled.store.snapshot.resources.items()} == \
        {p: r.body for p, r in serial.store.snapshot.resources.items()}
    monkeypatch.undo()  # an edit renders a few feeds: here, with the refresher's cache
    newest = pooled.store.snapshot.site.posts[0]
    path = root / newest.source
    path.write_text(path.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    before = pooled.entries.stats().misses
    report = pooled.refresh("webhook")
    assert report.updated == (newest.source,) and report.feeds_changed
    assert pooled.entries.stats().misses - before == len(FeedFormat)  # its entry in each format, built once
