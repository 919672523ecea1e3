"""Load while everything changes: 32 connections reading feeds, signed webhooks 20 times a second, and posts
edited, added and removed throughout. Every request is answered, completely and correctly (no 5xx, no
connection error, no body that disagrees with its ETag), and memory stays flat. The load is a fixed amount
of work, not a duration: speed belongs to bench/. Bounded: a request that takes HANG_SECONDS is a hang, and
every thread gives up at a deadline only a hang would reach; the server is stopped by the fixture.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from conftest import post_text
from test_server import Server, free_port, start  # noqa: F401 (start is a fixture)

CONNECTIONS = 32
REQUESTS_PER_CONNECTION = 80
WEBHOOKS = 60  # at least: they go on while the readers do
EDITS = 20  # at least: likewise
HANG_SECONDS = 30.0  # one request this slow is a hang, not a slow machine
GIVE_UP_SECONDS = 300.0  # the whole run: only a hang reaches it
SECRET = "load test secret"
TAGS = ["python", "web", "rust", "data", "news"]


def _write_post(root: Path, n: int, rng: random.Random) -> None:
    tags = ", ".join(rng.sample(TAGS, 2))
    path = root / "_posts" / f"2026-01-{1 + n % 28:02d}-post-{n}.md"
    text = post_text(f"title: Post {n} rev {rng.randint(0, 10**6)}\ntags: [{tags}]\nauthor: Author {n % 3}",
                     "Body with [a link](/x/) and some words.\n" * 30)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        if children.exists():
            found += [int(p) for p in children.read_text().split()]
    return found


def test_many_connections_are_answered_correctly_while_content_and_webhooks_churn(start, site_dir, tmp_path):  # noqa: F811
    rng = random.Random(20)
    root = site_dir({})
    (root / "_posts").mkdir()
    for n in range(60):
        _write_post(root, n, rng)
    port = free_port()
    server = start([sys.executable, "-m", "feedsvc", "serve", "--content", str(root), "--host", "127.0.0.1",
                    "--port", str(port)], port,
                   {"FEEDSVC_WORKERS": "2", "FEEDSVC_WEBHOOK_SECRET": SECRET, "FEEDSVC_RESCAN_SECONDS": "3600",
                    "FEEDSVC_STATE_DIR": str(tmp_path / "state"), "FEEDSVC_LOG_LEVEL": "WARNING"})
    server.wait_ready()
    paths = ["/rss.xml", "/atom.xml", "/feed.json", "/", "/feeds.opml"] + \
            [f"/tags/{tag}/{name}" for tag in TAGS for name in ("rss.xml", "atom.xml", "feed.json")]
    give_up = time.monotonic() + GIVE_UP_SECONDS
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    readers_done = threading.Semaphore(0)  # one release per reader that made all its requests
    warmed_up = threading.Event()  # a third of all requests made: caches and pools have grown by then
    churn_done = threading.Event()  # webhooks and edits made their share
    webhooks_done = threading.Event()
    edits_done = threading.Event()
    reads_done = threading.Event()
    made = [0]

    def note(outcome: str, problem: str | None = None) -> None:
        with lock:
            outcomes[outcome] += 1
            if problem and len(problems) < 20:
                problems.append(problem)

    def reader(seed: int) -> None:
        local = random.Random(seed)
        etags: dict[str, str] = {}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_SECONDS)
        requests = 0
        while (requests < REQUESTS_PER_CONNECTION or not churn_done.is_set()) and time.monotonic() < give_up:
            requests += 1
            if requests == REQUESTS_PER_CONNECTION:
                readers_done.release()
            with lock:
                made[0] += 1
                if made[0] == CONNECTIONS * REQUESTS_PER_CONNECTION // 3:
                    warmed_up.set()
            path = local.choice(paths)
            headers = {"Accept-Encoding": "gzip"} if local.random() < 0.7 else {}
            if path in etags and local.random() < 0.5:
                headers["If-None-Match"] = etags[path]
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                note("connection error", f"{path}: {exc!r}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_SECONDS)
                continue
            if response.status >= 500:
                note("5xx", f"{path}: {response.status}")
            elif response.status == 200:
                etag = response.getheader("ETag", "").strip('"')
                raw = gzip.decompress(body) if response.getheader("Content-Encoding") == "gzip" else body
                if hashlib.sha256(raw).hexdigest()[:32] != etag.removesuffix("-gz"):
                    note("torn", f"{path}: body does not match ETag {etag}")
                else:
                    note("200")
                etags[path] = response.getheader("ETag")
            elif response.status == 304:
                note("304", None if "If-None-Match" in headers else f"{path}: 304 to an unconditional GET")
            else:
                note(str(response.status), f"{path}: {response.status}")
        connection.close()

    def webhooks() -> None:
        body = b'{"ref": "refs/heads/main"}'
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        due = time.monotonic()
        sent = 0
        while (sent < WEBHOOKS or not reads_done.is_set()) and time.monotonic() < give_up:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_SECONDS)
                connection.request("POST", "/hooks/refresh", body=body, headers={"X-Hub-Signature-256": signature})
                status = connection.getresponse().status
                connection.close()
                note(f"hook {status}", None if status == 202 else f"webhook answered {status}")
            except (OSError, http.client.HTTPException) as exc:
                note("connection error", f"webhook: {exc!r}")
            sent += 1
            if sent == WEBHOOKS:
                webhooks_done.set()
            due += 0.05  # 20 a second, on a fixed schedule
            time.sleep(max(0.0, due - time.monotonic()))

    def editor() -> None:
        local = random.Random(7)
        next_new = 60
        edits = 0
        while (edits < EDITS or not reads_done.is_set()) and time.monotonic() < give_up:
            action = local.random()
            posts = sorted((root / "_posts").glob("*.md"))
            if action < 0.5 and posts:
                n = int(local.choice(posts).stem.rsplit("-", 1)[1])
                _write_post(root, n, local)
            elif action < 0.75:
                _write_post(root, next_new, local)
                next_new += 1
            elif len(posts) > 20:
                local.choice(posts).unlink()
            edits += 1
            if edits == EDITS:
                edits_done.set()
            time.sleep(0.2)

    workers = [pid for pid in _children(server.process.pid)]
    assert len(workers) == 2, workers  # else the memory check below would check nothing
    warmed = {pid: _rss_kb(pid) for pid in workers}
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(CONNECTIONS)]
    threads += [threading.Thread(target=webhooks), threading.Thread(target=editor)]
    for thread in threads:
        thread.start()
    warmed_up.wait(GIVE_UP_SECONDS)
    early = {pid: _rss_kb(pid) for pid in workers}
    for _ in range(CONNECTIONS):
        readers_done.acquire(timeout=max(0.0, give_up - time.monotonic()))
    reads_done.set()
    webhooks_done.wait(max(0.0, give_up - time.monotonic()))
    edits_done.wait(max(0.0, give_up - time.monotonic()))
    churn_done.set()
    for thread in threads:
        thread.join(max(0.0, give_up - time.monotonic()) + 2 * HANG_SECONDS)
    late = {pid: _rss_kb(pid) for pid in workers}

    total = sum(v for k, v in outcomes.items() if not k.startswith("hook"))
    print(f"\nload: {total} requests, outcomes {dict(outcomes)}, "
          f"worker RSS KB at start {warmed}, after a third {early}, at the end {late}")
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    assert time.monotonic() < give_up, f"gave up after {GIVE_UP_SECONDS:.0f}s: a hang; outcomes {dict(outcomes)}"
    assert not problems, problems
    assert outcomes["5xx"] == 0 and outcomes["connection error"] == 0 and outcomes["torn"] == 0
    assert total >= CONNECTIONS * REQUESTS_PER_CONNECTION and total == outcomes["200"] + outcomes["304"]
    assert outcomes["304"] > 0  # revalidation kept working while the feeds changed under it
    assert outcomes["hook 202"] >= WEBHOOKS
    # and what is served at the end is the folder as it is at the end
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_SECONDS)
    body = b"{}"
    connection.request("POST", "/hooks/refresh?wait=1", body=body, headers={
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()})
    assert connection.getresponse().status == 200
    connection.close()
    # `?wait=1` answers when the builder has published; a follower swaps it in soon after (it polls).
    expected = len(list((root / "_posts").glob("*.md")))
    deadline = time.monotonic() + HANG_SECONDS
    while (posts := json.loads(server.get("/status")[2])["posts"]) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert posts == expected
    for pid in workers:
        assert late[pid] - early[pid] < 40 * 1024, f"worker {pid} grew from {early[pid]} KB to {late[pid]} KB"
