"""Each figure of issue 4, measured against feedsvc and its baselines. Rows go into `Results`."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .inprocess import edit_post, newest_post
from .measure import Sample, run_child
from .servers import (
    REPO,
    FeedsvcServer,
    connect,
    feed_paths,
    feedsvc_env,
    feedsvc_server,
    get,
    nginx_server,
    peak_rss_mb,
    wait_for_200,
)
from .wrk import WrkResult, run_wrk

HUGO_SITE = Path(__file__).resolve().parent / "hugo"
START_TIMEOUT = 1800.0
WEBHOOK_SECRET = "bench-webhook-secret"
TARGET_FEED_BYTES = 50_000


@dataclass
class Row:
    figure: str
    subject: str
    posts: int
    sample: Sample
    corpus: str = "bench"

    def as_dict(self) -> dict[str, object]:
        return {"figure": self.figure, "subject": self.subject, "posts": self.posts, "corpus": self.corpus,
                **self.sample.as_dict()}


@dataclass
class Context:
    """What every measurement needs: scratch space, a log, the tools found, and how often to repeat."""

    tmp: Path
    log: Path
    tools: dict[str, str | None]
    repeats: int
    wrk_seconds: int
    say: Callable[[str], None]
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)
    corpus: str = "bench"  # which corpus the figures being measured are for (run.py sets it)

    def row(self, figure: str, subject: str, posts: int, unit: str, note: str = "") -> Sample:
        sample = Sample(unit, note=note)
        self.rows.append(Row(figure, subject, posts, sample, self.corpus))
        return sample


# -- 1. cold build ---------------------------------------------------------------------------

def _build_commands(ctx: Context, corpus: Path, out: Path, run: int) -> dict[str, list[str] | None]:
    hugo = ctx.tools.get("hugo")
    hugo_site = ctx.tmp / "hugo-site"
    if hugo and not hugo_site.exists():
        shutil.copytree(HUGO_SITE, hugo_site)
    return {
        "feedsvc": [sys.executable, "-m", "feedsvc", "build", "--content", str(corpus / "jekyll"), "--out",
                    str(out)],
        "naive Python": [sys.executable, "-m", "bench.naive_build", "--content", str(corpus / "jekyll"), "--out",
                         str(out)],
        "Hugo": None if hugo is None else [
            hugo, "--source", str(hugo_site), "--contentDir", str(corpus / "hugo" / "content"), "--destination",
            str(out), "--cacheDir", str(ctx.tmp / f"hugo-cache-{run}"), "--quiet"],
    }


def cold_build(ctx: Context, corpus: Path, posts: int, repeats: int) -> None:
    """Builds interleaved per run (feedsvc, naive, Hugo, feedsvc, ...) so machine noise hits all alike."""
    times: dict[str, Sample] = {}
    memory: dict[str, Sample] = {}
    for run in range(repeats):
        for subject, argv in _build_commands(ctx, corpus, ctx.tmp / "build-out", run).items():
            if subject not in times:
                note = "" if argv else "n/a: hugo missing"
                times[subject] = ctx.row("cold build", subject, posts, "s", note)
                memory[subject] = ctx.row("cold build peak memory", subject, posts, "MB")
            if argv is None:
                continue
            out = ctx.tmp / "build-out"
            shutil.rmtree(out, ignore_errors=True)
            ctx.say(f"  cold build {subject} {posts} posts, run {run + 1}/{repeats}")
            child = run_child(argv, env=feedsvc_env(), log=ctx.log, cwd=REPO)
            if child.returncode != 0 or not any(out.glob("*.xml")):
                raise RuntimeError(f"{subject} build failed ({child.returncode}); see {ctx.log}")
            times[subject].add(child.seconds)
            memory[subject].add(child.max_rss_kb / 1024)
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(ctx.tmp / f"hugo-cache-{run}", ignore_errors=True)


# -- 1b. a build after a one-post edit, with a build cache -------------------------------------

INCREMENTAL_FIGURE = "build after a one-post edit"


def incremental_build(ctx: Context, corpus: Path, posts: int, repeats: int) -> None:
    """`feedsvc build --cache` after the newest post was edited, interleaved with Hugo's build after an edit
    (Hugo has no incremental static build: it renders everything again, with its own cache folder kept)."""
    scratch = scratch_copy(ctx, corpus)
    out, cache = ctx.tmp / "incr-out", ctx.tmp / "incr-cache"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    commands = {"feedsvc": [sys.executable, "-m", "feedsvc", "build", "--content", str(scratch), "--out", str(out),
                            "--cache", str(cache)]}
    hugo_content = ctx.tmp / "incr-hugo-content"
    hugo = _build_commands(ctx, corpus, ctx.tmp / "incr-hugo-out", 0)["Hugo"]
    if hugo is not None and (corpus / "hugo" / "content").is_dir():
        shutil.rmtree(hugo_content, ignore_errors=True)
        shutil.copytree(corpus / "hugo" / "content", hugo_content)
        commands["Hugo"] = [str(hugo_content) if arg == str(corpus / "hugo" / "content") else arg for arg in hugo]
    edited = {"feedsvc": newest_post(scratch),
              "Hugo": max((hugo_content / "posts").glob("*.md"), default=hugo_content, key=lambda p: p.name)}
    samples = {subject: ctx.row(INCREMENTAL_FIGURE, subject, posts, "s",
                                "with --cache, after a cold build that filled it" if subject == "feedsvc"
                                else "renders everything again") for subject in commands}
    # A file changed within 2 s of a build is read again by the next (buildcache.RACY_NS): without this wait the
    # fresh copy's files would all be, and the first timed run would parse most of the site again
    time.sleep(2.5)
    for subject, argv in commands.items():  # the first build, untimed: fills the caches
        ctx.say(f"  {INCREMENTAL_FIGURE}: first build ({subject}) {posts} posts")
        if run_child(argv, env=feedsvc_env(), log=ctx.log, cwd=REPO).returncode != 0:
            raise RuntimeError(f"{subject} build failed; see {ctx.log}")
    for run in range(repeats):
        for subject, argv in commands.items():
            ctx.say(f"  {INCREMENTAL_FIGURE} {subject} {posts} posts, run {run + 1}/{repeats}")
            edit_post(edited[subject], f"incremental {run}")
            child = run_child(argv, env=feedsvc_env(), log=ctx.log, cwd=REPO)
            if child.returncode != 0:
                raise RuntimeError(f"{subject} build failed ({child.returncode}); see {ctx.log}")
            samples[subject].add(child.seconds)
    for folder in (scratch, out, cache, hugo_content, ctx.tmp / "incr-hugo-out", ctx.tmp / "hugo-cache-0"):
        shutil.rmtree(folder, ignore_errors=True)


# -- 2. warm start (and 6. memory) ------------------------------------------------------------

def sweep(port: int, paths: list[str], workers: int = 4) -> None:
    """GET every path once over a few kept-alive connections; every one must answer 200."""

    def fetch(chunk: list[str]) -> list[str]:
        conn = connect(port)
        try:
            return [path for path in chunk if get(conn, path).status != 200]
        finally:
            conn.close()

    chunks = [paths[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        failed = [path for result in pool.map(fetch, chunks) for path in result]
    if failed:
        raise RuntimeError(f"{len(failed)} feeds did not answer 200, e.g. {failed[:3]}")


def _wait_ready(server: FeedsvcServer) -> float:
    return wait_for_200(server.port, "/rss.xml", time.perf_counter() + START_TIMEOUT, server.process)


def warm_start(ctx: Context, corpus: Path, posts: int, repeats: int) -> None:
    """Restart `feedsvc serve` over an unchanged folder: time to the first feed, and to every feed answered."""
    first = ctx.row("warm start: first feed 200", "feedsvc", posts, "s")
    every = ctx.row("warm start: every feed 200", "feedsvc", posts, "s")
    caught_up = ctx.row("warm start: builder caught up (first rescan published)", "feedsvc", posts, "s")
    sweep_only = ctx.row("HTTP sweep of every feed (server already up)", "feedsvc", posts, "s")
    master = ctx.row("serving memory (VmHWM), serve process", "feedsvc", posts, "MB")
    worker = ctx.row("serving memory (VmHWM), worker", "feedsvc", posts, "MB")
    paths: list[str] | None = None
    for run in range(repeats):
        ctx.say(f"  warm start {posts} posts, run {run + 1}/{repeats}")
        with feedsvc_server(corpus / "jekyll", ctx.log) as server:
            ready = _wait_ready(server)
            listing = 0.0
            if paths is None:
                listed = time.perf_counter()
                paths = feed_paths(server.port)
                listing = time.perf_counter() - listed
            sweep(server.port, paths)
            done = time.perf_counter()
            first.add(ready - server.started)
            every.add(done - server.started - listing)
            caught_up.add(_caught_up(server) - server.started - listing)
            again = time.perf_counter()
            sweep(server.port, paths)
            sweep_only.add(time.perf_counter() - again)
            _add_memory(server, master, worker)
    every.note = f"{len(paths or [])} feeds from /feeds.opml, fetched over 4 connections"


def _caught_up(server: FeedsvcServer) -> float:
    """When `/status` first shows the builder's startup rescan done (polled every 20 ms)."""
    conn = connect(server.port)
    try:
        while time.perf_counter() - server.started < START_TIMEOUT:
            response = get(conn, "/status")
            status = json.loads(response.body) if response.status == 200 else {}
            # The watcher's first refresh may follow within one poll and replace `last_scan`.
            done = [status.get("last_scan", {})] + list(status.get("recent_refreshes", []))
            if any(scan.get("at") and scan.get("trigger") == "startup" for scan in done):
                return time.perf_counter()
            time.sleep(0.02)
    finally:
        conn.close()
    raise RuntimeError("the builder never finished its startup rescan")


