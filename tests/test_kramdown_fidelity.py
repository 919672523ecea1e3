"""Jekyll sites' Markdown renders as real Jekyll (kramdown, kramdown-parser-gfm, rouge) renders it.

Every snippet in tests/data/kramdown (one feature each) and every Liquid-free post body of the shared
Jekyll corpora goes through one `jekyll build` and through `render_markdown`; the HTML trees must be
equal (whitespace and attribute order aside). KNOWN_DIFFERENCES names each document we render
differently and why; the test checks each is still different, so a fix forces the list to shrink.
"""

from __future__ import annotations

import re

import kramdown_oracle as oracle
import pytest
from conftest import require_tool

from feedsvc.content.kramdown import KramdownOptions, kramdown_options
from feedsvc.content.markup import render_markdown

KNOWN_DIFFERENCES = {
    # Rouge's token <span>s are not reproduced (the wrapper, the language class and the text are). Pygments was
    # measured against Rouge on every highlighted block of the fixtures: 2 of 9 equal (its lexers cut and name
    # tokens otherwise: regex escapes, YAML keys, shell builtins, Python's print), so it would not close these.
    "fenced_code_lang": "Rouge's syntax-highlighting <span>s are not reproduced (the wrapper and the text are)",
    "tilde_fence": "Rouge's syntax-highlighting <span>s are not reproduced (the wrapper and the text are)",
    "jekyll-news/2017-03-02-jekyll-3-4-1-released": "Rouge's highlighting <span>s (a ruby block)",
    "jekyll-news/2019-08-19-jekyll-4-0-0-released": "Rouge's highlighting <span>s (a ruby block)",
}
_LIQUID = re.compile(r"\{\{|\{%")


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    """Snippets and the corpora's post bodies; Liquid-bearing bodies are left out (Jekyll renders Liquid
    first, which is the templating module's concern, not the Markdown renderer's)."""
    corpus = {name: body for name, body in oracle.corpus_bodies().items() if not _LIQUID.search(body)}
    return oracle.snippets() | corpus


@pytest.fixture(scope="module")
def jekyll_html(documents: dict[str, str]) -> dict[str, str]:
    require_tool("jekyll", oracle.jekyll_available(), "apt-get install jekyll")
    return oracle.render_with_jekyll(documents)


def test_every_supported_document_renders_as_jekyll_does(documents, jekyll_html):
    differences = {}
    for name, text in documents.items():
        if name in KNOWN_DIFFERENCES:
            continue
        ours, theirs = oracle.tree_of(render_markdown(text, KramdownOptions())), oracle.tree_of(jekyll_html[name])
        if ours != theirs:
            differences[name] = oracle.first_difference(ours, theirs)
    assert differences == {}
    assert len(documents) - len(KNOWN_DIFFERENCES) >= 80  # the corpora were found


def test_each_known_difference_is_still_different(documents, jekyll_html):
    fixed = [name for name in KNOWN_DIFFERENCES
             if oracle.tree_of(render_markdown(documents[name], KramdownOptions())) ==
             oracle.tree_of(jekyll_html[name])]
    assert fixed == [], "now rendered as Jekyll does: remove from KNOWN_DIFFERENCES"


SETTINGS_SNIPPET = """# A "quoted" header

Text with a note.[^n] It's fine.

[^n]: The note.
"""


@pytest.mark.parametrize("settings", [
    {"auto_ids": False},
    {"auto_id_prefix": "id-"},
    {"smart_quotes": "apos,apos,quot,quot"},
    {"smart_quotes": "sbquo,lsquo,bdquo,ldquo"},
    {"footnote_backlink": "back"},
    {"footnote_backlink": ""},
])
def test_site_kramdown_settings_are_honoured(settings):
    require_tool("jekyll", oracle.jekyll_available(), "apt-get install jekyll")
    text = SETTINGS_SNIPPET + "\n```ruby\nx = 1\n```\n\nUse `code`.\n"
    if settings.get("syntax_highlighter", "rouge") == "rouge":
        text = text.replace("```ruby", "```unknownlang")
    theirs = oracle.render_with_jekyll({"s": text}, kramdown=settings)["s"]
    errors: list[str] = []
    ours = render_markdown(text, kramdown_options(settings, errors))
    assert errors == []
    assert oracle.tree_of(ours) == oracle.tree_of(theirs)


def test_bad_kramdown_settings_are_named():
    errors: list[str] = []
    kramdown_options({"smart_quotes": "lsquo,nonsense"}, errors)
    kramdown_options(["not", "a", "mapping"], errors)
    assert len(errors) == 2 and "smart_quotes" in errors[0]


def test_attribute_lists_cannot_add_event_handlers():
    html = render_markdown("Text.\n{: onclick=\"alert(1)\" .ok}\n\n*x*{: onmouseover='x()'}\n", KramdownOptions())
    assert "onclick" not in html and "onmouseover" not in html and 'class="ok"' in html


def test_without_kramdown_options_markdown_is_plain_gfm():
    """Hugo sites (and anything not Jekyll) keep CommonMark + GFM."""
    html = render_markdown("## A 'b'\n\nSee https://example.com.\n", None)
    assert html == "<h2>A 'b'</h2>\n<p>See <a href=\"https://example.com\">https://example.com</a>.</p>\n"


def test_placeholder_quoting_shortcuts_give_urllibs_bytes():
    """Header ids go through the placeholders' quoting both ways on every heading: the shortcuts for plain ids
    give what `urllib.parse.quote`/`unquote` give, on generated text of every kind of character."""
    import random
    from urllib.parse import quote as url_quote
    from urllib.parse import unquote

    from feedsvc.content.kramdown import quote, unquote_placeholder

    rng = random.Random(15)
    alphabet = ["a", "Z", "0", "_", ".", "~", "-", " ", "%", "2", "D", "d", ">", "é", "日", "\n", "/", ":", "%2D",
                "%41"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        quoted = quote(text)
        assert quoted == url_quote(text, safe="").replace("-", "%2D"), text
        assert unquote_placeholder(quoted) == text == unquote(quoted)
        assert unquote_placeholder(text) == unquote(text), text  # also on text it did not quote
