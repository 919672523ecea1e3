"""Liquid in Jekyll post bodies: site and page variables, Jekyll's tags and filters, and bad markup
that leaves the post served with the markup visible and a warning naming the file and line."""

from __future__ import annotations

import json
import re

import pytest
from conftest import JEKYLL_NEWS, post_text, settings_from

from feedsvc.cli import main
from feedsvc.content import references, templating
from feedsvc.content.parsing import parse_post
from feedsvc.model import Post
from feedsvc.web.app import create_app

CONFIG = """\
title: Liquid Site
description: Tests for Liquid
url: https://example.org
baseurl: /blog
permalink: pretty
timezone: UTC
repository: https://github.com/example/site
social:
  mastodon: "@ann@example.social"
collections:
  docs:
    permalink: /:collection/:path/
"""
SETTINGS = settings_from(CONFIG)
_CODE = re.compile(r"<(pre|code)\b[^>]*>.*?</\1>", re.DOTALL)


def _post(body: str, front: str = "title: Hello Liquid\ndate: 2026-03-04 10:00:00\ntags: [one, two]",
          relpath: str = "_posts/2026-03-04-hello.md") -> Post:
    result = parse_post(relpath, post_text(front, body).encode(), SETTINGS)
    assert isinstance(result, Post), result
    return result


def _html(body: str, **kwargs) -> str:
    return _post(body, **kwargs).content_html


def test_site_and_page_variables_are_jekylls():
    html = _html(
        "<div>{{ site.url }}{{ site.baseurl }} | {{ site.title }} | {{ site.repository }} | {{ site.social.mastodon }}"
        " | {{ page.title }} | {{ page.date | date: '%Y-%m-%d %H:%M' }} | {{ page.url }} | {{ page.tags | join: '+' }}"
        " | {{ page.mood }} | {{ page.path }}</div>\n",
        front="title: Hello Liquid\ndate: 2026-03-04 10:00:00\ntags: [one, two]\nmood: sunny",
    )
    assert html == ("<div>https://example.org/blog | Liquid Site | https://github.com/example/site | "
                    "@ann@example.social | Hello Liquid | 2026-03-04 10:00 | /2026/03/04/hello/ | one+two | sunny"
                    " | _posts/2026-03-04-hello.md</div>")


@pytest.mark.parametrize(("markup", "expected"), [
    ('{{ "/docs/" | relative_url }}', "/blog/docs/"),
    ('{{ "docs/page.html#part" | relative_url }}', "/blog/docs/page.html#part"),
    ('{{ "/a b/" | absolute_url }}', "https://example.org/blog/a%20b/"),
    ('{{ "https://other.example/x" | relative_url }}', "https://other.example/x"),
    ("{{ 'a < b & \"c\"' | xml_escape }}", "a &lt; b &amp; &quot;c&quot;"),
    ('{{ "The _cönfig.yml file" | slugify: "ascii" }}', "the-c-nfig-yml-file"),
    ('{{ "a b&c/d" | cgi_escape }}', "a+b%26c%2Fd"),
    ('{{ "example :page" | uri_escape }}', "example%20:page"),
    ('{{ page.tags | jsonify }}', '["one","two"]'),
    ('{{ "The _config.yml file" | slugify }}', "the-config-yml-file"),
    ('{{ "The _config.yml file" | slugify: "pretty" }}', "the-_config.yml-file"),
    ('{{ "Café Olé" | slugify: "latin" }}', "cafe-ole"),
    ('{{ "<b>bold</b> text" | strip_html }}', "bold text"),
    ('{{ "one two  three" | number_of_words }}', "3"),
    ('{{ page.tags | array_to_sentence_string }}', "one and two"),
    ('{{ page.date | date_to_xmlschema }}', "2026-03-04T10:00:00+00:00"),
    ('{{ page.date | date_to_string }}', "04 Mar 2026"),
    ('{{ page.date | date_to_long_string: "ordinal", "US" }}', "March 4th, 2026"),
    ('{{ page.tags | size }}', "2"),
    ('{{ "  a \n b " | normalize_whitespace }}', "a b"),
])
def test_jekyll_filters(markup, expected):
    html = _html(f"<div>{markup}</div>\n")
    assert html == f"<div>{expected}</div>", markup