def _add_memory(server: FeedsvcServer, master: Sample, worker: Sample) -> None:
    own = peak_rss_mb(server.process.pid)
    if own is not None:
        master.add(own)
    workers = [peak_rss_mb(pid) for pid in server.worker_pids()]
    if workers and workers[0] is not None:
        worker.add(max(w for w in workers if w is not None))


# -- 3. rescans --------------------------------------------------------------------------------

def scratch_copy(ctx: Context, corpus: Path) -> Path:
    scratch = ctx.tmp / f"scratch-{corpus.name}"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(corpus / "jekyll", scratch)
    return scratch


def rescans(ctx: Context, corpus: Path, posts: int, repeats: int) -> None:
    """`Refresher.refresh()` timed in a child process over a scratch copy: unchanged, edit, add, delete."""
    scratch = scratch_copy(ctx, corpus)
    ctx.say(f"  rescans {posts} posts ({repeats} of each)")
    result = subprocess.run([sys.executable, "-m", "bench.inprocess", str(scratch), "--repeats", str(repeats)],
                            capture_output=True, text=True, env=feedsvc_env(), cwd=REPO, check=False)
    shutil.rmtree(scratch, ignore_errors=True)
    if result.returncode != 0:
        raise RuntimeError(f"in-process rescans failed: {result.stderr[-2000:]}")
    data = json.loads(result.stdout)
    for case, values in data["seconds"].items():
        feeds = data["feeds_changed"][case]
        sample = ctx.row(f"rescan in-process: {case}", "feedsvc", posts, "s", f"{feeds} feeds re-rendered")
        for value in values:
            sample.add(value)


