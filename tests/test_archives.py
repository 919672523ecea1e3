"""RFC 5005 archives: every post of every scope reachable from its subscription feed, at stable URLs."""

from __future__ import annotations

import gzip
import json
import re

import feedparser
import pytest
from conftest import post_text
from lxml import etree

from feedsvc.model import SITE_SCOPE, FeedFormat, Scope, ScopeKind
from feedsvc.render.feeds import archive_doc, doc_parts, render_feed
from feedsvc.site.archives import archive_count, archive_range, parse_archive_path
from feedsvc.web.app import create_app

LIMIT = 4
HISTORY = "http://purl.org/syndication/history/1.0"
ATOM = "http://www.w3.org/2005/Atom"


def _post(n: int) -> tuple[str, str]:
    tags = ["odd" if n % 2 else "even"]
    return f"_posts/2025-{1 + n // 28:02d}-{1 + n % 28:02d}-post-{n}.md", post_text(
        f"title: Post {n}\ndate: 2025-{1 + n // 28:02d}-{1 + n % 28:02d} 10:00:00 +0000\ntags: {tags}\n")


def _site(site_dir, make_refresher, count: int, limit: int = LIMIT):
    root = site_dir(dict(_post(n) for n in range(1, count + 1)))
    refresher = make_refresher(root, {"FEEDSVC_FEED_LIMIT": str(limit)})
    refresher.refresh()
    return root, refresher


def _links(response_headers) -> dict[str, str]:
    """rel -> URL from an RFC 8288 Link header."""
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="([^"]+)"', response_headers.get("Link", ""))}


def _local(url: str) -> str:
    return url.removeprefix("https://example.org")


@pytest.mark.parametrize("total", [0, 1, LIMIT - 1, LIMIT, LIMIT + 1, 2 * LIMIT, 2 * LIMIT + 3, 7 * LIMIT + 1])
def test_archive_pages_are_full_disjoint_and_with_the_subscription_feed_cover_every_post(total):
    posts = tuple(range(total, 0, -1))  # newest first, as a scope holds them
    count = archive_count(total, LIMIT)
    pages = [posts[archive_range(total, LIMIT, n)] for n in range(1, count + 1)]
    assert all(len(page) == LIMIT for page in pages)
    archived = [p for page in pages for p in page]
    assert len(archived) == len(set(archived))
    assert set(archived) | set(posts[:LIMIT]) == set(posts)
    if pages:
        assert pages[0] == posts[-LIMIT:]  # page 1 is the oldest
        assert all(max(pages[i]) < min(pages[i + 1]) for i in range(len(pages) - 1))


def test_archive_paths_parse_and_nothing_else_does():
    assert parse_archive_path("/archive/12/atom.xml") == (ScopeKind.SITE, "", 12, FeedFormat.ATOM)
    assert parse_archive_path("/tags/ünï/archive/1/feed.json") == (ScopeKind.TAG, "ünï", 1, FeedFormat.JSON)
    for path in ("/archive/0/rss.xml", "/archive/01/rss.xml", "/archive/-1/rss.xml", "/archive/1/index.html",
                 "/tags/a/b/archive/1/rss.xml", "/pages/x/archive/1/rss.xml", "/archive/1234567890/rss.xml",
                 "/archive/1/rss.xml/", "/archive//rss.xml"):
        assert parse_archive_path(path) is None, path


