"""Proven by software nobody on this team wrote: feedparser, newsboat and the JSON Feed 1.1 schema.

Each runs against the real service on 127.0.0.1 (or its bytes). A missing tool skips with the
reason locally and fails in CI (`.ci/run` sets FEEDSVC_REQUIRE_TOOLS=1 and installs them).
"""

from __future__ import annotations

import copy
import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import feedparser
import pytest
from conftest import JEKYLL_NEWS, ROOT, SAMPLE_CONTENT, post_text, require_tool
from jsonschema import Draft7Validator
from jsonschema.validators import validator_for

from feedsvc.model import FeedFormat
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore
from feedsvc.urls import escape_path, feed_path

FIXED_NOW = datetime(2026, 11, 1, tzinfo=UTC)
SITES = [pytest.param(SAMPLE_CONTENT, id="sample-site"), pytest.param(JEKYLL_NEWS, id="jekyll-news")]


def _refresher(root: Path, environ: dict[str, str] | None = None) -> Refresher:
    refresher = Refresher(SnapshotStore(), root, environ or {}, clock=lambda: FIXED_NOW)
    report = refresher.refresh("test")
    assert report.error is None, report.error
    return refresher


def _site(root: Path) -> Refresher:
    if not (root / "_posts").is_dir():
        pytest.skip(f"{root} is not present (the corpora live in ../shared/corpora)")
    return _refresher(root)


# -- feedparser, over HTTP ------------------------------------------------------------------

@pytest.mark.parametrize("root", SITES)
def test_feedparser_fetches_every_feed_without_bozo_and_revalidates_to_304(root, live_server):
    refresher = _site(root)
    server = live_server(refresher)
    site = refresher.store.snapshot.site
    limit = refresher.settings.feed_limit
    checked = 0
    for scope, posts in site.scopes.items():
        for fmt in (FeedFormat.RSS, FeedFormat.ATOM):
            path = feed_path(scope, fmt)
            url = server.base + escape_path(path)
            first = feedparser.parse(url)
            assert first.status == 200 and not first.bozo, (path, first.get("bozo_exception"))
            assert first.version == ("rss20" if fmt is FeedFormat.RSS else "atom10")
            assert [e.link for e in first.entries] == [p.url for p in posts[:limit]], path
            again = feedparser.parse(url, etag=first.etag, modified=first.modified)
            assert again.status == 304 and again.entries == [], path
            seen = server.seen(path)[-1]
            assert (seen.if_none_match, seen.if_modified_since, seen.status) == (first.etag, first.modified, 304)
            checked += 1
    assert checked == 2 * len(site.scopes)


def test_feedparser_revalidates_with_either_validator_alone(site_dir, live_server):
    server = live_server(_refresher(site_dir(NEWSBOAT_POSTS)))
    url = server.base + "/atom.xml"
    first = feedparser.parse(url)
    assert first.status == 200 and first.etag and first.modified
    assert feedparser.parse(url, etag=first.etag).status == 304
    assert feedparser.parse(url, modified=first.modified).status == 304
    assert feedparser.parse(url, etag='"something-else"').status == 200


# -- newsboat, a terminal feed reader, without a terminal -------------------------------------

NEWSBOAT_POSTS = {
    "_posts/2026-01-05-first.md": post_text(
        'title: "Salt & <Pepper>"\ndate: 2026-01-05 09:30:00 -0500\ntags: [salt]\n'
        "author: {name: Ben Okafor, email: ben@example.org}"),
    "_posts/2026-02-10-second.md": post_text(
        "title: Second <em>post</em>\ndate: 2026-02-10\ntags: [salt]\nauthor: Ada Quill\n"
        "last_modified_at: 2026-03-01 10:00:00 +0100"),
    "_posts/2026-03-15-third.md": post_text("title: Third\ndate: 2026-03-15T08:00:00Z"),
}
NEW_POST = ("_posts/2026-04-01-fourth.md",
            post_text("title: Fourth, freshly added\ndate: 2026-04-01 07:00:00 +0200\ntags: [salt]\nauthor: Ada Quill"))

