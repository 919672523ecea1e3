"""Bodies kept as Markdown in both caches: stored so (a cold start's save renders none of them), and read
back as untrusted input: a body whose bounds cannot be proven again, a flavour that is not the site's, or a
field of the wrong type costs a cold read of that post, and the feeds are a cold build's."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import post_text

import feedsvc.content.bodies as bodies
import feedsvc.pipeline.refresh as refresh_module
from feedsvc.content.bodies import MarkdownBody
from feedsvc.content.kramdown import KramdownOptions
from feedsvc.model import Post
from feedsvc.pipeline import postcache, postpack
from feedsvc.pipeline.flavourcodec import flavour_data, flavour_key
from feedsvc.pipeline.postcache import PostCache, Seed
from feedsvc.pipeline.postcodec import Malformed, Unproven, decode, encode, kept_source
from feedsvc.pipeline.postpack import PostPack
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore

VICTIM = "_posts/2026-01-04-p3.md"
# Each past a bound `parse_post` checks before keeping a body: nesting, length, and what HTML it may become.
HOSTILE = {
    "deep": "> " * 300 + "deep\n",
    "long": "*a* " * 600_000,
    "expanding": "Text with an abbreviation.\n\n*[HTML]: " + "x" * 5000 + "\n",
}


def _post(n: int) -> tuple[str, str]:
    return f"_posts/2026-01-{1 + n:02d}-p{n}.md", post_text(
        f"title: Post {n}\ntags: [t{n % 3}]\n", f"First paragraph of {n}.\n\nThe *rest* of post {n}.\n")


@pytest.fixture
def root(site_dir) -> Path:
    return site_dir(dict(_post(n) for n in range(8)))


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The files the refresher reads."""
    seen: list[str] = []
    real = refresh_module.read_posts

    def read_posts(root, files, settings, **options):
        seen.extend(relpath for relpath, _ in files)
        return real(root, files, settings, **options)

    monkeypatch.setattr(refresh_module, "read_posts", read_posts)
    return seen


def _built(root: Path, clock) -> Refresher:
    refresher = Refresher(SnapshotStore(), root, {}, clock=clock)
    assert refresher.refresh().published
    return refresher


def _feeds(refresher: Refresher) -> dict[str, bytes]:
    return {path: resource.body for path, resource in refresher.store.snapshot.resources.items()}


def _warm(root: Path, seed: Seed, clock) -> Refresher:
    refresher = Refresher(SnapshotStore(), root, {}, clock=clock)
    refresher.seed(seed, {})
    assert refresher.refresh("startup").published
    return refresher


def _with_victim(seed: Seed, change: Callable[[Post], Post]) -> Seed:
    victim = seed.parsed[VICTIM]
    assert isinstance(victim, Post)
    return dataclasses.replace(seed, parsed={**seed.parsed, VICTIM: change(victim)})


def test_a_cold_start_saves_kept_bodies_as_markdown_and_a_warm_start_serves_a_cold_builds_bytes(
        root, tmp_path, clock, monkeypatch, reads):
    first = _built(root, clock)
    seed = first.export()
    kept = [post for post in seed.parsed.values() if isinstance(post, Post) and post.body_markup is not None]
    assert len(kept) == 8
    rendered: list[str] = []
    monkeypatch.setattr(bodies, "render_markdown", lambda *args: rendered.append(args[0]) or "")
    PostCache(tmp_path / "posts").save(seed)
    assert rendered == []  # no body rendered to fill the cache
    monkeypatch.undo()
    loaded = PostCache(tmp_path / "posts").load()
    assert loaded is not None and loaded.parsed == seed.parsed  # the same posts, bodies still Markdown
    reads.clear()
    warm = _warm(root, loaded, clock)
    assert reads == []
    assert _feeds(warm) == _feeds(_built(root, clock))


def _kept_hostile(text: str) -> Callable[[Post], Post]:
    return lambda post: dataclasses.replace(post, content_zlib=zlib.compress(text.encode()))


def _other_flavour(post: Post) -> Post:
    assert isinstance(post.body_markup, MarkdownBody)
    flavour = post.body_markup.flavour
    assert isinstance(flavour, KramdownOptions)
    return dataclasses.replace(post, body_markup=MarkdownBody(dataclasses.replace(flavour, auto_ids=False)))


@pytest.mark.parametrize(("cache", "change"), [
    *((cache, _kept_hostile(text)) for cache in ("state-folder", "build-pack") for text in HOSTILE.values()),
    ("state-folder", _other_flavour)],  # the pack names one flavour for all: see the test after this one
    ids=[*(f"{cache}-{name}" for cache in ("state-folder", "build-pack") for name in HOSTILE), "other-flavour"])
def test_a_signed_cache_with_a_hostile_body_or_another_flavour_costs_a_cold_read_of_that_post(
        root, tmp_path, clock, reads, change, cache):
    """As someone who knows the format could write it: every digest matches."""
    first = _built(root, clock)
    tampered = _with_victim(first.export(), change)
    store: PostCache | PostPack = PostCache(tmp_path / "posts") if cache == "state-folder" \
        else PostPack(tmp_path / "posts.pack")
    store.save(tampered)
    loaded = (PostCache(tmp_path / "posts") if cache == "state-folder" else PostPack(tmp_path / "posts.pack")).load()
    assert loaded is not None and len(loaded.parsed) >= 7
    reads.clear()
    warm = _warm(root, loaded, clock)
    assert reads == [VICTIM]
    assert _feeds(warm) == _feeds(_built(root, clock))


