"""Every feed parses in an independent client (feedparser) and says what a reader needs."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from conftest import JEKYLL_NEWS, SAMPLE_CONTENT, post_text
from lxml import etree

from feedsvc.model import SITE_SCOPE, FeedFormat, ScopeKind
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore
from feedsvc.urls import scope_dir

FIXED_NOW = datetime(2026, 11, 1, tzinfo=UTC)

CONFIG = """\
title: Feeds & Tests
description: Posts for feed tests
url: https://example.org
baseurl: /blog
timezone: America/New_York
lang: en-US
author: {name: Site Owner, email: owner@example.org}
permalink: /:categories/:year/:title/
"""

POSTS = {
    "_posts/2026-01-05-first.md": post_text(
        """
        title: "Salt & <Pepper>"
        date: 2026-01-05 09:30:00 -0500
        categories: [Kitchen]
        tags: [salt, pepper]
        author: {name: Ben Okafor, email: ben@example.org}
        image: /img/salt.jpg
        """,
        "Intro with a [link](/about/).\n\nMore text.\n",
    ),
    "_posts/2026-02-10-second.md": post_text(
        """
        title: Second post
        date: 2026-02-10
        categories: Garden
        tags: salt
        author: Ada Quill
        last_modified_at: 2026-03-01 10:00:00 +0100
        """,
        "Body two.\n",
    ),
    "_posts/2026-03-15-third.md": post_text(
        """
        title: Third
        date: 2026-03-15T08:00:00Z
        tags: []
        """,
        "Body three.\n",
    ),
}


def _snapshot(root: Path, environ: dict[str, str] | None = None):
    store = SnapshotStore()
    refresher = Refresher(store, root, environ or {}, clock=lambda: FIXED_NOW)
    report = refresher.refresh("test")
    assert report.error is None
    return store.snapshot, refresher.settings


@pytest.fixture
def synthetic(site_dir):
    return _snapshot(site_dir(POSTS, config=CONFIG))


def _parse(body: bytes):
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def _feeds(snapshot):
    return {path: res for path, res in snapshot.resources.items() if path.endswith(("rss.xml", "atom.xml"))}


def test_every_xml_feed_parses_without_bozo_and_matches_its_scope(synthetic):
    snapshot, settings = synthetic
    feeds = _feeds(snapshot)
    assert len(feeds) == 2 * len(snapshot.site.scopes)
    for path, resource in feeds.items():
        parsed = _parse(resource.body)
        scope = next(s for s in snapshot.site.scopes if path.rsplit("/", 1)[0] + "/" == scope_dir(s))
        expected = [p.url for p in snapshot.site.scopes[scope]]
        assert [e.link for e in parsed.entries] == expected, path
        self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
        assert self_links == ["https://example.org/blog" + path], path


def test_site_rss_entries_carry_links_authors_categories_enclosures_and_zoned_dates(synthetic):
    snapshot, _ = synthetic
    parsed = _parse(snapshot.resources["/rss.xml"].body)
    titles = [e.title for e in parsed.entries]
    assert titles == ["Third", "Second post", "Salt & <Pepper>"]
    first = parsed.entries[2]
    assert first.link == "https://example.org/blog/kitchen/2026/first/"
    assert first.id == first.link
    assert first.author == "ben@example.org (Ben Okafor)"
    assert [t.term for t in first.tags] == ["Kitchen", "salt", "pepper"]
    assert first.enclosures[0].href == "https://example.org/blog/img/salt.jpg"
    assert first.enclosures[0].type == "image/jpeg"
    assert first.published == "Mon, 05 Jan 2026 09:30:00 -0500"
    assert 'href="https://example.org/about/"' in first.content[0].value  # root-relative made absolute
    second = parsed.entries[1]
    assert second.author_detail.name == "Ada Quill"  # dc:creator: a name without email
    third = parsed.entries[0]
    assert third.published == "Sun, 15 Mar 2026 04:00:00 -0400"  # the instant, in the site's zone
    assert parsed.feed.language == "en-US"


def test_rss_author_element_only_with_an_email(synthetic):
    snapshot, _ = synthetic
    body = snapshot.resources["/rss.xml"].body.decode()
    assert body.count("<author>") == 2  # Ben (email) and the site owner fallback on "Third"
    assert "<dc:creator>Ada Quill</dc:creator>" in body


def test_rss_titles_escape_ampersand_and_less_than_as_the_rss_profile_advises(synthetic):
    snapshot, _ = synthetic
    body = snapshot.resources["/rss.xml"].body.decode()
    assert "<title>Salt &#x26; &#x3C;Pepper&gt;</title>" in body
    assert "<title>Feeds &#x26; Tests</title>" in body


def test_atom_entries_always_have_an_author_ids_and_typed_markup(synthetic):
    snapshot, _ = synthetic
    parsed = _parse(snapshot.resources["/atom.xml"].body)
    assert parsed.feed.id == "https://example.org/blog/atom.xml"
    assert parsed.feed.updated == "2026-03-15T04:00:00-04:00"
    for entry in parsed.entries:
        assert entry.author_detail.name
        assert entry.summary_detail.type == "text/html"
    ids = [e.id for e in parsed.entries]
    assert len(set(ids)) == len(ids)
    # jekyll-feed's ids (folder + slug), so a site switching from it shows its subscribers nothing new
    assert ids[2] == "https://example.org/blog/kitchen/2026/first"
    assert parsed.entries[2].link == "https://example.org/blog/kitchen/2026/first/"
    assert [e.author_detail.name for e in parsed.entries] == ["Site Owner", "Ada Quill", "Ben Okafor"]
    # Markup-looking text is declared html and escaped, so readers show it literally.
    assert parsed.entries[2].title_detail.type == "text/html"
    assert html.unescape(parsed.entries[2].title) == "Salt & <Pepper>"
    assert parsed.entries[1].title_detail.type == "text/plain"
    enclosure = [link for link in parsed.entries[2].links if link.rel == "enclosure"]
    assert enclosure and enclosure[0].type == "image/jpeg"
    tree = etree.fromstring(snapshot.resources["/atom.xml"].body)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    title = tree.find("a:entry[3]/a:title", ns)
    assert title.get("type") == "html"
    assert tree.find("a:entry[2]/a:updated", ns).text == "2026-03-01T04:00:00-05:00"  # last_modified_at


def test_feed_updated_is_the_newest_entry_not_the_build_time(synthetic):
    snapshot, _ = synthetic
    rss = _parse(snapshot.resources["/rss.xml"].body)
    assert rss.feed.updated == "Sun, 15 Mar 2026 04:00:00 -0400"
    tag_feed = next(p for p in snapshot.resources if p.startswith("/tags/pepper/atom"))
    assert _parse(snapshot.resources[tag_feed].body).feed.updated == "2026-01-05T09:30:00-05:00"


def test_json_feed_has_the_required_fields_of_json_feed_1_1(synthetic):
    snapshot, _ = synthetic
    for path, resource in snapshot.resources.items():
        if not path.endswith("feed.json"):
            continue
        feed = json.loads(resource.body)
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert feed["title"]
        assert feed["feed_url"] == "https://example.org/blog" + path
        assert feed["home_page_url"] == "https://example.org/blog/"
        assert isinstance(feed["items"], list)
        for item in feed["items"]:
            assert isinstance(item["id"], str) and item["id"]
            assert "content_html" in item or "content_text" in item
            datetime.fromisoformat(item["date_published"])
            for author in item.get("authors", []):
                assert author.get("name") or author.get("url")
    site = json.loads(snapshot.resources["/feed.json"].body)
    first = site["items"][2]
    assert first["image"] == "https://example.org/blog/img/salt.jpg"
    assert first["tags"] == ["Kitchen", "salt", "pepper"]
    assert first["summary"] == "Intro with a link."
    assert site["language"] == "en-US"


def test_excerpt_only_leaves_out_full_content(site_dir):
    snapshot, _ = _snapshot(site_dir(POSTS, config=CONFIG + "feed: {excerpt_only: true, posts_limit: 2}\n"))
    rss = _parse(snapshot.resources["/rss.xml"].body)
    assert len(rss.entries) == 2
    assert all("content" not in e for e in rss.entries)
    assert "<content" not in snapshot.resources["/atom.xml"].body.decode()
    items = json.loads(snapshot.resources["/feed.json"].body)["items"]
    assert len(items) == 2


def test_base_url_moves_self_links_but_not_entry_links(site_dir):
    snapshot, _ = _snapshot(site_dir(POSTS, config=CONFIG), {"FEEDSVC_BASE_URL": "https://feeds.example.net/x/"})
    rss = _parse(snapshot.resources["/rss.xml"].body)
    assert [link.href for link in rss.feed.links if link.rel == "self"] == ["https://feeds.example.net/x/rss.xml"]
    assert rss.entries[0].link.startswith("https://example.org/blog/")


def test_two_builds_are_byte_identical(site_dir):
    root = site_dir(POSTS, config=CONFIG)
    first, _ = _snapshot(root)
    second, _ = _snapshot(root)
    assert {p: r.body for p, r in first.resources.items()} == {p: r.body for p, r in second.resources.items()}
    assert {p: r.etag for p, r in first.resources.items()} == {p: r.etag for p, r in second.resources.items()}


def test_xml_forbidden_characters_never_reach_a_feed(site_dir):
    posts = {"_posts/2026-01-01-ctl.md": post_text('title: "bad\\x01title\\x0b"\ntags: ["t\\x1fag"]', "a\x00b\x08c\n")}
    snapshot, _ = _snapshot(site_dir(posts, config=CONFIG))
    for resource in snapshot.resources.values():
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", resource.body)
    assert _parse(snapshot.resources["/rss.xml"].body).entries[0].title == "badtitle"


@pytest.mark.skipif(not (JEKYLL_NEWS / "_posts").is_dir(), reason="../shared/corpora/jekyll-news is not present")
def test_jekyll_news_corpus_feeds_parse_and_links_match_the_published_site():
    snapshot, settings = _snapshot(JEKYLL_NEWS)
    site = snapshot.site
    assert len(site.posts) == len(list((JEKYLL_NEWS / "_posts").iterdir()))
    for resource in _feeds(snapshot).values():
        _parse(resource.body)
    for post in site.posts:
        assert re.fullmatch(r"https://jekyllrb\.com/news/\d{4}/\d{2}/\d{2}/[a-z0-9.-]+/", post.url), post.url
    # the date of the file name, in the site's zone (America/Los_Angeles), gives the URL
    one = next(p for p in site.posts if p.source.endswith("2013-05-06-jekyll-1-0-0-released.markdown"))
    assert one.url == "https://jekyllrb.com/news/2013/05/05/jekyll-1-0-0-released/"
    assert one.date.isoformat() == "2013-05-05T17:12:52-07:00"
    categories = {s.slug for s in site.scopes if s.kind is ScopeKind.CATEGORY}
    assert {"release", "community"} <= categories


@pytest.mark.skipif(not (SAMPLE_CONTENT / "_posts").is_dir(), reason="sample content/ is missing")
def test_sample_site_feeds_are_valid_and_hide_drafts_and_future_posts():
    snapshot, settings = _snapshot(SAMPLE_CONTENT)
    assert len(snapshot.site.posts) >= 8
    for path, resource in snapshot.resources.items():
        if path.endswith(".xml"):
            _parse(resource.body)
        body = resource.body.decode()
        assert "unfinished-thoughts" not in body
        assert "spring-plans" not in body
    assert not [p for p in snapshot.site.problems if p.severity == "error"]
    kinds = {s.kind for s in snapshot.site.scopes}
    assert kinds == {ScopeKind.SITE, ScopeKind.CATEGORY, ScopeKind.TAG, ScopeKind.AUTHOR}
    assert SITE_SCOPE in snapshot.site.scopes
    assert len([s for s in snapshot.site.scopes if s.kind is ScopeKind.AUTHOR]) == 2
    assert FeedFormat.RSS.filename == "rss.xml"


def test_inline_html_in_a_title_is_html_in_atom_and_plain_text_in_rss_and_json(site_dir):
    posts = {"_posts/2026-01-01-html.md": post_text('title: "Why <em>feeds</em> &amp; <code>git</code>"')}
    snapshot, _ = _snapshot(site_dir(posts, config=CONFIG))
    rss = snapshot.resources["/rss.xml"].body.decode()
    assert "<title>Why feeds &#x26; git</title>" in rss  # no markup left for the validator to flag
    assert json.loads(snapshot.resources["/feed.json"].body)["items"][0]["title"] == "Why feeds & git"
    atom = _parse(snapshot.resources["/atom.xml"].body).entries[0]
    assert atom.title_detail.type == "text/html"
    assert atom.title == "Why <em>feeds</em> &amp; <code>git</code>"


def test_rss_items_have_one_author_element_at_most(site_dir):
    posts = {
        "_posts/2026-01-01-two-authors.md": post_text(
            "title: Pair\nauthors: [{name: Ann, email: ann@example.org}, {name: Bob, email: bob@example.org}]"),
        "_posts/2026-01-02-mixed.md": post_text("title: Mixed\nauthors: [{name: Cy, email: cy@example.org}, Di]"),
    }
    snapshot, _ = _snapshot(site_dir(posts, config=CONFIG))
    tree = etree.fromstring(snapshot.resources["/rss.xml"].body)
    dc = "{http://purl.org/dc/elements/1.1/}creator"
    for item in tree.iter("item"):
        assert item.findall("author") == []  # several authors: dc:creator for each, never both kinds
    assert [[c.text for c in item.iter(dc)] for item in tree.iter("item")] == [["Cy", "Di"], ["Ann", "Bob"]]
    atom = _parse(snapshot.resources["/atom.xml"].body)
    assert [a.name for a in atom.entries[1].authors] == ["Ann", "Bob"]


def test_opml_head_holds_only_elements_the_opml_2_spec_defines(synthetic):
    snapshot, _ = synthetic
    head = etree.fromstring(snapshot.resources["/feeds.opml"].body).find("head")
    assert {child.tag for child in head} <= {"title", "dateCreated", "dateModified", "ownerName", "ownerEmail",
                                             "ownerId", "expansionState", "vertScrollState", "windowTop",
                                             "windowLeft", "windowBottom", "windowRight"}


def test_an_atom_entrys_alternate_link_comes_before_its_enclosure(synthetic):
    snapshot, _ = synthetic
    root = etree.fromstring(snapshot.resources["/atom.xml"].body)
    atom = "{http://www.w3.org/2005/Atom}"
    with_image = [entry for entry in root.iterfind(f"{atom}entry")
                  if any(link.get("rel") == "enclosure" for link in entry.iterfind(f"{atom}link"))]
    assert with_image
    for entry in with_image:  # a reader that takes the first link sends people to the post, not its image
        assert [link.get("rel") for link in entry.iterfind(f"{atom}link")][0] == "alternate"


def test_json_feed_items_carry_json_feed_1_0s_author_beside_1_1s_authors(synthetic):
    snapshot, _ = synthetic
    feed = json.loads(snapshot.resources["/feed.json"].body)
    assert feed["author"] == feed["authors"][0]
    items = [item for item in feed["items"] if item.get("authors")]
    assert items
    for item in items:
        assert item["author"] == item["authors"][0]
