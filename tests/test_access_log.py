"""The access log shows the query string: filtered feeds are requests of their own."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest
from test_server import GUNICORN_ARGV, POSTS, Server, free_port, start  # noqa: F401 (start is a fixture)

from feedsvc.deploy.accesslog import QueryInPath

FILTERED = "/rss.xml?tags=python&categories=news"


def test_the_filter_appends_the_query_to_granians_path() -> None:
    record = logging.LogRecord("granian.access", logging.INFO, __file__, 1, '"%(method)s %(path)s" %(status)d',
                               ({"method": "GET", "path": "/rss.xml", "query_string": "tags=a", "status": 200},),
                               None)
    assert QueryInPath().filter(record) and record.getMessage() == '"GET /rss.xml?tags=a" 200'
    plain = logging.LogRecord("granian.access", logging.INFO, __file__, 1, "%(path)s",
                              ({"path": "/atom.xml", "query_string": ""},), None)
    assert QueryInPath().filter(plain) and plain.getMessage() == "/atom.xml"


def _logged(server: Server, path: Path, wanted: str, seconds: float = 10.0) -> str:
    deadline = time.monotonic() + seconds
    while True:
        text = "".join(p.read_text(errors="replace") for p in (path, path.with_suffix(".stdout")) if p.exists())
        if wanted in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


@pytest.mark.parametrize("server_name", ["granian", "gunicorn"])
def test_a_served_request_is_logged_with_its_query_string(server_name: str, start, site_dir) -> None:  # noqa: F811
    content = site_dir(POSTS)
    port = free_port()
    env = {"FEEDSVC_ACCESS_LOG": "1", "FEEDSVC_RESCAN_SECONDS": "3600"}
    if server_name == "granian":
        argv = [sys.executable, "-m", "feedsvc", "serve", "--content", str(content), "--host", "127.0.0.1",
                "--port", str(port)]
    else:
        argv = GUNICORN_ARGV
        env.update({"FEEDSVC_CONTENT_DIR": str(content), "PORT": str(port), "HOST": "127.0.0.1"})
    server = start(argv, port, env)
    server.wait_ready()
    status, _, _ = server.get(FILTERED)
    assert status == 200
    log = _logged(server, server.log_path, FILTERED)
    assert FILTERED in log, log[-3000:]
