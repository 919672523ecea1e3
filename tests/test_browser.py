"""The HTML pages in a real browser: headless Chromium from Debian, against the server on 127.0.0.1.

`--dump-dom` gives the DOM as Chromium built it (what a person's browser would show). For the
phone check, Chromium is driven over its DevTools protocol on a pipe (`--remote-debugging-pipe`,
stdlib only, no driver or Selenium): it emulates a 390 x 844 phone, which honours the pages'
viewport meta tag as a phone does, measures the layout and takes the screenshot. Pages run no
script of their own; the measuring is done by the browser's debugger, which the pages' CSP does
not govern. Set FEEDSVC_SCREENSHOT_DIR to keep the screenshots.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from conftest import post_text, require_tool

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = (390, 844)
PUBLIC = "https://example.org"
SCREENSHOT_DIR = os.environ.get("FEEDSVC_SCREENSHOT_DIR")  # read at import: the autouse fixture clears FEEDSVC_*

LONG_WORD = "Supercalifragilistic" * 6  # 120 letters, no break opportunity: must wrap, not widen the page
POSTS = {
    "_posts/2026-01-10-alpha.md": post_text(
        "title: Alpha Post\ndate: 2026-01-10 09:00:00 +0100\ncategories: [News]\ntags: [python, web]\n"
        "author: Ada Quill", "The first post: a short summary.\n"),
    "_posts/2026-02-15-beta.md": post_text(
        f"title: Beta and the {LONG_WORD}\ndate: 2026-02-15 10:00:00 +0100\ncategories: [News]\n"
        f"tags: [python, {LONG_WORD}]\nauthor: {{name: Ben Okafor, email: ben@example.org}}",
        f"A summary that quotes https://example.org/{LONG_WORD}/{LONG_WORD}/ in full, and goes on for a while "
        "so that it spans several lines on a phone.\n"),
    "_posts/2026-03-20-gamma.md": post_text(
        "title: Gamma & <friends>\ndate: 2026-03-20 11:00:00 +0100\ncategories: [Life]\ntags: [travel]\n"
        "author: Ada Quill", "Gamma summary.\n"),
}
NEWEST_FIRST = ["_posts/2026-03-20-gamma.md", "_posts/2026-02-15-beta.md", "_posts/2026-01-10-alpha.md"]
FEED_TYPES = {"rss.xml": "application/rss+xml", "atom.xml": "application/atom+xml",
              "feed.json": "application/feed+json"}


def _chromium() -> str:
    require_tool("chromium", CHROMIUM is not None, "the Debian package `chromium`; `.ci/run` installs it")
    assert CHROMIUM is not None
    return CHROMIUM


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def dump_dom(url: str, profiles: Path) -> lxml.html.HtmlElement:
    """The DOM Chromium builds for `url`, serialised by Chromium itself."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=profiles)
    process = subprocess.Popen([_chromium(), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        _stop(process)
    assert process.returncode == 0 and out, f"chromium --dump-dom {url} failed ({process.returncode})"
    return lxml.html.fromstring(out)


class DevTools:
    """Chromium driven over the DevTools protocol on fds 3 and 4 (NUL-separated JSON messages)."""

    def __init__(self, profiles: Path) -> None:
        profile = tempfile.mkdtemp(prefix="chromium-", dir=profiles)
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()

        def wire_pipes() -> None:  # in the child: its fd 3 reads commands, its fd 4 writes answers
            commands, answers = os.dup(to_browser), os.dup(from_browser)
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        self.process = subprocess.Popen(
            [_chromium(), *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes, close_fds=False, start_new_session=True)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, timeout: float = 30.0, **params: Any) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") != self._next_id:
                self.events.append(answer)
                continue
            assert "error" not in answer, (method, answer["error"])
            return answer["result"]

    def page(self, method: str, **params: Any) -> dict:
        return self.call(method, session=self.session, **params)

    def wait_for(self, event: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for index, message in enumerate(self.events):
                if message.get("method") == event:
                    return self.events.pop(index)
            self.events.append(self._receive(deadline))

    def load(self, url: str) -> None:
        self.events.clear()
        self.page("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        return self.page("Runtime.evaluate", expression=expression, returnByValue=True)["result"]["value"]

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (OSError, EOFError, TimeoutError, AssertionError):
            pass
        _stop(self.process)
        os.close(self._to_browser)
        os.close(self._from_browser)


LAYOUT = """({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
  inner: window.innerWidth, bodyMax: getComputedStyle(document.body).maxWidth})"""


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def server(site_dir, make_refresher, live_server):
    refresher = make_refresher(site_dir(POSTS))
    refresher.refresh()
    return live_server(refresher)


@pytest.fixture
def profiles(tmp_path) -> Path:
    path = tmp_path / "profiles"
    path.mkdir()
    return path


def _post_urls(server) -> list[str]:
    by_source = {post.source: post for post in server.refresher.store.snapshot.site.posts}
    return [by_source[source].url for source in NEWEST_FIRST]


def _check_subscribe_links(doc, scope_dir: str) -> None:
    own = [f"{PUBLIC}{scope_dir}{name}" for name in FEED_TYPES]
    head = [(link.get("type"), link.get("href")) for link in doc.xpath("//head/link[@rel='alternate']")]
    assert head == [(FEED_TYPES[url.rsplit("/", 1)[1]], url) for url in own]
    box = doc.xpath("//section[@class='subscribe']")[0]
    assert [a.get("href") for a in box.xpath(".//a[@class='button']")] == own
    assert [a.text_content() for a in box.xpath(".//a[@class='button']")] == ["RSS", "Atom", "JSON Feed"]
    assert [a.get("href") for a in box.xpath(".//a[starts-with(@href, 'feed:')]")] == ["feed:" + u for u in own]
    assert f"{PUBLIC}/feeds.opml" in [a.get("href") for a in box.xpath(".//a")]


def test_chromium_shows_the_index_with_posts_scope_pages_and_subscribe_links(server, profiles):
    doc = dump_dom(server.base + "/", profiles)
    assert doc.xpath("string(//h1)") == "Test Site"
    assert doc.xpath("//script") == []
    entries = doc.xpath("//ol[@class='entries']//h3/a")
    assert [a.get("href") for a in entries] == _post_urls(server)
    assert [a.text_content() for a in entries] == ["Gamma & <friends>", f"Beta and the {LONG_WORD}", "Alpha Post"]
    _check_subscribe_links(doc, "/")
    scope_links = {a.get("href") for a in doc.xpath("//ul[@class='scopes']//a[not(@class)]")}
    assert {f"{PUBLIC}/tags/python/", f"{PUBLIC}/categories/news/", f"{PUBLIC}/authors/ada-quill/"} <= scope_links
    assert len(scope_links) == 2 + 4 + 2  # categories, tags, authors


def test_chromium_shows_a_tag_page_with_its_posts_and_its_own_feeds(server, profiles):
    doc = dump_dom(server.base + "/tags/python/", profiles)
    assert doc.xpath("string(//h1)") == "Tag: python"
    assert doc.xpath("string(//head/title)") == "Tag: python · Test Site"
    entries = doc.xpath("//ol[@class='entries']/li/article")
    assert [a.get("href") for a in doc.xpath("//ol[@class='entries']//h3/a")] == _post_urls(server)[1:]
    assert [e.xpath("string(.//time/@datetime)")[:10] for e in entries] == ["2026-02-15", "2026-01-10"]
    assert "Ben Okafor" in entries[0].text_content() and "Ada Quill" in entries[1].text_content()
    _check_subscribe_links(doc, "/tags/python/")
    assert doc.xpath("//nav//a/@href") == [f"{PUBLIC}/"]


def test_the_pages_fit_a_phone_screen_without_sideways_scrolling(server, profiles, tmp_path):
    browser = DevTools(profiles)
    try:
        browser.page("Emulation.setDeviceMetricsOverride", width=PHONE[0], height=PHONE[1], deviceScaleFactor=1,
                     mobile=True)
        browser.page("Page.enable")
        browser.page("Log.enable")
        browser.page("Runtime.enable")

        # The probe itself: a page wider than the phone is reported, and so is a script its CSP blocks.
        browser.load("data:text/html,<meta http-equiv='Content-Security-Policy' "
                     "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
                     "<meta name=viewport content='width=device-width'><div style='width:1000px'>wide</div>"
                     "<script>document.title='ran'</script>")
        wide = browser.evaluate(LAYOUT)
        assert wide["scroll"] > wide["client"] == PHONE[0]
        assert browser.evaluate("document.title") != "ran"
        assert any("Content Security Policy" in json.dumps(event) for event in browser.events)

        for name, path in (("index", "/"), ("tag", "/tags/python/"), ("long-tag", f"/tags/{LONG_WORD.lower()}/")):
            browser.load(server.base + path)
            layout = browser.evaluate(LAYOUT)
            assert layout["client"] == layout["inner"] == PHONE[0], (path, layout)
            assert layout["scroll"] <= layout["client"], (path, layout)  # nothing sticks out sideways
            assert layout["bodyMax"] == "736px", (path, layout)  # the inline style applied under the CSP
            blocked = [e for e in browser.events if "Content Security Policy" in json.dumps(e)]
            assert blocked == [], (path, blocked)
            assert browser.evaluate("document.querySelectorAll('h3 a').length") >= 1
            png = base64.b64decode(browser.page("Page.captureScreenshot", format="png")["data"])
            assert _png_size(png) == PHONE
            (tmp_path / f"phone-{name}.png").write_bytes(png)
            if SCREENSHOT_DIR:
                Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
                (Path(SCREENSHOT_DIR) / f"phone-{name}.png").write_bytes(png)
    finally:
        browser.close()
