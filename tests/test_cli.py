"""The command line: `build` writes the served tree, `check` reports problems with an exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, post_text

from feedsvc.cli import main

POSTS = {
    "_posts/2026-01-01-one.md": post_text("title: One\ncategories: [Garden]\ntags: [a]"),
    "_posts/2026-01-02-two.md": post_text("title: Two\nauthor: Ann"),
    "_drafts/2026-01-03-draft.md": post_text("title: Draft idea"),
}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _run(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "feedsvc", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_build_writes_every_feed_at_its_url_path_and_is_byte_identical_across_runs(site_dir, tmp_path):
    content = site_dir(POSTS)
    out1, out2 = tmp_path / "out1", tmp_path / "out2"
    first = _run("build", "--content", str(content), "--out", str(out1))
    second = _run("build", "--content", str(content), "--out", str(out2))
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    tree = _tree(out1)
    assert tree == _tree(out2)  # separate processes: no clock, no randomness in the output
    for path in ("index.html", "feeds.opml", "rss.xml", "atom.xml", "feed.json",
                 "categories/garden/rss.xml", "tags/a/atom.xml", "authors/ann/feed.json"):
        assert path in tree, path
    assert not any(b"Draft idea" in body for body in tree.values())


def test_build_replaces_an_existing_output_tree_whole(site_dir, tmp_path):
    content = site_dir(POSTS)
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.xml").write_text("old")
    assert main(["build", "--content", str(content), "--out", str(out)]) == 0
    assert not (out / "stale.xml").exists()
    assert (out / "rss.xml").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_check_is_clean_for_good_content(site_dir, capsys):
    assert main(["check", "--content", str(site_dir(POSTS))]) == 0
    assert capsys.readouterr().out == ""


def test_check_lists_each_problem_and_exits_1_on_errors(site_dir, capsys):
    content = site_dir({
        **POSTS,
        "_posts/2026-01-04-broken.md": "---\ntitle: [oops\n---\nbody\n",
        "_posts/2026-01-05-untitled.md": "---\ntags: [x]\n---\nbody\n",
    })
    assert main(["check", "--content", str(content)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("_posts/2026-01-04-broken.md:") and "YAML" in line for line in lines)
    assert any(line.startswith("_posts/2026-01-05-untitled.md: warning:") for line in lines)
    assert len(lines) == 2


def test_warnings_alone_do_not_fail_check(site_dir):
    content = site_dir({"_posts/2026-01-05-untitled.md": "---\ntags: [x]\n---\nbody\n"})
    assert main(["check", "--content", str(content)]) == 0


def test_unusable_configuration_is_named_and_exits_2(site_dir, capsys):
    content = site_dir(POSTS, config="url: not-a-url\ntimezone: Mars/Olympus\n")
    assert main(["check", "--content", str(content)]) == 2
    err = capsys.readouterr().err
    assert "url" in err and "Mars/Olympus" in err


def test_missing_content_folder_is_an_error(tmp_path, capsys):
    assert main(["check", "--content", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
