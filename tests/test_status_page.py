"""/status for people (an HTML page for a browser) and for machines (JSON, as before)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BASIC_CONFIG, post_text
from gitforge import Forge, git
from lxml import html

from feedsvc.deploy.service import Service
from feedsvc.web.fastpath import HTML_CSP

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.fixture
def service(tmp_path: Path) -> Service:
    forge = Forge(tmp_path / "forge")
    forge.commit("start", {
        "_config.yml": BASIC_CONFIG,
        "_posts/2026-01-02-first.md": post_text("title: First\ndate: 2026-01-02 10:00:00 +0000"),
        "_posts/2026-01-03-broken.md": "---\ntitle: [unclosed\n---\nbody\n",
    })
    service = Service({"FEEDSVC_GIT_URL": str(forge.remote), "FEEDSVC_STATE_DIR": str(tmp_path / "state")})
    forge.commit("a second post", {"_posts/2026-01-04-second.md": post_text("title: Second\ndate: 2026-01-04")})
    service.queue.start()
    try:
        assert service.queue.outcome(service.queue.request("interval"), 30) is not None
    finally:
        service.queue.stop()
    service.commit = git("rev-parse", "HEAD", cwd=forge.work).strip()  # type: ignore[attr-defined]
    return service


def test_a_browser_gets_a_page_with_the_commit_refreshes_problems_and_next_runs(service: Service) -> None:
    response = service.app.test_client().get("/status", headers={"Accept": BROWSER})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == HTML_CSP
    assert response.headers["Cache-Control"] == "no-store" and "Accept" in response.headers["Vary"]
    page = html.fromstring(response.data)
    assert not page.xpath("//script") and not page.xpath("//*[@style]")
    text = page.text_content()
    assert service.commit in text  # type: ignore[attr-defined]
    status = service.app.test_client().get("/status").get_json()
    assert status["git"]["fetched_at"] in text
    refreshes = page.xpath("//section[h2[@id='refreshes']]//li")
    assert len(refreshes) == 2  # the interval's fetch and the startup build, newest first
    assert "interval" in refreshes[0].text_content() and "_posts/2026-01-04-second.md" in refreshes[0].text_content()
    assert "startup" in refreshes[1].text_content()
    problems = page.xpath("//section[h2[@id='problems']]//li")
    assert any("_posts/2026-01-03-broken.md:" in p.text_content() and "error" in p.text_content() for p in problems)
    assert "Next scheduled runs" in text


def test_machines_keep_the_json(service: Service) -> None:
    client = service.app.test_client()
    for accept in (None, "application/json", "*/*", "application/json, text/html;q=0.5", "text/plain"):
        response = client.get("/status", headers={"Accept": accept} if accept else {})
        assert response.mimetype == "application/json", accept
        body = response.get_json()
        assert body["git"]["commit"] == service.commit  # type: ignore[attr-defined]
        assert body["recent_refreshes"][0]["trigger"] == "interval"
        assert any(p["path"] == "_posts/2026-01-03-broken.md" and p["line"] for p in body["problems"])
