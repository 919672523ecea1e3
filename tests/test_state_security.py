"""The state folder belongs to the service: no other local user can plant, hold or delete anything in it.

Each test here is one way a plain local user could once use the state folder against the service
(issue 12): a pickle that ran code, a planted manifest and blob, a symlink that made cleaning
delete elsewhere, a held lock or planted requests, a secret that could be cracked from a name.
"""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import post_text

from feedsvc.config import ConfigError, state_dir_from
from feedsvc.deploy.privatefolder import UnsafeFolder, claim_folder
from feedsvc.deploy.service import Service
from feedsvc.deploy.statefolder import StateFolder

OTHER_UID = 54321  # any uid that is not ours: as root, os.chown makes a folder "someone else's"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a folder another user's needs root (CI runs as root)")
POSTS = {"_posts/2026-01-01-one.md": post_text("title: One"), "_posts/2026-01-02-two.md": post_text("title: Two")}


def _serving(root: Path, **env: str) -> Service:
    return Service({"FEEDSVC_RESCAN_SECONDS": "3600", **env}, content_dir=root, serving=True)


# -- where the state lives ---------------------------------------------------------------------------


def test_the_default_state_folder_is_the_users_own_not_the_shared_temp_dir(tmp_path):
    home = tmp_path / "home"
    found = state_dir_from({"HOME": str(home)}, tmp_path / "content")
    assert found.is_relative_to(home / ".local" / "state" / "feedsvc")
    assert not found.is_relative_to(tempfile.gettempdir()) or found.is_relative_to(home)
    assert state_dir_from({"HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "xdg")}, tmp_path).parent == \
        tmp_path / "xdg" / "feedsvc"
    systemd = state_dir_from({"HOME": str(home), "STATE_DIRECTORY": str(tmp_path / "lib")}, tmp_path)
    assert systemd.parent == tmp_path / "lib"  # systemd's StateDirectory= wins: a system service's own place


def test_no_secret_goes_into_the_folder_name(tmp_path):
    """The name was once a hash over the webhook secret: a word list recovered `s3cret` from a folder listing."""
    plain = state_dir_from({"HOME": str(tmp_path)}, tmp_path / "content")
    for name in ("FEEDSVC_WEBHOOK_SECRET", "FEEDSVC_GIT_TOKEN", "FEEDSVC_API_KEY"):
        assert state_dir_from({"HOME": str(tmp_path), name: "s3cret"}, tmp_path / "content") == plain
    assert state_dir_from({"HOME": str(tmp_path), "FEEDSVC_BASE_URL": "https://a.example"},
                          tmp_path / "content") != plain  # other settings still get a folder of their own


def test_a_new_folder_is_private_and_so_are_its_files(site_dir, tmp_path):
    service = _serving(site_dir(POSTS), HOME=str(tmp_path / "home"))
    service.publish_state()
    state = service.state_dir
    assert state.is_relative_to(tmp_path / "home")
    for folder in (state, state / "blobs", state / "requests", state / "results", state.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [state / "manifest.json", *(state / "blobs").iterdir()]
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


# -- folders that are refused ------------------------------------------------------------------------


def test_a_symlinked_state_folder_is_refused_with_the_reason_and_the_fix(site_dir, tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(ConfigError) as raised:
        _serving(site_dir(POSTS), FEEDSVC_STATE_DIR=str(tmp_path / "link"))
    message = str(raised.value.problems[0])
    assert "symbolic link" in message and "FEEDSVC_STATE_DIR" in message
    assert not any(real.iterdir())  # nothing was written through it


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o757])
def test_a_folder_others_can_write_is_refused(tmp_path, mode):
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(mode)
    with pytest.raises(UnsafeFolder, match="can be written by others.*chmod 700"):
        StateFolder(folder)


def test_a_folder_inside_one_others_can_write_is_refused(tmp_path):
    """Without the sticky bit (as /tmp has) anyone could rename our folder away and put theirs in its place."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafeFolder, match="above it can be written by others"):
        claim_folder(shared / "state")
    shared.chmod(0o1777)
    assert claim_folder(shared / "state") == shared / "state"


@as_root
def test_a_folder_that_belongs_to_another_user_is_refused_before_anything_in_it_is_read(site_dir, tmp_path):
    """A local user who computes the default path and creates it first, with a manifest and blob of their own."""
    root = site_dir(POSTS)
    environ = {"HOME": str(tmp_path / "home"), "FEEDSVC_RESCAN_SECONDS": "3600"}
    planted = state_dir_from(environ, root)
    planted.mkdir(parents=True)
    (planted / "manifest.json").write_text('{"format": 2, "resources": {}}')
    os.chown(planted, OTHER_UID, OTHER_UID)
    with pytest.raises(ConfigError, match=f"belongs to uid {OTHER_UID}"):
        Service(environ, content_dir=root, serving=True)


@as_root
def test_a_folder_above_that_belongs_to_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeFolder, match=f"above it belongs to uid {OTHER_UID}"):
        claim_folder(theirs / "state")


@as_root
def test_another_user_can_neither_drop_requests_nor_hold_the_lock(tmp_path):
    """Once the folder is 0700 and ours, another user cannot open anything in it: no request, no lock, no blob."""
    reachable = Path(tempfile.mkdtemp(prefix="feedsvc-reachable-"))  # a path the other user can walk to
    try:
        reachable.chmod(0o755)
        StateFolder(reachable / "state")
        attempt = textwrap.dedent(f"""
            import os, sys
            os.setgid({OTHER_UID}); os.setuid({OTHER_UID})
            assert os.listdir(os.path.dirname(sys.argv[1])) == ["state"]  # they see it, and try:
            for name in ("requests/x.json", "builder.lock", "blobs/x.gz", "manifest.json"):
                try:
                    os.open(os.path.join(sys.argv[1], name), os.O_CREAT | os.O_WRONLY, 0o666)
                except PermissionError:
                    continue
                print("wrote", name)
        """)
        done = subprocess.run([sys.executable, "-c", attempt, str(reachable / "state")], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
    finally:
        shutil.rmtree(reachable)


def test_a_symlink_in_place_of_a_subfolder_is_refused_and_nothing_where_it_points_is_deleted(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    (victim / ".left.123.tmp").write_text("keep me too")  # what cleaning would remove from blobs/
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "blobs").symlink_to(victim)
    with pytest.raises(UnsafeFolder, match="symbolic link"):
        StateFolder(state).clear_leftovers()
    assert sorted(p.name for p in victim.iterdir()) == [".left.123.tmp", "precious.txt"]


def test_a_symlinked_manifest_is_not_followed(tmp_path):
    state = StateFolder(tmp_path / "state")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text('{"format": 2, "key": "", "generation": 1, "resources": {}}')
    state.manifest.symlink_to(elsewhere)
    assert state.read_snapshot(None) is None


# -- nothing is ever unpickled -----------------------------------------------------------------------


class _Payload:
    """A pickle that creates a file when loaded: what a planted post cache did as the service's user."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_post_cache_runs_no_code_and_costs_only_a_rebuild(site_dir, tmp_path, caplog):
    root, state = site_dir(POSTS), tmp_path / "state"
    first = _serving(root, FEEDSVC_STATE_DIR=str(state))
    first.publish_state()
    first.start_background()
    assert first.started(30) is not None and first.deployment.role == "builder"
    deadline = time.monotonic() + 30
    while first.scheduler is None and time.monotonic() < deadline:  # the builder's threads start in the background
        time.sleep(0.02)
    first.stop()
    cached = [p for p in (state / "posts").iterdir() if p.name != "index.json"]
    assert cached  # the cache was written, and every file of it is now replaced by a payload
    marker = tmp_path / "ran"
    for path in cached:
        path.write_bytes(pickle.dumps(_Payload(marker)))

    second = _serving(root, FEEDSVC_STATE_DIR=str(state))
    second.start_background()
    try:
        assert second.started(30) is not None and second.deployment.role == "builder"
        deadline = time.monotonic() + 30
        while second.queue.runs[1] < 1 and time.monotonic() < deadline:  # the warm start's rescan
            time.sleep(0.05)
    finally:
        second.stop()
    assert not marker.exists()
    assert second.store.snapshot is not None and b"Two" in second.store.snapshot.resources["/rss.xml"].body