# -- 4. webhook, or edit -> new ETag -----------------------------------------------------------

def signed_hook(port: int, secret: str, wait: bool = True, changed: str | None = None) -> int:
    """POST /hooks/refresh with `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body>`: a push as GitHub
    sends it for one commit modifying `changed` (a path in the site's folder), or without a commit list."""
    push: dict[str, object] = {"ref": "refs/heads/main", "source": "feedsvc-bench"}
    if changed is not None:
        before, after = (hashlib.sha1(f"{changed}{time.time_ns()}{n}".encode()).hexdigest() for n in (0, 1))
        push = {"ref": "refs/heads/main", "before": before, "after": after, "created": False, "deleted": False,
                "forced": False, "commits": [{"id": after, "distinct": True, "message": "Edit one post",
                                              "added": [], "removed": [], "modified": [changed]}],
                "head_commit": {"id": after, "added": [], "removed": [], "modified": [changed]}}
    body = json.dumps(push).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    conn = connect(port)
    try:
        reply = get(conn, "/hooks/refresh?wait=1" if wait else "/hooks/refresh", method="POST", body=body,
                    headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": "push",
                             "Content-Type": "application/json"})
    finally:
        conn.close()
    return reply.status


def _etag(conn: http.client.HTTPConnection, path: str = "/rss.xml") -> str:
    return get(conn, path).headers.get("etag", "")


