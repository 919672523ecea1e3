"""Push to new ETag: a one-post edit pushed to a git repository, then its signed push webhook, until the feed changes.

`python -m bench.git_push [--posts 10000] [--runs 7]` makes a repository of the bench corpus (one
commit), serves its bare copy with `git daemon` on 127.0.0.1, starts `feedsvc serve` with
`FEEDSVC_GIT_URL` pointing at it, and then, run after run: edits the newest post, commits, pushes,
posts GitHub's push webhook (`X-Hub-Signature-256`) without `?wait=1`, and polls `/rss.xml` until
its ETag changes. Prints one JSON object: the medians (webhook -> new ETag, and push started ->
new ETag), every run, and the load average around the runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.gen_corpus import ensure_corpus
from bench.inprocess import edit_post, newest_post
from bench.servers import HOST, connect, feedsvc_server, free_port, get, wait_for_200

SECRET = "bench webhook secret"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.org",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *map(str, args)], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]}: {done.stderr.strip()}")
    return done.stdout


def make_repository(corpus: Path, root: Path) -> tuple[Path, Path]:
    """A working copy holding the corpus's Jekyll site in one commit, pushed to a bare `remote.git`."""
    remote, work = root / "remote.git", root / "work"
    git("init", "--quiet", "--bare", "--initial-branch=main", remote)
    shutil.copytree(corpus / "jekyll", work)
    git("init", "--quiet", "--initial-branch=main", work)
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", "the corpus", cwd=work)
    git("remote", "add", "origin", remote, cwd=work)
    git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=work)
    return remote, work


@contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["git", "daemon", "--verbose", "--reuseaddr", "--export-all", f"--listen={HOST}", f"--port={port}",
         f"--base-path={base}", str(base)], env={**os.environ, **GIT_ENV},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        if "Ready to rumble" not in line:
            raise RuntimeError(f"git daemon did not start: {line}")
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield f"git://{HOST}:{port}"
    finally:
        process.terminate()
        process.wait(10)


def push_hook(port: int, before: str, after: str) -> int:
    """GitHub's push event, signed; answered at once (no `?wait=1`): the poll measures the rest."""
    body = json.dumps({"ref": "refs/heads/main", "before": before, "after": after, "forced": False,
                       "deleted": False, "head_commit": {"id": after}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    conn = connect(port)
    try:
        return get(conn, "/hooks/refresh", method="POST", body=body, headers={
            "X-GitHub-Event": "push", "X-Hub-Signature-256": signature, "Content-Type": "application/json"}).status
    finally:
        conn.close()


def etag(port: int) -> str:
    conn = connect(port)
    try:
        return get(conn, "/rss.xml").headers.get("etag", "")
    finally:
        conn.close()


def one_run(port: int, work: Path, run: int) -> tuple[float, float]:
    """(webhook -> new ETag, push started -> new ETag), in seconds."""
    before_tag = etag(port)
    before = git("rev-parse", "HEAD", cwd=work).strip()
    edit_post(newest_post(work), f"push {run}")
    git("commit", "--quiet", "--all", "-m", f"edit {run}", cwd=work)
    after = git("rev-parse", "HEAD", cwd=work).strip()
    pushed = time.perf_counter()
    git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=work)
    hooked = time.perf_counter()
    status = push_hook(port, before, after)
    if not 200 <= status < 300:
        raise RuntimeError(f"the webhook was answered {status}")
    deadline = hooked + 300
    while etag(port) == before_tag:
        if time.perf_counter() > deadline:
            raise TimeoutError("the push never reached the served feed")
        time.sleep(0.005)
    done = time.perf_counter()
    return done - hooked, done - pushed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    corpus, _ = ensure_corpus(args.posts)
    with tempfile.TemporaryDirectory(prefix="feedsvc-git-push-") as scratch:
        root = Path(scratch)
        remote, work = make_repository(corpus, root)
        with git_daemon(root) as base:
            env = {"FEEDSVC_GIT_URL": f"{base}/{remote.name}", "FEEDSVC_STATE_DIR": str(root / "state"),
                   "FEEDSVC_WEBHOOK_SECRET": SECRET, "FEEDSVC_RESCAN_SECONDS": "3600"}
            with feedsvc_server(work, root / "feedsvc.log", env) as server:
                started = time.perf_counter()
                wait_for_200(server.port, "/rss.xml", started + 900, server.process)
                ready = time.perf_counter() - started
                load_before = os.getloadavg()
                runs = [one_run(server.port, work, run) for run in range(args.runs)]
                load_after = os.getloadavg()
    print(json.dumps({
        "posts": args.posts, "runs": len(runs), "startup_seconds": round(ready, 2),
        "webhook_to_etag_median_s": round(statistics.median(r[0] for r in runs), 3),
        "push_to_etag_median_s": round(statistics.median(r[1] for r in runs), 3),
        "webhook_to_etag_s": [round(r[0], 3) for r in runs], "push_to_etag_s": [round(r[1], 3) for r in runs],
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
    }, indent=1), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
