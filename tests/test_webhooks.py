"""POST /hooks/refresh: only correctly signed requests refresh, bursts coalesce, and senders learn the outcome."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime

import pytest
from conftest import post_text, webhook_endpoint
from standardwebhooks.webhooks import Webhook

from feedsvc.pipeline.refresh import RefreshReport
from feedsvc.pipeline.triggers import RefreshQueue
from feedsvc.web.app import create_app
from feedsvc.web.webhooks import SeenInFolder, SeenInMemory, WebhookReceiver, verify

SECRET = "correct horse battery staple"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"sixteen byte key").decode()
BODY = json.dumps({"ref": "refs/heads/main", "commits": [{"id": "abc"}]}).encode()
POSTS = {"_posts/2026-01-10-alpha.md": post_text("title: Alpha\ntags: [python]")}


def github_headers(body: bytes, secret: str = SECRET, event: str = "push") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": event, "X-GitHub-Delivery": "d-1",
            "Content-Type": "application/json"}


def standard_headers(body: bytes, secret: str = STANDARD_SECRET, message_id: str = "msg_1",
                     at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, at, body.decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature, "Content-Type": "application/json"}


# -- verification, scheme by scheme ---------------------------------------------------

def _now() -> datetime:
    """Real time, read when each test runs: the reference package checks timestamps against the clock."""
    return datetime.now(UTC)


def test_github_signature_good_wrong_and_missing():
    now = _now()
    assert verify(SECRET, github_headers(BODY), BODY, now).ok
    assert not verify("another secret", github_headers(BODY), BODY, now).ok
    assert not verify(SECRET, github_headers(BODY), BODY + b" ", now).ok  # body changed after signing
    assert not verify(SECRET, {"X-Hub-Signature-256": "sha256="}, BODY, now).ok
    assert not verify(SECRET, {"X-Hub-Signature-256": "sha1=" + "0" * 40}, BODY, now).ok
    missing = verify(SECRET, {}, BODY, now)
    assert not missing.ok and "no signature header" in missing.reason


def test_standard_webhooks_signature_made_by_the_reference_package_is_accepted():
    now = _now()
    verdict = verify(STANDARD_SECRET, standard_headers(BODY), BODY, now)
    assert verdict.ok and verdict.scheme == "standard" and verdict.delivery == "msg_1"
    # A plain (not whsec_) secret is used as its UTF-8 bytes, for senders that take any string.
    key = SECRET.encode()
    signature = Webhook(key).sign("m2", now, BODY.decode())
    headers = {"webhook-id": "m2", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    assert verify(SECRET, headers, BODY, now).ok


@pytest.mark.parametrize("change", [
    {"webhook-signature": "v1,AAAA"},                     # wrong signature
    {"webhook-signature": "v1,!!!not base64!!!"},         # malformed base64
    {"webhook-signature": "AAAAAAAA"},                    # no "v1," prefix
    {"webhook-signature": "v2,AAAA"},                     # unknown version only
    {"webhook-timestamp": "yesterday"},                   # not a number
    {"webhook-id": ""},                                   # missing id
])
def test_standard_webhooks_malformed_or_wrong_headers_are_refused(change):
    now = _now()
    headers = {**standard_headers(BODY), **change}
    assert not verify(STANDARD_SECRET, headers, BODY, now).ok


def test_standard_webhooks_timestamp_outside_five_minutes_is_refused_even_with_a_good_signature():
    now = _now()
    stale = datetime.fromtimestamp(now.timestamp() - 6 * 60, UTC)
    early = datetime.fromtimestamp(now.timestamp() + 6 * 60, UTC)
    for at in (stale, early):
        verdict = verify(STANDARD_SECRET, standard_headers(BODY, at=at), BODY, now)
        assert not verdict.ok and "5 minutes" in verdict.reason
    inside = datetime.fromtimestamp(now.timestamp() - 4 * 60, UTC)
    assert verify(STANDARD_SECRET, standard_headers(BODY, at=inside), BODY, now).ok


def test_standard_webhooks_non_utf8_body_is_refused_not_an_error():
    now = _now()
    body = b"\xff\xfe\x00binary"
    headers = {**standard_headers(b"x"), "webhook-signature": "v1," + base64.b64encode(b"0" * 32).decode()}
    assert not verify(STANDARD_SECRET, headers, body, now).ok


@pytest.mark.parametrize("seen_factory", [lambda tmp: SeenInMemory(), lambda tmp: SeenInFolder(tmp / "ids")])
def test_an_id_is_acted_on_once_then_forgotten_after_the_window(tmp_path, seen_factory):
    seen = seen_factory(tmp_path)
    assert seen.first_time("msg_1", 1000.0)
    assert not seen.first_time("msg_1", 1001.0)
    assert seen.first_time("msg_2", 1001.0)


def test_ids_seen_by_one_worker_are_seen_by_another(tmp_path):
    one, other = SeenInFolder(tmp_path / "ids"), SeenInFolder(tmp_path / "ids")
    assert one.first_time("msg_9", time.time())
    assert not other.first_time("msg_9", time.time())


# -- the endpoint, with a real refresher behind a queue -------------------------------

@pytest.fixture
def hooked(site_dir, make_refresher):
    """(root, client, queue) with the webhook enabled; the queue's thread runs for the test."""
    root = site_dir(POSTS)
    with webhook_endpoint(make_refresher(root), SECRET) as (client, queue):
        yield root, client, queue


def _add_post(root) -> None:
    (root / "_posts/2026-02-01-beta.md").write_text(post_text("title: Beta\ntags: [web]"), encoding="utf-8")


