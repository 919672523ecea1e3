"""Swaps and takeovers happen between any two steps of a request thread: each is one reference, read once.

Each test stops a thread at the one moment that used to go wrong (issue 12) and lets the other side run there.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import time
from types import MappingProxyType

import pytest
from conftest import settings_from
from werkzeug.test import Client
from werkzeug.wrappers import Response

from feedsvc.deploy.statefolder import StateFolder
from feedsvc.deploy.workers import REQUEST_STALE_SECONDS, Delegate, Deployment, RemoteRefreshes
from feedsvc.model import Resource
from feedsvc.pipeline.triggers import RefreshQueue
from feedsvc.snapshot import Served, SnapshotStore
from feedsvc.web.app import create_app
from feedsvc.web.fastpath import FastPath
from feedsvc.web.metrics import Metrics
from feedsvc.web.ondemand import OnDemandFeeds


@pytest.fixture
def settings():
    return settings_from()


def _resource(path: str, body: bytes) -> Resource:
    return Resource(path=path, content_type="application/rss+xml; charset=utf-8", gzip=gzip.compress(body),
                    size=len(body), etag=hashlib.sha256(body).hexdigest()[:32], last_modified=None)


def _served(generation: int, body: bytes) -> Served:
    return Served(resources=MappingProxyType({"/rss.xml": _resource("/rss.xml", body)}), generation=generation)


class _Interleaved(FastPath):
    """Runs `between` right after the fast path stores any attribute: another request arriving at that instant."""

    between = None

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        hook = self.__dict__.get("between")
        if hook is not None and name != "between":
            object.__setattr__(self, "between", None)
            hook()


def _etag(app, environ_path: str = "/rss.xml") -> str:
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.append(dict(headers)["ETag"])

    app({"REQUEST_METHOD": "GET", "PATH_INFO": environ_path, "QUERY_STRING": "", "wsgi.url_scheme": "http"},
        start_response)
    return seen[0]


def test_a_request_during_a_snapshot_swap_never_gets_the_previous_snapshots_bytes(settings):
    store = SnapshotStore()
    first, second = _served(1, b"<rss>first</rss>"), _served(2, b"<rss>second</rss>")
    fast = _Interleaved(store, lambda environ, start_response: [b"flask"], 60, Metrics())
    store.snapshot = first
    assert _etag(fast) == f'"{first.resources["/rss.xml"].etag}"'
    store.snapshot = second
    during: list[str] = []
    fast.between = lambda: during.append(_etag(fast))  # a second thread, at the worst moment of the swap
    after = _etag(fast)
    assert during and during == [after] == [f'"{second.resources["/rss.xml"].etag}"']


def test_a_takeover_between_check_and_call_answers_a_filtered_feed_instead_of_a_500(settings):
    store = SnapshotStore()
    store.snapshot = _served(1, b"<rss>all</rss>")
    ondemand = OnDemandFeeds(lambda: settings)
    asked: list[str] = []

    def builder(key: str) -> Resource:
        asked.append(key)
        return _resource("/rss.xml", b"<rss>filtered</rss>")

    class _TakeoverWhileWaiting:
        """The render slot: this follower becomes the builder while it waits for one."""

        def acquire(self, timeout: float | None = None) -> bool:
            ondemand.remote = None
            return True

        def release(self) -> None:
            pass

    ondemand.remote = builder
    ondemand._renders = _TakeoverWhileWaiting()  # type: ignore[assignment]
    client = Client(create_app(settings, store, ondemand=ondemand), Response)
    response = client.get("/rss.xml?tag=python")
    assert response.status_code == 200 and response.get_data() == b"<rss>filtered</rss>"
    assert asked


class _Queue:
    """Stands in for this process's refresh queue: it knows only the ids it issued (numbers)."""

    def request(self, trigger: str) -> str:
        return "1"

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, object] | None:
        return {"refresh": int(refresh_id)}