def test_where_and_markdownify_and_control_flow():
    html = _html('{% assign people = site.people | where: "team", "core" %}{{ people | size }} '
                 '{% for t in page.tags %}[{{ t | upcase }}]{% endfor %} {{ "*hi*" | markdownify }}\n',
                 front="title: T\ndate: 2026-03-04\ntags: [a, b]")
    assert "0 [A][B]" in html
    assert "<em>hi</em>" in html


def test_raw_stays_as_written_and_highlight_is_a_code_block_with_its_language():
    html = _html(
        "Intro.\n\n"
        "{% raw %}Use {{ site.url }} here{% endraw %}\n\n"
        "{% highlight ruby linenos %}\n"
        "def hello\n  puts \"{{ page.title }} {% raw %}{{ kept }}{% endraw %} <b>\"\n\nend\n"
        "{% endhighlight %}\n"
        "After *the* code.\n",
    )
    assert "<p>Use {{ site.url }} here</p>" in html
    code = re.search(r'<pre class="highlight"><code class="language-ruby" data-lang="ruby">(.*?)</code></pre>',
                     html, re.DOTALL)
    assert code is not None, html
    import html as html_lib

    # Liquid inside the block is rendered, as Jekyll 4.3 renders it (raw keeps what it holds)
    assert html_lib.unescape(code.group(1)) == 'def hello\n  puts "Hello Liquid {{ kept }} <b>"\n\nend'
    assert "<p>After <em>the</em> code.</p>" in html  # Markdown resumes after the block


def test_highlight_with_blank_lines_is_not_cut_by_the_excerpt():
    post = _post("{% highlight python %}\na = 1\n\nb = 2\n{% endhighlight %}\n\nSecond paragraph.\n")
    assert post.summary_html.count("<pre") == post.summary_html.count("</pre>") == 1
    assert "Second paragraph" not in post.summary_html


@pytest.mark.parametrize(("body", "visible", "message", "line"), [
    ("Fine.\n\nSee {% render footer %} below.\n", "{% render footer %}", "{% include %}", 7),
    ("Text\n{{ page.title | no_such_filter }} done.\n", "{{ page.title | no_such_filter }}", "no_such_filter", 6),
    ("Open {% if page.title %} never closed.\n", "{% if page.title %}", "endif", 5),
    ("{{ page.title | split: }}\n", "{{ page.title | split: }}", "split", 5),
    ("{% for i in (1..100000000) %}x{% endfor %}\n", "{% for i in (1..100000000) %}", "limit", 5),
])
def test_bad_liquid_leaves_the_markup_visible_and_warns_with_file_and_line(body, visible, message, line):
    post = _post(body, front="title: T\ndate: 2026-03-04")  # body starts on line 5
    text = post.content_html.replace("&quot;", '"')
    assert visible in text
    warnings = [w for w in post.warnings if w.message.startswith("Liquid")]
    assert warnings, post.warnings
    assert warnings[0].path == "_posts/2026-03-04-hello.md" and warnings[0].line == line
    assert message in warnings[0].message
    assert warnings[0].severity == "warning"


def test_good_liquid_around_bad_liquid_still_renders():
    html = _html("{{ site.title }} {{ page.title | no_such_filter }} {{ page.title }}\n",
                 front="title: Mine\ndate: 2026-03-04")
    assert html == "<p>Liquid Site {{ page.title | no_such_filter }} Mine</p>"


def test_tags_only_a_sites_plugins_define_are_dropped_and_a_block_keeps_its_inner_text():
    post = _post("Before {% youtube abc123 %} after.\n\n{% aside %}Inside for {{ page.title }}.{% endaside %}\n\n"
                 "{% raw %}{% youtube shown %}{% endraw %}\n\n{% youtube again %}\n",
                 front="title: Mine\ndate: 2026-03-04")  # body starts on line 5
    assert post.content_html == ("<p>Before  after.</p>\n<p>Inside for Mine.</p>\n<p>{% youtube shown %}</p>")
    warnings = [(w.line, w.message) for w in post.warnings if w.message.startswith("Liquid")]
    assert sorted(warnings)[0][1].count("`{% youtube abc123 %}` dropped") == 1
    assert [line for line, _ in sorted(warnings)] == [5, 7, 11]
    assert all("only the site's plugins define" in message for _, message in warnings)
    assert "`{% aside %}`" in dict(warnings)[7]


