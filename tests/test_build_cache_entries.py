"""`build --cache` keeps the feeds' rendered entries (pipeline/entrypack.py): the next build renders only
the entries of what changed, and its output is a cold build's, whatever state the kept entries are in."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import post_text

from feedsvc.cli import main
from feedsvc.deploy import buildcache
from feedsvc.model import FeedFormat, Post
from feedsvc.pipeline.entrypack import MAGIC, BadEntries, pack_entries, unpack_entries
from feedsvc.render.entrycache import EntryCache, Kept

CONFIG = "title: Kept\nurl: https://example.org\n"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _build(content: Path, out: Path, cache: Path | None = None) -> None:
    args = ["build", "--content", str(content), "--out", str(out)] + (["--cache", str(cache)] if cache else [])
    assert main(args) == 0


def _cold(content: Path, tmp_path: Path) -> dict[str, bytes]:
    _build(content, tmp_path / "cold")
    return _tree(tmp_path / "cold")


@pytest.fixture
def content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(buildcache, "RACY_NS", 0)  # files written just now are trusted: the cache is used
    root = tmp_path / "content"
    (root / "_posts").mkdir(parents=True)
    (root / "_config.yml").write_text(CONFIG, encoding="utf-8")
    for day in range(1, 9):
        tags = "[a, b]" if day % 2 else "[a]"
        (root / f"_posts/2026-01-{day:02d}-post-{day}.md").write_text(
            post_text(f"title: Post {day}\ntags: {tags}", f"Body *{day}* -- \"quoted\".\n"), encoding="utf-8")
    return root


@pytest.fixture
def built_titles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The title of each post whose entry a build renders (rather than finds in the entry cache)."""
    titles: list[str] = []
    real = EntryCache.get

    def get(self: EntryCache, posts: list[Post], fmt: FeedFormat, shape: object,
            build: Callable[[list[Post], FeedFormat, object], list[bytes]]) -> list[bytes]:
        def counted(missing: list[Post], fmt: FeedFormat, shape: object) -> list[bytes]:
            titles.extend(post.title for post in missing)
            return build(missing, fmt, shape)
        return real(self, posts, fmt, shape, counted)

    monkeypatch.setattr(EntryCache, "get", get)
    return titles


def _edit(content: Path) -> None:
    post = content / "_posts/2026-01-03-post-3.md"
    post.write_text(post.read_text(encoding="utf-8") + "One more line.\n", encoding="utf-8")


def test_after_an_edit_only_the_edited_posts_entries_are_rendered(content, tmp_path, built_titles):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    _edit(content)
    built_titles.clear()
    _build(content, out, cache)
    assert set(built_titles) == {"Post 3"}
    assert _tree(out) == _cold(content, tmp_path)


def test_without_the_kept_entries_the_feeds_render_every_entry_again(content, tmp_path, built_titles):
    """What the test above would see if the entries were not kept: it can fail."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    (cache / buildcache.ENTRIES).unlink()
    _edit(content)
    built_titles.clear()
    _build(content, out, cache)
    assert len(set(built_titles)) > 1


def _flipped_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40  # in the last entry's bytes: only the digest can tell
    path.write_bytes(bytes(data))


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


def _foreign(path: Path) -> None:
    """Signed, but by another version of the format."""
    rest = path.read_bytes()[len(MAGIC) + 65:].replace(b'"entries": 1', b'"entries": 0', 1)
    path.write_bytes(MAGIC + hashlib.sha256(rest).hexdigest().encode() + b"\n" + rest)


def _a_link(path: Path) -> None:
    path.with_name("elsewhere.pack").write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(path.with_name("elsewhere.pack"))


@pytest.mark.parametrize("spoil", [_flipped_byte, _truncated, _foreign, _a_link])
def test_spoiled_entries_are_rendered_again_to_the_same_bytes(content, tmp_path, spoil, capsys, built_titles):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(content, out, cache)
    _edit(content)
    spoil(cache / buildcache.ENTRIES)
    capsys.readouterr()
    built_titles.clear()
    _build(content, out, cache)
    err = capsys.readouterr().err
    assert "build cache:" in err and "entries.pack" in err
    assert len(set(built_titles)) > 1  # rendered again, not taken from the spoiled file
    assert _tree(out) == _cold(content, tmp_path)
    _edit(content)  # and what it saves instead is used
    built_titles.clear()
    _build(content, out, cache)
    assert set(built_titles) == {"Post 3"}


def test_the_entry_pack_reads_back_as_written_and_refuses_anything_else():
    kept = [Kept("f1", FeedFormat.RSS, "Shape(a='é')", b"<item>\xc3\xa9</item>"),
            Kept("f2", FeedFormat.JSON, "Shape(a=1)", b""), Kept("f\ud800", FeedFormat.ATOM, "S()", b"\n\n")]
    data = pack_entries(kept)
    assert unpack_entries(data) == kept
    digest_end = len(MAGIC) + 65
    for bad in (data[:-1], data + b"x", data.replace(MAGIC, b"feedsvc entry pack 0\n"), b"", data[:digest_end]):
        with pytest.raises(BadEntries):
            unpack_entries(bad)


def test_preloaded_entries_are_found_only_for_their_post_and_shape():
    post = SimpleNamespace(fingerprint="fp")  # stands in for a Post: the cache only keys and compares it
    cache = EntryCache()
    cache.preload({"fp": post}, [Kept("fp", FeedFormat.RSS, repr(("shape", 1)), b"kept"),
                                 Kept("other", FeedFormat.RSS, repr(("shape", 1)), b"stray")])
    made: list[int] = []

    def build(posts: list[Post], fmt: FeedFormat, shape: object) -> list[bytes]:
        made.append(len(posts))
        return [b"made"] * len(posts)

    assert cache.get([post], FeedFormat.RSS, ("shape", 1), build) == [b"kept"]
    assert cache.get([post], FeedFormat.ATOM, ("shape", 1), build) == [b"made"]  # another format
    assert cache.get([post], FeedFormat.RSS, ("shape", 2), build) == [b"made"]  # another shape
    assert made == [1, 1]
    assert {(k.fingerprint, k.fmt, k.entry) for k in cache.export()} == {
        ("fp", FeedFormat.RSS, b"kept"), ("fp", FeedFormat.ATOM, b"made"), ("fp", FeedFormat.RSS, b"made")}
    late = EntryCache()
    late.get([post], FeedFormat.RSS, ("shape", 1), build)  # the shape exists before `preload`
    late.preload({"fp": post}, [Kept("fp", FeedFormat.RSS, repr(("shape", 1)), b"kept")])
    assert late.get([post], FeedFormat.RSS, ("shape", 1), build) == [b"kept"]



def test_entries_no_render_asked_for_are_kept_for_the_next_process_within_the_bound():
    post = SimpleNamespace(fingerprint="fp")
    cache = EntryCache(max_bytes=10)
    cache.preload({"fp": post}, [Kept("fp", FeedFormat.RSS, "'old'", b"12345"),
                                 Kept("fp", FeedFormat.RSS, "'a'", b"123")])
    cache.get([post], FeedFormat.RSS, "a", lambda posts, fmt, shape: [b"made"] * len(posts))
    assert [(k.shape, k.entry) for k in cache.export()] == [("'old'", b"12345"), ("'a'", b"123")]
    cache.get([post], FeedFormat.ATOM, "a", lambda posts, fmt, shape: [b"made"] * len(posts))
    assert [(k.shape, k.entry) for k in cache.export()] == [("'a'", b"123"), ("'a'", b"made")]  # the oldest dropped
