"""Slow and odd clients: webhook senders that trickle never starve feed readers, a body has a deadline and a
size limit, absurd dates are ignored and bad framing is a 400 (both servers)."""

from __future__ import annotations

import socket
import sys
import threading
import time
import urllib.request

import pytest
from conftest import exchange_raw, post_text
from test_server import GUNICORN_ARGV, Server, free_port, start  # noqa: F401  (start: a fixture)

from feedsvc.web.app import create_app
from feedsvc.web.hookbudget import BodyRefused, HookBudget

ABSURD = "Sat, 01 Jan 99999999999 00:00:00 GMT"
SIGNED_LOOKING = b"POST /hooks/refresh HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=00\r\n"


# -- the budget and the body deadline, in process ----------------------------------------------

def _socket_environ(body_length: int | None, chunked: bool = False):
    """An environ reading from one end of a real socket pair, as gunicorn's does; the other end is the client."""
    server_end, client_end = socket.socketpair()
    environ = {"wsgi.input": server_end.makefile("rb"), "gunicorn.socket": server_end}
    if body_length is not None:
        environ["CONTENT_LENGTH"] = str(body_length)
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    return environ, client_end


def test_only_a_few_hook_requests_at_once_and_a_slot_comes_back_when_it_is_done():
    budget = HookBudget(slots=2)
    first, second = budget.take(), budget.take()
    assert first is not None and second is not None
    assert budget.take() is None
    second.drop()
    third = budget.take()
    assert third is not None and budget.take() is None


def test_a_trickling_body_is_cut_off_at_the_deadline_and_gives_its_thread_and_slot_back():
    budget = HookBudget(slots=1, seconds=0.3)
    environ, client = _socket_environ(1000)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            try:
                client.send(b"x")
            except OSError:
                return
            time.sleep(0.05)

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    lease = budget.take()
    started = time.monotonic()
    try:
        with pytest.raises(BodyRefused) as refused:
            budget.read_body(environ, 1 << 20, lease)
        assert refused.value.status == 408
        assert time.monotonic() - started < 5  # not held until the 1000 bytes came (never)
    finally:
        lease.drop()
        stop.set()
    deadline = time.monotonic() + 5
    while budget.take() is None:  # the read was woken and let go of the slot
        assert time.monotonic() < deadline, "the body read still holds its slot"
        time.sleep(0.01)
    client.close()


def test_a_whole_body_is_read_and_a_large_or_broken_one_is_refused():
    budget = HookBudget(slots=1, seconds=5)
    environ, client = _socket_environ(5)
    client.sendall(b"hello")
    lease = budget.take()
    assert budget.read_body(environ, 100, lease) == b"hello"
    with pytest.raises(BodyRefused) as refused:
        budget.read_body({"CONTENT_LENGTH": "101", "wsgi.input": None}, 100, lease)
    assert refused.value.status == 413
    environ, client = _socket_environ(None, chunked=True)  # the server decodes chunks; we see the bytes
    client.sendall(b"y" * 300)
    client.close()
    with pytest.raises(BodyRefused) as refused:
        budget.read_body(environ, 100, lease)
    assert refused.value.status == 413
    environ, client = _socket_environ(10)
    client.sendall(b"short")
    client.close()
    with pytest.raises(BodyRefused) as refused:
        budget.read_body(environ, 100, lease)
    assert refused.value.status == 400
    lease.drop()


