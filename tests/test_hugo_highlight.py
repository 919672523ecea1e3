"""Hugo's line numbers on code blocks ([markup.highlight]); the differential suite's `linenos` fixtures compare
the text with Hugo's summaries, these the markup a reader's stylesheet hangs on."""

from __future__ import annotations

from feedsvc.content.dialects.hugo import HUGO
from feedsvc.content.goldmark import goldmark_options
from feedsvc.content.markup import render_markdown


def _html(source: str, highlight: dict[str, object]) -> str:
    return render_markdown(source, goldmark_options({"highlight": highlight}, []))


def test_numbers_in_a_table_mark_the_hl_lines_and_start_where_asked() -> None:
    html = _html("```go {hl_lines=[2],linenostart=7}\nx := 1\ny := 2\n```\n", {"linenos": True})
    assert '<table class="lntable">' in html
    assert '<span class="lnt">7\n</span><span class="lnt hl">8\n</span>' in html
    assert '<span class="line hl"><span>y := 2\n</span></span>' in html and "data-sourcepos" not in html


def test_inline_numbers_keep_hugos_classes_when_the_site_uses_them() -> None:
    html = _html("```go\na\n```\n", {"linenos": True, "linenumbersintable": False, "noclasses": False})
    assert '<span class="line"><span class="ln">1</span><span class="cl">a\n</span></span>' in html


def test_a_block_numbers_itself_or_opts_out_and_indented_or_unnamed_blocks_are_left_alone() -> None:
    source = "```go {linenos=false}\noff\n```\n\n```\nplain\n```\n\n    indented\n"
    assert '<span class="ln' not in _html(source, {"linenos": True})
    assert '<span class="lnt">1' in _html("```go {linenos=table}\non\n```\n", {})
    assert '<span class="lnt">1\n</span>' in _html("```\nguessed\n```\n", {"linenos": True, "guesssyntax": True})
    assert "lnt" not in _html("```go\nplain\n```\n", {})


def test_the_highlight_shortcode_passes_its_options_on() -> None:
    body = HUGO.expand_body('{{< highlight go "linenos=inline" >}}\nsc := 1\n{{< /highlight >}}\n',
                            "content/posts/p.md", 1, {}).text
    html = render_markdown(body, goldmark_options({}, []))
    assert '<span class="ln">1</span><span>sc := 1\n</span>' in html and "data-hugo-highlight" not in html
    plain = render_markdown(HUGO.expand_body("{{< highlight go >}}\nx\n{{< /highlight >}}\n", "p.md", 1, {}).text,
                            goldmark_options({}, []))
    assert plain.strip() == '<pre><code class="language-go">x\n</code></pre>'
