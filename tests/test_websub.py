"""WebSub: feeds name their hubs (in the body and in Link headers), and changed feeds are pinged to them."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from conftest import post_text, settings_from
from lxml import etree

from feedsvc.config import ConfigError
from feedsvc.deploy.websub import HubPinger
from feedsvc.web.app import create_app

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


# -- publish pings ------------------------------------------------------------------------------

class Hub:
    """A WebSub hub's publish endpoint on 127.0.0.1 that records every ping it gets.

    `answers[path]` lists the statuses to give, in order (then 204); `gate`, while clear,
    holds every request unanswered, like a hub that accepts connections and never replies.
    """

    def __init__(self) -> None:
        self.pings: list[tuple[str, str, dict[str, list[str]]]] = []  # (path, content type, form)
        self.answers: dict[str, list[int]] = {}
        self.gate = threading.Event()
        self.gate.set()
        self.arrived = threading.Event()  # a request came in (it may be held at the gate)
        self.changed = threading.Condition()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.arrived.set()
                hub.gate.wait(10)
                answers = hub.answers.get(self.path, [])
                status = answers.pop(0) if answers else 204
                with hub.changed:
                    hub.pings.append((self.path, self.headers.get("Content-Type", ""),
                                      parse_qs(body.decode("ascii"), strict_parsing=True)))
                    hub.changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, str, dict[str, list[str]]]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.pings) < count and time.monotonic() < deadline:
                self.changed.wait(deadline - time.monotonic())
            return list(self.pings)


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    server.thread.start()
    yield server
    server.gate.set()
    server.server.shutdown()
    server.server.server_close()


class FakeTime:
    """The pinger's monotonic clock and retry pause: a pause is recorded and passes at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@pytest.fixture
def pinged(site_dir, make_refresher, hub):
    """A refreshed site whose refresher pings two paths of `hub`; yields (refresher, pinger, fake time)."""
    made: list[HubPinger] = []

    def make(tries: int = 5, hub_paths: tuple[str, ...] = ("/a", "/b"), timeout: float = 5.0):
        environ = {"FEEDSVC_WEBSUB_HUBS": ",".join(hub.url(path) for path in hub_paths)}
        refresher = make_refresher(site_dir(POSTS), environ=environ)
        assert refresher.refresh("startup").published
        fake = FakeTime()
        pinger = HubPinger(lambda: refresher.settings, tries=tries, clock=fake.clock, wait=fake.wait,
                           timeout=timeout)
        made.append(pinger)
        refresher.listeners.append(pinger)  # after the startup refresh, as the service attaches it
        pinger.start()
        return refresher, pinger, fake

    yield make
    for pinger in made:
        assert pinger.stop(timeout=5)


def _edit_alpha(root: Path) -> None:
    path = root / "_posts/2026-01-10-alpha.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Alpha Post", "Alpha Post, revised"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # visible to a coarse mtime


def test_an_edit_pings_every_hub_for_exactly_the_feeds_that_show_the_post(pinged, hub):
    refresher, pinger, _ = pinged()
    _edit_alpha(refresher.content_dir)
    report = refresher.refresh("edit")
    # Alpha is in one category, one tag and by one author: those feeds and the site's, in every format.
    scopes = ("/", "/categories/news/", "/tags/python/", "/authors/ada-quill/")
    expected = sorted(scope + fmt for scope in scopes for fmt in FORMATS)
    assert sorted(report.feeds_changed) == expected
    assert pinger.flush(timeout=10)
    pings = hub.wait_for(2 * len(expected))
    assert len(pings) == 2 * len(expected)  # no duplicates, nothing else
    for hub_path in ("/a", "/b"):
        got = sorted(form["hub.url"][0] for path, _, form in pings if path == hub_path)
        assert got == ["https://example.org" + feed for feed in expected]
    for _, content_type, form in pings:
        assert content_type == "application/x-www-form-urlencoded"
        assert form["hub.mode"] == ["publish"]
        assert form["hub.topic"] == form["hub.url"]
    # The untouched feeds (the other category, tags and author) were never pinged.
    untouched = {path for path in refresher.store.snapshot.resources if path.endswith(FORMATS)} - set(expected)
    assert len(untouched) == 12
    status = pinger.status()
    assert status["queued"] == 0
    assert [(h["hub"], h["sent"], h["failed"], h["last"]["outcome"], h["last"]["status"]) for h in status["hubs"]] \
        == [(hub.url("/a"), 12, 0, "ok", 204), (hub.url("/b"), 12, 0, "ok", 204)]
    json.dumps(status)  # /status can serve it as it is