def test_signed_hook_with_wait_reports_what_changed_and_the_feed_shows_it(hooked):
    root, client, queue = hooked
    _add_post(root)
    response = client.post("/hooks/refresh?wait=1", data=BODY, headers=github_headers(BODY))
    assert response.status_code == 200
    outcome = response.get_json()
    assert outcome["status"] == "done" and outcome["published"] is True
    assert outcome["added"] == ["_posts/2026-02-01-beta.md"]
    assert "/tags/web/rss.xml" in outcome["feeds_changed"] and "/rss.xml" in outcome["feeds_changed"]
    assert outcome["trigger"] == "webhook" and outcome["error_count"] == 0
    assert b"<title>Beta</title>" in client.get("/rss.xml").data


def test_signed_hook_without_wait_answers_202_with_a_refresh_id_then_refreshes(hooked):
    root, client, queue = hooked
    _add_post(root)
    response = client.post("/hooks/refresh", data=BODY, headers=github_headers(BODY))
    assert response.status_code == 202
    refresh_id = response.get_json()["refresh"]
    assert queue.wait(int(refresh_id), 10) is not None
    assert b"<title>Beta</title>" in client.get("/rss.xml").data


@pytest.mark.parametrize("headers", [
    {},
    {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    {"X-Hub-Signature-256": "sha256=\u00e9"},
    {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
])
def test_unsigned_or_wrongly_signed_requests_get_401_and_change_nothing(hooked, headers, caplog):
    root, client, queue = hooked
    _add_post(root)
    before = client.get("/rss.xml").data
    response = client.post("/hooks/refresh", data=BODY, headers=headers)
    assert response.status_code == 401
    time.sleep(0.1)
    assert queue.runs == (0, 0)
    assert client.get("/rss.xml").data == before
    assert SECRET not in caplog.text and SECRET not in response.get_data(as_text=True)


def test_a_replayed_standard_webhook_id_is_not_acted_on_twice(site_dir, make_refresher):
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh("startup")
    queue = RefreshQueue(refresher)
    queue.start()
    try:
        client = create_app(refresher.settings, refresher.store,
                            WebhookReceiver(STANDARD_SECRET, queue, SeenInMemory())).test_client()
        headers = standard_headers(BODY, message_id="msg_replayed")
        assert client.post("/hooks/refresh?wait=1", data=BODY, headers=headers).status_code == 200
        again = client.post("/hooks/refresh?wait=1", data=BODY, headers=headers)
        assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
        assert queue.runs == (1, 1)
    finally:
        queue.stop()


def test_github_ping_gets_200_without_a_refresh(hooked):
    _, client, queue = hooked
    response = client.post("/hooks/refresh", data=b"{}", headers=github_headers(b"{}", event="ping"))
    assert response.status_code == 200 and response.get_json()["status"] == "pong"
    assert queue.runs == (0, 0)


def test_bodies_over_one_mebibyte_get_413(hooked):
    _, client, queue = hooked
    body = b"x" * (1024 * 1024 + 1)
    assert client.post("/hooks/refresh", data=body, headers=github_headers(body)).status_code == 413
    assert queue.runs == (0, 0)


def test_other_methods_get_405_with_allow_post(hooked):
    _, client, _ = hooked
    for method in ("get", "put", "delete", "patch"):
        response = getattr(client, method)("/hooks/refresh")
        assert response.status_code == 405, method
        assert "POST" in response.headers["Allow"]


def test_without_a_secret_the_hook_does_not_exist(site_dir, make_refresher):
    refresher = make_refresher(site_dir(POSTS))
    refresher.refresh("startup")
    client = create_app(refresher.settings, refresher.store).test_client()
    assert client.post("/hooks/refresh", data=BODY, headers=github_headers(BODY)).status_code == 404


def test_empty_secret_in_the_environment_disables_the_hook(site_dir):
    from feedsvc.deploy.service import Service

    root = site_dir(POSTS)
    service = Service({"FEEDSVC_WEBHOOK_SECRET": "  "}, root)
    assert service.webhooks is None
    response = service.app.test_client().post("/hooks/refresh", data=BODY, headers=github_headers(BODY, "  "))
    assert response.status_code == 404


# -- coalescing -------------------------------------------------------------------------

class SlowRefresher:
    """Counts runs and overlapping runs; the first run blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.most_at_once = 0
        self.triggers: list[str] = []
        self._lock = threading.Lock()

    def refresh(self, trigger: str) -> RefreshReport:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.triggers.append(trigger)
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        return RefreshReport(trigger)


def test_a_burst_of_fifty_triggers_runs_at_most_one_refresh_plus_one_queued():
    refresher = SlowRefresher()
    queue = RefreshQueue(refresher)  # type: ignore[arg-type]
    queue.start()
    try:
        first = queue.enqueue("webhook")
        deadline = time.monotonic() + 5
        while queue.runs[0] < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        threads = [threading.Thread(target=queue.enqueue, args=("webhook",)) for _ in range(49)]
        threads.append(threading.Thread(target=queue.enqueue, args=("interval",)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refresher.release.set()
        assert queue.wait(first + 1, 10) is not None
        time.sleep(0.1)
        assert queue.runs == (2, 2)
        assert refresher.most_at_once == 1
        assert refresher.triggers == ["webhook", "webhook x49, interval"]
    finally:
        refresher.release.set()
        queue.stop()


def test_every_waiter_of_a_coalesced_run_gets_that_runs_report():
    refresher = SlowRefresher()
    refresher.release.set()
    queue = RefreshQueue(refresher)  # type: ignore[arg-type]
    ids = [queue.request("webhook") for _ in range(5)]  # queued before the thread starts: one run
    queue.start()
    try:
        outcomes = [queue.outcome(refresh_id, 5) for refresh_id in ids]
        assert all(o is not None and o["refresh"] == "1" for o in outcomes)
        assert queue.runs == (1, 1)
    finally:
        queue.stop()
