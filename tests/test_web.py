"""The HTTP contract, through Flask's test client: URLs, media types, caching, gzip, errors, refreshes."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import feedparser
import lxml.html
import pytest
from conftest import post_text
from lxml import etree

from feedsvc.web.app import create_app

ATOM_NS = "http://www.w3.org/2005/Atom"

POSTS = {
    "_posts/2026-01-10-alpha.md": post_text(
        """
        title: Alpha Post
        date: 2026-01-10 09:00:00 +0100
        categories: [News]
        tags: [python, web]
        author: Ada Quill
        """,
        "Alpha body with **bold** text.\n\nSecond paragraph.\n",
    ),
    "_posts/2026-02-15-beta.md": post_text(
        """
        title: Beta Post
        date: 2026-02-15 10:00:00 +0100
        categories: [News]
        tags: [python]
        author: {name: Ben Okafor, email: ben@example.org}
        """,
        "Beta body.\n",
    ),
    "_posts/2026-03-20-gamma.md": post_text(
        """
        title: Gamma Post
        date: 2026-03-20 11:00:00 +0100
        categories: [Life]
        tags: [travel]
        author: Ada Quill
        """,
        "Gamma body.\n",
    ),
    "_posts/2026-04-05-delta.md": post_text(
        """
        title: Delta Post
        date: 2026-04-05 12:00:00 +0200
        categories: [Life]
        tags: [web]
        author: {name: Ben Okafor, email: ben@example.org}
        """,
        "Delta body.\n",
    ),
}

ALL_TITLES = {"Alpha Post", "Beta Post", "Gamma Post", "Delta Post"}
FEED_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
# scope directory -> titles its feeds must show
SCOPES = {
    "/": ALL_TITLES,
    "/categories/news/": {"Alpha Post", "Beta Post"},
    "/categories/life/": {"Gamma Post", "Delta Post"},
    "/tags/python/": {"Alpha Post", "Beta Post"},
    "/tags/web/": {"Alpha Post", "Delta Post"},
    "/tags/travel/": {"Gamma Post"},
    "/authors/ada-quill/": {"Alpha Post", "Gamma Post"},
    "/authors/ben-okafor/": {"Beta Post", "Delta Post"},
}
ALL_FEED_PATHS = sorted(scope + name for scope in SCOPES for name in FEED_TYPES)
SECURITY = {"X-Content-Type-Options": "nosniff"}


class Site:
    def __init__(self, root: Path, refresher, app, client) -> None:
        self.root = root
        self.refresher = refresher
        self.app = app
        self.client = client

    @property
    def snapshot(self):
        return self.refresher.store.snapshot


@pytest.fixture
def build(site_dir, make_refresher):
    def make(files: dict[str, str | bytes] | None = None, environ: dict[str, str] | None = None) -> Site:
        root = site_dir(POSTS if files is None else files)
        refresher = make_refresher(root, environ=environ)
        report = refresher.refresh()
        assert report.error is None
        app = create_app(refresher.settings, refresher.store)
        app.testing = True
        return Site(root, refresher, app, app.test_client())

    return make


@pytest.fixture
def site(build) -> Site:
    return build()


@pytest.fixture
def client(site):
    return site.client


def _titles(body: bytes) -> set[str]:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return {entry.title for entry in parsed.entries}


def _titles_of(response) -> set[str]:
    if response.mimetype == "application/feed+json":
        return {item["title"] for item in json.loads(response.data)["items"]}
    return _titles(response.data)


def _touch(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


# -- every URL of the contract ----------------------------------------------------------

def test_index_is_html_with_feed_autodiscovery(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    doc = lxml.html.fromstring(response.data)
    links = {(link.get("type"), link.get("href")) for link in doc.xpath("//head/link[@rel='alternate']")}
    assert links == {
        ("application/rss+xml", "https://example.org/rss.xml"),
        ("application/atom+xml", "https://example.org/atom.xml"),
        ("application/feed+json", "https://example.org/feed.json"),
    }
    assert b"Test Site" in response.data


@pytest.mark.parametrize("path", ["/rss.xml", "/atom.xml", "/feed.json"])
def test_site_feeds_serve_with_their_media_type_and_every_post(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FEED_TYPES[path.lstrip("/")]
    assert _titles_of(response) == ALL_TITLES


@pytest.mark.parametrize("path", [p for p in ALL_FEED_PATHS if p.count("/") == 3])
def test_scope_feeds_serve_with_their_media_type_and_only_their_posts(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    scope, name = path.rsplit("/", 1)
    assert response.headers["Content-Type"] == FEED_TYPES[name]
    assert _titles_of(response) == SCOPES[scope + "/"]


def test_author_with_email_is_named_in_rss_atom_and_json(client):
    rss = feedparser.parse(client.get("/authors/ben-okafor/rss.xml").data)
    assert {e.author for e in rss.entries} == {"ben@example.org (Ben Okafor)"}
    atom = feedparser.parse(client.get("/authors/ben-okafor/atom.xml").data)
    assert {(e.author_detail.name, e.author_detail.email) for e in atom.entries} == {("Ben Okafor", "ben@example.org")}
    data = json.loads(client.get("/authors/ben-okafor/feed.json").data)
    assert {a["name"] for item in data["items"] for a in item["authors"]} == {"Ben Okafor"}
    assert "email" not in json.dumps(data["items"])  # JSON Feed authors have no email field
    ada = feedparser.parse(client.get("/authors/ada-quill/rss.xml").data)
    assert {e.author for e in ada.entries} == {"Ada Quill"}  # dc:creator for a name without email


def test_every_snapshot_feed_is_listed_in_the_opml(site):
    response = site.client.get("/feeds.opml")
    assert response.status_code == 200
    assert response.mimetype == "text/x-opml"
    root = etree.fromstring(response.data)
    assert root.tag == "opml"
    xml_urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert len(xml_urls) == len(set(xml_urls))
    served = {p for p in site.snapshot.resources if p.endswith(("rss.xml", "atom.xml", "feed.json"))}
    assert served == set(ALL_FEED_PATHS)
    assert set(xml_urls) == {"https://example.org" + p for p in served}
    for url in xml_urls:  # and every URL it lists answers
        assert site.client.get(url.removeprefix("https://example.org")).status_code == 200, url


def test_status_reports_counts_scan_and_problems(build, clock):
    broken = "_posts/2026-05-01-broken.md"
    site = build({**POSTS, broken: "---\ntitle: [unclosed\n---\nbody\n"})
    response = site.client.get("/status")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert data["ready"] is True
    assert data["posts"] == 4
    assert data["feeds"] == len(ALL_FEED_PATHS)
    assert data["last_scan"]["at"] == clock.now.isoformat()
    assert isinstance(data["last_scan"]["seconds"], (int, float)) and data["last_scan"]["seconds"] >= 0
    assert isinstance(data["problems"], list)
    listed = [p for p in data["problems"] if p["path"] == broken]
    assert listed, data["problems"]
    assert all(isinstance(p["message"], str) and p["message"] for p in data["problems"])
    assert any("YAML" in p["message"] for p in listed)
    assert data["errors"] >= 1
    assert response.headers["Cache-Control"] == "no-store"


def test_status_has_no_problems_for_a_clean_site(client):
    data = client.get("/status").get_json()
    assert data["problems"] == [] and data["errors"] == 0 and data["degraded"] is False


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.data.startswith(b"ok")


def test_before_the_first_refresh_feeds_and_health_say_503(site_dir, make_refresher):
    refresher = make_refresher(site_dir(POSTS))
    refresher.refresh()
    from feedsvc.snapshot import SnapshotStore

    client = create_app(refresher.settings, SnapshotStore()).test_client()
    assert client.get("/healthz").status_code == 503
    response = client.get("/rss.xml")
    assert response.status_code == 503 and "Retry-After" in response.headers


# -- caching -------------------------------------------------------------------------

def test_feeds_carry_strong_etag_last_modified_and_cache_control(client):
    for path in ("/rss.xml", "/atom.xml", "/feed.json", "/tags/python/rss.xml", "/feeds.opml", "/"):
        response = client.get(path)
        etag = response.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/"), (path, etag)
        assert "Last-Modified" in response.headers, path
        parsedate_to_datetime(response.headers["Last-Modified"])
        assert response.headers["Cache-Control"] == "public, max-age=300", path


def test_last_modified_is_no_earlier_than_the_newest_entry_and_not_in_the_future(client):
    now = datetime.now(UTC) + timedelta(seconds=2)
    for path, newest in (("/rss.xml", "Sun, 05 Apr 2026 10:00:00 GMT"),  # Delta, 12:00 +0200
                         ("/tags/travel/rss.xml", "Fri, 20 Mar 2026 10:00:00 GMT")):  # Gamma, 11:00 +0100
        last_modified = parsedate_to_datetime(client.get(path).headers["Last-Modified"])
        assert parsedate_to_datetime(newest) <= last_modified <= now, (path, last_modified)


def test_if_none_match_exact_tag_gives_304_with_empty_body(client):
    etag = client.get("/rss.xml").headers["ETag"]
    response = client.get("/rss.xml", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag


def test_if_none_match_list_containing_the_tag_gives_304(client):
    etag = client.get("/atom.xml").headers["ETag"]
    response = client.get("/atom.xml", headers={"If-None-Match": f'"nope-1", {etag}, "nope-2"'})
    assert response.status_code == 304


def test_if_none_match_star_gives_304(client):
    assert client.get("/feed.json", headers={"If-None-Match": "*"}).status_code == 304


def test_if_none_match_weak_form_of_the_tag_gives_304(client):
    etag = client.get("/rss.xml").headers["ETag"]
    assert client.get("/rss.xml", headers={"If-None-Match": "W/" + etag}).status_code == 304


def test_if_none_match_other_tag_gives_200(client):
    response = client.get("/rss.xml", headers={"If-None-Match": '"0123456789abcdef"'})
    assert response.status_code == 200
    assert _titles(response.data) == ALL_TITLES


def test_if_modified_since_equal_gives_304_and_earlier_gives_200(client):
    last_modified = client.get("/rss.xml").headers["Last-Modified"]
    assert client.get("/rss.xml", headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), usegmt=True)
    response = client.get("/rss.xml", headers={"If-Modified-Since": earlier})
    assert response.status_code == 200 and response.data


def test_if_none_match_takes_precedence_over_if_modified_since(client):
    first = client.get("/rss.xml")
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(days=1), usegmt=True)
    # A non-matching tag wins over a date that alone would give 304 ...
    assert client.get("/rss.xml", headers={"If-None-Match": '"other"', "If-Modified-Since": last_modified}
                      ).status_code == 200
    # ... and a matching tag wins over a date that alone would give 200.
    assert client.get("/rss.xml", headers={"If-None-Match": etag, "If-Modified-Since": earlier}
                      ).status_code == 304


# -- gzip ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/rss.xml", "/atom.xml", "/feed.json", "/categories/news/atom.xml"])
def test_gzip_variant_decompresses_to_the_identity_body(client, path):
    identity = client.get(path)
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in identity.headers
    assert gzip.decompress(zipped.data) == identity.data
    assert zipped.headers["Content-Type"] == identity.headers["Content-Type"]
    assert int(zipped.headers["Content-Length"]) == len(zipped.data)
    for response in (identity, zipped):
        vary = [v.strip().lower() for v in response.headers.get("Vary", "").split(",")]
        assert "accept-encoding" in vary
    assert zipped.headers["ETag"] != identity.headers["ETag"]


def test_gzip_variant_etag_gives_304_when_gzip_is_accepted(client):
    etag = client.get("/rss.xml", headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    response = client.get("/rss.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert response.status_code == 304 and response.data == b""
    # the identity variant is a different representation: its tag does not match the gzip one
    assert client.get("/rss.xml", headers={"If-None-Match": etag}).status_code == 200


@pytest.mark.parametrize("accept", ["gzip;q=0", "gzip;q=0, *", "identity", "br"])
def test_gzip_not_acceptable_gives_identity(client, accept):
    identity = client.get("/rss.xml")
    response = client.get("/rss.xml", headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.data == identity.data
    assert response.headers["ETag"] == identity.headers["ETag"]


# -- HEAD, errors, methods ---------------------------------------------------------------

@pytest.mark.parametrize("path", ["/rss.xml", "/tags/web/feed.json", "/"])
def test_head_has_get_headers_and_no_body(client, path):
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == 200
    assert head.data == b""
    assert int(head.headers["Content-Length"]) == len(get.data)
    for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "Vary"):
        assert head.headers.get(name) == get.headers.get(name), name


@pytest.mark.parametrize("path", ["/tags/nope/rss.xml", "/nope", "/categories/../rss.xml", "/%2e%2e/rss.xml",
                                  "/tags/nope/", "/tags/python/rss.xml/", "/rss.xml.gz"])
def test_unknown_paths_are_plain_404(client, path):
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.mimetype == "text/plain"
    assert b"<" not in response.data
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_writes_to_a_feed_are_405(client, method):
    response = client.open("/rss.xml", method=method, data=b"x")
    assert response.status_code == 405
    assert response.mimetype == "text/plain"
    assert "GET" in response.headers.get("Allow", "")


# -- refresh swaps what is served ----------------------------------------------------------

def test_a_refresh_after_an_edit_is_served_and_unchanged_feeds_keep_their_etag(site):
    client = site.client
    before = {path: client.get(path).headers["ETag"] for path in ALL_FEED_PATHS}
    before_gz = client.get("/tags/travel/rss.xml", headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    before_lm = {path: client.get(path).headers["Last-Modified"] for path in ALL_FEED_PATHS}
    alpha = site.root / "_posts/2026-01-10-alpha.md"
    _touch(alpha, alpha.read_text(encoding="utf-8").replace("title: Alpha Post", "title: Alpha Renamed"))
    report = site.refresher.refresh()
    assert report.published

    response = client.get("/rss.xml")
    assert "Alpha Renamed" in _titles(response.data)
    assert "Alpha Post" not in _titles(response.data)
    assert response.headers["ETag"] != before["/rss.xml"]
    assert client.get("/rss.xml", headers={"If-None-Match": before["/rss.xml"]}).status_code == 200
    after = {path: client.get(path).headers["ETag"] for path in ALL_FEED_PATHS}
    showing_alpha = {p for p in ALL_FEED_PATHS if "Alpha Post" in SCOPES[p.rsplit("/", 1)[0] + "/"]}
    assert {p for p in ALL_FEED_PATHS if after[p] != before[p]} == showing_alpha
    for path in ("/tags/travel/rss.xml", "/tags/travel/atom.xml", "/tags/travel/feed.json",
                 "/categories/life/rss.xml", "/authors/ben-okafor/atom.xml"):
        assert after[path] == before[path], path  # byte-for-byte the same tag
        assert client.get(path).headers["Last-Modified"] == before_lm[path], path
        assert client.get(path, headers={"If-None-Match": before[path]}).status_code == 304
    assert client.get("/tags/travel/rss.xml", headers={"Accept-Encoding": "gzip"}).headers["ETag"] == before_gz


def test_a_new_post_appears_after_refresh(site):
    (site.root / "_posts/2026-05-01-epsilon.md").write_text(
        post_text("title: Epsilon Post\ntags: [travel]"), encoding="utf-8")
    site.refresher.refresh()
    assert "Epsilon Post" in _titles(site.client.get("/rss.xml").data)
    assert _titles(site.client.get("/tags/travel/rss.xml").data) == {"Gamma Post", "Epsilon Post"}
    assert site.client.get("/status").get_json()["posts"] == 5


@pytest.mark.parametrize("change", ["retitle the newest post", "delete the newest post"])
def test_if_modified_since_alone_gets_200_once_the_feed_changed(site, change):
    """Last-Modified must move forward whenever the bytes change, even when no entry date does.

    A retitled post keeps its date and a deleted newest post moves the newest date back; either way a
    client revalidating with If-Modified-Since only must get the new feed, not a stale 304.
    """
    client = site.client
    first = client.get("/rss.xml")
    delta = site.root / "_posts/2026-04-05-delta.md"
    if change.startswith("delete"):
        delta.unlink()
    else:
        _touch(delta, delta.read_text(encoding="utf-8").replace("title: Delta Post", "title: Delta Renamed"))
    assert site.refresher.refresh().published
    changed = client.get("/rss.xml")
    assert changed.data != first.data and changed.headers["ETag"] != first.headers["ETag"]
    response = client.get("/rss.xml", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert response.status_code == 200, (
        f"feed changed but Last-Modified went {first.headers['Last-Modified']} -> "
        f"{changed.headers['Last-Modified']}, so If-Modified-Since gives a stale 304")
    assert client.get("/rss.xml", headers={"If-Modified-Since": changed.headers["Last-Modified"]}
                      ).status_code == 304


@pytest.mark.parametrize("change", ["delete the newest post", "retitle the site in _config.yml"])
def test_if_modified_since_after_a_restart_gets_200_for_a_changed_feed(site, make_refresher, change):
    """The change happens while the service is down (a deploy), then it starts again.

    The new process remembers no previous Last-Modified; a deleted post leaves no file behind, but
    its folder's mtime moves, and `_config.yml`'s mtime counts too. HTTP dates have one-second
    resolution and a restart takes longer than that: the folder's clock is moved on by 2 s.
    """
    first = site.client.get("/rss.xml")
    if change.startswith("delete"):
        (site.root / "_posts/2026-04-05-delta.md").unlink()
        changed_path = site.root / "_posts"
    else:
        changed_path = site.root / "_config.yml"
        renamed = changed_path.read_text(encoding="utf-8").replace("title: Test Site", "title: Renamed Site")
        _touch(changed_path, renamed)
    stat = changed_path.stat()
    os.utime(changed_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    restarted = make_refresher(site.root)  # a new process: new store, nothing remembered
    restarted.refresh("startup")
    client = create_app(restarted.settings, restarted.store).test_client()
    changed = client.get("/rss.xml")
    assert changed.data != first.data and changed.headers["ETag"] != first.headers["ETag"]
    response = client.get("/rss.xml", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert response.status_code == 200, (
        f"feed changed across a restart but Last-Modified went {first.headers['Last-Modified']} -> "
        f"{changed.headers['Last-Modified']}, so If-Modified-Since gives a stale 304")


def test_non_ascii_and_colliding_slugs_are_served_at_the_urls_the_opml_lists(build):
    site = build({**POSTS, "_posts/2026-05-02-uni.md": post_text(
        "title: Uni\ntags: [café, 'C++', 'C#', 'x y']\ncategories: [Ünïcode Straße]\nauthor: José Müller")})
    opml = etree.fromstring(site.client.get("/feeds.opml").data)
    urls = [o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")]
    assert "https://example.org/tags/caf%C3%A9/rss.xml" in urls
    assert "https://example.org/authors/jos%C3%A9-m%C3%BCller/feed.json" in urls
    assert "https://example.org/categories/%C3%BCn%C3%AFcode-strasse/atom.xml" in urls
    c_tags = {u for u in urls if "/tags/c" in u and u.endswith("/rss.xml") and "caf" not in u}
    assert len(c_tags) == 2  # "C++" and "C#" both slug to "c": one keeps it, the other gets a suffix
    for url in urls:  # the test client percent-decodes these paths exactly as a WSGI server would
        response = site.client.get(url.removeprefix("https://example.org"))
        assert response.status_code == 200, url
        if any(part in url for part in ("caf%C3%A9", "jos%C3%A9", "%C3%BCn%C3%AFcode")):
            assert _titles_of(response) == {"Uni"}, url


# -- public base URL -------------------------------------------------------------------

def test_base_url_changes_self_links_but_not_entry_links(build):
    site = build(environ={"FEEDSVC_BASE_URL": "https://feeds.example.net/sub"})
    client = site.client
    public = "https://feeds.example.net/sub"

    rss = etree.fromstring(client.get("/rss.xml").data)
    [self_link] = rss.findall(f"channel/{{{ATOM_NS}}}link[@rel='self']")
    assert self_link.get("href") == public + "/rss.xml"
    assert rss.findtext("channel/link") == "https://example.org/"
    item_links = [link.text for link in rss.iterfind("channel/item/link")]
    assert len(item_links) == 4 and all(u.startswith("https://example.org/") for u in item_links)

    atom = etree.fromstring(client.get("/atom.xml").data)
    [self_link] = atom.findall(f"{{{ATOM_NS}}}link[@rel='self']")
    assert self_link.get("href") == public + "/atom.xml"
    entry_links = [link.get("href") for link in atom.iterfind(f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}link")]
    assert len(entry_links) == 4 and all(u.startswith("https://example.org/") for u in entry_links)

    data = json.loads(client.get("/feed.json").data)
    assert data["feed_url"] == public + "/feed.json"
    assert data["home_page_url"] == "https://example.org/"
    assert all(item["url"].startswith("https://example.org/") for item in data["items"])

    tag = etree.fromstring(client.get("/tags/python/rss.xml").data)
    assert tag.find(f"channel/{{{ATOM_NS}}}link[@rel='self']").get("href") == public + "/tags/python/rss.xml"

    index = lxml.html.fromstring(client.get("/").data)
    assert {link.get("href") for link in index.xpath("//head/link[@rel='alternate']")} == {
        public + "/rss.xml", public + "/atom.xml", public + "/feed.json"}
    opml = etree.fromstring(client.get("/feeds.opml").data)
    assert all(o.get("xmlUrl").startswith(public + "/") for o in opml.iter("outline") if o.get("xmlUrl"))


# -- security headers ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/rss.xml", "/feed.json", "/feeds.opml", "/status", "/healthz", "/nope"])
def test_nosniff_on_every_response(client, path):
    response = client.get(path)
    for name, value in SECURITY.items():
        assert response.headers.get(name) == value, (path, name)


def test_nosniff_on_304_and_405(client):
    etag = client.get("/rss.xml").headers["ETag"]
    assert client.get("/rss.xml", headers={"If-None-Match": etag}).headers["X-Content-Type-Options"] == "nosniff"
    assert client.post("/rss.xml").headers["X-Content-Type-Options"] == "nosniff"


def test_index_has_a_restrictive_content_security_policy(client):
    csp = client.get("/").headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["default-src"] == ["'none'"]
    assert "script-src" not in directives  # no scripts at all: default-src 'none' applies
    assert directives.get("frame-ancestors") == ["'none'"]