def test_a_hundred_plugin_tags_cost_no_more_than_one_kind():
    post = _post("".join(f"{{% embed {i} %}}\n" for i in range(100)) + "{{ page.title }}\n",
                 front="title: Mine\ndate: 2026-03-04")
    assert post.content_html == "<p>Mine</p>"


def test_posts_without_liquid_never_reach_the_engine(monkeypatch):
    def explode():
        raise AssertionError("the Liquid engine was used for a post without {{ or {%")

    monkeypatch.setattr(templating, "_environment", explode)
    post = _post("Plain *Markdown* with { braces } and % signs.\n")
    assert post.content_html == "<p>Plain <em>Markdown</em> with { braces } and % signs.</p>"
    assert not post.liquid


def test_render_with_liquid_false_keeps_the_markup():
    html = _html("{{ site.url }}\n", front="title: T\ndate: 2026-03-04\nrender_with_liquid: false")
    assert html == "<p>{{ site.url }}</p>"


def test_link_to_collection_documents_pages_and_static_files():
    html = _html("[h]({% link _docs/history.md %}#v1) [a]({% link about.md %}) [i]({% link assets/x.png %}) "
                 "[x]({% link index.md %})\n")
    assert 'href="https://example.org/blog/docs/history/#v1"' in html
    assert 'href="https://example.org/blog/about/"' in html
    assert 'href="https://example.org/blog/assets/x.png"' in html
    assert 'href="https://example.org/blog/"' in html


# -- post_url and {% link _posts/… %}: resolved at index time --------------------------------------

LINKING = post_text("title: Linking\ndate: 2026-02-01",
                    "See [the first]({% post_url 2026-01-01-first %}) and "
                    "[again]({% link _posts/2026-01-01-first.md %}).\n")


def test_post_url_and_link_resolve_to_the_other_posts_entry_link(site_dir, make_refresher):
    root = site_dir({"_posts/2026-01-01-first.md": post_text("title: First"),
                     "_posts/2026-02-01-linking.md": LINKING}, config=CONFIG)
    refresher = make_refresher(root)
    refresher.refresh()
    site = refresher.store.snapshot.site
    first, linking = (next(p for p in site.posts if p.slug == slug) for slug in ("first", "linking"))
    assert first.url == "https://example.org/blog/2026/01/01/first/"
    assert linking.content_html.count(f'href="{first.url}"') == 2
    assert references.REF_PREFIX not in linking.content_html + linking.summary_html + linking.summary_text
    assert not site.problems


def test_a_renamed_target_updates_the_linking_posts_feed_entry(site_dir, make_refresher):
    root = site_dir({"_posts/2026-01-01-first.md": post_text("title: First"),
                     "_posts/2026-02-01-linking.md": LINKING}, config=CONFIG)
    refresher = make_refresher(root)
    refresher.refresh()
    (root / "_posts/2026-01-01-first.md").write_text(post_text("title: First\npermalink: /moved/"))
    report = refresher.refresh()
    assert report.updated == ("_posts/2026-01-01-first.md",)  # the linking post is not even re-read
    feed = refresher.store.snapshot.resources["/feed.json"].body.decode()
    linking = next(item for item in json.loads(feed)["items"] if item["title"] == "Linking")
    assert linking["content_html"].count('href="https://example.org/blog/moved/"') == 2


def test_post_url_to_a_missing_post_is_visible_and_reported(site_dir, make_refresher):
    root = site_dir({"_posts/2026-02-01-linking.md": LINKING}, config=CONFIG)
    refresher = make_refresher(root)
    refresher.refresh()
    site = refresher.store.snapshot.site
    assert "{% post_url 2026-01-01-first %}" in site.posts[0].content_html
    assert [(p.path, p.line, p.severity) for p in site.problems] == [
        ("_posts/2026-02-01-linking.md", 5, "warning"), ("_posts/2026-02-01-linking.md", 5, "warning")]
    assert all("no such post" in p.message for p in site.problems)


