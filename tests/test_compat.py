"""Keeping subscribers: jekyll-feed and WordPress feed URLs, and the site's redirect map."""

from __future__ import annotations

import gzip

import feedparser
import pytest
from conftest import BASIC_CONFIG, post_text, settings_from

from feedsvc.cli import output_files
from feedsvc.config import ConfigError
from feedsvc.site.compat import CompatConfig
from feedsvc.web.app import create_app

POSTS = {
    "_posts/2026-01-10-alpha.md": post_text(
        "title: Alpha\ndate: 2026-01-10 09:00:00 +0100\ncategories: [Kitchen]\ntags: [Open Source, python]\n"
        "author: Ada Quill"),
    "_posts/2026-02-15-beta.md": post_text(
        "title: Beta\ndate: 2026-02-15 10:00:00 +0100\ncategories: [Garden]\ntags: [python]\n"
        "author: {name: Ben Okafor, email: ben@example.org}"),
}

BOTH = BASIC_CONFIG + """\
feedsvc:
  compat: [jekyll-feed, wordpress]
  redirects:
    /index.xml: /rss.xml
    /blog/atom.xml: /tags/python/atom.xml
    /old/日本語.rss: /categories/garden/rss.xml
    /elsewhere.xml: https://feeds.example.net/all.xml
"""

# old path -> the native feed whose bytes it must serve
JEKYLL_FEED_ROUTES = {
    "/feed.xml": "/atom.xml",
    "/feed/kitchen.xml": "/categories/kitchen/atom.xml",
    "/feed/Kitchen.xml": "/categories/kitchen/atom.xml",  # jekyll-feed names the file as the category is written
    "/feed/by_tag/python.xml": "/tags/python/atom.xml",
    "/feed/by_tag/open-source.xml": "/tags/open-source/atom.xml",
    "/feed/by_tag/Open Source.xml": "/tags/open-source/atom.xml",
}
WORDPRESS_ROUTES = {
    "/feed/": "/rss.xml",
    "/feed/rss2/": "/rss.xml",
    "/feed/atom/": "/atom.xml",
    "/category/garden/feed/": "/categories/garden/rss.xml",
    "/category/garden/feed/atom/": "/categories/garden/atom.xml",
    "/tag/python/feed/": "/tags/python/rss.xml",
    "/tag/open-source/feed/": "/tags/open-source/rss.xml",
    "/author/ben-okafor/feed/": "/authors/ben-okafor/rss.xml",
    "/author/ada-quill/feed/atom/": "/authors/ada-quill/atom.xml",
}


@pytest.fixture
def served(site_dir, make_refresher):
    """(refresher, Flask test client) for POSTS under a given `_config.yml` and environment."""

    def make(config: str = BOTH, environ: dict[str, str] | None = None):
        refresher = make_refresher(site_dir(POSTS, config=config), environ=environ)
        assert refresher.refresh("test").error is None
        app = create_app(refresher.settings, refresher.store)
        app.testing = True
        return refresher, app.test_client()

    return make


def _get(client, path: str, headers: dict[str, str] | None = None):
    return client.get(path, headers=headers or {})


# -- configuration ------------------------------------------------------------------------

def test_compatibility_routes_are_off_unless_the_site_asks_for_them():
    assert settings_from(BASIC_CONFIG).compat == CompatConfig()


def test_config_reads_styles_redirects_and_jekyll_feeds_own_path():
    settings = settings_from(BASIC_CONFIG + """\
feed: {path: /atom-feed.xml}
feedsvc:
  compat: jekyll-feed
  redirects: {/a.rss: /rss.xml, "/b%20c.xml": "https://x.example/feed"}
""")
    assert settings.compat == CompatConfig(
        jekyll_feed=True, jekyll_feed_path="/atom-feed.xml", wordpress=False,
        redirects=(("/a.rss", "/rss.xml"), ("/b c.xml", "https://x.example/feed")))


def test_environment_chooses_the_styles_and_none_turns_them_off():
    settings = settings_from(BOTH, {"FEEDSVC_COMPAT": "WordPress"})
    assert (settings.compat.jekyll_feed, settings.compat.wordpress) == (False, True)
    settings = settings_from(BOTH, {"FEEDSVC_COMPAT": "none"})
    assert (settings.compat.jekyll_feed, settings.compat.wordpress) == (False, False)
    assert settings.compat.redirects  # the redirect map is the site's own and stays


