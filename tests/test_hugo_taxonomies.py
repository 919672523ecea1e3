"""Hugo's [taxonomies]: which front matter key gives a post's tags and categories, and where their term feeds are
(the differential suite's `taxonomies` fixture compares the feeds Hugo writes; these cover the ones it does not)."""

from __future__ import annotations

import pytest
from test_hugo import _hugo_site, _posts, toml_post

from feedsvc.content.dialects.hugo.taxonomies import DEFAULT_TAXONOMIES, custom_terms, taxonomies_of, with_taxonomies
from feedsvc.model import FeedFormat, ScopeKind
from feedsvc.pipeline.postcodec import Malformed, decode, encode

CONFIG = 'baseURL = "https://example.org/"\ntitle = "T"\n[taxonomies]\ntag = "labels"\nseries = "series"\n'


def test_the_table_replaces_hugos_two_and_disabled_terms_leave_none() -> None:
    assert taxonomies_of({}) == DEFAULT_TAXONOMIES
    assert taxonomies_of({"taxonomies": {"tag": "labels", "Series": "series"}}) == (("series", "series"),
                                                                                   ("tag", "labels"))
    assert taxonomies_of({"disablekinds": ["term"]}) == ()


def test_a_string_is_one_term_and_a_renamed_taxonomy_takes_the_place_of_tags() -> None:
    assert with_taxonomies({"tags": "Go Lang"}, DEFAULT_TAXONOMIES)["tags"] == ["Go Lang"]
    renamed = with_taxonomies({"tags": ["x"], "Labels": "a b", "category": "c"}, (("tag", "labels"),))
    assert renamed["tags"] == ["a b"] and "category" not in renamed


def test_a_site_without_the_tags_taxonomy_has_no_tag_feeds_and_labels_are_its_tags(site_dir, make_refresher) -> None:
    files = {"content/posts/a.md": toml_post('title = "A"\ndate = 2024-01-01\ntags = ["plain"]\n'
                                             'categories = ["off"]\nlabels = ["Go Lang"]')}
    refresher = make_refresher(_hugo_site(site_dir, files, CONFIG))
    refresher.refresh()
    post = _posts(refresher)["content/posts/a.md"]
    assert post.tags == ("Go Lang",) and post.categories == ()
    snapshot = refresher.store.snapshot
    answers = set(snapshot.resources) | set(snapshot.aliases)
    assert "/labels/go-lang/index.xml" in answers
    assert not any(path.startswith(("/tags/plain", "/categories/off")) for path in answers)


TWO_CUSTOM = 'baseURL = "https://example.org/"\ntitle = "T"\n[taxonomies]\ntag = "tags"\nseries = "series"\n' \
    'topic = "topics"\n'


def test_a_custom_taxonomy_gives_terms_from_its_plural_key_and_a_string_is_one_term() -> None:
    taxonomies = taxonomies_of({"taxonomies": {"tag": "tags", "series": "series", "topic": "topics"}})
    front = {"Series": "Intro Series", "topics": ["Go", "go", "", 3, True, None], "tags": ["t"]}
    assert custom_terms(front, taxonomies) == (("series", ("Intro Series",)), ("topics", ("Go", "go", "3")))
    assert custom_terms({"series": "x"}, DEFAULT_TAXONOMIES) == ()  # no such taxonomy: a plain parameter


def _term_site(site_dir, make_refresher, environ=None):
    files = {
        "content/posts/a.md": toml_post('title = "A"\ndate = 2024-01-01\nseries = ["Intro Series"]\n'
                                        'topics = ["Go"]'),
        "content/posts/b.md": toml_post('title = "B"\ndate = 2024-01-02\nseries = "intro  series"\n'
                                        'Topics = ["Web Dev", "GO"]'),
        "content/posts/c.md": toml_post('title = "C"\ndate = 2024-01-03\ntags = ["Go"]'),
    }
    refresher = make_refresher(_hugo_site(site_dir, files, TWO_CUSTOM), environ)
    refresher.refresh()
    return refresher


