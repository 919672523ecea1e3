"""/metrics in Prometheus text format, and what /status says about the scheduler and the last refresh."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from conftest import post_text
from prometheus_client.parser import text_string_to_metric_families

from feedsvc.deploy.service import Service

SECRET = "metrics secret"
POSTS = {"_posts/2026-01-10-alpha.md": post_text("title: Alpha\ntags: [python]")}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def service(site_dir, tmp_path):
    root = site_dir(POSTS)
    running = Service({"FEEDSVC_WEBHOOK_SECRET": SECRET, "FEEDSVC_STATE_DIR": str(tmp_path / "state"),
                       "FEEDSVC_RESCAN_SECONDS": "3600", "FEEDSVC_WATCH": "off"}, root)  # webhooks only
    running.start_background()
    deadline = time.monotonic() + 5
    while running.scheduler is None and time.monotonic() < deadline:
        time.sleep(0.01)
    yield running
    running.stop()


def _signed(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}


def test_requests_are_counted_by_route_and_status_including_304(service):
    client = service.app.test_client()
    etag = client.get("/rss.xml").headers["ETag"]
    for _ in range(3):
        assert client.get("/rss.xml", headers={"If-None-Match": etag}).status_code == 304
    client.get("/nope.xml")
    client.get("/")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert value(text, "feedsvc_http_requests_total", route="feed", status="200") == 1
    assert value(text, "feedsvc_http_requests_total", route="feed", status="304") == 3
    assert value(text, "feedsvc_http_requests_total", route="not_found", status="404") == 1
    assert value(text, "feedsvc_http_requests_total", route="page", status="200") == 1


def test_rescans_posts_feeds_errors_and_webhook_outcomes(service, site_dir):
    client = service.app.test_client()
    root = service.refresher.content_dir
    (root / "_posts/2026-02-01-broken.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    (root / "_posts/2026-02-02-beta.md").write_text(post_text("title: Beta"))
    body = b"{}"
    assert client.post("/hooks/refresh?wait=1", data=body, headers=_signed(body)).status_code == 200
    assert client.post("/hooks/refresh", data=body, headers={"X-Hub-Signature-256": "sha256=00"}).status_code == 401
    text = client.get("/metrics").get_data(as_text=True)
    assert value(text, "feedsvc_rescans_total", trigger="startup", outcome="published") == 1
    assert value(text, "feedsvc_rescans_total", trigger="webhook", outcome="published") == 1
    assert value(text, "feedsvc_rescan_duration_seconds_count") == 2
    assert value(text, "feedsvc_posts") == 2
    assert value(text, "feedsvc_content_errors") == 1
    assert value(text, "feedsvc_feeds") == len([p for p in service.store.snapshot.resources
                                               if p.endswith((".xml", ".json")) and p != "/feeds.opml"])
    assert value(text, "feedsvc_webhooks_total", outcome="done") == 1
    assert value(text, "feedsvc_webhooks_total", outcome="unauthorized") == 1


def test_status_shows_next_rescan_last_refresh_trigger_and_duration(service):
    client = service.app.test_client()
    body = b"{}"
    client.post("/hooks/refresh?wait=1", data=body, headers=_signed(body))
    status = client.get("/status").get_json()
    assert status["scheduler"]["interval_seconds"] == 3600
    assert status["scheduler"]["next_rescan"] is not None
    assert status["last_refresh"]["trigger"] == "webhook"
    assert status["last_refresh"]["seconds"] >= 0
    assert status["last_scan"]["trigger"] == "webhook"
    assert status["worker"]["role"] == "builder"
    assert SECRET not in client.get("/status").get_data(as_text=True)


def test_the_running_service_pings_hubs_after_a_webhook_and_reports_it(site_dir, tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    pinged: list[str] = []

    class Hub(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            pinged.append(form["hub.url"][0])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    hub = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    root = site_dir(POSTS)
    running = Service({"FEEDSVC_WEBHOOK_SECRET": SECRET, "FEEDSVC_STATE_DIR": str(tmp_path / "state"),
                       "FEEDSVC_WEBSUB_HUBS": f"http://127.0.0.1:{hub.server_address[1]}/"}, root)
    running.start_background()
    try:
        deadline = time.monotonic() + 5
        while running.scheduler is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pinged == []  # the startup build pings nothing
        (root / "_posts/2026-01-10-alpha.md").write_text(post_text("title: Alpha Edited\ntags: [python]"))
        client = running.app.test_client()
        assert client.post("/hooks/refresh?wait=1", data=b"{}", headers=_signed(b"{}")).status_code == 200
        assert running.pinger.flush(5)
        assert sorted(pinged) == sorted(f"https://example.org{path}" for path in
                                        running.store.snapshot.resources if path.endswith((".xml", ".json"))
                                        and path != "/feeds.opml" and "/categories/" not in path)
        websub = client.get("/status").get_json()["websub"]
        assert websub["hubs"][0]["sent"] == len(pinged)
        text = client.get("/metrics").get_data(as_text=True)
        assert value(text, "feedsvc_websub_pings_total", outcome="ok") == len(pinged)
    finally:
        running.stop()
        hub.shutdown()
