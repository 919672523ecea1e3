"""`feedsvc build --cache`: after any edits the tree equals a cold build's, and only changed files are written."""

from __future__ import annotations

import errno
import gc
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import post_text

from feedsvc import cli
from feedsvc.cli import main
from feedsvc.content.bodies import MarkdownBody
from feedsvc.content.goldmark import GoldmarkOptions
from feedsvc.content.highlight import Highlight
from feedsvc.content.kramdown import KramdownOptions
from feedsvc.content.scanning import FileSignature
from feedsvc.deploy import buildcache, outputtree
from feedsvc.model import Author, Image, Language, Post, Problem, pack_html
from feedsvc.pipeline import postpack
from feedsvc.pipeline.flavourcodec import flavour_data, flavour_from
from feedsvc.pipeline.postcache import Seed
from feedsvc.pipeline.postcodec import Malformed, post_row
from feedsvc.pipeline.postpack import PostPack

CONFIG = "title: Cached\nurl: https://example.org\n"
NAMES = ["apple", "brook", "cedar", "dune", "ember", "fjord", "grove", "heath"]
TAGS = ["a", "b", "c", "d"]


def _post(rng: random.Random, title: str) -> str:
    tags = rng.sample(TAGS, rng.randint(0, 2))
    author = rng.choice(["Ann", "Bo", ""])
    front = f"title: {title}\ntags: [{', '.join(tags)}]" + (f"\nauthor: {author}" if author else "")
    body = " ".join(rng.choice(NAMES) for _ in range(rng.randint(3, 30))) + "\n"
    return post_text(front, body)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _stats(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _build(content: Path, out: Path, cache: Path | None = None) -> None:
    args = ["build", "--content", str(content), "--out", str(out)] + (["--cache", str(cache)] if cache else [])
    assert main(args) == 0


def _cold(content: Path, tmp_path: Path) -> dict[str, bytes]:
    out = tmp_path / "cold"
    _build(content, out)
    return _tree(out)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    (root / "_posts").mkdir(parents=True)
    (root / "_config.yml").write_text(CONFIG, encoding="utf-8")
    rng = random.Random(0)
    for day in range(1, 7):
        (root / f"_posts/2026-01-{day:02d}-post-{day}.md").write_text(_post(rng, f"Post {day}"), encoding="utf-8")
    return root


def _random_edit(rng: random.Random, root: Path, step: int) -> None:
    posts = sorted((root / "_posts").iterdir())
    action = rng.choice(["edit", "edit", "add", "delete", "rename", "config", "touch"])
    if action == "delete" and len(posts) > 1:
        rng.choice(posts).unlink()
    elif action == "rename" and posts:
        post = rng.choice(posts)
        post.rename(post.with_name(f"2026-02-{rng.randint(1, 28):02d}-renamed-{step}.md"))
    elif action == "add" or not posts:
        (root / f"_posts/2026-03-{rng.randint(1, 28):02d}-new-{step}.md").write_text(
            _post(rng, f"New {step}"), encoding="utf-8")
    elif action == "config":
        (root / "_config.yml").write_text(CONFIG + f"description: take {step}\n", encoding="utf-8")
    elif action == "touch":
        os.utime(rng.choice(posts))
    else:
        rng.choice(posts).write_text(_post(rng, f"Edited {step}"), encoding="utf-8")


@pytest.mark.parametrize("trust_recent", [False, True], ids=["racy-window", "cache-reused"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_edits_build_to_the_same_bytes_as_a_cold_build(content, tmp_path, seed, trust_recent, monkeypatch):
    """With the racy window every file written just now is read again; without it (as for files older than
    2 s) the cached posts are reused, which is the path a real incremental build takes."""
    if trust_recent:
        monkeypatch.setattr(buildcache, "RACY_NS", 0)
    rng = random.Random(seed)
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    for step in range(8):
        _random_edit(rng, content, step)
        _build(content, out, cache)
        assert _tree(out) == _cold(content, tmp_path), f"step {step}"


def test_only_changed_files_are_written_and_the_rest_keep_inode_and_mtime(content, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    before, bodies = _stats(out), _tree(out)
    post = content / "_posts/2026-01-03-post-3.md"
    post.write_text(post.read_text(encoding="utf-8") + "One more line.\n", encoding="utf-8")
    _build(content, out, cache)
    after, now = _stats(out), _tree(out)
    changed = {path for path in now if now[path] != bodies.get(path)}
    assert "rss.xml" in changed
    assert changed < set(now)  # the edit touched some feeds, not all
    for path in now:
        assert (after[path] == before[path]) == (path not in changed), path


def test_a_deleted_posts_feeds_disappear_and_a_stranger_in_the_output_is_removed(content, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    (content / "_posts/2026-01-07-lonely.md").write_text(post_text("title: Lonely\ntags: [only-here]"), "utf-8")
    _build(content, out, cache)
    assert (out / "tags/only-here/rss.xml").exists()
    (out / "stale.xml").write_text("old")
    (content / "_posts/2026-01-07-lonely.md").unlink()
    _build(content, out, cache)
    assert not (out / "tags/only-here").exists()
    assert not (out / "stale.xml").exists()
    assert _tree(out) == _cold(content, tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_an_output_file_changed_by_hand_is_written_again(content, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    (out / "tags/a/atom.xml").write_text("tampered")
    (out / "rss.xml").unlink()
    _build(content, out, cache)
    assert _tree(out) == _cold(content, tmp_path)


def test_a_link_or_a_folder_in_the_way_in_the_output_is_replaced_not_followed(content, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(out / "tags")
    (out / "tags").symlink_to(elsewhere)
    (out / "rss.xml").unlink()
    (out / "rss.xml").mkdir()
    post = content / "_posts/2026-01-02-post-2.md"
    post.write_text(post.read_text(encoding="utf-8") + "More.\n", encoding="utf-8")
    _build(content, out, cache)
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
    assert _tree(out) == _cold(content, tmp_path)


def test_a_kept_file_swapped_for_a_link_to_the_same_bytes_is_written_again_as_a_file(content, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    outside = tmp_path / "outside.xml"
    outside.write_bytes((out / "rss.xml").read_bytes())
    (out / "rss.xml").unlink()
    (out / "rss.xml").symlink_to(outside)
    _build(content, out, cache)
    assert not (out / "rss.xml").is_symlink()
    assert outside.read_bytes() == (out / "rss.xml").read_bytes()  # the same bytes, written beside it, not through
    assert _tree(out) == _cold(content, tmp_path)


def test_a_file_where_a_folder_goes_replaces_the_tree_with_the_kept_files_in_it(content, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    shutil.rmtree(out / "tags/a")
    (out / "tags/a").write_text("in the way")
    _build(content, out, cache)
    assert _tree(out) == _cold(content, tmp_path)


def test_a_kept_file_changed_while_the_tree_is_replaced_fails_the_build_and_leaves_the_tree(content, tmp_path,
                                                                                           monkeypatch, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    (out / "tags/a").rename(tmp_path / "a")
    (out / "tags/a").symlink_to(tmp_path / "a")
    before = _tree(out)
    real = outputtree._replace

    def changing(out_: Path, *args: Any) -> int:
        (out_ / "rss.xml").write_text("changed meanwhile")
        return real(out_, *args)

    monkeypatch.setattr(outputtree, "_replace", changing)
    assert main(["build", "--content", str(content), "--out", str(out), "--cache", str(cache)]) == 1
    assert "changed during the build" in capsys.readouterr().err
    assert _tree(out) == {**before, "rss.xml": b"changed meanwhile"}


def test_a_build_run_in_process_leaves_every_object_to_the_garbage_collector(content, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    frozen = gc.get_freeze_count()
    _build(content, out, cache)  # seeded from the cache, whose posts are kept out of collections meanwhile
    assert gc.get_freeze_count() == frozen


def _rewrite_pack(cache: Path, change: Callable[[list[Any]], None]) -> None:
    """Change the pack's lines (the header first) and sign it again, as someone who knows the format could."""
    data = (cache / "posts.pack").read_bytes()
    rest = data[len(postpack.MAGIC) + 65:]
    length, _, rest = rest.partition(b"\n")
    items = [json.loads(line) for line in rest[:int(length)].splitlines()]
    change(items)
    lines = b"".join(json.dumps(item).encode() + b"\n" for item in items)
    rest = str(len(lines)).encode() + b"\n" + lines + rest[int(length):]
    (cache / "posts.pack").write_bytes(postpack.MAGIC + hashlib.sha256(rest).hexdigest().encode() + b"\n" + rest)


def _corrupt(cache: Path) -> None:
    (cache / "posts.pack").write_bytes((cache / "posts.pack").read_bytes()[:100])  # truncated
    (cache / "output.json").write_bytes(zlib.compress(b"junk"))


def _foreign(cache: Path) -> None:
    _rewrite_pack(cache, lambda items: items[0]["identity"].update(feedsvc="0.0.0-elsewhere"))
    output = json.loads((cache / "output.json").read_text())
    output["identity"]["content"] = "/somewhere/else"
    (cache / "output.json").write_text(json.dumps(output))


def _flipped_body_byte(cache: Path) -> None:
    data = bytearray((cache / "posts.pack").read_bytes())
    data[-3] ^= 0x40  # in the last body: only the digest can tell
    (cache / "posts.pack").write_bytes(bytes(data))


def _lying_values(cache: Path) -> None:
    """Well-formed and signed, but saying something else: a title of the wrong type in every cached post."""
    def change(items: list[Any]) -> None:
        for _, _, size, row, _ in items[1:]:
            if size is not None:
                row[3] = 12345
    _rewrite_pack(cache, change)


def _a_link(cache: Path) -> None:
    (cache / "elsewhere.pack").write_bytes((cache / "posts.pack").read_bytes())
    (cache / "posts.pack").unlink()
    (cache / "posts.pack").symlink_to(cache / "elsewhere.pack")


@pytest.mark.parametrize("spoil", [_corrupt, _foreign, _flipped_body_byte, _lying_values, _a_link])
def test_a_bad_cache_is_only_a_cold_build(content, tmp_path, spoil, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    post = content / "_posts/2026-01-02-post-2.md"
    post.write_text(post.read_text(encoding="utf-8").replace("Post 2", "Post two"), encoding="utf-8")
    spoil(cache)
    capsys.readouterr()
    _build(content, out, cache)
    assert "build cache:" in capsys.readouterr().err  # a one-line note says why it starts cold
    assert _tree(out) == _cold(content, tmp_path)
    _build(content, out, cache)  # and the cache it saves instead works
    assert _tree(out) == _cold(content, tmp_path)


def test_a_cache_folder_that_is_a_link_or_open_to_others_is_not_used(content, tmp_path, capsys):
    real = tmp_path / "real-cache"
    real.mkdir(mode=0o700)
    link = tmp_path / "cache"
    link.symlink_to(real)
    out = tmp_path / "out"
    _build(content, out, link)
    assert "symbolic link" in capsys.readouterr().err
    assert list(real.iterdir()) == []  # nothing written through the link
    assert _tree(out) == _cold(content, tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    _build(content, out, shared)
    assert "written by others" in capsys.readouterr().err
    assert list(shared.iterdir()) == []


def test_the_cache_folder_is_private(content, tmp_path):
    cache = tmp_path / "new" / "cache"
    _build(content, tmp_path / "out", cache)
    assert cache.stat().st_mode & 0o777 == 0o700
    assert (cache / "output.json").stat().st_mode & 0o077 == 0


def test_a_full_disk_mid_update_leaves_every_output_file_as_it_was(content, tmp_path, monkeypatch, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    before = _tree(out)
    real = Path.write_bytes
    written: list[str] = []

    def write_bytes(path: Path, data: bytes) -> int:
        if path.name.endswith(".new") and written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path.name)
        return real(path, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    post = content / "_posts/2026-01-05-post-5.md"
    post.write_text(post.read_text(encoding="utf-8") + "More.\n", encoding="utf-8")
    assert main(["build", "--content", str(content), "--out", str(out), "--cache", str(cache)]) == 1
    assert "No space left" in capsys.readouterr().err
    assert _tree(out) == before  # not one file replaced, no temporary file left
    monkeypatch.setattr(Path, "write_bytes", real)
    _build(content, out, cache)
    assert _tree(out) == _cold(content, tmp_path)


SERVER_MODULES = ("feedsvc.deploy.service", "feedsvc.deploy.websub", "feedsvc.deploy.workers",
                  "feedsvc.deploy.gitsource", "feedsvc.deploy.statefolder", "feedsvc.web.webhooks",
                  "feedsvc.web.ondemand", "feedsvc.web.fastpath", "feedsvc.web.metrics", "feedsvc.pipeline.triggers")


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_build_never_loads_the_server_stack(content, tmp_path, command):
    """`build` and `check` start no server: Flask, granian, the scheduler, the watcher, the metrics, nor the
    server's own modules (webhooks, WebSub, workers, the state folder) are imported."""
    arguments = ["--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")] if command == "build" else []
    script = ("import sys\nfrom feedsvc.cli import main\n"
              f"assert main([{command!r}, '--content', {str(content)!r}, *{arguments!r}]) == 0\n"
              "print(sorted(name for name in sys.modules if name.split('.')[0] in "
              "('flask', 'werkzeug', 'granian', 'gunicorn', 'apscheduler', 'watchdog', 'prometheus_client')"
              f" or name in {SERVER_MODULES!r}))\n")
    environ = {name: value for name, value in os.environ.items() if name != "FEEDSVC_GIT_URL"}
    for _ in range(2):  # cold, then from the cache
        child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                               env=environ)
        assert child.stdout.strip() == "[]"


def test_a_build_from_a_local_folder_writes_what_the_whole_service_builds(content, tmp_path):
    """The build entry without the server's modules fills the same tree as a build by `Service`."""
    from feedsvc.deploy.service import Service

    service = Service({}, content, for_build=True)
    light = cli.offline(str(content), None)
    assert cli.output_files(light.store.snapshot, light.settings) == \
        cli.output_files(service.store.snapshot, service.settings)
    assert light.store.snapshot.site.problems == service.store.snapshot.site.problems


def test_bodies_kept_as_markdown_stay_so_in_the_cache_and_render_the_same(content, tmp_path, monkeypatch):
    """A cold build does not render every body to fill the cache; those read back render as a cold build's."""
    monkeypatch.setattr(buildcache, "RACY_NS", 0)  # files written just now are trusted: the cache is used
    (content / "_config.yml").write_text(CONFIG + "feed:\n  posts_limit: 2\n", encoding="utf-8")
    for day in range(10, 16):  # a summary of their own: their bodies are kept as Markdown until shown
        (content / f"_posts/2026-02-{day}-summed-{day}.md").write_text(
            post_text(f"title: Summed {day}\ndescription: Day {day}.", f"Body of *day {day}* -- \"quoted\".\n"),
            encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    kept: list[bool] = []
    _rewrite_pack(cache, lambda items: kept.extend(item[4] for item in items[1:]))
    assert any(kept)  # those no feed showed
    for day in (14, 15):  # the newest go: the feed now shows bodies read back from the cache as Markdown
        (content / f"_posts/2026-02-{day}-summed-{day}.md").unlink()
    _build(content, out, cache)
    assert _tree(out) == _cold(content, tmp_path)


@pytest.mark.parametrize("flavour", [None, KramdownOptions(), GoldmarkOptions(),
                                     KramdownOptions(auto_ids=False, smart_quotes=("<", ">", "[", "]")),
                                     GoldmarkOptions(id_type="blackfriday", highlight=Highlight(line_nos=True))])
def test_a_markdown_flavour_reads_back_as_written(flavour):
    assert flavour_from(json.loads(json.dumps(flavour_data(flavour)))) == flavour


def _plain_goldmark() -> dict[str, Any]:
    data: dict[str, Any] = flavour_data(GoldmarkOptions())[1]
    return data


@pytest.mark.parametrize("data", [["pickle", {}], ["kramdown", {"auto_ids": "yes"}], ["kramdown", {}],
                                  ["goldmark", {**_plain_goldmark(), "highlight": {"start": True}}],
                                  ["kramdown", {**flavour_data(KramdownOptions())[1], "smart_quotes": ["a"]}]])
def test_a_flavour_of_the_wrong_shape_is_refused(data):
    with pytest.raises(Malformed):
        flavour_from(data)


def test_the_pack_keeps_every_field_of_a_post_and_each_body_in_its_own_flavour(tmp_path):
    """A field `Post` gains must be in the pack too; a last good body kept in an older flavour is stored as HTML."""
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    post = Post(source="_posts/2026-01-02-a.md", fingerprint="f", slug="a", title="A", date=moment, updated=moment,
                url="https://example.org/a/", authors=(Author("Ann", "ann@example.org", None),), categories=("c",),
                tags=("t",), summary_html="<p>s</p>", summary_text="s", content_zlib=pack_html("Some *body*."),
                image=Image("https://example.org/i.png", "image/png", "alt"), published=False,
                warnings=(Problem("_posts/2026-01-02-a.md", "odd", "warning", 3),), references=(("b", 4),),
                liquid=True, listing="l", publish_at=moment, expire_at=moment, entry_id="https://example.org/a",
                language=Language("fr", "fr-FR", "Le site"), weight=2, link_title="Short", aliases=("/old/",),
                taxonomies=(("series", ("one",)),), lang="fr", body_markup=MarkdownBody(KramdownOptions()))
    older = replace(post, source="_posts/b.md", body_markup=MarkdownBody(KramdownOptions(auto_ids=False)))
    assert len(post_row(post)) == len(fields(Post)) - 2  # the body and its markup are kept beside the row
    problem = Problem("_posts/b.md", "broken", "error", 1)
    seed = Seed("s", "l", {"_posts/a.md": FileSignature(1, 2, 3, 4), "_posts/b.md": FileSignature(5, 6, 7, 8)},
                {"_posts/a.md": post, "_posts/b.md": problem}, {"/feed.xml": ("key", "etag")}, {"_posts/b.md": older})
    PostPack(tmp_path / "posts.pack").save(seed)
    for _ in range(2):  # as written, then as written back from what was read
        pack = PostPack(tmp_path / "posts.pack")
        loaded = pack.load()
        assert loaded is not None
        assert loaded.parsed == seed.parsed and loaded.inventory == seed.inventory
        assert loaded.rendered == seed.rendered
        assert loaded.last_good["_posts/b.md"].body_markup is None
        assert loaded.last_good["_posts/b.md"].content_html == older.content_html
        pack.save(loaded)


def test_a_last_good_body_read_back_in_one_flavour_is_not_written_back_under_another(tmp_path):
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first, second = MarkdownBody(KramdownOptions()), MarkdownBody(KramdownOptions(auto_ids=False))
    post = Post(source="_posts/a.md", fingerprint="f", slug="a", title="A", date=moment, updated=moment,
                url="https://example.org/a/", authors=(), categories=(), tags=(), summary_html="", summary_text="",
                content_zlib=pack_html("# A heading\n\nText.\n"), body_markup=first)
    signatures = {"_posts/a.md": FileSignature(1, 2, 3, 4), "_posts/b.md": FileSignature(5, 6, 7, 8)}
    pack = PostPack(tmp_path / "posts.pack")
    broken = Problem("_posts/b.md", "broken", "error", 1)
    pack.save(Seed("s", "l", signatures, {"_posts/a.md": post, "_posts/b.md": broken}, {}, {"_posts/b.md": post}))
    loaded = pack.load()
    assert loaded is not None
    good = loaded.last_good["_posts/b.md"]
    assert good.body_markup == first
    # the settings changed (another flavour) while b is still in error: its last good version is the one read back
    pack.save(Seed("t", "l", signatures, {"_posts/a.md": replace(post, body_markup=second),
                                          "_posts/b.md": broken},
                   {}, {"_posts/b.md": good}))
    again = PostPack(tmp_path / "posts.pack").load()
    assert again is not None
    assert again.last_good["_posts/b.md"].content_html == good.content_html
    assert again.parsed["_posts/a.md"].content_html != good.content_html  # the flavours do differ here
