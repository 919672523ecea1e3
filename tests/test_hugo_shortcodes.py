"""Hugo shortcodes never reach a reader as written: built-ins become HTML a reader can use, a site's own ones
their inner content (else nothing), each with a warning naming the file, line and shortcode."""

from __future__ import annotations

from feedsvc.content.dialects.hugo import HUGO, Hugo, HugoRules
from feedsvc.content.goldmark import goldmark_options
from feedsvc.content.markup import html_to_text, render_markdown


def _expand(body: str, front: dict[str, object] | None = None, dialect: Hugo = HUGO) -> tuple[str, list[str]]:
    expanded = dialect.expand_body(body, "content/posts/p.md", 5, front or {})
    return render_markdown(expanded.text), [f"{p.line}: {p.message}" for p in expanded.problems]


def test_a_sites_own_paired_shortcode_keeps_its_inner_content_as_written_with_a_warning() -> None:
    html, warnings = _expand("{{< tldr >}}Short *version*{{< /tldr >}}\n\nThe rest.")
    assert html_to_text(html) == "Short *version* The rest."
    assert warnings == ["5: shortcode tldr: the site's own shortcode, whose template feedsvc cannot run: "
                        "its inner content is shown"]


def test_the_inner_content_of_a_percent_shortcode_is_markdown() -> None:
    html, _ = _expand("{{% note %}}**bold**{{% /note %}}")
    assert "<strong>bold</strong>" in html


def test_a_sites_own_shortcode_without_inner_content_disappears_with_its_line() -> None:
    html, warnings = _expand("First line.\n\n{{< banner image=\"x.png\" >}}\n\nLast line.")
    assert "{{" not in html and "banner" not in html
    assert warnings == ["7: shortcode banner: the site's own shortcode, whose template feedsvc cannot run: left out"]


def test_nested_shortcodes_expand_inside_out() -> None:
    html, warnings = _expand("{{< outer >}}A {{< inner >}}B{{< /inner >}} C {{< gone />}}D{{< /outer >}}")
    assert html_to_text(html) == "A B C D" and len(warnings) == 3


def test_an_escaped_shortcode_is_the_shortcode_as_text() -> None:
    html, warnings = _expand('`{{</* figure src="x.jpg" */>}}` and {{%/* note */%}}')
    assert html_to_text(html) == '{{< figure src="x.jpg" >}} and {{% note %}}' and not warnings


def test_figure_is_a_figure_with_its_caption() -> None:
    html, warnings = _expand('{{< figure src="cat.jpg" alt="A cat" title="Cat" caption="Asleep" link="/big.jpg" >}}')
    assert html.startswith('<figure><a href="/big.jpg"><img src="cat.jpg" alt="A cat"></a>')
    assert "<figcaption><h4>Cat</h4><p>Asleep</p></figcaption>" in html and not warnings


def test_highlight_is_a_code_block_escaped() -> None:
    expanded = HUGO.expand_body("{{< highlight go >}}\nif a < b && c {\n\n}\n{{< /highlight >}}", "p.md", 1, {})
    html = render_markdown(expanded.text, goldmark_options({}, []))  # as Hugo's Goldmark: line numbers if asked
    assert html == '<pre><code class="language-go">if a &lt; b &amp;&amp; c {\n\n}\n</code></pre>\n'


def test_embedded_players_become_links_a_feed_reader_can_follow() -> None:
    html, warnings = _expand('{{< youtube ZJthWmvUzzc >}} {{< vimeo id="146022717" >}} '
                             '{{< x user="SanDiegoZoo" id="1453110110599868418" >}} {{< tweet 877500564405444608 >}} '
                             '{{< instagram BWNjjyYFxVx >}} {{< gist spf13 7896402 img.html >}}')
    for url in ("https://www.youtube.com/watch?v=ZJthWmvUzzc", "https://vimeo.com/146022717",
                "https://x.com/SanDiegoZoo/status/1453110110599868418", "https://x.com/i/status/877500564405444608",
                "https://www.instagram.com/p/BWNjjyYFxVx/", "https://gist.github.com/spf13/7896402"):
        assert f'<a href="{url}">' in html
    assert not warnings


def test_a_player_without_an_id_disappears_with_a_warning() -> None:
    html, warnings = _expand("{{< youtube >}}")
    assert "{{" not in html and warnings == ["5: shortcode youtube: no video id: left out"]


def test_param_prints_the_pages_parameter_else_the_sites() -> None:
    dialect = HUGO.configured(HugoRules(params=(("author.name", "Site Author"), ("motto", "site"))).to_json())
    html, warnings = _expand('{{< param motto >}} / {{< param "author.name" >}} / {{< param missing >}}',
                             {"Motto": "page_*motto*"}, dialect)
    assert html_to_text(html) == "page_*motto* / Site Author /"
    assert warnings == ["5: shortcode param: no parameter 'missing' in the page or the site: left out"]


def test_ref_and_relref_are_the_linked_posts_url_resolved_at_index_time() -> None:
    expanded = HUGO.expand_body('[a]({{< ref "other.md#top" >}}) [b]({{< relref "/posts/two/index.md" >}})',
                                "content/posts/p.md", 1, {})
    assert [key for key, _ in expanded.references] == ['ref:post:other\nother.md#top',
                                                       'relref:file:content/posts/two/index.md\n/posts/two/index.md']
    assert "feedsvc-ref:ref%3Apost%3Aother%0Aother.md%23top/#top" in expanded.text


def test_a_body_without_shortcodes_is_left_alone() -> None:
    body = "Plain {{ not a shortcode }} text."
    assert HUGO.expand_body(body, "content/posts/p.md", 1, {}).text == body


def test_a_ref_links_to_the_other_posts_permalink_and_param_reads_the_config(site_dir, make_refresher) -> None:
    files = {
        "content/posts/one.md": '+++\ntitle = "One"\ndate = 2026-01-01\n+++\n'
                                'See [two]({{< ref "two.md" >}}); {{< param motto >}}.\n',
        "content/posts/two.md": '+++\ntitle = "Two"\ndate = 2026-01-02\nslug = "second"\n+++\nBody.\n',
    }
    root = site_dir(files, config=None)
    (root / "hugo.toml").write_text('baseURL = "https://example.org/"\ntitle = "T"\n'
                                    '[params]\nmotto = "Small is beautiful"\n'
                                    '[permalinks]\nposts = "/:year/:slug/"\n')
    refresher = make_refresher(root)
    refresher.refresh()
    one = next(p for p in refresher.store.snapshot.site.posts if p.source == "content/posts/one.md")
    assert '<a href="https://example.org/2026/second/">two</a>' in one.content_html
    assert "Small is beautiful" in one.content_html and "{{" not in one.content_html


def test_a_ref_to_a_missing_post_is_warned_about_in_hugos_words(site_dir, make_refresher) -> None:
    files = {"content/posts/one.md": '+++\ntitle = "One"\ndate = 2026-01-01\n+++\n\n'
                                     'See [gone]({{< ref "gone.md" >}}).\n'}
    root = site_dir(files, config=None)
    (root / "hugo.toml").write_text('baseURL = "https://example.org/"\ntitle = "T"\n')
    refresher = make_refresher(root)
    refresher.refresh()
    one = refresher.store.snapshot.site.posts[0]
    assert '<a href="#">gone</a>' in one.content_html and "{{" not in one.content_html
    [problem] = [p for p in refresher.store.snapshot.site.problems if p.path == "content/posts/one.md"]
    assert 'REF_NOT_FOUND: Ref "gone.md": page not found' in problem.message and problem.line == 6
    assert "post_url" not in problem.message
