"""HTTP security: no way from a URL to the file system, unknown methods refused, oversized requests
refused, hidden posts in no output, every user string escaped, safe headers, no debugger or traces."""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Iterator

import lxml.html
import pytest
from conftest import exchange_raw, free_port, post_text, write_site
from test_server import GUNICORN_ARGV, Launcher, Server

from feedsvc import cli
from feedsvc.snapshot import SnapshotStore
from feedsvc.web.app import create_app

POSTS = {
    "_posts/2026-01-10-alpha.md": post_text("title: Alpha Post\ncategories: [News]\ntags: [python]\nauthor: Ada"),
    "_posts/2026-02-15-beta.md": post_text("title: Beta Post\ntags: [web]"),
}
HIDDEN = {
    # Every field of every hidden post carries "secret"; no output may contain the word.
    "_posts/2026-03-01-secret-draft.md": post_text(
        "title: Secret Draft Title\ndraft: true\ntags: [secrettag]\ncategories: [secretcat]\nauthor: Secret Author",
        "Secret draft body.\n"),
    "_posts/2026-03-02-secret-unpublished.md": post_text(
        "title: Secret Unpublished\npublished: false\ntags: [python, secrettag2]\nauthor: Secret Writer",
        "Secret body.\n"),
    "_posts/2030-01-01-secret-future.md": post_text(
        "title: Secret Future Launch\ntags: [web, secretfuture]\ncategories: [News, secretcat3]\n"
        "image: /img/secret.png", "Secret future body.\n"),
    "_posts/2030-01-02-secret-untitled-future.md": "---\ndate: 2030-01-02\nauthor: {name: Secret Person}\n---\nx\n",
    "_posts/2026-03-03-secret-untitled-draft.md": "---\npublished: false\n---\nSecret.\n",  # a warning: no title
    "_drafts/secret-in-drafts.md": post_text("title: Secret In Drafts"),
}
# Each traversal attempt, as sent on the wire (no client-side normalisation).
TRAVERSALS = [
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%252e%252e/%252e%252e/etc/passwd",
    "/..%2f..%2fetc%2fpasswd", "/..%252f..%252fetc%252fpasswd", "/..\\..\\etc\\passwd", "/%5c..%5c..%5cetc%5cpasswd",
    "/rss.xml%00", "/rss.xml%00.html", "/%00", "/tags/../../../etc/passwd", "/categories/news/%2e%2e/%2e%2e/rss.xml",
    "//etc/passwd", "/./rss.xml", "/static/../feedsvc/web.py", "/feedsvc/web.py", "/_config.yml",
    "/_posts/2026-01-10-alpha.md", "/status/../_config.yml", "/healthz/..%2f_config.yml", "/%c0%ae%c0%ae/etc/passwd",
    "/..%c0%af..%c0%afetc/passwd", "/%2e%2e%5c%2e%2e%5cetc%5cpasswd", "/tags/python/../../../_config.yml",
]
ROUTES = ["/", "/rss.xml", "/tags/python/atom.xml", "/feeds.opml", "/status", "/healthz", "/nope"]


@pytest.fixture
def content(site_dir):
    root = site_dir({**POSTS, **HIDDEN})
    return root


@pytest.fixture
def refresher(content, make_refresher):
    refresher = make_refresher(content)
    refresher.refresh("startup")
    return refresher


@pytest.fixture
def client(refresher):
    return create_app(refresher.settings, refresher.store).test_client()


