"""Which files are posts, and what a rescan sees as changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feedsvc.content.scanning import Changes, ScanError, diff_inventory, take_inventory


def _write(root: Path, relpath: str, text: str = "---\ntitle: x\n---\n") -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_posts_are_markdown_files_outside_hidden_and_underscore_folders(tmp_path):
    for relpath in ("_posts/2026-01-01-a.md", "_posts/2026-01-02-b.markdown", "news/_posts/2026-01-03-c.MD",
                    "about.md", "_drafts/2026-01-04-d.md", "_includes/e.md", ".git/f.md", "_posts/.hidden.md",
                    "_posts/notes.txt", "_posts/_archive/g.md", "assets/.cache/h.md"):
        _write(tmp_path, relpath)
    inventory, problems = take_inventory(tmp_path)
    assert sorted(inventory) == ["_posts/2026-01-01-a.md", "_posts/2026-01-02-b.markdown", "about.md",
                                 "news/_posts/2026-01-03-c.MD"]
    assert problems == []


def test_symlinks_are_followed_only_inside_the_content_folder(tmp_path):
    root = tmp_path / "content"
    outside = _write(tmp_path, "secret/2026-01-01-secret.md")
    inside = _write(root, "_posts/2026-01-01-real.md")
    os.symlink(outside, root / "_posts/2026-01-02-link-out.md")
    os.symlink(outside.parent, root / "_posts/outdir")
    os.symlink(inside, root / "_posts/2026-01-03-link-in.md")
    os.symlink(root / "_posts", root / "_posts/loop")
    inventory, problems = take_inventory(root)
    assert sorted(inventory) == ["_posts/2026-01-01-real.md", "_posts/2026-01-03-link-in.md"]
    messages = {p.path: p.message for p in problems}
    assert "outside" in messages["_posts/2026-01-02-link-out.md"]
    assert "outside" in messages["_posts/outdir"]
    assert "loop" in messages["_posts/loop"]


def test_unreadable_folder_is_a_problem_not_a_crash(tmp_path, monkeypatch):
    _write(tmp_path, "_posts/2026-01-01-a.md")
    _write(tmp_path, "locked/_posts/2026-01-01-b.md")
    real_scandir = os.scandir

    def scandir(path):  # chmod 000 does not stop root, who runs CI: refuse the way the kernel would
        if str(path).endswith("locked/_posts"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    inventory, problems = take_inventory(tmp_path)
    assert list(inventory) == ["_posts/2026-01-01-a.md"]
    assert [(p.path, p.message) for p in problems] == [("locked/_posts", "cannot read folder: Permission denied")]


def test_missing_or_non_folder_root_is_a_scan_error(tmp_path):
    with pytest.raises(ScanError, match="does not exist"):
        take_inventory(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ScanError, match="not a folder"):
        take_inventory(tmp_path / "file")


def test_diff_reports_added_modified_and_removed(tmp_path):
    a = _write(tmp_path, "_posts/a.md")
    _write(tmp_path, "_posts/b.md")
    before, _ = take_inventory(tmp_path)
    assert diff_inventory(before, before) == Changes((), (), ())
    assert not diff_inventory(before, before)
    a.write_text("---\ntitle: changed, same mtime second maybe\n---\n")
    (tmp_path / "_posts/b.md").unlink()
    _write(tmp_path, "_posts/c.md")
    after, _ = take_inventory(tmp_path)
    assert diff_inventory(before, after) == Changes(("_posts/c.md",), ("_posts/a.md",), ("_posts/b.md",))


def test_same_size_rewrite_with_restored_mtime_is_still_seen(tmp_path):
    path = _write(tmp_path, "_posts/a.md", "---\ntitle: aaaa\n---\n")
    before, _ = take_inventory(tmp_path)
    stat = path.stat()
    path.write_text("---\ntitle: bbbb\n---\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # an editor or tool restoring the mtime
    after, _ = take_inventory(tmp_path)
    assert after["_posts/a.md"].mtime_ns == before["_posts/a.md"].mtime_ns
    assert diff_inventory(before, after).modified == ("_posts/a.md",)