def _time_to_new_etag(server: FeedsvcServer, post: Path, mark: str, trigger: Callable[[], None],
                      change: Callable[[Path, str], None] | None = None) -> float:
    """From the edit's end (or, for `change`, its start) to the new ETag of /rss.xml."""
    conn = connect(server.port)
    try:
        before = _etag(conn)
        if change is None:
            edit_post(post, mark)
        started = time.perf_counter()
        if change is not None:
            change(post, mark)
        trigger()
        deadline = started + 120
        while _etag(conn) == before:
            if time.perf_counter() > deadline:
                raise TimeoutError("the edit never reached the served feed")
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        conn.close()


# Pushes in the figure come this far apart: each named one is followed by a full walk 2 s later
# (pipeline/triggers.py WALK_AFTER_SECONDS), which a push arriving meanwhile would wait for.
PUSH_GAP_SECONDS = 3.0


def edit_to_etag(ctx: Context, corpus: Path, posts: int, repeats: int) -> None:
    """Figure 4: signed webhook -> new ETag, for a push listing its files as GitHub's does and for a body without
    a list, interleaved; while the endpoint is missing, edit -> new ETag by fast rescans."""
    scratch = scratch_copy(ctx, corpus)
    post = newest_post(scratch)
    changed = post.relative_to(scratch).as_posix()
    hook = ctx.row("signed webhook after one edit -> new ETag served", "feedsvc", posts, "s",
                   "GitHub's push body for a one-file commit (commits[].modified names the post)")
    bare = ctx.row("signed webhook after one edit, a body without a commit list -> new ETag served", "feedsvc",
                   posts, "s", "the whole folder is walked")
    # Not watching: the edit would reach the feed by an OS event first, and `?wait=1` would wait for a second
    # refresh (the "save" figure times the watcher).
    env = {"FEEDSVC_WEBHOOK_SECRET": WEBHOOK_SECRET, "FEEDSVC_RESCAN_SECONDS": "3600", "FEEDSVC_WATCH": "off"}
    with feedsvc_server(scratch, ctx.log, env) as server:
        _wait_ready(server)
        status = signed_hook(server.port, WEBHOOK_SECRET)
        if 200 <= status < 300:
            _until_quiet(server)
            for run in range(repeats):
                for row, named in ((hook, changed), (bare, None)) if run % 2 == 0 else ((bare, None), (hook, changed)):
                    time.sleep(PUSH_GAP_SECONDS)
                    ctx.say(f"  webhook ({'list' if named else 'no list'}) -> new ETag {posts} posts, "
                            f"run {run + 1}/{repeats}")
                    row.add(_time_to_new_etag(server, post, f"hook {run} {named is None}", partial(
                        lambda named: _expect_2xx(signed_hook(server.port, WEBHOOK_SECRET, changed=named)), named)))
        else:
            missing = status in (404, 405)  # 405: only the GET catch-all route matches the path
            hook.note = f"n/a: endpoint missing (HTTP {status})" if missing else f"n/a: webhook answered {status}"
    if not hook.values:
        _polling_fallback(ctx, scratch, post, posts, repeats)
    shutil.rmtree(scratch, ignore_errors=True)


QUIET_MS_PER_SECOND = 100.0
QUIET_TIMEOUT = 300.0


def _until_quiet(server: FeedsvcServer) -> None:
    """Until every feedsvc process uses under a tenth of a core: after a cold start the builder saves its post
    cache for a while (about 11 s of a core at 10k on a quiet machine), which a webhook would otherwise share."""
    deadline = time.perf_counter() + QUIET_TIMEOUT
    while _idle_cpu_ms(server, 1.0) > QUIET_MS_PER_SECOND:
        if time.perf_counter() > deadline:
            raise TimeoutError("the server never went quiet after its start")


def _expect_2xx(status: int) -> None:
    if not 200 <= status < 300:
        raise RuntimeError(f"webhook answered {status}")