def test_the_subscription_feed_names_its_newest_archive_in_the_document_and_the_header(site_dir, make_refresher,
                                                                                      tmp_path):
    _, many = _site(site_dir, make_refresher, 2 * LIMIT + 3)
    # The same newest LIMIT posts alone, in a second folder: no archives at all.
    few_root = tmp_path / "few"
    few_root.mkdir()
    (few_root / "_config.yml").write_text((tmp_path / "content/_config.yml").read_text())
    for n in range(LIMIT + 4, 2 * LIMIT + 4):
        relpath, text = _post(n)
        (few_root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (few_root / relpath).write_text(text)
    few = make_refresher(few_root, {"FEEDSVC_FEED_LIMIT": str(LIMIT)})
    few.refresh()
    for fmt in FeedFormat:
        served = many.store.snapshot.resources["/" + fmt.filename]
        plain = few.store.snapshot.resources["/" + fmt.filename]
        assert served.body != plain.body and served.headers != plain.headers
        expected = {"prev-archive": f"https://example.org/archive/2/{fmt.filename}",
                    "next": f"https://example.org/archive/2/{fmt.filename}",
                    "last": f"https://example.org/archive/1/{fmt.filename}"}
        assert _links(dict(served.headers)) == expected
        if fmt is FeedFormat.JSON:
            assert json.loads(served.body)["next_url"] == expected["next"]
            assert json.loads(plain.body)["next_url"] == f"https://example.org/archive/1/{fmt.filename}"
        else:  # RFC 5005's links in the document too: readers follow those, not the header
            in_document = {link.rel: link.href for link in feedparser.parse(served.body).feed.links}
            assert {rel: in_document.get(rel) for rel in expected} == expected
            plain_links = {link.rel: link.href for link in feedparser.parse(plain.body).feed.links}
            assert plain_links["prev-archive"] == f"https://example.org/archive/1/{fmt.filename}"


def _walk_xml(client, fmt: FeedFormat, start: str) -> list[str]:
    """A new subscriber backfilling: the subscription feed, then prev-archive links to the oldest page."""
    response = client.get(start)
    titles = [entry.title for entry in feedparser.parse(response.data).entries]
    url = _links(response.headers).get("prev-archive")
    seen_pages = 0
    while url:
        page = client.get(_local(url))
        assert page.status_code == 200, url
        parsed = feedparser.parse(page.data)
        assert not parsed.bozo, (url, parsed.bozo_exception)
        titles += [entry.title for entry in parsed.entries]
        links = {link.rel: link.href for link in parsed.feed.links}
        assert links["current"] == "https://example.org" + start
        assert links["self"] == url
        root = etree.fromstring(page.data)
        assert root.find(f".//{{{HISTORY}}}archive") is not None  # <fh:archive/>
        url = links.get("prev-archive")
        seen_pages += 1
        assert seen_pages < 100
    return titles


@pytest.mark.parametrize("fmt", [FeedFormat.RSS, FeedFormat.ATOM])
def test_a_new_subscriber_backfills_every_post_by_following_prev_archive(site_dir, make_refresher, fmt):
    total = 5 * LIMIT + 2
    _, refresher = _site(site_dir, make_refresher, total)
    client = create_app(refresher.settings, refresher.store).test_client()
    titles = _walk_xml(client, fmt, "/" + fmt.filename)
    assert set(titles) == {f"Post {n}" for n in range(1, total + 1)}
    odd = _walk_xml(client, fmt, f"/tags/odd/{fmt.filename}")
    assert set(odd) == {f"Post {n}" for n in range(1, total + 1, 2)}


def test_json_feed_archives_chain_by_next_url(site_dir, make_refresher):
    total = 3 * LIMIT + 1
    _, refresher = _site(site_dir, make_refresher, total)
    client = create_app(refresher.settings, refresher.store).test_client()
    subscription = client.get("/feed.json")
    url = subscription.get_json()["next_url"]
    assert url == _links(subscription.headers)["next"]
    titles = [item["title"] for item in subscription.get_json()["items"]]
    while url:
        page = client.get(_local(url)).get_json()
        assert page["feed_url"] == url
        titles += [item["title"] for item in page["items"]]
        url = page.get("next_url")
    assert sorted(set(titles)) == sorted(f"Post {n}" for n in range(1, total + 1))


def test_paged_feed_links_go_from_newest_to_oldest(site_dir, make_refresher):
    _, refresher = _site(site_dir, make_refresher, 3 * LIMIT + 1)
    client = create_app(refresher.settings, refresher.store).test_client()
    links = {}
    for n in (1, 2, 3):
        parsed = feedparser.parse(client.get(f"/archive/{n}/atom.xml").data)
        links[n] = {link.rel: _local(link.href) for link in parsed.feed.links}
    assert links[3]["previous"] == "/atom.xml" and links[3]["next"] == "/archive/2/atom.xml"
    assert "next-archive" not in links[3]  # the newest archive page
    assert links[2]["previous"] == links[2]["next-archive"] == "/archive/3/atom.xml"
    assert links[2]["next"] == links[2]["prev-archive"] == "/archive/1/atom.xml"
    assert "prev-archive" not in links[1] and "next" not in links[1]  # the oldest
    assert {links[n]["first"] for n in links} == {"/atom.xml"} and {links[n]["last"] for n in links} == \
        {"/archive/1/atom.xml"}


def test_archive_pages_keep_their_bytes_as_posts_are_added(site_dir, make_refresher):
    root, refresher = _site(site_dir, make_refresher, 2 * LIMIT + 1)
    site, settings = refresher.store.snapshot.site, refresher.settings

    def pages(site):
        return {n: doc_parts(archive_doc(site, SITE_SCOPE, FeedFormat.ATOM, n, settings), settings, None)[2]
                for n in range(1, archive_count(len(site.posts), LIMIT) + 1)}

    before = pages(site)
    for n in range(2 * LIMIT + 2, 3 * LIMIT):  # up to one short of a new page
        (root / _post(n)[0]).write_text(_post(n)[1])
    refresher.refresh("webhook")
    assert pages(refresher.store.snapshot.site) == before
    (root / _post(3 * LIMIT)[0]).write_text(_post(3 * LIMIT)[1])  # completes page 3
    refresher.refresh("webhook")
    after = pages(refresher.store.snapshot.site)
    assert after[1] == before[1]  # only the previously newest page changed: it links forward now
    assert after[2] != before[2] and b'rel="next-archive"' in after[2] and b'rel="next-archive"' not in before[2]
    assert len(after) == 3


def test_archive_pages_are_served_with_validators_gzip_and_304(site_dir, make_refresher):
    _, refresher = _site(site_dir, make_refresher, 2 * LIMIT)
    client = create_app(refresher.settings, refresher.store).test_client()
    first = client.get("/tags/even/archive/1/rss.xml", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Content-Type"] == FeedFormat.RSS.content_type
    assert first.headers["Cache-Control"].startswith("public")
    body = gzip.decompress(first.data)
    assert feedparser.parse(body).entries and first.headers["Last-Modified"]
    etag = first.headers["ETag"]
    again = client.get("/tags/even/archive/1/rss.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304
    since = client.get("/tags/even/archive/1/rss.xml",
                       headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    head = client.head("/tags/even/archive/1/rss.xml")
    assert head.status_code == 200 and head.data == b""
    for missing in ("/archive/3/rss.xml", "/tags/even/archive/2/rss.xml", "/tags/nope/archive/1/rss.xml",
                    "/archive/0/rss.xml", "/archive/1/feed.xml"):
        assert client.get(missing).status_code == 404, missing


def test_an_edit_in_an_archived_post_changes_that_page_and_moves_last_modified(site_dir, make_refresher, clock):
    import os
    import time

    root, refresher = _site(site_dir, make_refresher, 3 * LIMIT)
    client = create_app(refresher.settings, refresher.store).test_client()
    before = client.get("/archive/1/atom.xml")
    untouched = client.get("/archive/2/atom.xml")
    path = root / _post(1)[0]
    path.write_text(_post(1)[1].replace("title: Post 1", "title: Post One, corrected"))
    later = time.time() + 5
    os.utime(path, (later, later))
    refresher.refresh("webhook")
    after = client.get("/archive/1/atom.xml")
    assert b"Post One, corrected" in after.data and after.headers["ETag"] != before.headers["ETag"]
    assert after.last_modified > before.last_modified
    assert client.get("/archive/1/atom.xml", headers={"If-Modified-Since": before.headers["Last-Modified"]}
                      ).status_code == 200
    assert client.get("/archive/2/atom.xml").headers["ETag"] == untouched.headers["ETag"]


def test_archive_pages_render_once_and_are_reused_while_their_entries_stay(site_dir, make_refresher, monkeypatch):
    import feedsvc.web.ondemand as ondemand

    root, refresher = _site(site_dir, make_refresher, 3 * LIMIT)
    client = create_app(refresher.settings, refresher.store).test_client()
    calls: list[str] = []
    real = ondemand.doc_parts
    monkeypatch.setattr(ondemand, "doc_parts", lambda doc, *rest: calls.append(doc.path) or real(doc, *rest))
    for _ in range(3):
        assert client.get("/archive/1/rss.xml").status_code == 200
    assert calls == ["/archive/1/rss.xml"]
    (root / _post(3 * LIMIT + 1)[0]).write_text(_post(3 * LIMIT + 1)[1])  # a new post: page 1 is unaffected
    refresher.refresh("webhook")
    assert client.get("/archive/1/rss.xml").status_code == 200
    assert calls == ["/archive/1/rss.xml"]


def test_a_feed_limit_that_divides_evenly_still_reaches_every_post(site_dir, make_refresher):
    total = 3 * LIMIT
    _, refresher = _site(site_dir, make_refresher, total)
    client = create_app(refresher.settings, refresher.store).test_client()
    titles = _walk_xml(client, FeedFormat.RSS, "/rss.xml")
    assert len(titles) == total + LIMIT  # the newest page is also the subscription feed
    assert set(titles) == {f"Post {n}" for n in range(1, total + 1)}


def test_scope_archives_use_the_scope_slug(site_dir, make_refresher):
    root = site_dir({f"_posts/2025-01-{n:02d}-p{n}.md": post_text(f"title: P{n}\nauthor: Zoë Ünder\n")
                     for n in range(1, 8)})
    refresher = make_refresher(root, {"FEEDSVC_FEED_LIMIT": "3"})
    refresher.refresh()
    scope = next(s for s in refresher.store.snapshot.site.scopes if s.kind is ScopeKind.AUTHOR)
    assert isinstance(scope, Scope)
    client = create_app(refresher.settings, refresher.store).test_client()
    feed = client.get(f"/authors/{scope.slug}/feed.json")
    link = _links(feed.headers)["prev-archive"]
    assert "%" in link  # percent-encoded like every feed link
    page = client.get(_local(link))
    assert page.status_code == 200, link
    assert [item["title"] for item in page.get_json()["items"]] == ["P6", "P5", "P4"]
    assert json.loads(render_feed(refresher.store.snapshot.site, scope, FeedFormat.JSON,
                                  refresher.settings).body)["items"][0]["title"] == "P7"


def test_no_archive_links_for_scopes_within_one_feed(site_dir, make_refresher):
    _, refresher = _site(site_dir, make_refresher, LIMIT - 1)
    for resource in refresher.store.snapshot.resources.values():
        assert not any(name == "Link" for name, _ in resource.headers), resource.path


def test_only_subscription_feeds_name_the_websub_hub(site_dir, make_refresher):
    root = site_dir(dict(_post(n) for n in range(1, 2 * LIMIT + 1)))
    refresher = make_refresher(root, {"FEEDSVC_FEED_LIMIT": str(LIMIT),
                                      "FEEDSVC_WEBSUB_HUBS": "https://hub.example.net/"})
    refresher.refresh()
    client = create_app(refresher.settings, refresher.store).test_client()
    for fmt in FeedFormat:
        subscription = client.get("/" + fmt.filename)
        assert b"hub.example.net" in subscription.data and _links(subscription.headers)["hub"]
        for path in (f"/archive/1/{fmt.filename}", f"/{fmt.filename}?tags=odd"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert b"hub.example.net" not in response.data and "hub" not in _links(response.headers), path
