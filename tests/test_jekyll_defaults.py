"""Jekyll's front matter defaults (`defaults:` in _config.yml): scopes by path and type, the most specific
wins, the post's own front matter wins over all, mappings merge key by key."""

from __future__ import annotations

import json

from conftest import post_text, settings_from

from feedsvc.content.dialects import jekylldefaults
from feedsvc.content.dialects.jekylldefaults import apply_defaults, defaults_for
from feedsvc.content.parsing import parse_post

DEFAULTS = [
    {"scope": {"path": ""}, "values": {"image": {"path": "/img/site.png", "alt": "Site"}, "author": "Everyone"}},
    {"scope": {"path": "_posts/guides", "type": "posts"}, "values": {"permalink": "/guides/:title/", "author": "Ann"}},
    {"scope": {"path": "_posts/guides"}, "values": {"author": "Not me: a typed scope of one length wins"}},
    {"scope": {"path": "_posts", "type": "pages"}, "values": {"author": "Pages only"}},
    {"scope": {"path": "notes/*"}, "values": {"lang": "de"}},
    {"scope": {"type": "post"}, "values": {"layout": "post"}},  # Jekyll 2's type name
    {"values": {"comments": True}},  # no scope: every file
    {"scope": {"path": "x"}},  # no values: skipped, as Jekyll skips it
]


def _config(defaults=DEFAULTS) -> str:
    return json.dumps({"defaults": defaults})


def test_the_most_specific_scope_wins_and_front_matter_wins_over_all():
    got = apply_defaults({"title": "T"}, "_posts/guides/2020-01-01-a.md", _config())
    assert got["author"] == "Ann"
    assert got["permalink"] == "/guides/:title/"
    assert got["layout"] == "post" and got["comments"] is True and "lang" not in got
    own = apply_defaults({"author": "Own", "image": {"alt": "Mine"}}, "_posts/guides/2020-01-01-a.md", _config())
    assert own["author"] == "Own"
    assert own["image"] == {"path": "/img/site.png", "alt": "Mine"}  # merged key by key


def test_scopes_that_do_not_apply_give_nothing():
    assert apply_defaults({}, "_posts/2020-01-01-a.md", _config())["author"] == "Everyone"
    assert apply_defaults({}, "notes/_posts/2020-01-01-a.md", _config())["lang"] == "de"
    assert apply_defaults({"a": 1}, "_posts/x.md", json.dumps({"defaults": "nonsense"})) == {"a": 1}
    assert apply_defaults({"a": 1}, "_posts/x.md", "") == {"a": 1}


def test_defaults_give_a_post_its_permalink_image_and_author():
    config = """\
        url: https://example.org
        defaults:
          - scope: {path: "_posts/guides", type: posts}
            values: {permalink: "/guides/:title/", author: Ann, image: /img/guide.png}
    """
    settings = settings_from(config)
    post = parse_post("_posts/guides/2020-02-01-a_guide.md", post_text("title: A guide").encode(), settings)
    assert post.url == "https://example.org/guides/a_guide/"
    assert post.entry_id == "https://example.org/guides/a_guide"
    assert post.image is not None and post.image.url == "https://example.org/img/guide.png"
    assert [a.name for a in post.authors] == ["Ann"]
    elsewhere = parse_post("_posts/2020-02-01-b.md", post_text("title: B").encode(), settings)
    assert elsewhere.url == "https://example.org/2020/02/01/b.html" and elsewhere.image is None


def test_changing_the_defaults_changes_the_settings_fingerprint():
    plain = settings_from("url: https://example.org\n")
    with_defaults = settings_from("url: https://example.org\ndefaults: [{values: {author: Ann}}]\n")
    assert plain.fingerprint != with_defaults.fingerprint


ONE_FILE = [
    {"scope": {"path": ""}, "values": {"author": "Everyone"}},
    {"scope": {"path": "_posts/2020-01-01-one.md"}, "values": {"author": "Only one"}},
    {"scope": {"path": "/_posts/2021"}, "values": {"lang": "fr"}},
    {"scope": {"path": "_posts/guides/", "type": "posts"}, "values": {"layout": "guide"}},
    {"scope": {"path": "_post"}, "values": {"comments": False}},
    {"scope": {"path": "notes/*/2020-*"}, "values": {"lang": "de"}},
]
FILES = ["_posts/2020-01-01-one.md", "_posts/2020-01-02-two.md", "_posts/2021-05-05-three.md",
         "_posts/guides/2020-01-01-one.md", "_posts/guides/2021-01-01-two.md", "notes/_posts/2020-01-01-n.md",
         "notes/_posts/2019-01-01-n.md", "top.md", "_postsx/2020-01-01-one.md"]


def test_a_scope_naming_one_file_applies_to_that_file_only():
    config = _config(ONE_FILE)
    assert apply_defaults({}, "_posts/2020-01-01-one.md", config)["author"] == "Only one"
    assert apply_defaults({}, "_posts/2020-01-02-two.md", config)["author"] == "Everyone"
    assert apply_defaults({}, "_posts/guides/2020-01-01-one.md", config)["author"] == "Everyone"
    assert apply_defaults({}, "_posts/2021-05-05-three.md", config)["lang"] == "fr"
    assert "lang" not in apply_defaults({}, "_posts/2020-01-02-two.md", config)


def test_defaults_worked_out_per_folder_equal_those_worked_out_per_file():
    """The folder's defaults are shared only where no scope tells its files apart: every file and order of
    asking gets what the rules give that file alone."""
    for sets in (ONE_FILE, DEFAULTS, ONE_FILE[:1] + ONE_FILE[3:5], ONE_FILE[::-1]):
        config = _config(sets)
        for files in (FILES, FILES[::-1]):
            jekylldefaults._defaults_for.cache_clear()
            jekylldefaults._tells_files_apart.cache_clear()
            shared = {relpath: defaults_for(relpath, "posts", config) for relpath in files}
            for relpath in files:
                jekylldefaults._defaults_for.cache_clear()
                assert shared[relpath] == jekylldefaults._defaults_for(relpath, "posts", config), relpath