def _polling_fallback(ctx: Context, scratch: Path, post: Path, posts: int, repeats: int) -> None:
    interval = "0.1"
    sample = ctx.row("fallback: one edit -> new ETag served (rescan every 0.1 s, no webhook)", "feedsvc", posts,
                     "s", f"FEEDSVC_RESCAN_SECONDS={interval}: includes waiting for the next rescan")
    with feedsvc_server(scratch, ctx.log, {"FEEDSVC_RESCAN_SECONDS": interval}) as server:
        _wait_ready(server)
        time.sleep(1.0)  # let the scheduler settle into its rhythm
        for run in range(repeats):
            ctx.say(f"  edit -> new ETag (polling) {posts} posts, run {run + 1}/{repeats}")
            sample.add(_time_to_new_etag(server, post, f"poll {run}", lambda: None))


# -- 4b. a save seen by the OS, and what watching costs while nothing changes -----------------

IDLE_SECONDS = 10.0


def editor_save(post: Path, mark: str) -> None:
    """As editors save: the whole new text to a temporary file beside the post, renamed over it."""
    temp = post.with_name(f".{post.name}.tmp")
    temp.write_bytes(post.read_bytes() + f"\nSaved for the benchmark: {mark}.\n".encode())
    os.replace(temp, post)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _watching(server: FeedsvcServer) -> None:
    """Until /status says the builder watches the folder (it starts after the first build, in the worker)."""
    conn = connect(server.port)
    try:
        while time.perf_counter() - server.started < START_TIMEOUT:
            response = get(conn, "/status")
            seen_by = json.loads(response.body).get("changes_seen_by") if response.status == 200 else None
            if seen_by and seen_by.get("mode") == "os events":
                time.sleep(1.0)  # and its catch-up rescan has run
                return
            if seen_by and seen_by.get("fallback") not in (None, "not started"):
                raise RuntimeError(f"the builder does not watch: {seen_by['fallback']}")
            time.sleep(0.02)
    finally:
        conn.close()
    raise RuntimeError("the builder never started watching")


def _idle_cpu_ms(server: FeedsvcServer, seconds: float) -> float:
    pids = [server.process.pid, *server.worker_pids()]
    before = sum(cpu_seconds(pid) for pid in pids)
    time.sleep(seconds)
    return (sum(cpu_seconds(pid) for pid in pids) - before) * 1000


def save_to_etag(ctx: Context, corpus: Path, posts: int, repeats: int) -> None:
    """A post saved in an editor -> its new ETag served, no webhook (the OS tells the builder); then the CPU
    every feedsvc process spends while nothing changes, watching, against rescanning every second."""
    scratch = scratch_copy(ctx, corpus)
    post = newest_post(scratch)
    saved = ctx.row("post saved in an editor -> new ETag served (OS events, no webhook)", "feedsvc", posts, "s",
                    "FEEDSVC_RESCAN_SECONDS=3600: only the watcher can see it")
    idle = ctx.row("CPU while nothing changes, watching (all processes)", "feedsvc", posts, "ms/s",
                   f"CPU ms per second over {IDLE_SECONDS:g} s idle; the full rescan runs every 10 min")
    polled = ctx.row("CPU per check, rescanning every second instead (FEEDSVC_WATCH=off)", "feedsvc", posts, "ms",
                     f"CPU ms over {IDLE_SECONDS:g} s idle / {IDLE_SECONDS:g} rescans")
    with feedsvc_server(scratch, ctx.log, {"FEEDSVC_RESCAN_SECONDS": "3600"}) as server:
        _wait_ready(server)
        _watching(server)
        for run in range(repeats):
            ctx.say(f"  editor save -> new ETag {posts} posts, run {run + 1}/{repeats}")
            saved.add(_time_to_new_etag(server, post, f"save {run}", lambda: None, change=editor_save))
        time.sleep(1.0)
        for run in range(repeats):
            ctx.say(f"  idle CPU, watching, {posts} posts, run {run + 1}/{repeats}")
            idle.add(_idle_cpu_ms(server, IDLE_SECONDS) / IDLE_SECONDS)
    with feedsvc_server(scratch, ctx.log, {"FEEDSVC_RESCAN_SECONDS": "1", "FEEDSVC_WATCH": "off"}) as server:
        _wait_ready(server)
        _caught_up(server)
        time.sleep(1.0)
        for run in range(repeats):
            ctx.say(f"  idle CPU, rescanning every second, {posts} posts, run {run + 1}/{repeats}")
            polled.add(_idle_cpu_ms(server, IDLE_SECONDS) / IDLE_SECONDS)
    shutil.rmtree(scratch, ignore_errors=True)


