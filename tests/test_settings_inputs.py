"""A restart serves the published feeds without reading the settings only while what they are read from is unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_server import POSTS

import feedsvc
from feedsvc.config import load_settings, settings_key
from feedsvc.deploy.service import Service
from feedsvc.deploy.settingsinputs import RECORD, ReadNames, Remembered, recall, remember


def _recorded(root: Path, state: Path, environ: dict[str, str]) -> str:
    read = ReadNames(environ)
    key = settings_key(load_settings(read, root))
    remember(state, environ, root, read.names, key, 300)
    return key


@pytest.fixture
def site(site_dir, tmp_path: Path) -> tuple[Path, Path]:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    return site_dir(POSTS), state


def test_unchanged_inputs_give_the_recorded_key(site):
    root, state = site
    key = _recorded(root, state, {})
    assert recall(state, {"FEEDSVC_WEBHOOK_SECRET": "s3cret", "PATH": "/bin"}, root) == Remembered(key, 300)


@pytest.mark.parametrize("change", ["config edited", "config touched", "data file added", "include added",
                                    "hugo config added", "variable set", "another version", "another folder"])
def test_any_change_to_what_settings_are_read_from_is_a_miss(site, change, monkeypatch, tmp_path):
    root, state = site
    _recorded(root, state, {})
    environ: dict[str, str] = {}
    config = root / "_config.yml"
    if change == "config edited":
        config.write_text(config.read_text(encoding="utf-8").replace("title:", "title: X", 1), encoding="utf-8")
    elif change == "config touched":
        info = config.stat()
        os.utime(config, ns=(info.st_atime_ns, info.st_mtime_ns + 1))
    elif change == "data file added":
        (root / "_data").mkdir(exist_ok=True)
        (root / "_data" / "authors.yml").write_text("a: {name: A}\n", encoding="utf-8")
    elif change == "include added":
        (root / "_includes").mkdir(exist_ok=True)
        (root / "_includes" / "note.html").write_text("note", encoding="utf-8")
    elif change == "hugo config added":
        (root / "hugo.toml").write_text('title = "H"\n', encoding="utf-8")
    elif change == "variable set":
        environ["FEEDSVC_TITLE"] = "Another"
    elif change == "another version":
        monkeypatch.setattr(feedsvc, "__version__", feedsvc.__version__ + ".1")
    elif change == "another folder":
        moved = tmp_path / "moved"
        root.rename(moved)
        root = moved
    assert recall(state, environ, root) is None


@pytest.mark.parametrize("record", [b"not json", b"[]", b'{"inputs": "x", "names": ["PATH"], "key": "k", '
                                    b'"cache_max_age": 1}', b'{"inputs": "x", "names": [], "key": "k", '
                                    b'"cache_max_age": -1}'])
def test_a_bad_record_is_a_miss(site, record):
    root, state = site
    _recorded(root, state, {})
    (state / RECORD).write_bytes(record)
    assert recall(state, {}, root) is None


def test_a_record_behind_a_link_is_not_read(site, tmp_path):
    root, state = site
    _recorded(root, state, {})
    elsewhere = tmp_path / "elsewhere.json"
    (state / RECORD).rename(elsewhere)
    (state / RECORD).symlink_to(elsewhere)
    assert recall(state, {}, root) is None


def test_the_record_names_no_secret(site_dir, tmp_path):
    root, state = site_dir(POSTS), tmp_path / "state"
    environ = {"FEEDSVC_STATE_DIR": str(state), "FEEDSVC_WATCH": "off", "FEEDSVC_WEBHOOK_SECRET": "s3cret-value"}
    Service(environ, root, serving=True).publish_state()
    record = (state / RECORD).read_text(encoding="utf-8")
    assert "FEEDSVC_WEBHOOK_SECRET" not in record and "s3cret" not in record
    assert json.loads(record)["names"]  # the variables the settings read are there


def test_a_restart_with_a_new_setting_serves_feeds_built_under_it(site_dir, tmp_path):
    root, state = site_dir(POSTS), tmp_path / "state"
    environ = {"FEEDSVC_STATE_DIR": str(state), "FEEDSVC_WATCH": "off"}
    Service(environ, root, serving=True).publish_state()
    again = Service(environ, root, serving=True)
    assert again.state_folder is not None  # warm, from the record
    changed = Service({**environ, "FEEDSVC_TITLE": "Renamed Site"}, root, serving=True)
    assert changed.state_folder is None  # built again: the remembered feeds are not these settings'
    assert b"Renamed Site" in changed.store.snapshot.resources["/rss.xml"].body


def test_a_warm_start_from_the_record_serves_the_same_bytes_and_settings_as_one_that_reads_them(site_dir, tmp_path):
    root, state = site_dir(POSTS), tmp_path / "state"
    environ = {"FEEDSVC_STATE_DIR": str(state), "FEEDSVC_WATCH": "off"}
    first = Service(environ, root, serving=True)
    first.publish_state()
    remembered = Service(environ, root, serving=True)
    (state / RECORD).unlink()
    read = Service(environ, root, serving=True)
    assert read.state_folder is not None and (state / RECORD).exists()  # read, then recorded again
    assert remembered.store.snapshot.resources == read.store.snapshot.resources
    assert remembered.settings == read.settings == first.settings