def test_each_term_of_each_custom_taxonomy_has_its_feeds_and_hugos(site_dir, make_refresher) -> None:
    """`/series/intro-series/` in each format and at Hugo's `index.xml`; terms alike but for case and spacing
    are one term, as in Hugo; a tag of the same name is another feed."""
    snapshot = _term_site(site_dir, make_refresher).store.snapshot
    terms = {(s.taxonomy, s.slug): [p.title for p in posts] for s, posts in snapshot.site.scopes.items()
             if s.kind is ScopeKind.TERM}
    assert terms == {("series", "intro-series"): ["B", "A"], ("topics", "go"): ["B", "A"],
                     ("topics", "web-dev"): ["B"]}
    for fmt in FeedFormat:
        assert f"/series/intro-series/{fmt.filename}" in snapshot.resources
    hugos = snapshot.resources.get("/topics/go/index.xml") or snapshot.aliases.get("/topics/go/index.xml")
    assert hugos is not None and b"<title>B</title>" in hugos.body and b"<title>C</title>" not in hugos.body
    assert b"<title>T: topics " in snapshot.resources["/topics/go/rss.xml"].body  # its title names the taxonomy


def test_the_index_page_and_opml_list_each_custom_taxonomy_apart(site_dir, make_refresher) -> None:
    resources = _term_site(site_dir, make_refresher).store.snapshot.resources
    index, opml = resources["/"].body.decode(), resources["/feeds.opml"].body.decode()
    assert "Series" in index and "Topics" in index and "/series/intro-series/rss.xml" in index
    assert 'text="Topics"' in opml and "/topics/web-dev/atom.xml" in opml
    assert "Series: Intro Series" in resources["/series/intro-series/"].body.decode()


def test_a_terms_feed_names_no_archive_pages_since_none_are_served(site_dir, make_refresher) -> None:
    resources = _term_site(site_dir, make_refresher, {"FEEDSVC_FEED_LIMIT": "1"}).store.snapshot.resources
    assert b"<title>A</title>" not in resources["/series/intro-series/rss.xml"].body  # the limit holds
    assert b"archive" not in resources["/series/intro-series/rss.xml"].body
    assert b"archive/1/" in resources["/rss.xml"].body


def test_a_custom_taxonomy_named_like_feedsvcs_own_feeds_has_no_term_feeds(site_dir, make_refresher) -> None:
    """`author = "authors"` would put its term feeds where feedsvc's author feeds are: it gets none."""
    config = 'baseURL = "https://example.org/"\ntitle = "T"\n[taxonomies]\nauthor = "authors"\n'
    files = {"content/posts/a.md": toml_post('title = "A"\ndate = 2024-01-01\nauthors = ["Ann"]')}
    refresher = make_refresher(_hugo_site(site_dir, files, config))
    refresher.refresh()
    site = refresher.store.snapshot.site
    assert _posts(refresher)["content/posts/a.md"].taxonomies == (("authors", ("Ann",)),)
    assert not [s for s in site.scopes if s.kind is ScopeKind.TERM]


def _after_editing_a(refresher, front: str):
    """The served resources after post A's front matter became `front` and a refresh."""
    (refresher.content_dir / "content/posts/a.md").write_text(toml_post(front))
    refresher.refresh("webhook")
    return refresher.store.snapshot.resources


def test_moving_a_post_to_another_term_updates_that_terms_feeds(site_dir, make_refresher) -> None:
    refresher = _term_site(site_dir, make_refresher)
    resources = _after_editing_a(refresher, 'title = "A"\ndate = 2024-01-01\nseries = ["Second Series"]')
    assert b"<title>A</title>" in resources["/series/second-series/rss.xml"].body
    assert b"<title>A</title>" not in resources["/series/intro-series/rss.xml"].body
    assert "/topics/go/rss.xml" in resources  # B still has it


def test_a_cached_post_from_before_custom_taxonomies_is_refused_so_it_is_parsed_again(site_dir, make_refresher):
    post = _posts(_term_site(site_dir, make_refresher))["content/posts/a.md"]
    assert decode(encode(post)) == post and post.taxonomies
    old = encode(post)
    del old["post"]["taxonomies"]
    with pytest.raises(Malformed):
        decode(old)


def test_a_retitled_post_is_retitled_in_its_terms_feeds(site_dir, make_refresher) -> None:
    """A retitle moves nothing (indexing.update_site skips the re-index): the term feeds still show the new title."""
    refresher = _term_site(site_dir, make_refresher)
    resources = _after_editing_a(refresher, 'title = "A, retitled"\ndate = 2024-01-01\nseries = ["Intro Series"]\n'
                                            'topics = ["Go"]')
    for path in ("/series/intro-series/rss.xml", "/topics/go/atom.xml", "/series/intro-series/index.xml"):
        answer = resources.get(path) or refresher.store.snapshot.aliases[path]
        assert b"A, retitled" in answer.body, path