def test_when_every_hook_slot_is_busy_a_hook_is_503_at_once(site_dir, make_refresher):
    from feedsvc.web.webhooks import SeenInMemory, WebhookReceiver

    refresher = make_refresher(site_dir({"_posts/2026-01-10-a.md": post_text("title: A")}))
    refresher.refresh()
    budget = HookBudget(slots=1)
    receiver = WebhookReceiver("s3cret-for-tests", refresher, SeenInMemory())
    client = create_app(refresher.settings, refresher.store, webhooks=receiver, hooks=budget).test_client()
    held = budget.take()
    response = client.post("/hooks/refresh", data=b"{}", headers={"X-Hub-Signature-256": "sha256=00"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    held.drop()
    response = client.post("/hooks/refresh", data=b"{}", headers={"X-Hub-Signature-256": "sha256=00"})
    assert response.status_code == 401  # a slot again: the signature is checked (and is wrong)


@pytest.mark.parametrize("since", [ABSURD, "Sat, 01 Jan 9999 23:59:60 GMT", "Mon, 01 Jan -0001 00:00:00 GMT"])
def test_an_absurd_if_modified_since_is_ignored(site_dir, make_refresher, since):
    refresher = make_refresher(site_dir({"_posts/2026-01-10-a.md": post_text("title: A")}))
    refresher.refresh()
    app = create_app(refresher.settings, refresher.store)
    for client in (app.test_client(), app.test_client()):
        for path in ("/rss.xml", "/rss.xml?tags=nothing-such", "/"):
            response = client.get(path, headers={"If-Modified-Since": since})
            assert response.status_code in (200, 404), (path, response.status_code)
        assert client.get("/rss.xml", headers={"If-Modified-Since": since}).status_code == 200


# -- through the servers --------------------------------------------------------------------------

QUICK_DEADLINE = 1.0  # the body deadline of the server whose deadline a test waits out (FEEDSVC_WEBHOOK_BODY_SECONDS)


def _hooked_server(kind: str, start, content, extra: dict[str, str]) -> Server:  # noqa: F811
    port = free_port()
    argv = GUNICORN_ARGV if kind == "gunicorn" else [
        sys.executable, "-m", "feedsvc", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = start(argv, port, {"PORT": str(port), "HOST": "127.0.0.1", "FEEDSVC_CONTENT_DIR": str(content),
                                "FEEDSVC_WEBHOOK_SECRET": "s3cret-for-tests", **extra})
    server.wait_ready()
    server.kind = kind
    return server


@pytest.fixture(params=["granian", "gunicorn"])
def hooked(request, start, site_dir):  # noqa: F811
    """A server with the default body deadline (10 s): longer than any test here trickles."""
    return _hooked_server(request.param, start, site_dir({"_posts/2026-01-10-a.md": post_text("title: Alpha")}), {})


@pytest.fixture(params=["granian", "gunicorn"])
def quick_deadline(request, start, site_dir):  # noqa: F811
    """A server whose body deadline a test can wait out."""
    return _hooked_server(request.param, start, site_dir({"_posts/2026-01-10-a.md": post_text("title: Alpha")}),
                          {"FEEDSVC_WEBHOOK_BODY_SECONDS": str(QUICK_DEADLINE)})


def _raw(server: Server, request: bytes, timeout: float) -> bytes:
    return exchange_raw(server.port, request, timeout)


def test_readers_are_answered_while_many_senders_trickle_webhook_bodies(hooked):
    """50 signed-looking hook requests trickle a body until a reader polling the feed meanwhile has been answered
    ten times (starved, a read waits for a trickle that ends only after the reads: the timeout below fails it)."""
    done = threading.Event()
    opened = threading.Barrier(51, timeout=20)

    def trickle() -> None:
        try:
            with socket.create_connection(("127.0.0.1", hooked.port), timeout=15) as sock:
                sock.sendall(SIGNED_LOOKING + b"Content-Length: 100000\r\n\r\n")
                opened.wait()
                while not done.wait(0.1):
                    sock.sendall(b"x")
        except (OSError, threading.BrokenBarrierError):
            pass  # cut off: as it should be

    senders = [threading.Thread(target=trickle, daemon=True) for _ in range(50)]
    for sender in senders:
        sender.start()
    try:
        opened.wait()
        time.sleep(0.3)  # every sender's request is in the server before the first read
        for _ in range(10):
            with urllib.request.urlopen(hooked.base + "/rss.xml", timeout=6) as response:
                assert response.status == 200 and b"Alpha" in response.read()
            time.sleep(0.05)
    finally:
        done.set()
    for sender in senders:
        sender.join(10)
    assert hooked.get("/healthz")[0] == 200


def test_an_absurd_date_is_ignored_and_bad_framing_is_a_400_through_the_server(quick_deadline):
    hooked = quick_deadline
    answer = _raw(hooked, b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + ABSURD.encode()
                  + b"\r\nConnection: close\r\n\r\n", timeout=5)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    answer = _raw(hooked, SIGNED_LOOKING + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n"
                  b"0\r\n\r\n", timeout=5)
    assert answer.split(b" ")[1] in (b"400", b"401"), answer[:200]  # granian decodes chunks itself
    if hooked.kind == "gunicorn":
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        started = time.monotonic()  # a chunk that never comes: a bounded answer, not a hang
        answer = _raw(hooked, SIGNED_LOOKING + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc\r\n",
                      timeout=90)
        assert time.monotonic() - started < 80  # the body deadline is 1 s: only a hang takes this long
        assert answer == b"" or answer.split(b" ")[1] in (b"400", b"408", b"413"), answer[:200]
    assert b"Traceback" not in hooked.log().encode()
