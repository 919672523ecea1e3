"""A Liquid body that reads only `site` is rendered once per site (liquidreuse.py): the kept render must be the
one a fresh render gives, and a body whose output could differ from post to post must never be given one."""

from __future__ import annotations

import pytest
from conftest import post_text, settings_from

from feedsvc.content import templating
from feedsvc.content.liquidreuse import Kept, KeptRenders, same_for_every_post
from feedsvc.content.parsing import parse_post
from feedsvc.model import Post

CONFIG = """\
title: Reuse Site
url: https://example.org
baseurl: /blog
timezone: UTC
repository: {repository}
collections:
  docs:
    permalink: /:collection/:path/
"""
FIRST = settings_from(CONFIG.format(repository="https://github.com/example/first"))
SECOND = settings_from(CONFIG.format(repository="https://github.com/example/second"))

SHARED = [
    "See {{ site.repository }}/issues and {{ site.url }}{{ site.baseurl }}.",
    "{% raw %}{{ not rendered }}{% endraw %} {{ '/a/' | relative_url }} {{ '/b' | absolute_url }}",
    "Before.\n\n{% post_url 2026-01-02-other %}\n\nand {% link _posts/2026-01-02-other.md %}",
    "{% highlight ruby %}\nputs '{{ site.title }}'\n{% endhighlight %}\n{% link _docs/history.md %}",
    "{% assign n = site.title | size %}{% for i in (1..3) %}{{ i | times: n }},{% endfor %}{{ site.title | upcase }}",
    "{{ '# Head' | markdownify }}",
]
PER_POST = [
    "{{ page.title }} on {{ page.date | date_to_string }}",
    "{% assign s = site %}{{ s.related_posts | size }}",
    "{{ site.related_posts | size }}",
    "{{ site }}",
    "{% assign k = 'title' %}{{ site[k] }}",
    "{% include note.html %}",
    "{% include_relative note.md %}",
    "{{ content }}",
]
CLOCK = "{{ 'now' | date: '%Y-%m-%d %H:%M:%S.%f' }}"


def _analysed(body: str) -> bool:
    return same_for_every_post(templating._compiled(body).analyze())


@pytest.mark.parametrize("body", SHARED)
def test_bodies_reading_only_site_values_are_the_same_for_every_post(body):
    assert _analysed(body)


@pytest.mark.parametrize("body", [*PER_POST, CLOCK])
def test_bodies_reading_the_post_the_clock_or_files_are_rendered_each_time(body):
    assert not _analysed(body)


def _parsed(settings, body: str, title: str, day: int, front_lines: int = 0) -> Post:
    front = f"title: {title}\ndate: 2026-03-{day:02d} 10:00:00\n" + "".join(f"x{n}: {n}\n" for n in range(front_lines))
    result = parse_post(f"_posts/2026-03-{day:02d}-{title.lower()}.md", post_text(front, body).encode(), settings)
    assert isinstance(result, Post), result
    return result


def _fresh(settings, body: str, title: str, day: int, front_lines: int = 0) -> Post:
    templating._KEPT.clear()
    return _parsed(settings, body, title, day, front_lines)


@pytest.mark.parametrize("body", SHARED + PER_POST)
def test_a_kept_render_equals_a_fresh_render_for_every_post_and_site(body):
    cases = [(FIRST, "One", 1, 0), (FIRST, "Two", 2, 3), (SECOND, "Three", 3, 1), (FIRST, "Four", 4, 7)]
    templating._KEPT.clear()
    kept = [_parsed(settings, body, title, day, lines) for settings, title, day, lines in cases]
    fresh = [_fresh(settings, body, title, day, lines) for settings, title, day, lines in cases]
    for with_reuse, plain in zip(kept, fresh, strict=True):
        assert with_reuse.content_html == plain.content_html
        assert with_reuse.references == plain.references  # the lines of post_url move with the front matter
        assert with_reuse.warnings == plain.warnings
        assert with_reuse == plain


def test_a_render_is_not_reused_for_a_site_whose_values_differ():
    templating._KEPT.clear()
    body = "Code at {{ site.repository }}."
    assert "example/first" in _parsed(FIRST, body, "One", 1).content_html
    assert "example/second" in _parsed(SECOND, body, "Two", 2).content_html


def test_a_body_reading_the_post_is_rendered_for_each_post():
    templating._KEPT.clear()
    body = "{{ site.title }}: {{ page.title }}"
    assert "Reuse Site: One" in _parsed(FIRST, body, "One", 1).content_html
    assert "Reuse Site: Two" in _parsed(FIRST, body, "Two", 2).content_html


def test_a_failing_body_warns_in_every_post_it_is_in():
    templating._KEPT.clear()
    body = "{{ site.title | no_such_filter }}"
    first, second = _parsed(FIRST, body, "One", 1), _parsed(FIRST, body, "Two", 2, front_lines=2)
    assert [problem.path for problem in first.warnings] == ["_posts/2026-03-01-one.md"]
    assert [problem.path for problem in second.warnings] == ["_posts/2026-03-02-two.md"]
    assert second.warnings[0].line == first.warnings[0].line + 2


def test_kept_renders_are_one_sites_and_bounded():
    kept = KeptRenders(size=2, chars=800)
    one = Kept("text", (), False)
    kept.keep("site a", "body 1", one)
    assert kept.get("site a", "body 1") == one and kept.get("site b", "body 1") is None
    kept.keep("site b", "body 2", one)
    assert kept.get("site a", "body 1") is None  # another site's values are not held
    kept.keep("site b", "body 3", one)
    kept.keep("site b", "body 4", one)
    assert kept.get("site b", "body 2") is None and kept.get("site b", "body 4") == one
    kept.keep("site b", "long", Kept("x" * 200, (), False))  # over an eighth of the characters
    assert kept.get("site b", "long") is None
