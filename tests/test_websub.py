"""WebSub: feeds name their hubs (in the body and in Link headers), and changed feeds are pinged to them."""

from __future__ import annotations

import json

import feedparser
import pytest
from conftest import post_text, settings_from
from lxml import etree

from feedsvc.config import ConfigError
from feedsvc.web import create_app

ATOM = "http://www.w3.org/2005/Atom"
HUBS = ("https://hub.example.net/", "https://push.example.com/hub")
HUB_ENV = {"FEEDSVC_WEBSUB_HUBS": " https://hub.example.net/ ,https://push.example.com/hub,"}
FORMATS = ("rss.xml", "atom.xml", "feed.json")

POSTS = {
    "_posts/2026-01-10-alpha.md": post_text(
        """
        title: Alpha Post
        categories: [News]
        tags: [python]
        author: Ada Quill
        """,
    ),
    "_posts/2026-02-15-beta.md": post_text(
        """
        title: Beta Post
        categories: [News]
        tags: [web]
        author: Ben Okafor
        """,
    ),
    "_posts/2026-03-20-gamma.md": post_text(
        """
        title: Gamma Post
        categories: [Life]
        tags: [travel, web]
        author: Ben Okafor
        """,
    ),
}


def _feed_paths(snapshot) -> list[str]:
    return sorted(path for path in snapshot.resources if path.endswith(FORMATS))


# -- settings ----------------------------------------------------------------------------

def test_hubs_come_from_the_environment_trimmed_and_in_order():
    assert settings_from(environ=HUB_ENV).websub_hubs == HUBS
    assert settings_from().websub_hubs == ()


@pytest.mark.parametrize("bad", ["hub.example.net", "ftp://hub.example.net/", "https://", "https://[::1",
                                 "https://hub.example.net/<x>"])
def test_a_hub_that_is_not_an_absolute_http_url_is_a_named_configuration_error(bad):
    with pytest.raises(ConfigError) as caught:
        settings_from(environ={"FEEDSVC_WEBSUB_HUBS": f"https://ok.example.net/,{bad}"})
    assert caught.value.problems == [f"FEEDSVC_WEBSUB_HUBS: each hub must be an absolute http(s) URL, got {bad!r}"]


# -- hub links in every feed ---------------------------------------------------------------

def _hub_links(path: str, body: bytes) -> list[str]:
    if path.endswith("feed.json"):
        return [hub["url"] for hub in json.loads(body).get("hubs", []) if hub["type"] == "WebSub"]
    root = etree.fromstring(body)
    return [link.get("href") for link in root.iter(f"{{{ATOM}}}link") if link.get("rel") == "hub"]


def test_every_feed_names_every_hub_in_its_own_syntax_and_stays_valid(site_dir, make_refresher):
    refresher = make_refresher(site_dir(POSTS), environ=HUB_ENV)
    refresher.refresh()
    paths = _feed_paths(refresher.store.snapshot)
    assert len(paths) == 3 * 8  # site, 2 categories, 3 tags, 2 authors
    for path in paths:
        body = refresher.store.snapshot.resources[path].body
        assert _hub_links(path, body) == list(HUBS), path
        if path.endswith(".xml"):
            parsed = feedparser.parse(body)
            assert not parsed.bozo, (path, parsed.get("bozo_exception"))
            links = {(link.get("rel"), link.get("href")) for link in parsed.feed.links}
            assert {("hub", hub) for hub in HUBS} <= links
            assert ("self", "https://example.org" + path) in links
            # The RSS <link> (the site's home page) is not displaced by the hub links.
            assert parsed.feed.link == "https://example.org/"


def test_without_hubs_no_feed_mentions_one(site_dir, make_refresher):
    refresher = make_refresher(site_dir(POSTS))
    refresher.refresh()
    for path in _feed_paths(refresher.store.snapshot):
        resource = refresher.store.snapshot.resources[path]
        assert _hub_links(path, resource.body) == []
        assert b"hub" not in resource.body
        assert resource.headers == ()


def test_setting_hubs_changes_no_entry_only_the_hub_links(site_dir, make_refresher):
    root = site_dir(POSTS)
    plain, with_hubs = make_refresher(root), make_refresher(root, environ=HUB_ENV)
    plain.refresh()
    with_hubs.refresh()
    for path in _feed_paths(plain.store.snapshot):
        before = plain.store.snapshot.resources[path].body
        after = with_hubs.store.snapshot.resources[path].body
        if path.endswith("feed.json"):
            stripped = json.loads(after)
            del stripped["hubs"]
            assert stripped == json.loads(before)
        else:
            root_element = etree.fromstring(after)
            for link in root_element.iter(f"{{{ATOM}}}link"):
                if link.get("rel") == "hub":
                    link.getparent().remove(link)
            assert etree.tostring(root_element) == etree.tostring(etree.fromstring(before))


# -- Link headers ---------------------------------------------------------------------------

def test_a_served_feed_names_its_hubs_and_itself_in_link_headers(site_dir, make_refresher):
    refresher = make_refresher(site_dir(POSTS), environ=HUB_ENV)
    refresher.refresh()
    app = create_app(refresher.settings, refresher.store)
    client = app.test_client()
    expected = ('<https://hub.example.net/>; rel="hub", <https://push.example.com/hub>; rel="hub", '
                '<https://example.org/tags/web/atom.xml>; rel="self"')
    response = client.get("/tags/web/atom.xml")
    assert response.status_code == 200
    assert response.headers.getlist("Link") == [expected]
    gzipped = client.get("/tags/web/atom.xml", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert gzipped.headers["Link"] == expected
    revalidated = client.get("/tags/web/atom.xml", headers={"If-None-Match": response.headers["ETag"]})
    assert revalidated.status_code == 304
    links = client.get("/feed.json").headers["Link"]
    assert links.endswith('<https://example.org/feed.json>; rel="self"')
    assert "Link" not in client.get("/").headers  # the HTML index is no WebSub topic
    assert "Link" not in client.get("/feeds.opml").headers


def test_no_link_header_without_hubs(site_dir, make_refresher):
    refresher = make_refresher(site_dir(POSTS))
    refresher.refresh()
    client = create_app(refresher.settings, refresher.store).test_client()
    assert "Link" not in client.get("/rss.xml").headers
