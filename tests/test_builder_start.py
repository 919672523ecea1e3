"""A restarted server: what its builder does first, and when, while readers are already being served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import post_text
from test_server import POSTS
from werkzeug.test import Client
from werkzeug.wrappers import Response

from feedsvc.deploy.activity import ReaderActivity
from feedsvc.deploy.service import Service
from feedsvc.pipeline.scheduling import RefreshScheduler

DEADLINE = 20.0


def _ok(environ: dict, start_response) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def _request(activity: ReaderActivity, path: str = "/rss.xml") -> None:
    list(activity({"PATH_INFO": path}, lambda status, headers: None))


def test_the_builder_waits_for_readers_to_pause_before_loading():
    activity = ReaderActivity(_ok)
    stop_at = time.monotonic() + 0.5
    readers = threading.Thread(target=lambda: [(_request(activity), time.sleep(0.02))
                                               for _ in iter(lambda: time.monotonic() < stop_at, False)])
    readers.start()
    waited = activity.wait_for_lull(quiet=0.2, latest=5.0)
    readers.join()
    assert 0.6 <= waited < 2.0  # the rush (0.5 s) and then the quiet window (0.2 s), not the 5 s bound


def test_under_steady_traffic_the_builder_starts_at_its_latest_bound():
    activity = ReaderActivity(_ok)
    stop = threading.Event()

    def readers() -> None:
        while not stop.is_set():
            _request(activity)
            time.sleep(0.01)

    thread = threading.Thread(target=readers)
    thread.start()
    try:
        waited = activity.wait_for_lull(quiet=0.2, latest=0.5)
    finally:
        stop.set()
        thread.join()
    assert 0.5 <= waited < 1.5


def test_the_quiet_before_the_first_reader_is_not_a_lull():
    activity = ReaderActivity(_ok)
    activity.last -= 10  # long before: as if the server took that long to begin answering
    threading.Timer(0.4, lambda: _request(activity)).start()
    waited = activity.wait_for_first_readers(latest=5.0)
    assert 0.4 + 0.3 <= waited < 3.0  # the first request, then a pause after it; not at once
    quiet = ReaderActivity(_ok)
    assert 0.5 <= quiet.wait_for_first_readers(latest=0.5) < 1.5  # no reader at all: its bound, then a lull


def test_probes_are_not_readers_and_stopping_lets_the_builder_go():
    activity = ReaderActivity(_ok)
    activity.last -= 10  # the process started long ago
    for _ in range(5):
        _request(activity, "/status")
        _request(activity, "/healthz")
    assert activity.wait_for_lull(quiet=0.2, latest=5.0) < 0.1
    _request(activity)
    threading.Timer(0.1, activity.stop).start()
    assert activity.wait_for_lull(quiet=10.0, latest=10.0) < 1.0


def test_a_warm_start_serves_a_file_still_being_written_once_it_settles(site_dir, tmp_path, monkeypatch):
    """The builder's first refresh holds a file changed within the settle window and asks the scheduler to look
    again once it is still; the scheduler must exist by then (d3ef662). A slow scheduler start makes the
    order decide: started after the first refresh was asked for, it would miss that request for good."""
    root = site_dir(POSTS)
    environ = {"FEEDSVC_STATE_DIR": str(tmp_path / "state"), "FEEDSVC_RESCAN_SECONDS": "3600", "FEEDSVC_WATCH": "off"}
    before = Service(environ, root, serving=True)  # the feeds and the post cache a restart finds
    before.publish_state()
    before.start_background()
    deadline = time.monotonic() + DEADLINE
    while not any((tmp_path / "state" / "posts").glob("index*")):
        assert time.monotonic() < deadline, "the post cache was never saved"
        time.sleep(0.05)
    before.stop()
    late = root / "_posts/2026-03-01-late.md"
    late.write_text(post_text("title: Written While We Were Down"), encoding="utf-8")
    soon = time.time() + 1.5  # as if its writer were still at it: within the settle window for 3.5 s
    os.utime(late, (soon, soon))

    first_refresh = threading.Event()
    start = RefreshScheduler.start

    def slow_start(scheduler: RefreshScheduler) -> None:
        first_refresh.wait(1.0)  # with the old order, the startup refresh has finished by now
        start(scheduler)

    monkeypatch.setattr(RefreshScheduler, "start", slow_start)
    service = Service(environ, root, serving=True)
    assert service.state_folder is not None, "not a warm start"
    service.queue.on_report.append(lambda report: first_refresh.set())
    service.start_background()
    try:
        deadline = time.monotonic() + DEADLINE
        # Read from the store, not over HTTP: a reader's request would make the builder wait (activity.py)
        while b"Written While We Were Down" not in service.store.snapshot.resources["/rss.xml"].body:
            assert time.monotonic() < deadline, "the post written during the start was never served"
            time.sleep(0.05)
    finally:
        service.stop()


SERVING_PROBE = """
import json, sys
from feedsvc.deploy.service import Service
service = Service({"FEEDSVC_STATE_DIR": sys.argv[2], "FEEDSVC_WATCH": "off"}, sys.argv[1], serving=True)
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/rss.xml", "QUERY_STRING": "", "SERVER_NAME": "localhost",
           "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost", "wsgi.url_scheme": "http"}
