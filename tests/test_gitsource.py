"""A git repository as the content source (deploy/gitsource.py), against real git and a bare repository."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest
from conftest import BASIC_CONFIG, post_text
from gitforge import Forge, git, serve_daemon

from feedsvc.deploy.gitconfig import GitConfig, git_config_from, redact
from feedsvc.deploy.gitsource import GitError, GitSource
from feedsvc.pipeline.refresh import Refresher, SnapshotStore

POST_A = "_posts/2026-01-02-first.md"
POST_B = "_posts/2026-01-03-second.md"


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    forge = Forge(tmp_path / "forge")
    forge.commit("start", {"_config.yml": BASIC_CONFIG,
                           POST_A: post_text("title: First\ndate: 2026-01-02 10:00:00 +0000"),
                           POST_B: post_text("title: Second\ndate: 2026-01-03 10:00:00 +0000")})
    return forge


def source_for(forge: Forge, tmp_path: Path, **config: str) -> GitSource:
    return GitSource(GitConfig(str(forge.remote), **config), tmp_path / "state" / "git")


def test_clones_the_default_branch_and_serves_a_complete_checkout(forge: Forge, tmp_path: Path) -> None:
    source = source_for(forge, tmp_path)
    update = source.start()
    head = git("rev-parse", "HEAD", cwd=forge.work).strip()
    assert update is not None and update.commit == head and update.changed is None
    assert source.served_commit() == head
    assert (source.content_dir / POST_A).read_text().startswith("---\ntitle: First")
    status = source.status()
    assert status["commit"] == head and status["branch"] == "main" and status["fetched_at"]
    assert status["last_error"] is None
    assert (source.folder.stat().st_mode & 0o777) == 0o700


def test_an_update_moves_the_folder_whole_and_names_the_changed_files(forge: Forge, tmp_path: Path) -> None:
    source = source_for(forge, tmp_path)
    source.start()
    before = source.content_dir.resolve()
    forge.rename(POST_B, "_posts/2026-01-03-renamed.md")
    forge.commit("edit and rename", {POST_A: post_text("title: First, retitled\ndate: 2026-01-02 10:00:00 +0000"),
                                     "_posts/2026-01-04-third.md": post_text("title: Third\ndate: 2026-01-04")})
    update = source.update()
    assert update is not None and update.moved
    assert update.changed == {POST_A, POST_B, "_posts/2026-01-03-renamed.md", "_posts/2026-01-04-third.md"}
    after = source.content_dir.resolve()
    assert after != before  # a new folder, swapped in by one rename
    assert "retitled" in (source.content_dir / POST_A).read_text()
    assert "retitled" not in (before / POST_A).read_text()  # the old tree was never written to
    assert source.update() == type(update)(update.commit, update.commit, frozenset())  # nothing new: no move


def test_force_pushes_and_rewritten_history_are_served(forge: Forge, tmp_path: Path) -> None:
    source = source_for(forge, tmp_path)
    source.start()
    forge.commit("oops", {POST_A: None})
    assert source.update() is not None and not (source.content_dir / POST_A).exists()
    git("reset", "--quiet", "--hard", "HEAD~1", cwd=forge.work)
    forge.commit("rewritten", {"_posts/2026-02-01-other.md": post_text("title: Other\ndate: 2026-02-01")},
                 push=False)
    forge.push(force=True)
    update = source.update()
    assert update is not None and update.commit == git("rev-parse", "HEAD", cwd=forge.work).strip()
    assert (source.content_dir / POST_A).exists() and (source.content_dir / "_posts/2026-02-01-other.md").exists()
    assert update.changed == {POST_A, "_posts/2026-02-01-other.md"}


def test_a_configured_branch_and_subdir(forge: Forge, tmp_path: Path) -> None:
    forge.commit("site in a folder", {"site/_config.yml": BASIC_CONFIG,
                                      "site/_posts/2026-03-01-x.md": post_text("title: X\ndate: 2026-03-01")},
                 branch="publish")
    source = source_for(forge, tmp_path, branch="publish", subdir="site")
    source.start()
    assert (source.content_dir / "_posts/2026-03-01-x.md").is_file()
    forge.commit("outside the site", {"README.md": "hello\n"}, branch="publish")
    update = source.update()
    assert update is not None and update.moved and update.changed == frozenset()  # nothing the site holds


def test_a_subdir_that_is_a_symlink_out_of_the_repository_is_refused(forge: Forge, tmp_path: Path) -> None:
    os.symlink("/etc", forge.work / "site")
    forge.commit("escape")
    source = source_for(forge, tmp_path, subdir="site")
    with pytest.raises(GitError, match="not a folder inside the repository"):
        source.start()


def test_a_failed_fetch_keeps_the_last_good_commit_and_says_why(forge: Forge, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    source = source_for(forge, tmp_path)
    served = source.start()
    assert served is not None
    forge.remote.rename(forge.remote.with_name("gone.git"))
    with caplog.at_level(logging.ERROR, logger="feedsvc"):
        assert source.update() is None
    assert source.served_commit() == served.commit
    assert (source.content_dir / POST_A).is_file()
    status = source.status()
    assert status["last_error"] and "fetch" in status["last_error"] and status["last_error_at"]
    assert "still serving" in caplog.text
    forge.remote.with_name("gone.git").rename(forge.remote)
    assert source.update() is not None and source.status()["last_error"] is None  # the next try recovers


def test_nothing_to_serve_at_all_is_an_error_at_start(tmp_path: Path) -> None:
    source = GitSource(GitConfig(str(tmp_path / "missing.git")), tmp_path / "state" / "git")
    with pytest.raises(GitError):
        source.start()


def test_credentials_never_reach_the_log_status_or_disk(forge: Forge, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    url = "https://feedsvc-user:s3cr3t-t0ken@127.0.0.1:9/owner/site.git"  # nothing listens on port 9
    source = GitSource(GitConfig(url, branch="main"), tmp_path / "state" / "git")
    with caplog.at_level(logging.DEBUG, logger="feedsvc"), pytest.raises(GitError) as raised:
        source.start()
    shown = [caplog.text, str(raised.value), repr(source), repr(source.config), str(source.status())]
    assert "127.0.0.1:9" in source.status()["url"]
    for text in shown:
        assert "s3cr3t-t0ken" not in text and "feedsvc-user" not in text
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            assert b"s3cr3t-t0ken" not in path.read_bytes(), path


def test_redact_hides_userinfo_in_any_url() -> None:
    assert redact("fatal: unable to access 'https://tok@host/r.git/'") == "fatal: unable to access 'https://***@host/r.git/'"
    assert redact("ssh://git:pw@host/r.git") == "ssh://git:***@host/r.git"
    assert redact("git@github.com:owner/repo.git") == "git@github.com:owner/repo.git"  # a user name, no secret
    assert redact("token ghp_abc123 failed", "https://ghp_abc123@github.com/o/r") == "token *** failed"


def test_settings_from_the_environment() -> None:
    assert git_config_from({}) is None
    config = git_config_from({"FEEDSVC_GIT_URL": "ssh://git@example.org/site.git", "FEEDSVC_GIT_BRANCH": "pub",
                              "FEEDSVC_GIT_SUBDIR": "/docs/site/"})
    assert config == GitConfig("ssh://git@example.org/site.git", "pub", "docs/site")
    with pytest.raises(ValueError) as raised:
        git_config_from({"FEEDSVC_GIT_URL": "https://u:pw@h/r", "FEEDSVC_GIT_BRANCH": "a..b",
                         "FEEDSVC_GIT_SUBDIR": "../up"})
    assert "FEEDSVC_GIT_BRANCH" in str(raised.value) and "FEEDSVC_GIT_SUBDIR" in str(raised.value)
    with pytest.raises(ValueError, match="FEEDSVC_GIT_URL"):
        git_config_from({"FEEDSVC_GIT_URL": "--upload-pack=touch /tmp/x"})


def test_the_refresh_rereads_only_the_files_a_push_changed(forge: Forge, tmp_path: Path) -> None:
    source = source_for(forge, tmp_path)
    source.start()
    store = SnapshotStore()
    refresher = Refresher(store, source.content_dir, {})
    first = refresher.refresh("startup")
    assert sorted(first.added) == [POST_A, POST_B]
    forge.commit("retitle", {POST_A: post_text("title: First, retitled\ndate: 2026-01-02 10:00:00 +0000")})
    update = source.update()
    assert update is not None
    refresher.moved(update.changed)
    report = refresher.refresh("interval")
    assert report.published and report.updated == (POST_A,) and not report.added and not report.removed
    assert b"First, retitled" in store.snapshot.resources["/rss.xml"].body  # type: ignore[union-attr]
    forge.commit("touch nothing the site shows", {"notes.txt": "x\n"})
    update = source.update()
    assert update is not None and update.moved
    refresher.moved(None)  # unknown: every file of the new checkout is read again, and still nothing changes
    report = refresher.refresh("interval")
    assert sorted(report.updated) == [POST_A, POST_B] and not report.feeds_changed


def test_a_checkout_over_git_daemon(forge: Forge, tmp_path: Path) -> None:
    with serve_daemon(forge.remote.parent) as base:
        source = GitSource(GitConfig(f"{base}/remote.git"), tmp_path / "state" / "git")
        source.start()
        forge.commit("new post", {"_posts/2026-04-01-new.md": post_text("title: New\ndate: 2026-04-01")})
        update = source.update()
        assert update is not None and update.changed == {"_posts/2026-04-01-new.md"}
        assert (source.content_dir / "_posts/2026-04-01-new.md").is_file()
        shallow = subprocess.run(["git", "--git-dir", str(source.repo), "rev-parse", "--is-shallow-repository"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        assert shallow == "true"


def test_a_service_serves_the_repository_and_the_interval_job_fetches(forge: Forge, tmp_path: Path) -> None:
    from feedsvc.deploy.service import Service

    environ = {"FEEDSVC_GIT_URL": str(forge.remote), "FEEDSVC_STATE_DIR": str(tmp_path / "state")}
    service = Service(environ)
    client = service.app.test_client()
    assert b"<title>Second</title>" in client.get("/rss.xml").data
    status = client.get("/status").get_json()
    assert status["git"]["commit"] == git("rev-parse", "HEAD", cwd=forge.work).strip()
    head = forge.commit("third", {"_posts/2026-01-04-third.md": post_text("title: Third\ndate: 2026-01-04")})
    service.queue.start()
    try:
        outcome = service.queue.outcome(service.queue.request("interval"), 30)  # what the scheduler asks
    finally:
        service.queue.stop()
    assert outcome is not None and outcome["added"] == ["_posts/2026-01-04-third.md"] and outcome["updated"] == []
    assert b"<title>Third</title>" in client.get("/rss.xml").data
    assert client.get("/status").get_json()["git"]["commit"] == head


def test_service_settings_problems_name_the_variable(tmp_path: Path) -> None:
    from feedsvc.config import ConfigError
    from feedsvc.deploy.service import Service

    with pytest.raises(ConfigError) as raised:
        Service({"FEEDSVC_GIT_URL": str(tmp_path / "nothing-here"), "FEEDSVC_STATE_DIR": str(tmp_path / "s")})
    assert "FEEDSVC_GIT_URL" in str(raised.value)


def test_the_state_folder_of_a_deployment_does_not_depend_on_the_token(tmp_path: Path) -> None:
    from feedsvc.config import state_dir_from

    def state(url: str) -> Path:
        return state_dir_from({"FEEDSVC_GIT_URL": url}, tmp_path)

    assert state("https://x-token:old@example.org/site.git") == state("https://x-token:new@example.org/site.git")
    assert state("https://example.org/site.git") != state("https://example.org/other.git")


def test_a_failed_fetch_shows_in_status_and_the_feeds_stay(forge: Forge, tmp_path: Path) -> None:
    from feedsvc.deploy.service import Service

    url = f"file://{forge.remote}"
    service = Service({"FEEDSVC_GIT_URL": url, "FEEDSVC_STATE_DIR": str(tmp_path / "state")})
    client = service.app.test_client()
    served = client.get("/status").get_json()["git"]["commit"]
    forge.remote.rename(forge.remote.with_name("moved.git"))
    service.queue.start()
    try:
        assert service.queue.outcome(service.queue.request("interval"), 30) is not None
    finally:
        service.queue.stop()
    git_status = client.get("/status").get_json()["git"]
    assert git_status["commit"] == served and git_status["last_error"] and git_status["last_error_at"]
    assert b"<title>Second</title>" in client.get("/rss.xml").data


def test_an_update_writes_only_the_changed_files_and_never_through_the_old_tree(forge: Forge, tmp_path: Path) -> None:
    source = source_for(forge, tmp_path)
    source.start()
    old = source.content_dir.resolve()
    forge.rename(POST_B, "_posts/2026-01-03-renamed.md")
    forge.commit("edit, rename, add", {POST_A: post_text("title: First, edited\ndate: 2026-01-02 10:00:00 +0000"),
                                       "_posts/2026-01-05-new.md": post_text("title: New\ndate: 2026-01-05")})
    source.update()
    new = source.content_dir.resolve()
    assert (new / "_config.yml").stat().st_ino == (old / "_config.yml").stat().st_ino  # unchanged: linked
    assert (new / POST_A).stat().st_ino != (old / POST_A).stat().st_ino
    assert "edited" in (new / POST_A).read_text() and "edited" not in (old / POST_A).read_text()
    assert not (new / POST_B).exists() and (old / POST_B).is_file()
    assert (new / "_posts/2026-01-03-renamed.md").read_text() == (old / POST_B).read_text()
    assert (new / "_posts/2026-01-05-new.md").is_file()
    listed = git("ls-tree", "-r", "--name-only", "HEAD", cwd=forge.work).split()
    assert sorted(str(p.relative_to(new)) for p in new.rglob("*") if p.is_file()) == sorted(listed)
