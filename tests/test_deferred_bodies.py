"""Bodies kept as their Markdown until an entry shows them (content/bodies.py) give every byte the plain path
gives: the same posts, feeds, pages, archive pages and filtered feeds, and the same post cache for a warm start;
and a body is kept so only when its HTML cannot fail the bounds on rendered HTML."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import JEKYLL_NEWS, SHARED, post_text

from bench.gen_corpus import write_corpus
from feedsvc.config import load_settings
from feedsvc.content import reading
from feedsvc.content.bodies import deferrable
from feedsvc.content.dialects import dialect_for
from feedsvc.content.kramdown import KramdownOptions
from feedsvc.content.limits import check_html, html_depth
from feedsvc.content.markup import render_markdown
from feedsvc.content.parsing import parse_post
from feedsvc.content.scanning import take_inventory
from feedsvc.model import Post
from feedsvc.pipeline.postcodec import decode, encode
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore
from feedsvc.web.app import create_app

CORPORA = (JEKYLL_NEWS, SHARED / "corpora" / "jekyll-test-source")


def _both_ways(root: Path) -> list[tuple[Post, Post]]:
    settings = load_settings({}, root)
    inventory, _ = take_inventory(root, dialect=dialect_for(settings.dialect, settings.dialect_rules))
    pairs = []
    for relpath in sorted(inventory):
        raw = (root / relpath).read_bytes()
        eager, kept = parse_post(relpath, raw, settings), parse_post(relpath, raw, settings, defer_body=True)
        assert type(eager) is type(kept), relpath
        if isinstance(eager, Post):
            pairs.append((eager, kept))
    return pairs


@pytest.mark.parametrize("root", CORPORA, ids=lambda root: root.name)
def test_a_body_kept_as_markdown_is_the_post_the_plain_path_makes(root):
    pairs = _both_ways(root)
    kept = [post for _, post in pairs if post.body_markup is not None]
    assert len(kept) >= 10
    for eager, post in pairs:
        assert post.content_html == eager.content_html, post.source
        assert replace(post, content_zlib=eager.content_zlib, body_markup=None) == eager, post.source
        assert decode(encode(post)) == eager, post.source  # stored as HTML (another flavour): a warm start is the same


def _refresher(root: Path, monkeypatch: pytest.MonkeyPatch | None, clock) -> Refresher:
    """The pipeline as it runs (bodies kept where they may be), or with every body rendered while parsing."""
    if monkeypatch is not None:
        plain = reading.parse_post
        monkeypatch.setattr(reading, "parse_post", lambda relpath, raw, settings, level, _defer: plain(
            relpath, raw, settings, level))
    refresher = Refresher(SnapshotStore(), root, {"FEEDSVC_FEED_LIMIT": "5"}, clock=clock, for_build=True)
    assert refresher.refresh().published
    return refresher


def _served(refresher: Refresher, paths: list[str]) -> dict[str, bytes]:
    snapshot = refresher.store.snapshot
    client = create_app(refresher.settings, refresher.store).test_client()
    on_demand = {path: client.get(path).data for path in paths}
    assert all(on_demand.values())
    return {path: resource.body for path, resource in snapshot.resources.items()} | on_demand


@pytest.mark.parametrize("layout", ["jekyll", "hugo"])
def test_every_feed_page_archive_page_and_filtered_feed_has_the_plain_paths_bytes(tmp_path, monkeypatch, clock,
                                                                                  layout):
    write_corpus(tmp_path / "content", 120, 3)
    root = tmp_path / "content" / layout
    on_demand = ["/archive/1/atom.xml", "/archive/3/rss.xml", "/archive/2/feed.json", "/atom.xml?tags=wing",
                 "/feed.json?categories=copper-head", "/rss.xml?tags=draw,wing"]
    kept = _refresher(root, None, clock)
    assert any(post.body_markup is not None for post in kept.store.snapshot.site.posts)
    lazy = _served(kept, on_demand)
    eager = _served(_refresher(root, monkeypatch, clock), on_demand)
    assert lazy.keys() == eager.keys() and len(lazy) > 50
    for path in lazy:
        assert lazy[path] == eager[path], path


# Shapes that push the rendered HTML towards its bounds: a body kept must still pass them, and the
# bound itself must hold (the HTML no longer or deeper than `deferrable` assumed).
SHAPES = [
    "> " * 80 + "deep quote\n",
    "".join("  " * level + "- item\n" for level in range(60)),
    "*" * 200 + "a" + "*" * 200 + "\n",
    "<div>" * 240 + "x" + "</div>" * 240 + "\n",
    "| " + " | ".join(["h"] * 300) + " |\n|" + "---|" * 300 + "\n" + "a\n" * 2000,
    "- [ ] task\n" * 5000,
    "'quoted' \"words\" -- and... " * 2000,
    "[link](rel/path) " * 3000,
    "```ruby\nx\n```\n\n" * 3000,
    "#" * 6 + " heading\n\n" * 4000,
    "Plain words in a plain paragraph.\n\n" * 100,
    "[a][r] " * 3000 + "\n\n[r]: /" + "x" * 2000 + ' "' + '"' * 500 + '"\n',
    "[a][r] " * 30 + "\n\n[r]:\n  /" + "x" * 200 + '\n  "a title\n  on two lines"\n',
    "Text[^1] and[^1] again[^1].\n\n[^1]: The note.\n",
]


@pytest.mark.parametrize("source", SHAPES, ids=range(len(SHAPES)))
@pytest.mark.parametrize("flavour", [KramdownOptions(), None], ids=["kramdown", "gfm"])
def test_a_body_kept_as_markdown_cannot_fail_the_bounds_on_its_html(source, flavour):
    if not deferrable(source):
        return
    rendered = render_markdown(source, flavour)
    assert check_html(rendered) == rendered
    longest = max((len(block) for block in source.split("\n\n") if "]:" in block), default=0)
    assert len(rendered) <= len(source) * 64 + source.count("|") * 32 * 2000 + source.count("[") * (6 * longest + 64)
    assert html_depth(rendered) <= 250


def test_bodies_near_the_bounds_are_rendered_while_parsing(site_dir, make_refresher):
    deep = "<div>" * 300 + "x" + "</div>" * 300 + "\n\nMore.\n"
    root = site_dir({"_posts/2026-01-02-deep.md": post_text("title: Deep", deep),
                     "_posts/2026-01-03-plain.md": post_text("title: Plain", "One.\n\nTwo.\n")})
    refresher = make_refresher(root)
    refresher.refresh()
    posts = {post.title: post for post in refresher.store.snapshot.site.posts}
    assert posts["Plain"].body_markup is not None
    assert "Deep" not in posts  # as before: over the bound on nesting, a problem, not a post
    assert any("nested" in problem.message for problem in refresher.store.snapshot.site.problems)


def test_a_body_rendered_elsewhere_is_taken_only_for_its_own_source_and_url(tmp_path):
    """What another process rendered (`kept_body`) stands in for the render only while `made_elsewhere` holds
    it, and only for the same source and URL: an edited body or another post is rendered as usual."""
    from feedsvc.content.bodies import _MADE_ELSEWHERE, kept_body, made_elsewhere
    from feedsvc.model import pack_html

    text = post_text("title: T\ndate: 2026-01-02 10:00:00 +0000\nexcerpt: Short.", "A [link](/a/) and *more*.\n")
    (tmp_path / "_config.yml").write_text("url: https://example.org\n", encoding="utf-8")
    post = parse_post("_posts/2026-01-02-t.md", text.encode(), load_settings({}, tmp_path), defer_body=True)
    assert isinstance(post, Post) and post.body_markup is not None
    made = kept_body(post)
    assert made is not None and made[1] == post.content_html
    edited = replace(post, content_zlib=pack_html("Edited [link](/b/).\n", 0))
    moved = replace(post, url=post.url + "moved/")
    with made_elsewhere({made[0]: "<p>from elsewhere</p>"}):
        assert post.content_html == "<p>from elsewhere</p>"
        assert edited.content_html == '<p>Edited <a href="https://example.org/b/">link</a>.</p>'
        assert moved.content_html == made[1]
    assert not _MADE_ELSEWHERE and post.content_html == made[1]
    assert kept_body(replace(post, content_zlib=pack_html(made[1], 0), body_markup=None)) is None