def test_every_compat_config_mistake_is_named_at_once():
    with pytest.raises(ConfigError) as caught:
        settings_from(BASIC_CONFIG + """\
feed: {path: 12}
feedsvc:
  compat: [jekyll-feed, blogger]
  redirects:
    relative.xml: /rss.xml
    /status: /rss.xml
    /q.xml?x=1: /rss.xml
    /ftp.xml: ftp://example.org/feed
    /self.xml: /self.xml
    /ok.xml: /rss.xml
""")
    problems = caught.value.problems
    assert len(problems) == 7, problems
    assert any("`feed: path`" in p for p in problems)
    assert any("'blogger'" in p and "jekyll-feed, wordpress" in p for p in problems)
    assert any("'relative.xml'" in p and "starting with /" in p for p in problems)
    assert any("'/status'" in p and "cannot be redirected" in p for p in problems)
    assert any("'/q.xml?x=1'" in p for p in problems)
    assert any("'/ftp.xml'" in p and "http(s) URL" in p for p in problems)
    assert any("'/self.xml'" in p and "itself" in p for p in problems)
    with pytest.raises(ConfigError, match="FEEDSVC_COMPAT: unknown compatibility style 'rss'"):
        settings_from(BASIC_CONFIG, {"FEEDSVC_COMPAT": "rss"})
    with pytest.raises(ConfigError, match="`feedsvc` must be a mapping"):
        settings_from(BASIC_CONFIG + "feedsvc: [wordpress]\n")


def test_an_unknown_key_under_feedsvc_is_a_warning_not_silence():
    settings = settings_from(BASIC_CONFIG + "feedsvc:\n  redirect: {/a.xml: /rss.xml}\n")
    assert any("`feedsvc: redirect` is not a feedsvc setting" in w for w in settings.warnings)
    assert settings.compat.redirects == ()


# -- the routes -----------------------------------------------------------------------------

@pytest.mark.parametrize("old, native", sorted({**JEKYLL_FEED_ROUTES, **WORDPRESS_ROUTES}.items()))
def test_each_old_url_serves_the_same_bytes_as_the_feed_it_stands_for(served, old, native):
    refresher, client = served()
    expected = refresher.store.snapshot.resources[native]
    response = _get(client, old)
    assert response.status_code == 200
    assert response.data == expected.body
    assert response.headers["Content-Type"] == expected.content_type
    assert response.headers["ETag"] == f'"{expected.etag}"'
    assert refresher.store.snapshot.aliases[old] is expected  # the same object: nothing rendered twice


@pytest.mark.parametrize("environ, on, off", [
    ({"FEEDSVC_COMPAT": "none"}, {}, {**JEKYLL_FEED_ROUTES, **WORDPRESS_ROUTES}),
    ({"FEEDSVC_COMPAT": "jekyll-feed"}, JEKYLL_FEED_ROUTES, WORDPRESS_ROUTES),
    ({"FEEDSVC_COMPAT": "wordpress"}, WORDPRESS_ROUTES, JEKYLL_FEED_ROUTES),
], ids=["none", "jekyll-feed", "wordpress"])
def test_only_the_chosen_styles_answer(served, environ, on, off):
    _, client = served(environ=environ)
    for path in on:
        assert _get(client, path).status_code == 200, path
    for path in off:
        assert _get(client, path).status_code == 404, path


