"""Summaries as jekyll-feed writes them: `description` first (as written), else the excerpt Jekyll cuts
from the source (content/excerpts.py): a blank `excerpt:` is no summary, link definitions follow the
excerpt, a post's own `excerpt_separator`, Liquid in the excerpt rendered, open blocks closed."""

from __future__ import annotations

from conftest import settings_from

from feedsvc.content.excerpts import close_open_blocks, cut_excerpt
from feedsvc.content.parsing import parse_post
from feedsvc.model import Post


def _post(text: str) -> Post:
    result = parse_post("_posts/2020-01-01-a.md", text.encode(), settings_from())
    assert isinstance(result, Post), result
    return result


def test_description_comes_first_and_is_shown_as_written() -> None:
    post = _post("---\ntitle: T\ndescription: We've *not* rendered this.\nexcerpt: Not this.\n---\nNor this.\n")
    assert post.summary_text == "We've *not* rendered this."


def test_a_blank_description_leaves_the_excerpt() -> None:
    assert _post("---\ntitle: T\ndescription: ''\n---\nFirst.\n\nSecond.\n").summary_text == "First."


def test_a_blank_excerpt_is_no_summary() -> None:
    post = _post('---\ntitle: T\nexcerpt: ""\n---\nFirst.\n')
    assert post.summary_html == "" and post.summary_text == ""


def test_the_excerpt_gets_the_posts_link_definitions() -> None:
    post = _post("---\ntitle: T\n---\nWe released [version one][v1] today.\n\nMore.\n\n[v1]: https://example.org/v1\n")
    assert post.summary_text == "We released version one today."
    assert 'href="https://example.org/v1"' in post.summary_html


def test_a_posts_own_excerpt_separator() -> None:
    post = _post("---\ntitle: T\nexcerpt_separator: <!--more-->\n---\nOne,\n\nstill one.\n<!--more-->\nAfter.\n")
    assert post.summary_text == "One, still one."
    assert "After." in post.content_html


def test_liquid_in_the_excerpt_is_rendered() -> None:
    post = _post("---\ntitle: T\n---\n{% if page.title %}Rendered for {{ page.title }}.{% endif %}\n\nThe rest.\n")
    assert post.summary_text == "Rendered for T."


def test_blocks_the_cut_leaves_open_are_closed() -> None:
    assert close_open_blocks("{% raw %}\ncode") == "{% raw %}\ncode\n{% endraw %}"
    assert close_open_blocks("{% if a %}x{% endif %}") == "{% if a %}x{% endif %}"
    assert close_open_blocks("{% youtube x %}") == "{% youtube x %}"  # not a block Liquid knows
    assert cut_excerpt("no separator here", "\n\n") == ("no separator here", False)


def test_page_date_is_written_as_ruby_writes_it_and_the_excerpt_has_its_own_id() -> None:
    post = _post("---\ntitle: T\ndate: 2008-11-21 09:30:00 +0000\n---\n"
                 "date: {{ page.date }} year: {{ page.date | date: '%Y' }} id: {{ page.id }}\n")
    assert "date: 2008-11-21 10:30:00 +0100 year: 2008 id: /2008/11/21/a<" in post.content_html  # the site's zone
    assert post.summary_text.endswith("id: /2008/11/21/a#excerpt")  # Jekyll renders the excerpt on its own