def test_a_rescan_that_changes_nothing_pings_nothing(pinged, hub):
    refresher, pinger, _ = pinged()
    refresher.refresh("interval")
    assert pinger.flush(timeout=10)
    assert hub.pings == []


def test_a_failing_hub_is_retried_with_exponential_backoff_until_it_accepts(pinged, hub, caplog):
    hub.answers["/a"] = [500, 503]
    refresher, pinger, fake = pinged(hub_paths=("/a",))
    caplog.set_level(logging.INFO, logger="feedsvc")
    pinger.enqueue([hub.url("/a")], ["https://example.org/rss.xml"])
    assert pinger.flush(timeout=10)
    assert [path for path, _, _ in hub.wait_for(3)] == ["/a", "/a", "/a"]
    assert fake.pauses == [1.0, 2.0]
    [state] = pinger.status()["hubs"]
    assert (state["sent"], state["retried"], state["failed"]) == (1, 2, 0)
    assert (state["last"]["outcome"], state["last"]["status"]) == ("ok", 204)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("websub:")]
    assert len(lines) == 3  # one line per ping outcome, each naming the hub and the feed
    assert all(hub.url("/a") in line and "https://example.org/rss.xml" in line for line in lines)
    assert "HTTP 500" in lines[0] and "HTTP 503" in lines[1] and "HTTP 204" in lines[2]


def test_a_hub_that_keeps_failing_is_given_up_after_the_last_try_and_a_refusal_is_not_retried(pinged, hub):
    hub.answers["/down"] = [500] * 10
    hub.answers["/picky"] = [400]
    _, pinger, fake = pinged(tries=4, hub_paths=("/down", "/picky"))
    pinger.enqueue([hub.url("/down"), hub.url("/picky")], ["https://example.org/atom.xml"])
    assert pinger.flush(timeout=10)
    assert fake.pauses == [1.0, 2.0, 4.0]
    by_hub = {h["hub"]: h for h in pinger.status()["hubs"]}
    down, picky = by_hub[hub.url("/down")], by_hub[hub.url("/picky")]
    assert (down["sent"], down["retried"], down["failed"], down["last"]["status"]) == (0, 3, 1, 500)
    assert (picky["sent"], picky["retried"], picky["failed"], picky["last"]["status"]) == (0, 0, 1, 400)
    assert [path for path, _, _ in hub.pings].count("/down") == 4


def test_pings_still_queued_for_the_same_feed_and_hub_are_sent_once(site_dir, make_refresher, hub):
    refresher = make_refresher(site_dir(POSTS), environ={"FEEDSVC_WEBSUB_HUBS": hub.url("/a")})
    refresher.refresh("startup")
    pinger = HubPinger(lambda: refresher.settings)
    refresher.listeners.append(pinger)
    root = refresher.content_dir
    for round_ in range(3):  # three edits before the sender runs: one ping per feed
        _edit_alpha(root)
        assert refresher.refresh(f"edit {round_}").published
    assert pinger.status()["queued"] == 12
    pinger.start()
    try:
        assert pinger.flush(timeout=10)
    finally:
        assert pinger.stop(timeout=5)
    assert len(hub.pings) == 12
    assert len({form["hub.url"][0] for _, _, form in hub.pings}) == 12


def test_a_hub_that_never_answers_does_not_hold_up_refreshing(pinged, hub):
    hub.gate.clear()  # the hub accepts connections and never replies
    refresher, pinger, _ = pinged(hub_paths=("/a",), timeout=30)  # no client timeout during the test
    edited = threading.Event()

    def edit_and_refresh() -> None:
        _edit_alpha(refresher.content_dir)
        refresher.refresh("edit")
        edited.set()

    for _ in range(2):  # the second edit comes while the first ping hangs
        edited.clear()
        threading.Thread(target=edit_and_refresh, daemon=True).start()
        assert edited.wait(10), "a refresh waited for the hub"
        assert hub.arrived.wait(10)
    assert refresher.store.snapshot.site.posts[-1].title == "Alpha Post, revised, revised"
    # One ping in flight, 12 waiting (its feed again among them): nothing lost, nothing doubled.
    assert pinger.status()["queued"] == 13
    hub.gate.set()
    assert pinger.flush(timeout=10)
    assert len(hub.pings) == 13
    assert len({form["hub.url"][0] for _, _, form in hub.pings}) == 12
