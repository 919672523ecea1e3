"""Scale-out: two replicas building from one remote behind nginx as the shared cache (`proxy_cache`).

Debian's nginx on 127.0.0.1 with a config written to a temporary folder, in front of two feedsvc
replicas cloned separately from one bare repository. nginx revalidates expired entries with the
validators it stored (`proxy_cache_revalidate`), round robin over both replicas: a 304 from the
replica that did not make the cached copy proves the replicas' validators are the same.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import free_port, post_text, require_tool
from gitforge import Forge, first_post_forge
from werkzeug.serving import make_server

from bench.servers import nginx_conf
from feedsvc.deploy.service import Service

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
MAX_AGE = 1

CACHING_PROXY = """\
    proxy_cache_path {tmp}/cache keys_zone=feeds:1m;
    upstream feedsvc {{
        server 127.0.0.1:{first};
        server 127.0.0.1:{second};
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://feedsvc;
            proxy_cache feeds;
            proxy_cache_revalidate on;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-Cache-Status $upstream_cache_status always;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
"""


@contextmanager
def serving(service: Service) -> Iterator[int]:
    """One replica as its own HTTP server on 127.0.0.1 (threads; the app is the one `feedsvc serve` runs)."""
    port = free_port()
    server = make_server("127.0.0.1", port, service.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def nginx_in_front(first: int, second: int) -> Iterator[int]:
    """nginx's folder is made outside pytest's private temporary folder: nginx started as root runs its
    workers as another user, who must reach it to write the cache."""
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="feedsvc-test-nginx-"))
    tmp.chmod(0o777)
    proxy = CACHING_PROXY.format(tmp=tmp, port=port, first=first, second=second)
    (tmp / "nginx.conf").write_text(nginx_conf(tmp, proxy, workers="1", connections=64))
    assert NGINX is not None
    process = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                get(port, "/")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("nginx did not start: " + (tmp / "error.log").read_text()) from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def after_expiry(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """The first answer nginx does not give from its fresh copy (its clock counts whole seconds)."""
    deadline = time.monotonic() + MAX_AGE + 5
    while True:
        time.sleep(0.2)
        answer = get(port, path)
        if answer[1].get("x-cache-status") != "HIT" or time.monotonic() > deadline:
            return answer


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    return first_post_forge(tmp_path)


def test_two_replicas_behind_nginx_revalidate_each_others_copies(forge: Forge, tmp_path: Path) -> None:
    require_tool("nginx", NGINX is not None, "Debian package nginx")
    replicas = []
    for n in range(2):
        if n:
            time.sleep(1.1)  # the second replica clones (and writes its files) a second later
        replicas.append(Service({"FEEDSVC_GIT_URL": str(forge.remote), "FEEDSVC_STATE_DIR": str(tmp_path / f"s{n}"),
                                 "FEEDSVC_CACHE_MAX_AGE": str(MAX_AGE), "FEEDSVC_WEBSUB_PING": "0" if n else "1"}))
    with serving(replicas[0]) as first, serving(replicas[1]) as second, \
            nginx_in_front(first, second) as port:
        direct = [get(replica, "/rss.xml")[1] for replica in (first, second)]
        assert len({(h["etag"], h["last-modified"]) for h in direct}) == 1  # cloned apart, the same validators
        status, headers, body = get(port, "/rss.xml")
        assert status == 200 and headers["x-cache-status"] == "MISS" and b"<title>First</title>" in body
        assert get(port, "/rss.xml")[1]["x-cache-status"] == "HIT"
        upstreams = set()
        for _ in range(4):  # each expiry sends a conditional request to the next replica in turn
            status, headers, again = after_expiry(port, "/rss.xml")
            assert status == 200 and headers["x-cache-status"] == "REVALIDATED" and again == body, headers
            upstreams.add(headers["x-upstream"])
            if len(upstreams) == 2:
                break
        assert len(upstreams) == 2  # both replicas answered 304 to validators the other one made

        forge.commit("a post", {"_posts/2026-05-01-new.md": post_text("title: New\ndate: 2026-05-01")})
        for replica in replicas:  # what the push webhook to each of them does
            replica._fetch("webhook")
            replica.refresher.refresh("webhook")
        status, headers, fresh = after_expiry(port, "/rss.xml")
        assert status == 200 and headers["x-cache-status"] == "EXPIRED" and b"<title>New</title>" in fresh
        assert headers["etag"] != get(first, "/atom.xml")[1]["etag"]  # a sanity check of what is compared
        made_by = headers["x-upstream"]
        for _ in range(3):  # until the replica that did not make the new copy has revalidated it
            headers = after_expiry(port, "/rss.xml")[1]
            assert headers["x-cache-status"] == "REVALIDATED", headers
            if headers["x-upstream"] != made_by:
                break
        assert headers["x-upstream"] != made_by


def test_websub_pings_come_from_the_one_replica_without_the_flag(forge: Forge, tmp_path: Path) -> None:
    hub = {"FEEDSVC_WEBSUB_HUBS": "http://127.0.0.1:9/hub", "FEEDSVC_RESCAN_SECONDS": "3600"}
    pinging, quiet = (Service({"FEEDSVC_GIT_URL": str(forge.remote), "FEEDSVC_STATE_DIR": str(tmp_path / name),
                               "FEEDSVC_WEBSUB_PING": flag, **hub}) for name, flag in (("a", "1"), ("b", "0")))
    for service in (pinging, quiet):
        service._start_builder()
    try:
        assert pinging.pinger in pinging.refresher.listeners and pinging._details()["websub"]["running"]
        assert quiet.pinger not in quiet.refresher.listeners and not quiet._details()["websub"]["running"]
        feed = [s.app.test_client().get("/atom.xml") for s in (pinging, quiet)]
        assert b"http://127.0.0.1:9/hub" in feed[0].data and feed[0].data == feed[1].data  # both name the hub
        assert feed[0].headers["ETag"] == feed[1].headers["ETag"]
    finally:
        for service in (pinging, quiet):
            service._stop_builder()