def test_a_signed_pack_naming_another_flavour_costs_a_cold_read_of_its_kept_bodies(root, tmp_path, clock, reads):
    first = _built(root, clock)
    pack = PostPack(tmp_path / "posts.pack")
    pack.save(first.export())
    data = (tmp_path / "posts.pack").read_bytes()
    rest = data[len(postpack.MAGIC) + 65:]
    length, _, rest = rest.partition(b"\n")
    header, _, lines = rest[:int(length)].partition(b"\n")
    fields = json.loads(header)
    fields["flavour"] = flavour_data(dataclasses.replace(KramdownOptions(), auto_ids=False))
    section = json.dumps(fields).encode() + b"\n" + lines
    rest = str(len(section)).encode() + b"\n" + section + rest[int(length):]
    (tmp_path / "posts.pack").write_bytes(postpack.MAGIC + hashlib.sha256(rest).hexdigest().encode() + b"\n" + rest)
    loaded = PostPack(tmp_path / "posts.pack").load()
    assert loaded is not None and len(loaded.parsed) == 8
    reads.clear()
    warm = _warm(root, loaded, clock)
    assert sorted(reads) == sorted(loaded.parsed)
    assert _feeds(warm) == _feeds(_built(root, clock))


def _rewrite_value(folder: Path, relpath: str, change: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    """Change one cached value (and the index) and name its new digest, as someone who knows the format could."""
    index = json.loads((folder / postcache.INDEX).read_text())
    name = index["entries"][relpath][1]
    value = json.loads(zlib.decompress((folder / name).read_bytes()))
    change(value["post"], index)
    packed = zlib.compress(json.dumps(value).encode())
    (folder / name).write_bytes(packed)
    index["entries"][relpath][2] = postcache._digest(packed)
    (folder / postcache.INDEX).write_text(json.dumps(index))


def _unnamed_flavour(fields: dict[str, Any], index: dict[str, Any]) -> None:
    fields["body_markup"] = "0" * 16


def _named_elsewhere(fields: dict[str, Any], index: dict[str, Any]) -> None:
    index["flavours"]["f" * 16] = flavour_data(dataclasses.replace(KramdownOptions(), smart_quotes=("'",) * 4))
    fields["body_markup"] = "f" * 16


def _flavour_of_a_number(fields: dict[str, Any], index: dict[str, Any]) -> None:
    fields["body_markup"] = 7


def _body_of_a_list(fields: dict[str, Any], index: dict[str, Any]) -> None:
    fields["content_zlib"] = [1, 2]


def _html_as_markdown(fields: dict[str, Any], index: dict[str, Any]) -> None:
    """A body that does not inflate to text."""
    fields["content_zlib"] = "AAAA"


@pytest.mark.parametrize("change", [_unnamed_flavour, _named_elsewhere, _flavour_of_a_number, _body_of_a_list,
                                    _html_as_markdown])
def test_a_cached_value_of_the_wrong_shape_costs_a_cold_read_of_that_post(root, tmp_path, clock, reads, change):
    first = _built(root, clock)
    PostCache(tmp_path / "posts").save(first.export())
    _rewrite_value(tmp_path / "posts", VICTIM, change)
    loaded = PostCache(tmp_path / "posts").load()
    assert loaded is not None
    reads.clear()
    warm = _warm(root, loaded, clock)
    assert reads == [VICTIM]
    assert _feeds(warm) == _feeds(_built(root, clock))


def test_a_kept_body_round_trips_through_the_codec_and_a_hostile_one_is_refused(root, clock):
    post = _built(root, clock).export().parsed[VICTIM]
    assert isinstance(post, Post) and isinstance(post.body_markup, MarkdownBody)
    key = flavour_key(post.body_markup.flavour)
    assert decode(encode(post, key), flavours={key: post.body_markup}) == post
    assert decode(encode(post)).body_markup is None  # no key: stored as HTML, as before
    with pytest.raises(Malformed):
        decode(encode(post, key), flavours={})
    for text in HOSTILE.values():
        with pytest.raises(Unproven):
            kept_source(zlib.compress(text.encode()))
    with pytest.raises(Malformed):
        kept_source(zlib.compress(b"\xff\xfe not text"))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_body_in_the_build_pack_is_never_rendered_and_its_post_alone_is_read_again(
        root, tmp_path, clock, reads, monkeypatch, name):
    """The pack leaves the proof to a body's first render (a one-edit build shows few bodies): the proof must
    still come before any Markdown of a cached body reaches the renderer."""
    first = _built(root, clock)
    PostPack(tmp_path / "posts.pack").save(_with_victim(first.export(), _kept_hostile(HOSTILE[name])))
    loaded = PostPack(tmp_path / "posts.pack").load()
    assert loaded is not None and VICTIM in loaded.parsed  # loaded: its proof is left to its first render
    victim = loaded.parsed[VICTIM]
    assert isinstance(victim, Post) and isinstance(victim.body_markup, MarkdownBody)
    assert not victim.body_markup.proven
    sources: list[str] = []
    real = bodies.render_markdown

    def render_markdown(source, flavour):
        sources.append(source)
        return real(source, flavour)

    monkeypatch.setattr(bodies, "render_markdown", render_markdown)
    reads.clear()
    warm = _warm(root, loaded, clock)
    assert reads == [VICTIM]
    assert HOSTILE[name] not in sources
    monkeypatch.undo()
    assert _feeds(warm) == _feeds(_built(root, clock))
