"""Ad-hoc filtered feeds: `?tags=a,b` is any of, a repeated parameter all of, kinds all apply."""

from __future__ import annotations

import random

import feedparser
import pytest
from conftest import post_text

from feedsvc.model import FeedFormat, ScopeKind
from feedsvc.site.filters import MAX_NAMES, Filter, FilterError, fold, parse_filter, select
from feedsvc.web.app import create_app
from feedsvc.web.ondemand import OnDemandFeeds, Target

TAGS = ["python", "rust", "web", "Data Science"]
CATEGORIES = ["News", "Notes"]
AUTHORS = ["Ada Quill", "Ben Okafor"]


def _posts(rng: random.Random, count: int) -> dict[str, str]:
    files = {}
    for n in range(1, count + 1):
        tags = rng.sample(TAGS, rng.randint(0, 3))
        categories = rng.sample(CATEGORIES, rng.randint(0, 2))
        files[f"_posts/2025-{1 + n // 28:02d}-{1 + n % 28:02d}-p{n}.md"] = post_text(
            f"title: P{n}\ndate: 2025-{1 + n // 28:02d}-{1 + n % 28:02d} 08:00:00 +0000\n"
            f"tags: {tags}\ncategories: {categories}\nauthor: {rng.choice(AUTHORS)}\n")
    return files


@pytest.fixture
def site(site_dir, make_refresher):
    refresher = make_refresher(site_dir(_posts(random.Random(5), 60)), {"FEEDSVC_FEED_LIMIT": "100"})
    refresher.refresh()
    return refresher


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.data
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.bozo_exception
    return [entry.title for entry in parsed.entries]


def _expected(refresher, keep) -> list[str]:
    return [post.title for post in refresher.store.snapshot.site.posts if keep(post)]


def _has(names, name):
    return fold(name) in {fold(n) for n in names}


def test_comma_means_any_of(site):
    client = create_app(site.settings, site.store).test_client()
    assert _titles(client.get("/rss.xml?tags=python,rust")) == \
        _expected(site, lambda p: _has(p.tags, "python") or _has(p.tags, "rust"))


def test_a_repeated_parameter_means_all_of(site):
    client = create_app(site.settings, site.store).test_client()
    assert _titles(client.get("/atom.xml?tags=python&tags=web")) == \
        _expected(site, lambda p: _has(p.tags, "python") and _has(p.tags, "web"))


def test_kinds_all_apply_and_names_match_by_name_or_slug_in_any_case(site):
    client = create_app(site.settings, site.store).test_client()
    wanted = _expected(site, lambda p: (_has(p.tags, "data science") or _has(p.tags, "rust"))
                       and _has(p.categories, "news") and p.authors[0].name == "Ada Quill")
    assert wanted
    for query in ("tags=data-science,rust&categories=news&authors=ada-quill",
                  "tag=Data%20Science,RUST&category=NEWS&author=Ada+Quill",
                  "utm_source=x&authors=ada%20quill&tags=rust,data-science&categories=News"):
        assert _titles(client.get("/rss.xml?" + query)) == wanted, query


def test_a_filter_narrows_a_scope_feed_and_its_compat_alias(site_dir, make_refresher):
    config = "title: T\nurl: https://example.org\nfeedsvc:\n  compat: [jekyll-feed]\n"
    refresher = make_refresher(site_dir(_posts(random.Random(6), 40), config=config),
                               {"FEEDSVC_FEED_LIMIT": "100"})
    refresher.refresh()
    client = create_app(refresher.settings, refresher.store).test_client()
    in_news = _expected(refresher, lambda p: _has(p.categories, "news") and _has(p.tags, "web"))
    assert _titles(client.get("/categories/news/atom.xml?tags=web")) == in_news
    assert _titles(client.get("/feed.xml?categories=news&tags=web")) == in_news  # jekyll-feed's Atom path
    self_link = feedparser.parse(client.get("/feed.xml?tags=web&categories=news").data).feed.links
    assert {link.rel: link.href for link in self_link}["self"] == \
        "https://example.org/atom.xml?categories=news&tags=web"


