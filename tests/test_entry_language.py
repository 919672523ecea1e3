"""A post's own `lang:` (jekyll-feed's entry `xml:lang`): on its Atom entry and its JSON Feed item, not
on the feed's other entries; a value that is no language tag is ignored with a warning."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from conftest import post_text, settings_from
from lxml import etree

from feedsvc.content.parsing import parse_post
from feedsvc.model import Post
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM = "{http://www.w3.org/2005/Atom}"


def test_lang_is_the_entrys_language_in_atom_and_json_feed(site_dir) -> None:
    root = site_dir({
        "_posts/2026-01-01-de.md": post_text("title: Ein Beitrag\nlang: de"),
        "_posts/2026-01-02-en.md": post_text("title: A post"),
    })
    store = SnapshotStore()
    assert Refresher(store, root, {}, clock=lambda: datetime(2026, 2, 1, tzinfo=UTC)).refresh().error is None
    atom = etree.fromstring(store.snapshot.resources["/atom.xml"].body)
    langs = {e.findtext(f"{ATOM}title"): e.get(XML_LANG) for e in atom.iterfind(f"{ATOM}entry")}
    assert langs == {"Ein Beitrag": "de", "A post": None}
    items = json.loads(store.snapshot.resources["/feed.json"].body)["items"]
    assert {item["title"]: item.get("language") for item in items} == {"Ein Beitrag": "de", "A post": None}


def test_a_lang_that_is_no_language_tag_is_ignored_with_a_warning() -> None:
    post = parse_post("_posts/2026-01-01-a.md", post_text('title: T\nlang: "de\\" onload=x"').encode(),
                      settings_from())
    assert isinstance(post, Post) and post.lang == ""
    assert any("`lang`" in w.message for w in post.warnings)
