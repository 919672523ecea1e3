"""Faults around the content: the folder gone, swapped or unreadable while serving; a build that
cannot finish; a process killed in the middle of a rebuild."""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from conftest import post_text
from test_server import Server, free_port, start  # noqa: F401  (start: a fixture)

import feedsvc.content.scanning as scanning_module
import feedsvc.deploy.outputtree as outputtree_module
from feedsvc import cli
from feedsvc.content.scanning import SETTLE_SECONDS
from feedsvc.web.app import create_app

POSTS = {
    "_posts/2026-01-01-one.md": post_text("title: One\ntags: [a]"),
    "_posts/2026-01-02-two.md": post_text("title: Two\ntags: [b]"),
    "news/_posts/2026-01-03-three.md": post_text("title: Three\ntags: [a]"),
}


def _deleted(root: Path, tmp_path: Path, monkeypatch) -> None:
    shutil.rmtree(root)


def _renamed(root: Path, tmp_path: Path, monkeypatch) -> None:
    root.rename(tmp_path / "renamed")


def _replaced_by_a_file(root: Path, tmp_path: Path, monkeypatch) -> None:
    root.rename(tmp_path / "aside")
    root.write_text("not a folder\n")


def _unreadable(root: Path, tmp_path: Path, monkeypatch) -> None:
    """We run as root, where chmod 000 does not stop reads: the OSError is simulated."""
    real_listdir = os.listdir

    def listdir(path):
        if Path(path) == root.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(scanning_module.os, "listdir", listdir)


