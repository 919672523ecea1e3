"""Hugo's Markdown: Goldmark's typographer and heading ids, and the `[markup.goldmark]` settings that turn
them off (real Hugo's output for the same text: the markup fixtures of test_hugo_differential.py)."""

from __future__ import annotations

import re

from feedsvc.content.goldmark import GoldmarkOptions, goldmark_options
from feedsvc.content.markup import render_markdown

HUGO = GoldmarkOptions()


def _ids(html: str) -> list[str]:
    return re.findall(r'<h\d[^>]* id="([^"]*)"', html)


def test_quotes_dashes_and_ellipses_are_typographic() -> None:
    html = render_markdown("\"Double\" and 'single', it's -- and --- too...", HUGO)
    assert html == "<p>“Double” and ‘single’, it’s – and — too…</p>\n"


def test_heading_ids_come_from_the_source_as_written_and_repeats_are_numbered() -> None:
    html = render_markdown("## Hello *world* [Go](https://go.dev)\n\n## Hello *world* [Go](https://go.dev)\n\n"
                           "## Café & Straße: 1. `x` - a_b\n\n## Closed ##\n", HUGO)
    assert _ids(html) == ["hello-world-gohttpsgodev", "hello-world-gohttpsgodev-1", "café--straße-1-x---a_b",
                          "closed"]
    assert "data-sourcepos" not in html


def test_an_attribute_block_sets_the_id_and_class_and_is_not_shown() -> None:
    html = render_markdown("## Custom {#chosen}\n\n## Styled {.wide #other}\n\n## chosen\n", HUGO)
    assert '<h2 id="chosen">Custom</h2>' in html
    assert '<h2 class="wide" id="other">Styled</h2>' in html
    assert _ids(html)[-1] == "chosen-1"


def test_setext_headings_and_headings_in_containers_get_ids_too() -> None:
    html = render_markdown("Two\nlines\n-----\n\n> ## Quoted\n\n- ## Listed\n", HUGO)
    assert _ids(html) == ["lines", "quoted", "listed"]


def test_the_sites_settings_turn_the_typographer_and_ids_off() -> None:
    errors: list[str] = []
    options = goldmark_options({"goldmark": {"extensions": {"typographer": False},
                                             "parser": {"autoheadingid": False}}}, errors)
    assert errors == []
    html = render_markdown("## It's {#kept}\n\n## Plain\n\n\"straight\" -- quotes", options)
    assert html == '<h2 id="kept">It\'s</h2>\n<h2>Plain</h2>\n<p>&quot;straight&quot; -- quotes</p>\n'


def test_the_id_types_hugo_offers_are_read_and_an_unknown_one_is_named() -> None:
    errors: list[str] = []
    text = "## Café & Straße: it's 1. `x`\n"
    ascii_ids = goldmark_options({"goldmark": {"parser": {"autoheadingidtype": "github-ascii"}}}, errors)
    blackfriday = goldmark_options({"goldmark": {"parser": {"autoHeadingIDType".lower(): "blackfriday"}}}, errors)
    assert _ids(render_markdown(text, ascii_ids)) == ["cafe--strae-its-1-x"]
    assert _ids(render_markdown(text, blackfriday)) == ["café-straße-it-s-1-x"]
    assert errors == []
    goldmark_options({"goldmark": {"parser": {"autoheadingidtype": "mine"}}}, errors)
    assert errors and "autoHeadingIDType" in errors[0]


def test_newer_hugos_typographer_table_is_read() -> None:
    assert goldmark_options({"goldmark": {"extensions": {"typographer": {"disable": True}}}}, []).typographer is False