def test_filtered_json_feed_titles_itself_and_links_to_its_canonical_query(site):
    client = create_app(site.settings, site.store).test_client()
    feed = client.get("/feed.json?tags=RUST,python").get_json()
    assert feed["feed_url"] == "https://example.org/feed.json?tags=python,rust"
    assert feed["title"] == "Test Site (tags python or rust)"
    assert [item["title"] for item in feed["items"]] == \
        _expected(site, lambda p: _has(p.tags, "python") or _has(p.tags, "rust"))


def test_spellings_of_one_filter_share_one_cached_feed(site):
    client = create_app(site.settings, site.store).test_client()
    first = client.get("/rss.xml?tags=python,rust")
    second = client.get("/rss.xml?tags=Rust,Python,rust&utm_medium=feed")
    assert first.headers["ETag"] == second.headers["ETag"] and first.data == second.data


def test_filtered_feeds_have_the_same_http_caching(site):
    client = create_app(site.settings, site.store).test_client()
    first = client.get("/rss.xml?tags=web", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Vary"] == "Accept-Encoding" and first.headers["Last-Modified"]
    again = client.get("/rss.xml?tags=web", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/rss.xml?tags=web", headers={"If-Modified-Since": first.headers["Last-Modified"]}
                      ).status_code == 304


def test_a_new_matching_post_changes_the_filtered_feed(site, clock):
    client = create_app(site.settings, site.store).test_client()
    before = client.get("/rss.xml?tags=rust&categories=notes")
    (site.content_dir / "_posts/2025-12-30-fresh.md").write_text(
        post_text("title: Fresh Rust Note\ndate: 2025-12-30 09:00:00 +0000\ntags: [rust]\ncategories: [Notes]\n"))
    site.refresh("webhook")
    after = client.get("/rss.xml?tags=rust&categories=notes", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and _titles(after)[0] == "Fresh Rust Note"


def test_the_plain_feed_is_served_for_other_query_strings(site):
    client = create_app(site.settings, site.store).test_client()
    plain = client.get("/rss.xml")
    assert client.get("/rss.xml?utm_source=newsletter").data == plain.data
    assert client.get("/rss.xml?tags=web").data != plain.data  # the fast path must not answer this one


@pytest.mark.parametrize("query, status, message", [
    ("tags=", 400, b"names nothing"),
    ("tags=,,%20", 400, b"names nothing"),
    ("tags=" + "x" * 201, 400, b"longer than"),
    ("tags=" + ",".join(f"t{n}" for n in range(MAX_NAMES + 1)), 400, b"at most"),
    ("tags=a&" * 30, 400, b"at most"),
    ("tags=%ff%fe", 400, b"malformed"),
    ("a=" + "b" * 3000 + "&tags=web", 400, b"longer than"),
    ("tags=nope,web", 404, b"no tag 'nope'"),
    ("authors=nobody", 404, b"no author 'nobody'"),
])
def test_bad_filters_get_a_clear_error(site, query, status, message):
    client = create_app(site.settings, site.store).test_client()
    response = client.get("/atom.xml?" + query)
    assert response.status_code == status and message in response.data, response.data
    assert response.headers["Content-Type"].startswith("text/plain")


def test_raw_non_utf8_query_bytes_are_a_400(site):
    client = create_app(site.settings, site.store).test_client()
    response = client.get("/rss.xml", environ_overrides={"QUERY_STRING": "tags=\xff"})  # WSGI: latin-1
    assert response.status_code == 400


def test_the_cache_is_bounded_by_entries_and_bytes(site):
    ondemand = OnDemandFeeds(lambda: site.settings, max_items=3, max_bytes=10**9)
    snapshot = site.store.snapshot
    queries = ["tags=python", "tags=rust", "tags=web", "tags=data-science", "categories=news", "categories=notes"]
    for query in queries:
        ondemand.answer(snapshot, Target("/rss.xml", parse_filter(query)))
    assert ondemand.stats()["items"] == 3
    small = OnDemandFeeds(lambda: site.settings, max_items=100, max_bytes=1)
    for query in queries:
        small.answer(snapshot, Target("/rss.xml", parse_filter(query)))
    assert small.stats()["items"] <= 1


def test_hostile_query_strings_are_refused_and_keep_nothing(site):
    ondemand = OnDemandFeeds(lambda: site.settings)
    client = create_app(site.settings, site.store, ondemand=ondemand).test_client()
    rng = random.Random(1)
    for _ in range(300):
        junk = "&".join(f"tags={rng.randbytes(6).hex()}" for _ in range(rng.randint(1, 5)))
        assert client.get("/rss.xml?" + junk).status_code in (400, 404)
    assert ondemand.stats() == {"items": 0, "bytes": 0}
    assert client.get("/rss.xml?tags=web").status_code == 200
    assert ondemand.stats()["items"] == 1


def test_parse_filter_canonical_form():
    assert parse_filter("") is None and parse_filter("utm=1") is None
    assert parse_filter("tags=B,a&categories=X&tags=c") == Filter((
        (ScopeKind.CATEGORY, ("x",)), (ScopeKind.TAG, ("a", "b")), (ScopeKind.TAG, ("c",))))
    assert parse_filter("tags=a,b").query == parse_filter("tag=B,%20A,a").query == "tags=a,b"
    with pytest.raises(FilterError):
        parse_filter("tags=")


def test_select_matches_a_brute_force_reading_of_the_syntax(site):
    rng = random.Random(11)
    snapshot_site = site.store.snapshot.site
    names = {ScopeKind.TAG: TAGS, ScopeKind.CATEGORY: CATEGORIES, ScopeKind.AUTHOR: AUTHORS}
    for _ in range(200):
        groups = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(list(names))
            groups.append((kind, tuple(sorted({fold(n) for n in rng.sample(names[kind], rng.randint(1, 2))}))))
        wanted = Filter(tuple(groups))

        def keeps(post, wanted=wanted):
            fields = {ScopeKind.TAG: post.tags, ScopeKind.CATEGORY: post.categories,
                      ScopeKind.AUTHOR: tuple(a.name for a in post.authors)}
            return all(any(_has(fields[kind], name) for name in group) for kind, group in wanted.groups)

        try:
            got = select(snapshot_site, snapshot_site.posts, wanted)
        except LookupError:
            continue  # a name no post uses
        assert got == tuple(p for p in snapshot_site.posts if keeps(p))


def test_every_format_is_filtered(site):
    client = create_app(site.settings, site.store).test_client()
    for fmt in FeedFormat:
        response = client.get(f"/{fmt.filename}?authors=ben-okafor")
        assert response.status_code == 200 and response.headers["Content-Type"] == fmt.content_type
        assert b"Ada Quill" not in response.data


def test_when_every_render_slot_is_taken_a_new_filtered_feed_gets_503_and_plain_feeds_still_serve(
        site, monkeypatch):
    import threading

    import feedsvc.web.ondemand as ondemand

    release = threading.Event()
    started = threading.Semaphore(0)
    real = ondemand.doc_parts

    def slow(doc, *rest):
        started.release()
        release.wait(10)
        return real(doc, *rest)

    monkeypatch.setattr(ondemand, "doc_parts", slow)
    monkeypatch.setattr(ondemand, "RENDER_WAIT_SECONDS", 0.2)
    app = create_app(site.settings, site.store)
    answers: list[int] = []

    def fetch(query: str) -> None:
        answers.append(app.test_client().get(f"/rss.xml?tags={query}").status_code)

    threads = [threading.Thread(target=fetch, args=(query,)) for query in ("python", "rust")]
    for thread in threads:
        thread.start()
    assert started.acquire(timeout=5) and started.acquire(timeout=5)  # both slots busy
    client = app.test_client()
    busy = client.get("/rss.xml?tags=web")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "2"
    assert client.get("/rss.xml").status_code == 200
    release.set()
    for thread in threads:
        thread.join(10)
    assert answers == [200, 200]
    assert client.get("/rss.xml?tags=web").status_code == 200
