"""The lean path for feed requests answers exactly as the Flask app would, header for header."""

from __future__ import annotations

import itertools

import pytest
from conftest import post_text
from werkzeug.test import Client
from werkzeug.wrappers import Response

from feedsvc.web.app import create_app
from feedsvc.web.fastpath import FastPath

CONFIG = """\
title: Fast
url: https://example.org
feedsvc:
  compat: [wordpress]
"""
POSTS = {
    "_posts/2026-01-10-alpha.md": post_text("title: Alpha & <Omega>\ntags: [python, 日本語]\nauthor: Ada"),
    "_posts/2026-01-11-beta.md": post_text("title: Beta\ncategories: [News]"),
}


@pytest.fixture
def clients(site_dir, make_refresher):
    refresher = make_refresher(site_dir(POSTS, config=CONFIG), {"FEEDSVC_WEBSUB_HUBS": "https://hub.example/"})
    refresher.refresh()
    app = create_app(refresher.settings, refresher.store)
    assert isinstance(app.wsgi_app, FastPath)
    return Client(app, Response), Client(app.wsgi_app.app, Response), refresher


def _answer(client, method, path, headers):
    response = client.open(path, method=method, headers=headers)
    kept = sorted((k, v) for k, v in response.headers.items() if k != "Date")
    return response.status, kept, response.get_data()


def all_pairs(dimensions: list[list[object]]) -> list[tuple[object, ...]]:
    """Rows in which every value of every dimension meets every value of every other dimension at least once.

    Greedy and deterministic: each row starts from the first pair not yet covered and takes, dimension by
    dimension, the value that covers most new pairs (the first such value on a tie).
    """
    def pairs_of(row: dict[int, int]) -> set[tuple[int, int, int, int]]:
        return {(i, row[i], j, row[j]) for i in row for j in row if i < j}

    uncovered = {(i, a, j, b) for i, j in itertools.combinations(range(len(dimensions)), 2)
                 for a in range(len(dimensions[i])) for b in range(len(dimensions[j]))}
    rows = []
    while uncovered:
        i, a, j, b = min(uncovered)
        row = {i: a, j: b}
        for k in range(len(dimensions)):
            if k not in row:
                row[k] = max(range(len(dimensions[k])),
                             key=lambda v: (len(pairs_of({**row, k: v}) & uncovered), -v))  # noqa: B023
        uncovered -= pairs_of(row)
        rows.append(tuple(dimensions[k][row[k]] for k in range(len(dimensions))))
    return rows


def test_all_pairs_covers_every_pair_in_far_fewer_rows_than_the_product():
    dimensions = [["GET", "HEAD"], list(range(10)), list("abcdefgh"), list(range(9)), list("vwxyz")]
    rows = all_pairs(dimensions)
    for (i, first), (j, second) in itertools.combinations(enumerate(dimensions), 2):
        assert {(row[i], row[j]) for row in rows} == set(itertools.product(first, second)), (i, j)
    assert len(rows) < 150 and rows == all_pairs(dimensions)  # the product has 7,200 rows; 90 is the least


def test_every_request_shape_matches_flask_pairwise_and_at_the_corners(clients):
    """Every pair of (method, path, encoding, If-None-Match, If-Modified-Since) values, plus the shapes where
    three of them decide the answer together: a feed's own ETag (plain or -gz) against the encoding chosen,
    and If-Modified-Since on each path against the encoding of the 304's validators."""
    fast, flask, refresher = clients
    resources = refresher.store.snapshot.resources
    rss = resources["/rss.xml"]
    lm = rss.last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    paths = ["/rss.xml", "/atom.xml", "/feed.json", "/", "/feeds.opml", "/tags/日本語/rss.xml", "/feed/",
             "/missing.xml", "/status", "/tags/python/atom.xml"]
    encodings = [None, "gzip", "gzip, deflate, br", "GZIP", "br", "identity", "gzip;q=0", "*"]
    own_tags = [f'"{rss.etag}-gz"', f'"{rss.etag}"', f'W/"{rss.etag}-gz"', f'"x", "{rss.etag}-gz"']
    matches = [None, *own_tags, '"x"', "*", "garbage", ""]
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    sinces = [None, lm, "Mon, 01 Jan 2001 00:00:00 GMT", future, "not a date", "Sat, 01 Jan 99999999999 00:00:00 GMT"]
    shapes = set(all_pairs([["GET", "HEAD"], paths, encodings, matches, sinces]))
    shapes |= set(itertools.product(["GET"], ["/rss.xml", "/feed/"], [None, "gzip", "gzip;q=0", "*"], own_tags,
                                    [None, lm]))
    shapes |= set(itertools.product(["GET", "HEAD"], paths, [None, "gzip"], [None], [lm, future]))
    compared = 0
    for method, path, encoding, match, since in sorted(shapes, key=repr):
        headers = {name: value for name, value in (("Accept-Encoding", encoding), ("If-None-Match", match),
                                                    ("If-Modified-Since", since)) if value is not None}
        if path in ("/status",) and (match or since):
            continue  # dynamic JSON: compared only without validators
        assert _answer(fast, method, path, headers) == _answer(flask, method, path, headers), \
            (method, path, headers)
        compared += 1
    assert compared > 150


def test_the_fast_path_really_answers_the_common_requests(clients, monkeypatch):
    fast, _, refresher = clients
    calls = []
    app = fast.application
    inner = app.wsgi_app.app
    monkeypatch.setattr(app.wsgi_app, "app", lambda environ, start: calls.append(environ["PATH_INFO"])
                        or inner(environ, start))
    etag = refresher.store.snapshot.resources["/rss.xml"].gzip_etag
    assert fast.get("/rss.xml", headers={"Accept-Encoding": "gzip"}).status_code == 200
    assert fast.get("/rss.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": f'"{etag}"'}).status_code == 304
    assert fast.head("/feed/").status_code == 200
    assert calls == []
    assert fast.get("/missing.xml").status_code == 404
    assert calls == ["/missing.xml"]


def test_a_new_snapshot_is_served_at_once(clients, site_dir):
    fast, _, refresher = clients
    before = fast.get("/rss.xml").get_data()
    root = refresher.content_dir
    (root / "_posts/2026-01-12-gamma.md").write_text(post_text("title: Gamma"))
    refresher.refresh()
    after = fast.get("/rss.xml").get_data()
    assert b"Gamma" in after and after != before


def test_fast_path_requests_are_counted_in_metrics(site_dir, make_refresher):
    from feedsvc.web.metrics import Metrics

    refresher = make_refresher(site_dir(POSTS, config=CONFIG))
    refresher.refresh()
    metrics = Metrics()
    client = create_app(refresher.settings, refresher.store, metrics=metrics).test_client()
    # Counted from here: once another test of this process has switched prometheus_client to its multiprocess
    # values (web/metrics.enable_multiprocess), a new Metrics shares the counts this pid already has.
    counts = {(kind, status): metrics.requests.labels(kind, status)._value.get()
              for kind, status in (("feed", "200"), ("feed", "304"), ("page", "200"))}
    etag = client.get("/atom.xml").headers["ETag"]
    client.get("/atom.xml", headers={"If-None-Match": etag})
    client.get("/")
    for (kind, status), before in counts.items():
        assert metrics.requests.labels(kind, status)._value.get() == before + 1