def _restore(root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.undo()
    if root.is_file():
        root.unlink()
    for name in ("renamed", "aside"):
        if (tmp_path / name).exists():
            (tmp_path / name).rename(root)
    if not root.exists():  # deleted: the owner puts the content back
        for relpath, text in POSTS.items():
            (root / relpath).parent.mkdir(parents=True, exist_ok=True)
            (root / relpath).write_text(text)
        (tmp_path / "config.yml").rename(root / "_config.yml")


@pytest.mark.parametrize(("fault", "said"), [
    (_deleted, "does not exist"),
    (_renamed, "does not exist"),
    (_replaced_by_a_file, "is not a folder"),
    (_unreadable, "cannot be read: Permission denied"),
], ids=["deleted", "renamed", "replaced-by-a-file", "unreadable"])
def test_content_folder_fault_keeps_last_good_feeds_reports_it_and_recovers(fault, said, site_dir, make_refresher,
                                                                           tmp_path, monkeypatch):
    root = site_dir(POSTS)
    shutil.copy(root / "_config.yml", tmp_path / "config.yml")
    refresher = make_refresher(root)
    refresher.refresh("startup")
    client = create_app(refresher.settings, refresher.store).test_client()
    before = {path: client.get(path).data for path in ("/rss.xml", "/tags/a/atom.xml", "/feed.json", "/feeds.opml")}
    assert client.get("/healthz").data.startswith(b"ok")

    fault(root, tmp_path, monkeypatch)
    report = refresher.refresh("interval")
    assert report.error is not None and said in report.error and str(root) in report.error
    for path, body in before.items():
        response = client.get(path)
        assert response.status_code == 200 and response.data == body, path
    health = client.get("/healthz")
    assert health.status_code == 200 and health.data.startswith(b"degraded")
    status = client.get("/status").get_json()
    assert status["degraded"] is True and said in status["last_scan"]["error"]
    assert status["posts"] == 3
    refresher.refresh("interval")  # still broken: still serving, still saying so
    assert client.get("/healthz").data.startswith(b"degraded")

    _restore(root, tmp_path, monkeypatch)
    report = refresher.refresh("interval")
    assert report.error is None
    assert client.get("/healthz").data.startswith(b"ok")
    status = client.get("/status").get_json()
    assert status["degraded"] is False and status["last_scan"]["error"] is None and status["posts"] == 3
    assert client.get("/rss.xml").data == before["/rss.xml"]


def test_a_subfolder_turning_unreadable_keeps_its_posts(site_dir, make_refresher, monkeypatch):
    """What cannot be listed is unknown, not deleted: its posts keep being served until it is readable."""
    root = site_dir(POSTS)
    refresher = make_refresher(root)
    refresher.refresh("startup")
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("/news/_posts"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(scanning_module.os, "scandir", scandir)
    report = refresher.refresh("interval")
    assert report.removed == ()
    assert sorted(p.title for p in refresher.store.snapshot.site.posts) == ["One", "Three", "Two"]
    [problem] = refresher.store.snapshot.site.problems
    assert (problem.path, problem.message) == ("news/_posts", "cannot read folder: Permission denied")
    monkeypatch.undo()
    refresher.refresh("interval")
    assert refresher.store.snapshot.site.problems == ()


# -- `feedsvc build --out` ------------------------------------------------------------------

def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def built(site_dir, tmp_path, monkeypatch):
    """A content folder and a first good build of it; the content then changes."""
    monkeypatch.setattr(cli, "configure_logging", lambda: None)
    root = site_dir(POSTS)
    out = tmp_path / "public"
    assert cli.main(["build", "--content", str(root), "--out", str(out)]) == 0
    (root / "_posts/2026-01-04-four.md").write_text(post_text("title: Four"))
    return root, out, _tree(out)


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def test_build_that_runs_out_of_disk_leaves_the_previous_tree_and_says_why(built, monkeypatch, capsys):
    root, out, previous = built
    written: list[Path] = []
    real_write = Path.write_bytes

    def write_bytes(self, data):
        if len(written) == 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        written.append(self)
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    capsys.readouterr()
    assert cli.main(["build", "--content", str(root), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "build failed: [Errno 28] No space left on device" in err and f"{out} is unchanged" in err
    assert _tree(out) == previous
    assert _leftovers(out) == []


def test_build_that_cannot_swap_puts_the_previous_tree_back(built, monkeypatch, capsys):
    root, out, previous = built
    real_rename = Path.rename

    def rename(self, target):
        if self.name.startswith(".public.new-"):
            raise PermissionError(errno.EACCES, "Permission denied", str(target))
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    capsys.readouterr()
    assert cli.main(["build", "--content", str(root), "--out", str(out)]) == 1
    assert "build failed: [Errno 13] Permission denied" in capsys.readouterr().err
    assert _tree(out) == previous
    assert _leftovers(out) == []


def test_build_without_permission_to_write_beside_the_output(built, monkeypatch, capsys):
    """As root nothing is read-only to us: the OSError from creating the staging folder is simulated."""
    root, out, previous = built

    def mkdtemp(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(out.parent))

    monkeypatch.setattr(outputtree_module.tempfile, "mkdtemp", mkdtemp)
    capsys.readouterr()
    assert cli.main(["build", "--content", str(root), "--out", str(out)]) == 1
    assert "Permission denied" in capsys.readouterr().err
    assert _tree(out) == previous


def test_build_refuses_to_replace_a_file(site_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "configure_logging", lambda: None)
    target = tmp_path / "notes.txt"
    target.write_text("precious\n")
    assert cli.main(["build", "--content", str(site_dir(POSTS)), "--out", str(target)]) == 1
    assert "exists and is not a folder" in capsys.readouterr().err
    assert target.read_text() == "precious\n"


def test_a_successful_build_after_a_failed_one_has_the_new_post(built, monkeypatch):
    root, out, previous = built
    assert cli.main(["build", "--content", str(root), "--out", str(out)]) == 0
    assert b"Four" in (out / "rss.xml").read_bytes() and b"Four" not in previous["rss.xml"]
    assert _leftovers(out) == []


# -- SIGKILL in the middle of a rebuild ---------------------------------------------------------

KILLED_POSTS = 120  # every scope has a few posts and the rebuild of a third of them is not instant

def test_sigkill_during_rebuilds_then_restart_serves_the_same_feeds_as_a_clean_build(site_dir, tmp_path, start,  # noqa: F811
                                                                                     monkeypatch):
    """Whatever a killed server left in its state folder, a restart serves what a clean build gives."""
    posts = {f"_posts/2025-{1 + i % 12:02d}-{1 + i % 28:02d}-p{i}.md": post_text(
        f"title: Post {i}\ntags: [t{i % 7}, common]\ncategories: [c{i % 3}]") for i in range(KILLED_POSTS)}
    root = site_dir(posts)
    env = {"FEEDSVC_RESCAN_SECONDS": "0.2", "FEEDSVC_STATE_DIR": str(tmp_path / "state")}  # one for every run
    argv = [sys.executable, "-m", "feedsvc", "serve", "--content", str(root), "--host", "127.0.0.1"]

    def kill(server: Server) -> None:  # the whole service at once, workers too, as a power cut would
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)

    port = free_port()
    server = start([*argv, "--port", str(port)], port, env)
    deadline = time.monotonic() + 60
    while not any((tmp_path / "state" / "blobs").glob("*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    kill(server)  # while it writes the state folder of its startup build (or just after)

    port = free_port()
    server = start([*argv, "--port", str(port)], port, env)
    server.wait_ready()
    for i in range(0, KILLED_POSTS, 3):  # edits: the server is rebuilding when it is killed
        (root / sorted(posts)[i]).write_text(post_text(f"title: Post {i} edited\ntags: [t{i % 5}]"))
    (root / sorted(posts)[1]).unlink()
    time.sleep(SETTLE_SECONDS + 0.1)  # the follow-up refresh that reads them is about to run, or running
    kill(server)

    port = free_port()
    server = start([*argv, "--port", str(port)], port, env)
    server.wait_ready()
    monkeypatch.setattr(cli, "configure_logging", lambda: None)
    out = tmp_path / "clean"
    assert cli.main(["build", "--content", str(root), "--out", str(out)]) == 0
    expected = _tree(out)
    assert len(expected) > 40
    deadline = time.monotonic() + 30  # a warm start serves the state folder at once, then catches up in the background
    while server.get("/rss.xml")[2] != expected["rss.xml"] and time.monotonic() < deadline:
        time.sleep(0.1)
    for relative, body in expected.items():
        path = "/" + relative.removesuffix("index.html")  # pages are <dir>/index.html on disk, <dir>/ served
        status, headers, served = server.get(path)
        if path == "/":  # the served index also offers filtered feeds and archive pages, which a static host cannot
            served = re.sub(rb'\n<section aria-labelledby="custom">.*?</section>', b"", served, flags=re.S)
        assert status == 200 and served == body, path
