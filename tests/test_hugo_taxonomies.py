"""Hugo's [taxonomies]: which front matter key gives a post's tags and categories, and where their term feeds are
(the differential suite's `taxonomies` fixture compares the feeds Hugo writes; these cover the ones it does not)."""

from __future__ import annotations

from test_hugo import _hugo_site, _posts, toml_post

from feedsvc.content.dialects.hugo.taxonomies import DEFAULT_TAXONOMIES, taxonomies_of, with_taxonomies

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
