"""No data loss: after any sequence of edits, renames, moves, date changes, deletions and warm restarts,
the served feeds equal a clean build of the folder as it now is.

A property test (issue 12). Each generated step changes the content folder the way a writer or a
`git pull` would, or restarts the builder warm (the published snapshot from the state folder, the
post cache as last saved, which may lag a refresh or more, as CacheWriter's does); then the builder
refreshes and every served feed, page and ETag must equal what a fresh `Refresher` builds from the
folder. An injected clock stands a minute after every write, so each file has settled; no sleeps.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import BASIC_CONFIG, Clock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.deploy.statefolder import StateFolder
from feedsvc.pipeline.postcache import PostCache
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore

SLOTS = 4
FOLDERS = ("_posts", "news/_posts", "_posts/2026")
TAGS = ("python", "web", "rust")

# (what, slot, a number that picks the new value); "restart" ignores slot, uses the number as "cache saved?"
Step = tuple[str, int, int]
STEPS = st.lists(st.tuples(st.sampled_from(["write", "edit", "rename", "move", "redate", "refile", "delete",
                                            "restart"]),
                           st.integers(0, SLOTS - 1), st.integers(0, 5)), min_size=1, max_size=10)


@dataclass
class Slot:
    """One post as the writer means it; `path` is where it is now (None: not written, or deleted)."""

    index: int
    folder: str = "_posts"
    name: str = "first"
    day: int = 1
    hour: int = 9
    title: int = 0
    tags: tuple[str, ...] = ("python",)
    path: str | None = None

    def relpath(self) -> str:
        return f"{self.folder}/2026-03-{self.day:02d}-s{self.index}-{self.name}.md"

    def text(self) -> str:
        return (f"---\ntitle: Post {self.index} version {self.title}\ndate: 2026-03-{self.day:02d} "
                f"{self.hour:02d}:00:00 +0000\ntags: [{', '.join(self.tags)}]\n---\n"
                f"Body of post {self.index}, version {self.title}.\n")


@dataclass
class World:
    """The content folder, the builder serving it, and what a restart finds on disk."""

    root: Path
    state: Path
    cache: Path
    clock: Clock
    slots: list[Slot] = field(default_factory=list)
    builder: Refresher | None = None
    written: int = 0

    def tick(self) -> None:
        self.clock.now += timedelta(minutes=1)

    def write(self, slot: Slot) -> None:
        target = self.root / slot.relpath()
        if slot.path is not None and slot.path != slot.relpath():
            (self.root / slot.path).unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(slot.text(), encoding="utf-8")
        # A distinct modification time a minute before the clock: two saves of the same size are
        # told apart (as seconds apart would be) and count as settled.
        self.written += 1
        moment = int((self.clock.now - timedelta(minutes=1)).timestamp()) * 10**9 + self.written
        os.utime(target, ns=(moment, moment))
        slot.path = slot.relpath()

    def publish(self) -> None:
        """What the builder's listeners do after a refresh: the state folder gets the new snapshot."""
        assert self.builder is not None
        StateFolder(self.state).write_snapshot(self.builder.store.snapshot)

    def save_cache(self) -> None:
        assert self.builder is not None
        PostCache(self.cache).save(self.builder.export())

    def restart(self) -> None:
        store = SnapshotStore()
        store.snapshot = StateFolder(self.state).read_snapshot(None)
        builder = Refresher(store, self.root, {}, clock=self.clock)
        seed = PostCache(self.cache).load()
        if seed is not None and store.snapshot is not None:
            builder.seed(seed, store.snapshot.resources)
        self.builder = builder


def _apply(world: World, step: Step) -> str:
    what, index, number = step
    slot = world.slots[index]
    if what == "restart":
        if number % 2:
            world.save_cache()
        world.restart()
        return "startup"
    if what == "delete":
        if slot.path is not None:
            (world.root / slot.path).unlink()
            slot.path = None
        return "schedule"
    if what == "edit":
        slot.title += 1 + number
        slot.tags = TAGS[: 1 + number % len(TAGS)] if number % 2 else TAGS[number % len(TAGS):]
    elif what == "rename":
        slot.name = ("first", "second", "third", "fourth", "fifth", "sixth")[number]
    elif what == "move":
        slot.folder = FOLDERS[number % len(FOLDERS)]
    elif what == "redate":
        slot.hour = 9 + number
    elif what == "refile":
        slot.day = 1 + number
    world.write(slot)
    return "schedule"


def _served(refresher: Refresher) -> dict[str, tuple[bytes, str]]:
    snapshot = refresher.store.snapshot
    assert snapshot is not None
    return {path: (resource.body, resource.etag) for path, resource in snapshot.resources.items()}


def _clean_build(world: World) -> dict[str, tuple[bytes, str]]:
    fresh = Refresher(SnapshotStore(), world.root, {}, clock=world.clock)
    assert fresh.refresh("startup").error is None
    return _served(fresh)


def _difference(served: dict[str, tuple[bytes, str]], clean: dict[str, tuple[bytes, str]]) -> str:
    missing, extra = sorted(clean.keys() - served.keys()), sorted(served.keys() - clean.keys())
    differ = sorted(path for path in clean.keys() & served.keys() if clean[path] != served[path])
    return f"missing {missing}, not in a clean build {extra}, different bytes {differ}"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_served_feeds_equal_a_clean_build_after_every_step(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory(prefix="feedsvc-no-loss-") as temp:
        root = Path(temp) / "content"
        root.mkdir()
        (root / "_config.yml").write_text(BASIC_CONFIG, encoding="utf-8")
        start = datetime.fromtimestamp(time.time(), UTC).replace(microsecond=0) + timedelta(minutes=1)
        world = World(root, Path(temp) / "state", Path(temp) / "posts", Clock(start))
        world.slots = [Slot(i) for i in range(SLOTS)]
        for slot in world.slots[:2]:
            world.write(slot)
        world.tick()
        world.builder = Refresher(SnapshotStore(), root, {}, clock=world.clock)
        assert world.builder.refresh("startup").error is None
        world.publish()
        world.save_cache()
        for number, step in enumerate(steps, 1):
            trigger = _apply(world, step)
            world.tick()
            assert world.builder.refresh(trigger).error is None
            world.publish()
            served, clean = _served(world.builder), _clean_build(world)
            assert served == clean, f"after step {number} {step} of {steps}: {_difference(served, clean)}"
