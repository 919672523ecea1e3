"""Relative links made absolute: the fast substitution and the HTML parser give the same document."""

from __future__ import annotations

import lxml.html
import pytest
from conftest import JEKYLL_NEWS, SAMPLE_CONTENT

from feedsvc.content.markup import _absolutize_with_lxml, absolutize_links, render_markdown

BASE = "https://example.org/blog/2026/01/02/post/"

MARKDOWN = [
    "A [link](/about/) and [another](../up/) and [query](?q=1&x=2) and [frag](#top) and <https://abs.example/>.",
    "![image](img/a%20b.png \"Title\") and ![abs](https://cdn.example/x.png) and ![proto](//cdn.example/y.png)",
    "[mail](mailto:a@example.org) [tel](tel:+1) [weird]( /spaced/ ) [amp](/a?b=1&amp;c=2)",
    "Raw <a href=\"/raw/\">HTML link</a> and <img src=\"pic.png\"> inline.",
    "Text that mentions href=\"/not-a-link/\" in prose, and `<a href=\"/code/\">` in code.",
    "```html\n<a href=\"/in-a-block/\">x</a>\n```\n\n[after](after/)",
    "Single quotes <a href='/single/'>x</a> need the parser.",
    "<img srcset=\"a.png 1x, b.png 2x\" src=\"c.png\"> and <p style=\"background:url(bg.png)\">styled</p>",
    "<!-- <a href=\"/commented/\"> --> [visible](/visible/)",
]


def _document(fragment: str) -> list[str]:
    return [lxml.html.tostring(node, encoding="unicode") if not isinstance(node, str) else node
            for node in lxml.html.fragments_fromstring(f"<div>{fragment}</div>")]


@pytest.mark.parametrize("markdown", MARKDOWN)
def test_fast_path_and_parser_give_the_same_document(markdown):
    html = render_markdown(markdown)
    assert _document(absolutize_links(html, BASE)) == _document(_absolutize_with_lxml(html, BASE))


def test_links_are_resolved_against_the_post_url():
    html = absolutize_links(render_markdown(MARKDOWN[0] + "\n\n" + MARKDOWN[1]), BASE)
    assert 'href="https://example.org/about/"' in html
    assert 'href="https://example.org/blog/2026/01/02/up/"' in html
    assert 'href="https://example.org/blog/2026/01/02/post/?q=1&amp;x=2"' in html
    assert 'href="https://example.org/blog/2026/01/02/post/#top"' in html  # as lxml does
    assert 'src="https://example.org/blog/2026/01/02/post/img/a%20b.png"' in html
    assert 'src="https://cdn.example/x.png"' in html and 'src="https://cdn.example/y.png"' in html  # as lxml does


def test_every_real_post_body_gives_the_same_document_both_ways():
    paths = sorted((JEKYLL_NEWS / "_posts").glob("*.md")) if JEKYLL_NEWS.is_dir() else []
    paths += sorted((SAMPLE_CONTENT / "_posts").glob("*.md"))
    assert paths
    checked = 0
    for path in paths:
        body = path.read_text(encoding="utf-8").split("\n---", 2)[-1]
        html = render_markdown(body)
        fast = absolutize_links(html, BASE)
        assert _document(fast) == _document(_absolutize_with_lxml(html, BASE)), path.name
        checked += fast != html
    assert checked > 0  # some real posts do have relative links


def test_join_url_agrees_with_urljoin_on_every_shape_of_link():
    from itertools import product
    from urllib.parse import urljoin

    from feedsvc.content.markup import join_url

    bases = ["https://example.org/blog/2026/01/02/post/", "https://example.org/post.html", "https://example.org",
             "https://example.org/", "http://h.example:8080/a/b", "https://example.org/a/?q=1", "https://e.org/a#f"]
    links = ["/about/", "about/", "img/a.png", "../up/", "./here", ".", "..", "a/./b", "a/../b", "//cdn.example/x",
             "?q=1", "#top", "", "mailto:a@b.c", "https://other.example/", "/p?q=1#f", "p#f", "a\\\\b", "/a/../b",
             "x:y", "/", "a//b", "%2e%2e/x", "  spaced", "/日本語/", "tel:+1"]
    for base, link in product(bases, links):
        assert join_url(base, link) == urljoin(base, link), (base, link)


def _two_scans(fragment: str) -> str:
    """The rule before the one-scan substitution: count every link attribute and the double-quoted ones;
    the substitution only when the counts agree and nothing else needs the parser."""
    import re

    from feedsvc.content.markup import _RELATIVE_ATTR, _needs_a_parser, _resolved

    if not _RELATIVE_ATTR.search(fragment):
        return fragment
    quoted = re.compile(r'(\s(?:href|src))="([^"]*)"')
    every = re.compile(r"\s(?:href|src)\s*=", re.IGNORECASE)
    if not _needs_a_parser(fragment) and len(every.findall(fragment)) == len(quoted.findall(fragment)):
        return quoted.sub(lambda m: _resolved(m.group(0), m.group(1), m.group(2), BASE), fragment)
    return _absolutize_with_lxml(fragment, BASE)


def test_one_scan_gives_the_bytes_of_the_two_scans_on_every_shape_of_link_attribute():
    """Link attributes of every shape (quoted or not, upper case, spaced, one inside another's value,
    `ſrc` that only a case-insensitive match sees, `data-src`) in random fragments: the same bytes both ways."""
    import random

    pieces = [' href="/a/"', ' src="b.png"', " href='/single/'", " HREF=\"/upper/\"", " href = \"/spaced/\"",
              " href=/bare/", ' href="/q?x=1 src=c.png"', ' title="x href=/in/"', " \u017frc=\"/long-s/\"",
              ' href="https://abs.example/x"', ' src="//cdn.example/y"', '\thref="tab/"', ' href=""',
              " src=", ' class="c"', "<a", ">", "</a>", "<p>", "text ", "<img", " alt=\"a=b\"", "\n", ' data-src="d/"',
              'xhref="/x/"', "src", "href"]
    rng = random.Random(15)
    seen_both = set()
    for _ in range(3000):
        fragment = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 9)))
        fast = absolutize_links(fragment, BASE)
        assert fast == _two_scans(fragment), fragment
        seen_both.add(fast != fragment)
    assert seen_both == {True, False}