def test_a_config_change_rereads_only_the_posts_that_use_liquid(site_dir, make_refresher):
    root = site_dir({"_posts/2026-01-01-plain.md": post_text("title: Plain"),
                     "_posts/2026-01-02-liquid.md": post_text("title: Liquid", "Code at {{ site.repository }}.\n")},
                    config=CONFIG)
    refresher = make_refresher(root)
    refresher.refresh()
    (root / "_config.yml").write_text(CONFIG.replace("example/site", "example/moved"))
    report = refresher.refresh()
    assert report.updated == ("_posts/2026-01-02-liquid.md",)
    liquid = next(p for p in refresher.store.snapshot.site.posts if p.slug == "liquid")
    assert "https://github.com/example/moved" in liquid.content_html
    assert b"example/moved" in refresher.store.snapshot.resources["/rss.xml"].body


def test_liquid_warnings_show_in_check_and_status(site_dir, make_refresher, capsys):
    root = site_dir({"_posts/2026-01-01-bad.md": post_text("title: Bad", "One\n{% include nav.html %}\n")},
                    config=CONFIG)
    assert main(["check", "--content", str(root)]) == 0  # a warning: the post is still served
    out = capsys.readouterr().out
    assert "_posts/2026-01-01-bad.md:5: warning: Liquid: `{% include nav.html %}`: no file _includes/nav.html" in out
    refresher = make_refresher(root)
    refresher.refresh()
    status = create_app(refresher.settings, refresher.store).test_client().get("/status").get_json()
    assert any(p["path"] == "_posts/2026-01-01-bad.md" and p["line"] == 5 and "include" in p["message"]
               for p in status["problems"])
    assert "One" in refresher.store.snapshot.resources["/rss.xml"].body.decode()  # the rest of the post is kept


# -- the Jekyll news corpus: what jekyllrb.com publishes --------------------------------------------

needs_corpus = pytest.mark.skipif(not (JEKYLL_NEWS / "_posts").is_dir(),
                                  reason="../shared/corpora/jekyll-news is not present")


@pytest.fixture(scope="module")
def news_site():
    from feedsvc.pipeline.refresh import Refresher
    from feedsvc.snapshot import SnapshotStore

    refresher = Refresher(SnapshotStore(), JEKYLL_NEWS, {})
    assert refresher.refresh("test").error is None
    return refresher.store.snapshot.site


@needs_corpus
def test_corpus_liquid_renders_without_a_warning_and_leaves_no_markup_outside_code(news_site):
    assert [p for p in news_site.problems if "Liquid" in p.message] == []
    for post in news_site.posts:
        outside_code = _CODE.sub("", post.content_html)
        assert "{{" not in outside_code and "{%" not in outside_code, post.source
        assert references.REF_PREFIX not in post.content_html, post.source


@needs_corpus
def test_corpus_links_are_the_urls_jekyllrb_com_publishes(news_site):
    by_source = {p.source.removeprefix("_posts/"): p for p in news_site.posts}

    def html(name: str) -> str:
        return by_source[name].content_html

    assert 'href="https://jekyllrb.com/docs/themes/#assets"' in html("2016-10-06-jekyll-3-3-is-here.md")
    assert 'href="https://jekyllrb.com/news/2017/03/02/jekyll-3-4-1-released/"' in \
        html("2017-03-09-jekyll-3-4-2-released.markdown")
    assert 'href="https://jekyllrb.com/docs/history/#v3-9-3"' in html("2023-01-29-jekyll-3-9-3-released.markdown")
    target = by_source["2013-05-06-jekyll-1-0-0-released.markdown"].url
    assert f'href="{target}"' in html("2014-05-06-jekyll-turns-2-0-0.markdown")  # {% post_url %}
    assert target.startswith("https://jekyllrb.com/news/2013/05/")
    assert "https://github.com/jekyll/jekyll" in html("2016-10-06-jekyll-3-3-is-here.md") or any(
        "https://github.com/jekyll/jekyll/" in p.content_html for p in news_site.posts)
    highlighted = html("2014-03-27-jekyll-1-5-1-released.markdown")
    assert '<code class="language-ruby" data-lang="ruby">' in highlighted