@pytest.fixture(scope="module", params=["granian", "gunicorn"])
def served(request, tmp_path_factory) -> Iterator[Server]:
    """Both servers feedsvc runs under: granian (`feedsvc serve`, the default) and gunicorn. One of each for the
    module: every test here only sends requests, and each checks the server keeps answering what follows."""
    folder = tmp_path_factory.mktemp(f"served-{request.param}")
    content = write_site(folder / "content", {**POSTS, **HIDDEN})
    launch = Launcher(folder)
    port = free_port()
    argv = GUNICORN_ARGV if request.param == "gunicorn" else [
        sys.executable, "-m", "feedsvc", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = launch(argv, port, {"PORT": str(port), "HOST": "127.0.0.1", "FEEDSVC_CONTENT_DIR": str(content),
                                 "FLASK_DEBUG": "1"})
    try:
        server.wait_ready()
        server.kind = request.param
        yield server
    finally:
        launch.stop_all()


def _raw(server: Server, request: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send bytes as they are; return the status code and the whole answer."""
    answer = exchange_raw(server.port, request, timeout)
    return int(answer.split(b" ", 2)[1]), answer


# -- no way from a URL to the file system ---------------------------------------------------------

@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_attempts_are_404_in_the_app(client, path):
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.data == b"not found\n"


def test_traversal_attempts_are_404_through_the_server(served):
    for path in TRAVERSALS:
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
        try:
            connection.putrequest("GET", path, skip_accept_encoding=True)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 404, (path, response.status, body[:200])
        assert body == b"not found\n", path


def test_a_raw_nul_or_control_byte_in_the_request_line_is_refused_before_the_app(served):
    for target in (b"/rss.xml\x00", b"/\x00/../etc/passwd", b"/rss.xml\r"):
        status, answer = _raw(served, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 400, (target, answer[:200])
        assert b"root:" not in answer


# -- methods and sizes ----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND", "MKCOL", "TRACE", "FOO"])
@pytest.mark.parametrize("path", ROUTES)
def test_unknown_methods_are_405_on_every_route(client, method, path):
    response = client.open(path, method=method, data=b"x")
    assert response.status_code == 405, (method, path)
    assert response.data == b"method not allowed\n"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) <= {"GET", "HEAD", "OPTIONS"}


def test_unknown_methods_are_405_through_the_server(served):
    for method in (b"PROPFIND", b"DELETE", b"FOO"):
        status, _ = _raw(served, method + b" /rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 405, method


# Limits: gunicorn (gunicorn_conf.py) 8,190 bytes per header, 50 headers, 4,094 for the request line;
# granian (cli.py) 16 KiB for the request line and headers together, 100 headers. Both answer 431/414.
LIMITS = {
    "gunicorn": {"header": 9000, "headers": 60, "line": 5000, "line_status": 414},
    "granian": {"header": 20000, "headers": 150, "line": 20000, "line_status": 431},
}


@pytest.mark.parametrize("case", ["oversized-header", "too-many-headers"])
def test_oversized_headers_are_refused_by_the_server(served, case):
    limits = LIMITS[served.kind]
    block = b"X-Big: " + b"a" * limits["header"] + b"\r\n" if case == "oversized-header" else \
        b"".join(b"X-H%d: v\r\n" % i for i in range(limits["headers"]))
    status, _ = _raw(served, b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n" + block + b"Connection: close\r\n\r\n")
    assert status == 431
    assert served.get("/healthz")[0] == 200  # and it keeps serving


def test_an_oversized_request_line_is_refused_by_the_server(served):
    limits = LIMITS[served.kind]
    status, _ = _raw(served, b"GET /" + b"a" * limits["line"] + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == limits["line_status"]


def test_a_large_body_is_refused_without_being_read(served):
    head = (b"POST /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 50000000\r\nConnection: close\r\n\r\n")
    status, _ = _raw(served, head + b"x" * 65536)  # the rest never comes: the answer must not wait for it
    assert status in (405, 413)
    assert served.get("/healthz")[0] == 200


def test_request_bodies_are_capped_in_the_app(refresher):
    app = create_app(refresher.settings, refresher.store)
    assert 0 < app.config["MAX_CONTENT_LENGTH"] <= 1024 * 1024
    response = app.test_client().post("/status", data=b"x" * (2 * 1024 * 1024))
    assert response.status_code in (405, 413)


# -- hidden posts appear nowhere ----------------------------------------------------------------

def _assert_no_secret(where: str, data: bytes) -> None:
    assert b"secret" not in data.lower(), (where, data[max(0, data.lower().find(b"secret") - 200):][:400])


def test_hidden_posts_are_in_no_feed_page_status_or_static_build(client, content, refresher, tmp_path,
                                                                 monkeypatch, capsys):
    snapshot = refresher.store.snapshot
    assert {p.title for p in snapshot.site.posts} == {"Alpha Post", "Beta Post"}
    assert len(snapshot.resources) > 10
    for path in list(snapshot.resources) + ["/status", "/healthz"]:
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_no_secret(path, response.data)
        if path.endswith(".xml") or path.endswith(".json") or path == "/":
            _assert_no_secret(path + " (gzip)", __import__("gzip").decompress(
                client.get(path, headers={"Accept-Encoding": "gzip"}).data))
    status = json.loads(client.get("/status").data)
    assert status["posts"] == 2
    monkeypatch.setattr(cli, "configure_logging", lambda: None)
    out = tmp_path / "public"
    assert cli.main(["build", "--content", str(content), "--out", str(out)]) == 0
    files = [p for p in out.rglob("*")]
    assert len([p for p in files if p.is_file()]) == len(snapshot.resources)
    for path in files:
        _assert_no_secret(str(path), str(path.relative_to(out)).encode())
        if path.is_file():
            _assert_no_secret(str(path), path.read_bytes())
    _assert_no_secret("build output", capsys.readouterr().err.encode())


def test_hidden_posts_are_in_no_archive_page_or_filtered_feed(content, make_refresher):
    refresher = make_refresher(content, {"FEEDSVC_FEED_LIMIT": "1"})
    refresher.refresh("startup")
    client = create_app(refresher.settings, refresher.store).test_client()
    paths = [f"/{kind}/{page}/{name}" for kind in ("archive",) for page in (1, 2, 3)
             for name in ("rss.xml", "atom.xml", "feed.json")]
    paths += ["/tags/python/archive/1/atom.xml", "/tags/web/archive/1/rss.xml", "/rss.xml?tags=python,web",
              "/atom.xml?tags=secrettag", "/feed.json?categories=secretcat", "/rss.xml?authors=secret-author",
              "/rss.xml?tags=python&categories=news"]
    served = 0
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        served += response.status_code == 200
        if "secret" not in path:
            _assert_no_secret(path, response.data)
        else:  # a hidden post's name is unknown, as any made-up name is
            assert response.status_code == 404 and b"Secret" not in response.data, path
    assert served >= 8


HOSTILE_QUERIES = [
    "tags=%00", "tags=%ff%fe", "tags=" + "a" * 5000, "tags[]=python", "tags=python&" * 500, "%00=1&tags=web",
    "tags=%0d%0aSet-Cookie:%20x=1", "tags=<script>alert(1)</script>", "tags=" + ",".join(["x"] * 300),
    "tags=python;categories=news", "tags=%E2%80%AEpython", "authors=" + "%2e%2e%2f" * 50,
]


def test_hostile_filter_queries_are_clear_4xx_through_the_server(served):
    for query in HOSTILE_QUERIES + [f"tags={q}" for q in ("..", "%2e%2e", "CON")]:
        for path in ("/rss.xml", "/archive/1/atom.xml", "/tags/python/feed.json"):
            status, answer = _raw(served, f"GET {path}?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                  .encode("latin-1"))
            legit = query in ("tags[]=python", "%00=1&tags=web")  # an unknown parameter is ignored
            assert status in (400, 404, 414, 431) or (legit and status == 200), (path, query[:80], status)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert b"Set-Cookie" not in head and b"<script>" not in head, (path, query[:80])
            if status in (400, 404):  # feedsvc's own answer: one plain line (414/431 come from the server)
                assert b"Traceback" not in body and body.count(b"\n") <= 2, (path, query[:80], body[:200])


def test_a_future_post_shows_once_its_time_comes(refresher, clock):
    from datetime import datetime

    clock.now = datetime(2030, 1, 1, 0, 0, tzinfo=clock.now.tzinfo)
    refresher.refresh("scheduled publish")
    titles = {p.title for p in refresher.store.snapshot.site.posts}
    assert "Secret Future Launch" in titles and "Secret Draft Title" not in titles


# -- escaping and headers -------------------------------------------------------------------

HOSTILE_CONFIG = """\
title: '<script>alert("title")</script> & Co'
description: '"><img src=x onerror=alert(1)>'
url: https://example.org
author: {name: '</title><script>alert(3)</script>'}
"""


def test_the_index_escapes_every_user_controlled_string(site_dir, make_refresher):
    names = ['"><script>alert(1)</script>', "' onmouseover='alert(2)", "<img src=x onerror=alert(3)>",
             "</bdi></strong><iframe src=//evil>", "&amp;lt;", "{{ 7*7 }}"]
    root = site_dir({"_posts/2026-01-01-x.md": post_text(
        "title: '<b>T</b>'\ncategories: " + json.dumps(names[:3]) + "\ntags: " + json.dumps(names[3:])
        + "\nauthor: " + json.dumps(names[0]))}, config=HOSTILE_CONFIG)
    refresher = make_refresher(root)
    refresher.refresh()
    response = create_app(refresher.settings, refresher.store).test_client().get("/")
    page = lxml.html.fromstring(response.data)
    assert page.findall(".//script") == [] and page.findall(".//img") == [] and page.findall(".//iframe") == []
    for element in page.iter():
        assert not any(name.lower().startswith("on") for name in element.attrib), lxml.html.tostring(element)
    text = page.text_content()
    for name in names:
        assert name in text, name
    assert '<script>alert("title")</script> & Co' in page.findtext(".//title")
    assert "{{ 7*7 }}" in text and "49" not in text


@pytest.mark.parametrize("path", ROUTES + ["/_config.yml"])
def test_security_headers_on_every_answer(client, path):
    for response in (client.get(path), client.head(path), client.open(path, method="PROPFIND")):
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path
    html = client.get("/")
    assert "default-src 'none'" in html.headers["Content-Security-Policy"]


# -- production: no debugger, no traces ---------------------------------------------------------

class _BrokenStore(SnapshotStore):
    @property
    def snapshot(self):
        raise RuntimeError("boom in /srv/feedsvc/secret_module.py line 42")

    @snapshot.setter
    def snapshot(self, value):
        pass


def test_an_unexpected_error_is_a_bare_500_without_trace_or_path(refresher, monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app(refresher.settings, _BrokenStore())
    assert app.debug is False
    response = app.test_client().get("/rss.xml")
    assert response.status_code == 500
    assert response.data == b"internal error\n"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b"Traceback" not in response.data and b"/srv" not in response.data


def test_the_server_never_runs_the_debugger_even_with_flask_debug_set(served):
    status, headers, body = served.get("/nope?__debugger__=yes&cmd=resource&f=style.css")
    assert status == 404 and body == b"not found\n"
    status, _, body = served.get("/console")
    assert status == 404 and b"Werkzeug" not in body and b"debugger" not in body.lower()


def test_the_wsgi_app_is_not_in_debug_mode(content, monkeypatch):
    import importlib

    monkeypatch.setenv("FEEDSVC_CONTENT_DIR", str(content))
    monkeypatch.setenv("FLASK_DEBUG", "1")
    sys.modules.pop("feedsvc.wsgi", None)
    wsgi = importlib.import_module("feedsvc.wsgi")
    try:
        assert wsgi.app.debug is False and wsgi.app.testing is False
        assert wsgi.app.config["PROPAGATE_EXCEPTIONS"] in (None, False)
    finally:
        sys.modules.pop("feedsvc.wsgi", None)
