"""The state folder's one description (deploy/statefolder.py's docstring) names every file feedsvc writes there."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import feedsvc.deploy.statefolder as statefolder
from feedsvc.deploy.statefolder import StateFolder, ask
from feedsvc.pipeline.postcache import PostCache
from feedsvc.snapshot import SnapshotStore
from feedsvc.web.webhooks import SeenInFolder


def _described() -> list[str]:
    """The names the docstring lists, as glob patterns: `blobs/<etag>.gz` -> `blobs/*.gz`."""
    doc = statefolder.__doc__ or ""
    names = re.findall(r"^- `([^`]+)`", doc, flags=re.M) + re.findall(r"Each\s+`([^`]+)`", doc)
    names += re.findall(r"`(posts/[^`]+)`", doc)
    return [re.sub(r"<[^>]+>", "*", name) for name in names]


def _matches(name: str, pattern: str) -> bool:
    if pattern.endswith("/"):
        return name.startswith(pattern)
    return fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(name.rsplit("/", 1)[-1], pattern)


def test_every_file_a_deployment_writes_is_in_the_one_description(site_dir, make_refresher, tmp_path: Path) -> None:
    refresher = make_refresher(site_dir({"_posts/2026-01-01-a.md": "---\ntitle: A\n---\nHello\n"}))
    refresher.refresh()
    root = tmp_path / "state"
    state = StateFolder(root)
    store: SnapshotStore = refresher.store
    assert store.snapshot is not None
    state.write_snapshot(store.snapshot, "key")
    state.write_status({"worker": {"role": "builder"}}, store.status)
    (root / "builder.lock").touch()
    ask(state, {"trigger": "test"})
    (state.results / "abc.json").write_text("{}")
    seed = refresher.export()
    assert seed is not None
    PostCache(root / "posts").save(seed)
    assert SeenInFolder(root / "webhook-ids").first_time("delivery-1", 0.0)
    (root / "metrics").mkdir()
    (root / ".manifest.json.1.2.tmp").touch()  # a write in progress

    patterns = _described()
    written = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
    assert written and len(patterns) >= 10
    undescribed = [name for name in written if not any(_matches(name, pattern) for pattern in patterns)]
    assert undescribed == []
    for folder in ("blobs", "requests", "results", "posts", "webhook-ids", "metrics"):
        assert any(p.startswith(folder + "/") for p in patterns), folder


def test_a_warm_started_builder_writes_again_only_the_blobs_it_could_not_check(site_dir, make_refresher,
                                                                              tmp_path: Path, monkeypatch) -> None:
    """A restart republishes the same feeds: the blobs it checked as it loaded stay as they are (no 60 MB
    rewrite at 10,000 posts), and one deleted in between is written again, so the manifest never names a hole."""
    posts = {f"_posts/2026-01-0{n}-p{n}.md": f"---\ntitle: P{n}\ntags: [t{n}]\n---\nBody {n}\n" for n in range(1, 5)}
    refresher = make_refresher(site_dir(posts))
    refresher.refresh()
    snapshot = refresher.store.snapshot
    StateFolder(tmp_path / "state").write_snapshot(snapshot, "key")
    restarted = StateFolder(tmp_path / "state")
    assert restarted.read_snapshot(None, "key") is not None
    blobs = sorted(restarted.blobs.iterdir())
    blobs[0].unlink()
    written: list[str] = []
    real_write = statefolder.write_atomically

    def write_atomically(path: Path, data: bytes) -> None:
        written.append(path.name)
        real_write(path, data)

    monkeypatch.setattr(statefolder, "write_atomically", write_atomically)
    restarted.write_snapshot(snapshot, "key")
    assert sorted(name for name in written if name.endswith(".gz")) == [blobs[0].name]
    assert sorted(restarted.blobs.iterdir()) == blobs
    assert StateFolder(tmp_path / "state").read_snapshot(None, "key") is not None


def test_a_warm_started_builder_leaves_an_unchanged_generation_for_followers_as_it_was(
        site_dir, make_refresher, tmp_path: Path) -> None:
    """The first refresh after a warm start publishes what was loaded: followers, which reload the manifest when
    it changes on disk, must not reload every feed for nothing; a real change is still written."""
    from dataclasses import replace

    refresher = make_refresher(site_dir({"_posts/2026-01-01-p.md": "---\ntitle: P\n---\nBody\n"}))
    refresher.refresh()
    snapshot = refresher.store.snapshot
    StateFolder(tmp_path / "state").write_snapshot(snapshot, "key")
    manifest = tmp_path / "state" / "manifest.json"
    before = manifest.stat().st_ino
    restarted = StateFolder(tmp_path / "state")
    assert restarted.read_snapshot(None, "key") is not None
    restarted.write_snapshot(snapshot, "key")
    assert manifest.stat().st_ino == before
    restarted.write_snapshot(replace(snapshot, generation=snapshot.generation + 1), "key")
    assert manifest.stat().st_ino != before
    assert StateFolder(tmp_path / "state").read_snapshot(None, "key").generation == snapshot.generation + 1