# guid -> (title, author, link, publication instant) as a reader must store them. BASIC_CONFIG: pretty
# permalinks, site owner "Site Owner", time zone Europe/Berlin (a date without time is midnight there).
ENTRIES = {
    "first": ("Salt & <Pepper>", "Ben Okafor", "https://example.org/2026/01/05/first/", "2026-01-05T09:30:00-05:00"),
    "second": ("Second post", "Ada Quill", "https://example.org/2026/02/10/second/", "2026-02-10T00:00:00+01:00"),
    "third": ("Third", "Site Owner", "https://example.org/2026/03/15/third/", "2026-03-15T08:00:00+00:00"),
    "fourth": ("Fourth, freshly added", "Ada Quill", "https://example.org/2026/04/01/fourth/",
               "2026-04-01T07:00:00+02:00"),
}
NEWSBOAT_FEEDS = {  # feed path -> the entries it shows before the new post
    "/rss.xml": ("first", "second", "third"),
    "/atom.xml": ("first", "second", "third"),
    "/tags/salt/rss.xml": ("first", "second"),
    "/authors/ada-quill/atom.xml": ("second",),
}
NEWSBOAT_CONFIG = "download-retries 1\ndownload-timeout 20\nreload-threads 1\n"


class Newsboat:
    """One newsboat cache for one feed URL (newsboat keys items by guid across a whole cache)."""

    def __init__(self, executable: str, folder: Path, url: str) -> None:
        folder.mkdir(parents=True)
        self.executable = executable
        self.folder = folder
        (folder / "urls").write_text(url + "\n", encoding="utf-8")
        (folder / "config").write_text(NEWSBOAT_CONFIG, encoding="utf-8")
        self.cache = folder / "cache.db"

    def reload(self) -> None:
        result = subprocess.run(
            [self.executable, "-q", "-u", str(self.folder / "urls"), "-c", str(self.cache),
             "-C", str(self.folder / "config"), "-x", "reload"],
            env={"HOME": str(self.folder), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr.decode(errors="replace")

    def _query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.cache) as db:
            return db.execute(sql).fetchall()

    def items(self) -> dict[str, tuple[str, str, str, int]]:
        rows = self._query("SELECT guid, title, author, url, pubDate FROM rss_item WHERE deleted = 0")
        return {guid: (title, author, url, date) for guid, title, author, url, date in rows}

    def validators(self) -> tuple[int, str]:
        [(last_modified, etag)] = self._query("SELECT lastmodified, etag FROM rss_feed")
        return last_modified, etag


def _expected(*names: str, atom: bool = False) -> dict[str, tuple[str, str, str, int]]:
    """guid -> what newsboat stores; an Atom entry's guid is its id, jekyll-feed's (the link without `/`)."""
    rows = {}
    for name in names:
        title, author, link, published = ENTRIES[name]
        guid = link.rstrip("/") if atom else link
        rows[guid] = (title, author, link, int(datetime.fromisoformat(published).timestamp()))
    return rows


@pytest.fixture
def newsboat() -> str:
    executable = shutil.which("newsboat")
    require_tool("newsboat", executable is not None, "Debian package `newsboat`; .ci/run installs it")
    assert executable is not None
    return executable


@pytest.mark.parametrize("path", list(NEWSBOAT_FEEDS))
def test_newsboat_stores_every_entry_revalidates_and_picks_up_a_new_post(
        newsboat, path, site_dir, make_refresher, live_server, tmp_path):
    root = site_dir(NEWSBOAT_POSTS)
    refresher = make_refresher(root)
    assert refresher.refresh("test").error is None
    server = live_server(refresher)
    reader = Newsboat(newsboat, tmp_path / "newsboat", server.base + path)
    shown = NEWSBOAT_FEEDS[path]

    def served():
        resource = refresher.store.snapshot.resources[path]
        return resource, (int(resource.last_modified.timestamp()), f'"{resource.gzip_etag}"')

    # 1. Every entry stored with the right guid, title, link, author and date (a date newsboat
    #    could not read would have become the fetch time).
    reader.reload()
    assert [r.status for r in server.seen(path)] == [200]
    assert reader.items() == _expected(*shown, atom=path.endswith("atom.xml"))

    # 2. newsboat 2.21 keeps the validators only from its second fetch on (newsboat issue 2734);
    #    a newsboat without that bug sends them already here and gets 304.
    reader.reload()
    second = server.seen(path)[-1]
    assert (second.if_none_match is None and second.status == 200) or second.status == 304
    resource, validators = served()
    assert reader.validators() == validators

    # 3. It sends both validators and gets 304; nothing changes in its cache.
    reader.reload()
    third = server.seen(path)[-1]
    assert (third.if_none_match, third.if_modified_since, third.status) == (
        validators[1], format_datetime(resource.last_modified, usegmt=True), 304)
    assert reader.items() == _expected(*shown, atom=path.endswith("atom.xml"))

    # 4. A new post, refreshed in-process: the old validators no longer match and the entry is stored.
    relpath, text = NEW_POST
    (root / relpath).write_text(text, encoding="utf-8")
    report = refresher.refresh("test")
    assert report.added == (relpath,)
    assert path in report.feeds_changed  # every feed under test shows the new post
    reader.reload()
    fourth = server.seen(path)[-1]
    assert (fourth.if_none_match, fourth.status) == (validators[1], 200)
    assert reader.items() == _expected(*shown, "fourth", atom=path.endswith("atom.xml"))

    # 5. It took over the new validators: the next reload is a 304 again.
    reader.reload()
    _, new_validators = served()
    assert new_validators != validators
    assert (server.seen(path)[-1].if_none_match, server.seen(path)[-1].status) == (new_validators[1], 304)
    assert reader.validators() == new_validators


# -- JSON Feed 1.1 schema (npm package jsonfeed-schema) -----------------------------------------

SCHEMA_PACKAGE = ROOT / "tests" / "npm" / "node_modules" / "jsonfeed-schema"


@pytest.fixture(scope="module")
def jsonfeed_schema() -> Draft7Validator:
    schema_path = SCHEMA_PACKAGE / "schema-v1.1.json"
    require_tool("npm package jsonfeed-schema", schema_path.is_file(),
                 "`make test` installs it with npm into tests/npm/node_modules")
    pinned = json.loads((ROOT / "tests" / "npm" / "package.json").read_text())["dependencies"]["jsonfeed-schema"]
    assert json.loads((SCHEMA_PACKAGE / "package.json").read_text())["version"] == pinned
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    assert schema["description"] == "JSON Feed Version 1.1"
    cls = validator_for(schema)
    cls.check_schema(schema)
    checker = cls.FORMAT_CHECKER
    # jsonschema passes any format it has no checker for: both formats the schema uses must really be checked.
    assert not checker.conforms("feed.json", "uri") and checker.conforms("https://example.org/a%20b", "uri")
    assert not checker.conforms("2026-01-05", "date-time") and checker.conforms("2026-01-05T09:30:00-05:00",
                                                                                   "date-time")
    return cls(schema, format_checker=checker)


def _schema_errors(validator: Draft7Validator, body: bytes) -> list[str]:
    document = json.loads(body)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def _json_feeds(refresher: Refresher) -> dict[str, bytes]:
    resources = refresher.store.snapshot.resources
    feeds = {path: r.body for path, r in resources.items() if path.endswith("/" + FeedFormat.JSON.filename)}
    assert len(feeds) == len(refresher.store.snapshot.site.scopes)
    return feeds


@pytest.mark.parametrize("root", SITES)
def test_every_json_feed_of_the_sample_site_and_corpora_validates_against_the_schema(root, jsonfeed_schema):
    for path, body in _json_feeds(_site(root)).items():
        assert _schema_errors(jsonfeed_schema, body) == [], path


EDGE_POSTS = {
    "_posts/2026-01-01-unicode.md": post_text(
        "title: 日本語のタイトル\ncategories: [Ünïcode Things]\ntags: [日本語, C++, c]\n"
        "authors: [{name: Ann, url: https://ann.example/}, {name: Bob, email: bob@example.org}]\n"
        "image: {path: /img/a b.png, alt: An image}"),
    "_posts/2026-01-02-bare.md": "---\n---\nNo title, no author, no tags.\n",
    "_posts/2026-01-03-html-title.md": post_text('title: "Why <em>feeds</em> &amp; <code>git</code>"',
                                                 "Body with an ![image](rel/pic.jpg).\n"),
}


@pytest.mark.parametrize("extra, environ", [
    ("", {}),
    ("baseurl: /my blog\nfeed: {excerpt_only: true}\n", {"FEEDSVC_BASE_URL": "https://feeds.example.net/x/"}),
    ("author: ''\n", {}),
], ids=["plain", "baseurl-excerpts", "no-site-author"])
def test_json_feeds_of_unusual_posts_validate_against_the_schema(site_dir, jsonfeed_schema, extra, environ):
    config = "title: Edge\nurl: https://example.org\n" + extra
    for path, body in _json_feeds(_refresher(site_dir(EDGE_POSTS, config=config), environ)).items():
        assert _schema_errors(jsonfeed_schema, body) == [], path


def test_the_schema_check_catches_what_a_broken_feed_would_get_wrong(site_dir, jsonfeed_schema):
    body = _refresher(site_dir(EDGE_POSTS, config="title: Edge\nurl: https://example.org\n")) \
        .store.snapshot.resources["/feed.json"].body
    good = json.loads(body)
    cases = {
        "items/0/date_published": lambda f: f["items"][0].update(date_published="2026-01-03"),
        "feed_url": lambda f: f.update(feed_url="feed.json"),
        "items/1": lambda f: f["items"][1].pop("id"),
        "items/2/authors/0": lambda f: f["items"][2].update(authors=[{}]),
        "version": lambda f: f.update(version="https://jsonfeed.org/version/2"),
    }
    for where, breaks in cases.items():
        broken = copy.deepcopy(good)
        breaks(broken)
        errors = _schema_errors(jsonfeed_schema, json.dumps(broken).encode())
        assert any(e.startswith(where + ":") for e in errors), (where, errors)


# -- archive pages and filtered feeds, read by the same independent clients ------------------

def _prev_archive(headers) -> str | None:
    for value in (headers.get("link") or headers.get("Link") or "").split(", "):
        url, _, rel = value.partition(">; rel=")
        if rel == '"prev-archive"':
            return url.lstrip("<")
    return None


@pytest.mark.parametrize("fmt", [FeedFormat.RSS, FeedFormat.ATOM])
def test_feedparser_backfills_every_scope_of_a_real_site_through_its_archives(live_server, fmt):
    if not (JEKYLL_NEWS / "_posts").is_dir():
        pytest.skip(f"{JEKYLL_NEWS} is not present (the corpora live in ../shared/corpora)")
    refresher = _refresher(JEKYLL_NEWS, {"FEEDSVC_FEED_LIMIT": "7"})
    server = live_server(refresher)
    site = refresher.store.snapshot.site
    public = refresher.settings.public_url
    archives = 0
    for scope, posts in site.scopes.items():
        path = feed_path(scope, fmt)
        first = feedparser.parse(server.base + escape_path(path))
        assert first.status == 200 and not first.bozo, path
        links = [entry.link for entry in first.entries]
        url = _prev_archive(first.headers)
        while url:
            page = feedparser.parse(server.base + url.removeprefix(public))
            assert page.status == 200 and not page.bozo, (url, page.get("bozo_exception"))
            assert {link.rel: link.href for link in page.feed.links}["current"] == public + escape_path(path)
            links += [entry.link for entry in page.entries]
            again = feedparser.parse(server.base + url.removeprefix(public), etag=page.etag, modified=page.modified)
            assert again.status == 304, url
            url = {link.rel: link.href for link in page.feed.links}.get("prev-archive")
            archives += 1
        assert sorted(set(links)) == sorted(post.url for post in posts), path
    assert archives >= len(site.posts) // 7  # the site scope alone has that many pages


def test_archive_pages_and_filtered_json_feeds_validate_against_the_schema(site_dir, jsonfeed_schema):
    posts = {f"_posts/2026-01-{n:02d}-p{n}.md": post_text(f"title: P{n}\ntags: [{'a' if n % 2 else 'b'}, c]")
             for n in range(1, 12)}
    refresher = _refresher(site_dir(posts), {"FEEDSVC_FEED_LIMIT": "3"})
    from feedsvc.web.app import create_app

    client = create_app(refresher.settings, refresher.store).test_client()
    paths = ["/archive/1/feed.json", "/archive/3/feed.json", "/tags/a/archive/2/feed.json",
             "/feed.json?tags=a,b", "/tags/c/feed.json?tags=a&tags=c"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert _schema_errors(jsonfeed_schema, response.data) == [], path


def test_newsboat_reads_an_archive_page_and_a_filtered_feed(newsboat, site_dir, make_refresher, live_server,
                                                            tmp_path):
    refresher = make_refresher(site_dir(NEWSBOAT_POSTS), {"FEEDSVC_FEED_LIMIT": "1"})
    assert refresher.refresh("test").error is None
    server = live_server(refresher)
    for name, path, shown in (("archive", "/archive/1/rss.xml", ("first",)),
                              ("archive-atom", "/tags/salt/archive/2/atom.xml", ("second",)),
                              ("filter", "/rss.xml?tags=salt&authors=ben-okafor", ("first",))):
        reader = Newsboat(newsboat, tmp_path / name, server.base + path)
        reader.reload()
        assert reader.items() == _expected(*shown, atom=path.endswith("atom.xml")), path
        reader.reload()
        reader.reload()
        assert server.requests[-1].status == 304, path  # it revalidates these like any feed