def test_a_wait_that_spans_a_takeover_still_gets_the_result_of_its_refresh(tmp_path):
    state = StateFolder(tmp_path / "state")
    delegate = Delegate(RemoteRefreshes(state))
    refresh_id = delegate.request("webhook")  # dropped as a request file for the builder
    delegate.target = _Queue()  # then this follower takes over as the builder
    result = {"refresh": refresh_id, "published": True}
    (state.results / f"{refresh_id}.json").write_text(json.dumps(result))  # the answer to that request
    assert delegate.outcome(refresh_id, 1.0) == result


def test_a_builder_back_from_a_stall_skips_requests_no_one_awaits(tmp_path, make_refresher, site_dir, caplog):
    state = StateFolder(tmp_path / "state")
    refresher = make_refresher(site_dir({}))
    queue = RefreshQueue(refresher)
    rendered: list[str] = []

    class _OnDemand:
        remote = None

        def answer(self, snapshot: Served, target: object) -> Resource:
            rendered.append(str(target))
            return _resource("/rss.xml", b"<rss/>")

    store = SnapshotStore()
    store.snapshot = _served(1, b"<rss/>")
    deployment = Deployment(state, store, queue, Delegate(queue), lambda: None, lambda: None, dict,
                            _OnDemand())  # type: ignore[arg-type]
    long_ago = time.time() - REQUEST_STALE_SECONDS - 5
    for n in range(20):  # the backlog that piled up while the builder was stopped
        path = state.requests / f"old{n:02d}.json"
        path.write_text(json.dumps({"render": "/rss.xml?tag=python"} if n % 2 else {"trigger": "webhook"}))
        os.utime(path, (long_ago, long_ago))
    (state.requests / "fresh.json").write_text(json.dumps({"render": "/rss.xml?tag=python"}))
    with caplog.at_level(logging.WARNING, logger="feedsvc"):
        assert deployment._take_requests()
    assert len(rendered) == 1 and (state.results / "fresh.json").exists()
    assert not list(state.requests.iterdir())
    assert not any(p.name.startswith("old") for p in state.results.iterdir())
    assert queue.runs == (0, 0) and queue._queued == ["worker"]  # ten stale refreshes became one
    assert "skipped 10 render and 10 refresh requests" in caplog.text


def test_an_exception_the_fast_path_survives_is_logged_with_its_traceback_and_counted(settings, caplog):
    store = SnapshotStore()
    store.snapshot = _served(1, b"<rss/>")
    metrics = Metrics()
    fast = FastPath(store, lambda environ, start_response: start_response("200 OK", []) or [b"flask"], 60, metrics)

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the fast path")

    fast._prepare = broken  # type: ignore[method-assign]
    logging.getLogger("feedsvc").addHandler(caplog.handler)
    try:
        assert list(fast({"REQUEST_METHOD": "GET", "PATH_INFO": "/rss.xml"}, lambda *a: None)) == [b"flask"]
    finally:
        logging.getLogger("feedsvc").removeHandler(caplog.handler)
    assert "RuntimeError: a bug in the fast path" in caplog.text and "Traceback" in caplog.text
    exposition = metrics.exposition()[0].decode()
    assert 'feedsvc_exceptions_total{module="fastpath"} 1.0' in exposition


def test_a_follower_that_takes_over_while_its_process_stops_leaves_no_builder_running(tmp_path, make_refresher,
                                                                                      site_dir):
    """A server shutting down stops its builder first: a follower then takes over, and its own stop can come
    while the builder's threads are still starting. Whatever was started must be stopped (it used to keep
    the scheduler running, and the worker alive until the server killed it)."""
    import fcntl
    import threading

    state = StateFolder(tmp_path / "state")
    queue = RefreshQueue(make_refresher(site_dir({})))
    entered, running = threading.Event(), threading.Event()

    def start_builder() -> None:  # slow, as loading the post cache is
        entered.set()
        time.sleep(0.3)
        running.set()

    holder = os.open(state.lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another worker is the builder
    deployment = Deployment(state, SnapshotStore(), queue, Delegate(queue), start_builder, running.clear, dict)
    deployment.start()
    assert deployment.role == "follower"
    os.close(holder)  # the builder stops: this follower takes over...
    assert entered.wait(10)
    deployment.stop()  # ...and is told to stop while its builder starts
    assert not running.is_set()