answered = []
body = b"".join(service.wsgi(environ, lambda status, headers, *rest: answered.append(status)))
heavy = sys.argv[3].split(",")
print(json.dumps({"warm": service.state_folder is not None, "status": answered, "feed": body.startswith(b"<?xml"),
                  "loaded": sorted(name for name in sys.modules
                                   if any(name == top or name.startswith(top + ".") for top in heavy))}))
"""
# What the builder, a request other than a feed, or the settings' reading need: imported in the builder thread
# after the fork, or after the readers' rush. A package named here stands for every module under it.
NOT_ON_THE_SERVING_PATH = (
    # the server stack and the builder's libraries
    "flask", "werkzeug", "jinja2", "apscheduler", "watchdog", "granian", "gunicorn",
    # the feed writer, Markdown engines, Liquid, YAML and TOML readers, date parsing
    "feedgen", "cmarkgfm", "liquid", "yaml", "tomllib", "tomli", "dateutil", "pygments",
    # feedsvc's parsers, renderers and builder (the dialects read the settings: a record says they are unchanged)
    "feedsvc.content.parsing", "feedsvc.content.reading", "feedsvc.content.markup", "feedsvc.content.dialects",
    "feedsvc.content.templating", "feedsvc.render", "feedsvc.pipeline", "feedsvc.web.app",
    "feedsvc.web.webhooks", "feedsvc.deploy.workers", "feedsvc.deploy.websub", "feedsvc.deploy.gitsource",
)


def _probe(root: Path, state: Path, heavy: tuple[str, ...] = NOT_ON_THE_SERVING_PATH) -> dict:
    argv = [sys.executable, "-c", SERVING_PROBE, str(root), str(state), ",".join(heavy)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_warm_start_answers_a_feed_before_importing_flask_the_parsers_or_the_renderers(site_dir, tmp_path):
    root = site_dir(POSTS)
    state = tmp_path / "state"
    Service({"FEEDSVC_STATE_DIR": str(state), "FEEDSVC_WATCH": "off"}, root, serving=True).publish_state()
    assert _probe(root, state) == {"warm": True, "status": ["200 OK"], "feed": True, "loaded": []}


GRANIAN_PROBE = """
import json, sys
import granian
from feedsvc import cli
from feedsvc.deploy.service import Service

class Forking:  # granian as `feedsvc serve` starts it, stopped where it would fork its workers
    def __init__(self, *args, **kwargs): pass
    def serve(self):
        heavy = sys.argv[3].split(",")
        print(json.dumps(sorted(name for name in sys.modules if any(name == top or name.startswith(top + ".")
                                                                    for top in heavy))))

granian.Granian = Forking
service = Service({"FEEDSVC_STATE_DIR": sys.argv[2], "FEEDSVC_WATCH": "off"}, sys.argv[1], serving=True)
cli._serve_granian(service, "127.0.0.1", 0)
"""


def test_feedsvc_serve_forks_its_workers_before_importing_the_parsers_or_the_renderers(site_dir, tmp_path):
    root = site_dir(POSTS)
    state = tmp_path / "state"
    Service({"FEEDSVC_STATE_DIR": str(state), "FEEDSVC_WATCH": "off"}, root, serving=True).publish_state()
    heavy = tuple(name for name in NOT_ON_THE_SERVING_PATH if name != "granian")
    argv = [sys.executable, "-c", GRANIAN_PROBE, str(root), str(state), ",".join(heavy)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_probe_sees_what_a_start_that_must_read_the_settings_imports(site_dir, tmp_path):
    """The same probe, after the settings' inputs changed: the settings are read, the dialects with them."""
    root = site_dir(POSTS)
    state = tmp_path / "state"
    Service({"FEEDSVC_STATE_DIR": str(state), "FEEDSVC_WATCH": "off"}, root, serving=True).publish_state()
    config = root / "_config.yml"
    config.write_text(config.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    probe = _probe(root, state)
    assert probe["warm"] and probe["status"] == ["200 OK"]  # the same settings: still a warm start
    assert "feedsvc.content.dialects" in probe["loaded"]


def test_the_flask_app_is_built_on_first_use_and_answers_what_the_fast_path_does_not(site_dir, tmp_path):
    root = site_dir(POSTS)
    service = Service({"FEEDSVC_STATE_DIR": str(tmp_path / "state"), "FEEDSVC_WATCH": "off"}, root, serving=True)
    client = Client(service.wsgi, Response)
    assert client.get("/rss.xml").status_code == 200
    assert client.get("/healthz").status_code == 200  # Flask's route
    assert client.get("/rss.xml?x=1").data == client.get("/rss.xml").data
    assert service.app is service.app
