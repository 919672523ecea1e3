"""A git source in a deployment of several workers (deploy/workers.py): pushes received by any of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import post_text
from gitforge import Forge, first_post_forge, git
from test_forges import SECRET, github

from feedsvc.deploy import gitsource
from feedsvc.deploy.service import Service


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    return first_post_forge(tmp_path)


@pytest.fixture
def workers(forge: Forge, tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    """Two workers of one feedsvc: one state folder, each with its own git source, as after a fork."""
    environ = {"FEEDSVC_GIT_URL": str(forge.remote), "FEEDSVC_STATE_DIR": str(tmp_path / "state"),
               "FEEDSVC_WEBHOOK_SECRET": SECRET, "FEEDSVC_RESCAN_SECONDS": "3600"}
    builder, follower = Service(environ), Service(environ)
    builder.start_background()
    follower.start_background()
    try:
        assert builder.started(30) is not None and builder.deployment.role == "builder"
        assert follower.started(30) is not None and follower.deployment.role == "follower"
        yield builder, follower
    finally:
        follower.stop()
        builder.stop()


def test_a_push_received_by_a_follower_reaches_the_builder_with_its_commit(
        forge: Forge, workers: tuple[Service, Service]) -> None:
    builder, follower = workers
    before = git("rev-parse", "HEAD", cwd=forge.work).strip()
    # The forge announces a push to main whose commit the branch we fetch does not show yet (a lagging
    # mirror): only a builder told the commit itself can fetch it by id.
    pushed = forge.commit("a post", {"_posts/2026-05-01-pushed.md": post_text("title: Pushed\ndate: 2026-05-01")},
                          branch="incoming")
    headers, body = github("refs/heads/main", before, pushed)
    response = follower.app.test_client().post("/hooks/refresh?wait=1", data=body, headers=headers)
    answer = response.get_json()
    assert response.status_code == 200 and answer["status"] == "done", answer
    assert answer["commit"] == pushed and answer["added"] == ["_posts/2026-05-01-pushed.md"]
    assert builder.git is not None and builder.git.served_commit() == pushed


def test_a_checkout_is_on_disk_before_it_is_served(forge: Forge, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A power loss right after the swap must not leave `current` naming files still in the page cache."""
    events: list[tuple[str, str]] = []
    sync = gitsource.sync_tree
    monkeypatch.setattr(gitsource, "sync_tree", lambda path: (events.append(("sync", Path(path).name)), sync(path)))
    rename = gitsource.os.rename
    monkeypatch.setattr(gitsource.os, "rename",
                        lambda a, b: (events.append(("rename", Path(a).name)), rename(a, b))[1])
    source = gitsource.GitSource(gitsource.GitConfig(str(forge.remote)), tmp_path / "state" / "git")
    source.start()
    partial = [name for kind, name in events if kind == "rename"]
    assert partial and partial[0].startswith(".partial-")
    assert events.index(("sync", partial[0])) < events.index(("rename", partial[0]))
    assert (source.content_dir / "_posts/2026-01-02-first.md").is_file()