# -- 5. serving with wrk -----------------------------------------------------------------------

def pick_feed(port: int) -> tuple[str, bytes]:
    """The RSS feed whose body is closest to ~50 KB, and its bytes."""
    conn = connect(port)
    try:
        sizes = {path: get(conn, path).body for path in feed_paths(port) if path.endswith("rss.xml")}
    finally:
        conn.close()
    path = min(sizes, key=lambda p: (abs(len(sizes[p]) - TARGET_FEED_BYTES), p))
    return path, sizes[path]


def _gzip_variant(port: int, path: str) -> tuple[bytes, str]:
    conn = connect(port)
    try:
        reply = get(conn, path, {"Accept-Encoding": "gzip"})
        if reply.status != 200 or reply.headers.get("content-encoding") != "gzip":
            raise RuntimeError(f"no gzip 200 for {path} on port {port}: {reply.status} {reply.headers}")
        etag = reply.headers["etag"]
        check = get(conn, path, {"Accept-Encoding": "gzip", "If-None-Match": etag})
        if check.status != 304:
            raise RuntimeError(f"If-None-Match {etag} got {check.status}, not 304, on port {port}")
        return reply.body, etag
    finally:
        conn.close()


def serving(ctx: Context, corpus: Path, posts: int, repeats: int) -> None:
    """wrk at 32 connections: feedsvc (granian, as `serve` runs it) and nginx (gzip_static), interleaved."""
    wrk, nginx = ctx.tools.get("wrk"), ctx.tools.get("nginx")
    subjects = ["feedsvc", "nginx"]
    rows = {(s, kind, unit): ctx.row(f"serving {kind}: {label}", s, posts, unit)
            for s in subjects for kind in ("200 gzip", "304")
            for unit, label in (("req/s", "requests/s"), ("ms", "p99 latency"))}
    if wrk is None:
        for sample in rows.values():
            sample.note = "n/a: wrk missing"
        return
    with feedsvc_server(corpus / "jekyll", ctx.log) as server:
        _wait_ready(server)
        path, body = pick_feed(server.port)
        gz_body, gz_etag = _gzip_variant(server.port, path)
        ctx.extra["served feed"] = {"path": path, "bytes": len(body), "gzip bytes": len(gz_body)}
        ports = {"feedsvc": (server.port, gz_etag)}
        if nginx is None:
            for key, sample in rows.items():
                if key[0] == "nginx":
                    sample.note = "n/a: nginx missing"
            _wrk_rounds(ctx, ports, path, rows, repeats)
            return
        files = {path: body, path + ".gz": gz_body}
        with nginx_server(nginx, files) as nginx_port:
            _, nginx_etag = _gzip_variant(nginx_port, path)
            ports["nginx"] = (nginx_port, nginx_etag)
            _wrk_rounds(ctx, ports, path, rows, repeats)


def _wrk_rounds(ctx: Context, ports: dict[str, tuple[int, str]], path: str,
                rows: dict[tuple[str, str, str], Sample], repeats: int) -> None:
    wrk = ctx.tools["wrk"]
    assert wrk is not None
    for run in range(repeats):
        for kind in ("200 gzip", "304"):
            for subject, (port, etag) in ports.items():
                ctx.say(f"  wrk {subject} {kind}, run {run + 1}/{repeats}")
                headers = {"Accept-Encoding": "gzip"}
                if kind == "304":
                    headers["If-None-Match"] = etag
                result: WrkResult = run_wrk(wrk, f"http://127.0.0.1:{port}{path}", headers, ctx.wrk_seconds)
                if result.errors:
                    raise RuntimeError(f"wrk against {subject} saw {result.errors} errors: {result.raw[-500:]}")
                rows[(subject, kind, "req/s")].add(result.requests_per_second)
                rows[(subject, kind, "ms")].add(result.p99_ms)
