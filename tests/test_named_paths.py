"""A refresh asked for by the OS watcher looks only at the files it named, and finds what a full walk finds."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from conftest import post_text
from test_watching import POSTS, Watched, bodies, clean_build

import feedsvc.pipeline.inventorystep as inventory_module
from feedsvc.content.dialects import dialect_for
from feedsvc.content.scanning import take_inventory
from feedsvc.pipeline.namedpaths import inventory_with


def _ops(rng: random.Random, root: Path, step: int) -> set[str]:
    """One random change under `root`; returns the paths (relative) an OS watcher would name."""
    posts = root / "_posts"
    existing = sorted(p.relative_to(root).as_posix() for p in posts.rglob("*") if p.is_file())
    plain = ["write", "add", "delete", "rename", "hidden", "image", "nested", "swap"]
    action = rng.choice(plain if step < 20 else [*plain, "link", "fifo", "hardlink"])
    text = post_text(f"title: Step {step}", f"Body {step}.\n")
    if action == "write" and existing:
        name = rng.choice(existing)
        (root / name).write_text(text, encoding="utf-8")
        return {name}
    if action == "delete" and existing:
        name = rng.choice(existing)
        (root / name).unlink()
        return {name}
    if action == "rename" and existing:
        name, new = rng.choice(existing), f"_posts/2026-04-{step % 28 + 1:02d}-renamed-{step}.md"
        os.replace(root / name, root / new)
        return {name, new}
    if action == "hidden":
        (posts / f".hidden-{step}.md").write_text(text, encoding="utf-8")
        return {f"_posts/.hidden-{step}.md"}
    if action == "image":
        (posts / f"picture-{step}.png").write_bytes(b"\x89PNG")
        return {f"_posts/picture-{step}.png"}
    if action == "link" and existing:
        (posts / f"2026-05-{step % 28 + 1:02d}-link-{step}.md").symlink_to(root / rng.choice(existing))
        return {f"_posts/2026-05-{step % 28 + 1:02d}-link-{step}.md"}
    if action == "hardlink" and existing:
        new = f"_posts/2026-08-{step % 28 + 1:02d}-also-{step}.md"
        os.link(root / rng.choice(existing), root / new)
        return {new}
    if action == "fifo":
        os.mkfifo(posts / f"2026-06-{step % 28 + 1:02d}-pipe-{step}.md")
        return {f"_posts/2026-06-{step % 28 + 1:02d}-pipe-{step}.md"}
    if action == "nested":
        folder = posts / "more"
        folder.mkdir(exist_ok=True)
        (folder / f"2026-07-{step % 28 + 1:02d}-nested-{step}.md").write_text(text, encoding="utf-8")
        return {f"_posts/more/2026-07-{step % 28 + 1:02d}-nested-{step}.md"}
    if action == "swap" and existing:
        name = rng.choice(existing)
        temp = root / f"_posts/.{Path(name).name}.swp"
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, root / name)
        return {temp.relative_to(root).as_posix(), name}
    new = f"_posts/2026-03-{step % 28 + 1:02d}-added-{step}.md"
    (root / new).write_text(text, encoding="utf-8")
    return {new}


@pytest.mark.parametrize("seed", range(6))
def test_the_named_files_alone_give_the_inventory_a_full_walk_gives_or_none(site_dir, seed):
    root = site_dir(POSTS)
    dialect = dialect_for("jekyll", None)
    linked: list[str] = []
    known, problems = take_inventory(root, dialect=dialect, linked=linked)
    rng = random.Random(seed)
    answered = 0
    for step in range(30):
        named = _ops(rng, root, step)
        usable = not linked and not problems  # as the refresher asks: never after a walk that met a link
        linked = []
        walked, problems = take_inventory(root, dialect=dialect, linked=linked)
        updated = inventory_with(known, root, named, dialect) if usable else None
        if updated is not None:
            answered += 1
            assert updated[0] == walked, (step, named)
        known = walked
    assert answered  # the plain cases are answered without a walk


def test_a_save_seen_by_the_watcher_walks_nothing_and_serves_what_a_clean_build_does(site_dir, monkeypatch):
    running = Watched(site_dir(POSTS))
    walks: list[Path] = []
    real = inventory_module.take_inventory
    monkeypatch.setattr(inventory_module, "take_inventory",
                        lambda root, *args, **kwargs: walks.append(root) or real(root, *args, **kwargs))
    try:
        post = running.root / "_posts/2026-01-03-post-3.md"
        temp = post.with_name(".post-3.md.swp")
        temp.write_text(post_text("title: Saved by an editor\ntags: [t9]"), encoding="utf-8")
        os.replace(temp, post)
        (running.root / "_posts/2026-01-04-post-4.md").unlink()
        expected = clean_build(running.root)
        running.until(lambda s: bodies(s) == bodies(expected))
        assert walks == [running.root]  # only the clean build walked the folder
        walks.clear()
        # A folder moved in (its file complete: a file written into a folder the watch has not reached yet
        # may raise no close event, and waits for the settle follow-up no scheduler runs here): a folder
        # event, so that refresh walks everything.
        outside = running.root.parent / "sub"
        outside.mkdir()
        (outside / "2026-02-01-deep.md").write_text(post_text("title: Deep"), encoding="utf-8")
        outside.rename(running.root / "_posts/sub")
        expected = clean_build(running.root)
        running.until(lambda s: bodies(s) == bodies(expected))
        assert len(walks) >= 2
    finally:
        running.stop()
