"""WebSub end to end with software nobody on this team wrote: the Flask-WebSub hub and subscriber.

Three servers on 127.0.0.1: feedsvc, a Flask-WebSub hub (Celery in eager mode, so its tasks
run inside its request threads) and a Flask-WebSub subscriber. The subscriber finds hub and
topic by discovery on the served feed, subscribes, and must receive the new feed bytes after
an edit: that only works when the ping names the topic and the feed response carries the
`Link` headers the hub insists on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery
from flask import Flask
from flask_websub.hub import Hub, SQLite3HubStorage
from flask_websub.subscriber import SQLite3SubscriberStorage, SQLite3TempSubscriberStorage, Subscriber, discover
from test_websub import POSTS, _edit_alpha
from werkzeug.serving import BaseWSGIServer, make_server

from feedsvc.deploy.websub import HubPinger
from feedsvc.web.app import create_app

WAIT = 20.0


class Served:
    """A WSGI app on an ephemeral 127.0.0.1 port; the app may be set after the port is known."""

    def __init__(self, app: Callable | None = None) -> None:
        self.app = app
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def _dispatch(self, environ, start_response):
        assert self.app is not None
        return self.app(environ, start_response)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def serve(app: Callable | None = None) -> Served:
        started.append(Served(app))
        return started[-1]

    yield serve
    for served in started:
        served.close()


def _hub_app(storage: Path) -> Flask:
    celery = Celery("websub-test-hub", broker="memory://", backend="cache+memory://")
    celery.conf.task_always_eager = True
    app = Flask("hub")
    app.config["PUBLISH_SUPPORTED"] = True
    hub = Hub(SQLite3HubStorage(str(storage)), celery, **app.config)
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    return app


def test_a_real_hub_delivers_the_edited_feed_to_a_subscriber_who_found_it_by_discovery(
        site_dir, make_refresher, servers, tmp_path):
    feeds, hub_server, subscriber_server = servers(), servers(), servers()
    hub_url = hub_server.base + "/hub"
    hub_server.app = _hub_app(tmp_path / "hub.db")

    refresher = make_refresher(site_dir(POSTS), environ={
        "FEEDSVC_WEBSUB_HUBS": hub_url, "FEEDSVC_BASE_URL": feeds.base})
    assert refresher.refresh("startup").published
    feeds.app = create_app(refresher.settings, refresher.store)
    pinger = HubPinger(lambda: refresher.settings, timeout=10)
    refresher.listeners.append(pinger)
    pinger.start()

    subscriber = Subscriber(SQLite3SubscriberStorage(str(tmp_path / "sub.db")),
                            SQLite3TempSubscriberStorage(str(tmp_path / "sub.db")))
    subscriber_app = Flask("subscriber")
    subscriber_app.config["SERVER_NAME"] = subscriber_server.base.removeprefix("http://")
    subscriber_app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))
    subscriber_server.app = subscriber_app
    subscribed: dict[str, threading.Event] = {}
    received: dict[str, list[bytes]] = {}
    arrived = threading.Condition()
    subscriber.add_success_handler(lambda topic, callback_id, mode: subscribed[topic].set())

    def on_notification(topic: str, callback_id: str, body: bytes) -> None:
        with arrived:
            received.setdefault(topic, []).append(body)
            arrived.notify_all()

    subscriber.add_listener(on_notification)

    # JSON Feed has no <link> element: discovering it proves the Link header. RSS via both.
    python_json = feeds.base + "/tags/python/feed.json"
    travel_rss = feeds.base + "/tags/travel/rss.xml"
    try:
        for url in (python_json, travel_rss):
            found = discover(url, timeout=5)
            assert found == {"hub_url": hub_url, "topic_url": url}
            subscribed[url] = threading.Event()
            with subscriber_app.app_context():
                subscriber.subscribe(**found)
            assert subscribed[url].wait(WAIT), f"the hub did not verify the subscription to {url}"

        _edit_alpha(refresher.content_dir)  # Alpha is tagged python, not travel
        assert "/tags/python/feed.json" in refresher.refresh("edit").feeds_changed
        with arrived:
            assert arrived.wait_for(lambda: python_json in received, WAIT), "no notification arrived"
        assert pinger.flush(WAIT)
        served = refresher.store.snapshot.resources["/tags/python/feed.json"].body
        assert b"Alpha Post, revised" in served
        assert received[python_json] == [served]
        assert travel_rss not in received  # its feed did not change: its hub was never pinged for it
        hubs = pinger.status()["hubs"]
        assert [(h["hub"], h["sent"], h["failed"]) for h in hubs] == [(hub_url, 12, 0)]
    finally:
        assert pinger.stop(timeout=5)
