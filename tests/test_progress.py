"""Long builds show progress: a bar on a terminal, plain log lines through a pipe."""

from __future__ import annotations

import logging
import os
import pty
import re
import select
import subprocess
import sys
import time

from conftest import ROOT, post_text

from feedsvc.content.scanning import take_inventory
from feedsvc.pipeline.parallel import read_posts
from feedsvc.pipeline.progress import BuildProgress

POSTS = {f"_posts/2026-01-{day:02d}-post-{day}.md": post_text(f"title: Post {day}\ntags: [t{day % 3}]\nauthor: Ann")
         for day in range(1, 13)}
# 12 posts; scopes: site, 3 tags, 1 author -> 5 x 3 feeds + 4 scope pages; the index and OPML on top.
RENDERED = 5 * 3 + 4
WRITTEN = RENDERED + 2


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env["COLUMNS"] = "100"
    return env


def test_the_refresher_reports_each_phase_from_zero_to_its_total(site_dir, make_refresher):
    root = site_dir(POSTS)
    calls: list[tuple[str, int, int]] = []
    refresher = make_refresher(root)
    refresher.progress = lambda phase, done, total: calls.append((phase, done, total))
    refresher.refresh()
    phases = list(dict.fromkeys(phase for phase, _, _ in calls))
    assert phases == ["reading", "rendering"]
    for phase, total in (("reading", len(POSTS)), ("rendering", RENDERED)):
        seen = [(done, t) for p, done, t in calls if p == phase]
        assert {t for _, t in seen} == {total}
        dones = [done for done, _ in seen]
        assert dones[0] == 0 and dones[-1] == total and dones == sorted(dones), phase

    calls.clear()  # an edit reads one file
    (root / "_posts/2026-01-05-post-5.md").write_text(post_text("title: Post five\ntags: [t2]\nauthor: Ann"))
    refresher.refresh()
    assert [(d, t) for p, d, t in calls if p == "reading"] == [(0, 1), (1, 1)]


def test_reading_in_worker_processes_reports_progress_as_chunks_arrive(site_dir, make_refresher, monkeypatch):
    import feedsvc.pipeline.parallel as parallel

    root = site_dir({f"_posts/2026-01-01-p{n}.md": post_text(f"title: P{n}") for n in range(25)})
    refresher = make_refresher(root)
    refresher.refresh()
    items = sorted(take_inventory(root)[0].items())
    monkeypatch.setattr(parallel, "READ_IN_PROCESSES_FROM", 10)  # the worker-process path with a few posts
    monkeypatch.setattr(parallel, "_READ_CHUNK", 10)
    dones: list[int] = []
    results = read_posts(root, items, refresher.settings, processes=2, progress=dones.append)
    assert len(results) == len(items)
    # one report per chunk as it arrives, not one per post as a serial read gives
    assert 1 < len(dones) < len(items) and dones == sorted(dones) and dones[-1] == len(items)


def test_without_a_terminal_each_phase_is_plain_lines(caplog):
    now = [0.0]
    progress = BuildProgress(interactive=False, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="feedsvc"):
        progress("reading", 0, 1000)
        for done in range(1, 1001):
            now[0] += 0.011  # 11 s in all: two lines while it runs
            progress("reading", done, 1000)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "reading 1000 files"
    assert lines[1:-1] == [f"reading: {n} of 1000 files"
                                              for n in (455, 910)]  # one line per 5 s
    assert lines[-1] == "read 1000 files in 11.00s"


def test_build_through_a_pipe_logs_plain_lines(site_dir, tmp_path):
    content = site_dir(POSTS)
    result = subprocess.run([sys.executable, "-m", "feedsvc", "build", "--content", str(content),
                             "--out", str(tmp_path / "out")], cwd=ROOT, env=_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "%|" not in result.stderr
    messages = [line.split(": ", 1)[1] for line in result.stderr.splitlines() if " INFO feedsvc[" in line]
    expected = [f"reading {len(POSTS)} files", f"read {len(POSTS)} files in", f"rendering {RENDERED} files",
                f"rendered {RENDERED} files in", f"writing {WRITTEN} files", f"wrote {WRITTEN} files in"]
    progress_lines = [m for m in messages if not m.startswith("refresh (")]
    assert len(progress_lines) == len(expected)
    for message, start in zip(progress_lines, expected, strict=True):
        assert message.startswith(start), (message, start)


def _run_in_terminal(args: list[str], timeout: float = 60.0) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal, as from an interactive shell; (exit code, output)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=follower, close_fds=True)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_build_and_check_on_a_terminal_draw_progress_bars(site_dir, tmp_path):
    content = site_dir(POSTS)
    code, output = _run_in_terminal([sys.executable, "-m", "feedsvc", "build", "--content", str(content),
                                     "--out", str(tmp_path / "out")])
    assert code == 0, output
    for phase, total in (("reading", len(POSTS)), ("rendering", RENDERED), ("writing", WRITTEN)):
        assert re.search(rf"\r{phase}:\s+0%\|[^\r\n]*\| 0/{total} ", output), (phase, output)
        assert re.search(rf"\r{phase}: 100%\|█+\| {total}/{total} \[", output), (phase, output)
    assert "reading 12 files" not in output  # the bar replaces the plain lines
    assert (tmp_path / "out" / "index.html").exists()

    code, output = _run_in_terminal([sys.executable, "-m", "feedsvc", "check", "--content", str(content)])
    assert code == 0, output
    assert re.search(rf"\rreading: 100%\|█+\| {len(POSTS)}/{len(POSTS)} \[", output), output
