"""Visibility, order, scopes and scheduled publishing: the pure core with an injected `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import BASIC_CONFIG, post_text, settings_from

from feedsvc.content.parsing import parse_post
from feedsvc.model import SITE_SCOPE, Post, ScopeKind
from feedsvc.site.indexing import build_site

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _post(relpath: str, front: str, settings=None) -> Post:
    result = parse_post(relpath, post_text(front).encode(), settings or settings_from())
    assert isinstance(result, Post), result
    return result


def _scopes(site, kind):
    return {scope.label: scope for scope in site.scopes if scope.kind is kind}


def test_newest_first_and_hidden_posts_excluded():
    posts = [
        _post("_posts/2026-01-01-old.md", "title: Old"),
        _post("_posts/2026-03-01-new.md", "title: New"),
        _post("_posts/2026-02-01-mid.md", "title: Mid"),
        _post("_posts/2026-02-02-draft.md", "title: Draft\ndraft: true"),
        _post("_posts/2026-02-03-unpub.md", "title: Unpublished\npublished: false"),
    ]
    site = build_site(posts, [], settings_from(), NOW)
    assert [p.title for p in site.posts] == ["New", "Mid", "Old"]
    assert site.scopes[SITE_SCOPE] == site.posts


def test_future_post_appears_exactly_at_its_moment():
    settings = settings_from()
    posts = [
        _post("_posts/2026-01-01-now.md", "title: Now"),
        _post("_posts/2026-06-02-later.md", 'title: Later\ndate: "2026-06-02 09:00:00 +0000"'),
    ]
    before = build_site(posts, [], settings, NOW)
    assert [p.title for p in before.posts] == ["Now"]
    assert before.next_publish_at == datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    at_moment = build_site(posts, [], settings, before.next_publish_at)
    assert [p.title for p in at_moment.posts] == ["Later", "Now"]
    assert at_moment.next_publish_at is None
    just_before = build_site(posts, [], settings, before.next_publish_at - timedelta(microseconds=1))
    assert [p.title for p in just_before.posts] == ["Now"]


def test_future_true_shows_future_posts():
    settings = settings_from(BASIC_CONFIG + "future: true\n")
    posts = [_post("_posts/2030-01-01-far.md", "title: Far", settings)]
    site = build_site(posts, [], settings, NOW)
    assert [p.title for p in site.posts] == ["Far"]
    assert site.next_publish_at is None


def test_scopes_for_categories_tags_and_authors():
    posts = [
        _post("_posts/2026-01-01-a.md", "title: A\ncategories: [Garden, News]\ntags: [x]\nauthor: Ann"),
        _post("_posts/2026-01-02-b.md", "title: B\ncategories: garden\ntags: x y\nauthor: Ben"),
    ]
    site = build_site(posts, [], settings_from(), NOW)
    categories = _scopes(site, ScopeKind.CATEGORY)
    # "Garden" and "garden" are one category (equal but for case), labelled with one spelling.
    assert len(categories) == 2
    garden = next(s for s in categories.values() if s.slug == "garden")
    assert [p.title for p in site.scopes[garden]] == ["B", "A"]
    tags = _scopes(site, ScopeKind.TAG)
    assert {label: len(site.scopes[s]) for label, s in tags.items()} == {"x": 2, "y": 1}
    authors = _scopes(site, ScopeKind.AUTHOR)
    assert sorted(authors) == ["Ann", "Ben"]
    assert authors["Ann"].slug == "ann"


def test_names_that_slug_alike_get_distinct_stable_slugs():
    posts = [
        _post("_posts/2026-01-01-a.md", "title: A\ntags: ['C++']"),
        _post("_posts/2026-01-02-b.md", "title: B\ntags: ['C#']"),
        _post("_posts/2026-01-03-c.md", "title: C\ntags: ['日本語', '..', '/']"),
    ]
    site = build_site(posts, [], settings_from(), NOW)
    tags = _scopes(site, ScopeKind.TAG)
    slugs = [s.slug for s in tags.values()]
    assert len(set(slugs)) == len(slugs) == 5
    assert tags["C++"].slug == "c"  # the first used keeps the plain slug
    assert tags["C#"].slug.startswith("c-")
    assert tags["日本語"].slug == "日本語"
    for slug in slugs:
        assert slug and "/" not in slug and slug not in (".", "..")
    # Adding an unrelated post does not move anyone's URL.
    more = posts + [_post("_posts/2026-01-04-d.md", "title: D\ntags: [z]")]
    again = _scopes(build_site(more, [], settings_from(), NOW), ScopeKind.TAG)
    assert {label: again[label].slug for label in tags} == {label: tags[label].slug for label in tags}


def test_two_posts_with_the_same_link_keep_one_and_report_the_other():
    posts = [
        _post("_posts/2026-01-01-same.md", "title: First"),
        _post("news/_posts/2026-01-01-same.md", "title: Second\ncategories: []\npermalink: /2026/01/01/same/"),
    ]
    site = build_site(posts, [], settings_from(), NOW)
    assert [p.title for p in site.posts] == ["Second"] or [p.title for p in site.posts] == ["First"]
    assert len(site.posts) == 1
    assert any("same link" in p.message for p in site.problems)


def test_site_scope_exists_even_without_posts():
    site = build_site([], [], settings_from(), NOW)
    assert site.scopes == {SITE_SCOPE: ()}