def test_conditional_get_and_gzip_work_on_an_alias(served):
    refresher, client = served()
    first = _get(client, "/feed.xml")
    assert _get(client, "/feed.xml", {"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert _get(client, "/feed.xml", {"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304
    zipped = _get(client, "/feed/", {"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == refresher.store.snapshot.resources["/rss.xml"].body
    again = _get(client, "/feed/", {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.head("/category/garden/feed/").status_code == 200


def test_aliases_follow_a_refresh(served, site_dir):
    refresher, client = served()
    before = _get(client, "/feed/by_tag/python.xml")
    (refresher.content_dir / "_posts" / "2026-03-01-gamma.md").write_text(
        post_text("title: Gamma Arrives\ntags: [python]"), encoding="utf-8")
    assert refresher.refresh("test").published
    after = _get(client, "/feed/by_tag/python.xml", {"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and b"Gamma Arrives" in after.data
    assert after.data == refresher.store.snapshot.resources["/tags/python/atom.xml"].body


@pytest.mark.parametrize("old, location", [
    ("/index.xml", "https://example.org/rss.xml"),
    ("/blog/atom.xml", "https://example.org/tags/python/atom.xml"),
    ("/old/%E6%97%A5%E6%9C%AC%E8%AA%9E.rss", "https://example.org/categories/garden/rss.xml"),
    ("/elsewhere.xml", "https://feeds.example.net/all.xml"),
    ("/feed", "https://example.org/feed/"),  # WordPress's own slash-less forms
    ("/tag/python/feed", "https://example.org/tag/python/feed/"),
    ("/author/ada-quill/feed/atom", "https://example.org/author/ada-quill/feed/atom/"),
])
def test_old_urls_answer_301_with_an_absolute_location(served, old, location):
    _, client = served()
    response = _get(client, old)
    assert response.status_code == 301
    assert response.headers["Location"] == location
    assert client.head(old).status_code == 301


def test_redirect_targets_hang_from_the_public_url(served):
    _, client = served(config=BOTH + "baseurl: /blog\n", environ={"FEEDSVC_BASE_URL": "https://feeds.example.net/x"})
    assert _get(client, "/index.xml").headers["Location"] == "https://feeds.example.net/x/rss.xml"
    assert _get(client, "/feed").headers["Location"] == "https://feeds.example.net/x/feed/"


def test_own_feeds_win_over_aliases_and_aliases_over_redirects(served):
    config = BASIC_CONFIG + """\
feed: {path: /atom.xml}
feedsvc:
  compat: [jekyll-feed]
  redirects: {/rss.xml: /elsewhere.xml, /feed/by_tag/python.xml: /elsewhere.xml, /feed/nothing.xml: /rss.xml}
"""
    refresher, client = served(config=config)
    snapshot = refresher.store.snapshot
    # jekyll-feed's `feed: path: /atom.xml` is feedsvc's own Atom feed already: served once, no alias.
    assert "/atom.xml" not in snapshot.aliases
    assert _get(client, "/rss.xml").data == snapshot.resources["/rss.xml"].body
    assert _get(client, "/feed/by_tag/python.xml").status_code == 200
    assert dict(snapshot.redirects) == {"/feed/nothing.xml": "https://example.org/rss.xml"}


def test_aliases_are_not_counted_as_feeds_nor_written_by_build(served):
    refresher, client = served()
    off_refresher, off_client = served(environ={"FEEDSVC_COMPAT": "none"})
    assert _get(client, "/status").json["feeds"] == _get(off_client, "/status").json["feeds"]
    assert output_files(refresher.store.snapshot) == output_files(off_refresher.store.snapshot)


def test_a_feed_reader_follows_the_redirect_and_revalidates_an_alias_over_http(served, live_server):
    refresher, _ = served()
    server = live_server(refresher)
    # Redirect targets are absolute against the public URL: now that the port is known, point it here
    # (a changed _config.yml makes the refresher read its settings again).
    refresher.environ["FEEDSVC_BASE_URL"] = server.base
    (refresher.content_dir / "_config.yml").write_text(BOTH + "# served on 127.0.0.1\n", encoding="utf-8")
    assert refresher.refresh("test").published
    moved = feedparser.parse(server.base + "/index.xml")
    assert moved.status == 301 and not moved.bozo
    assert moved.href == server.base + "/rss.xml"
    assert {e.title for e in moved.entries} == {"Alpha", "Beta"}
    alias = feedparser.parse(server.base + "/feed/atom/")
    assert alias.status == 200 and not alias.bozo and alias.version == "atom10"
    again = feedparser.parse(server.base + "/feed/atom/", etag=alias.etag, modified=alias.modified)
    assert again.status == 304
    assert server.seen("/feed/atom/")[-1].if_none_match == alias.etag
