"""The bounds on one post's Markdown (content/limits.py): what each measures, and that real posts pass."""

from __future__ import annotations

import pytest
from conftest import SHARED
from hostile_posts import element_flood, nested_brackets, nested_list, nested_quotes, table

from feedsvc.content.fields import PostError
from feedsvc.content.limits import LIMITS, MarkupLimits, check_html, check_markdown, html_depth, measure
from feedsvc.content.markup import render_markdown

CORPORA = SHARED / "corpora"


def test_nesting_is_measured_by_lists_quotes_and_brackets():
    assert measure(nested_list(7)).depth == 7
    assert measure("- - - - x\n").depth == 4
    assert measure(nested_quotes(9)).depth == 9
    assert measure("> - a\n>   - b\n").depth == 3
    assert measure(nested_brackets(12)).depth == 12
    assert measure("[a [b] c]\n\n[d]\n").depth == 2  # closed brackets and a new paragraph start over


def test_code_fences_and_later_paragraphs_close_what_was_open():
    fenced = "```\n" + nested_list(300) + "[[[[[[\n```\n"
    assert measure(fenced).depth == 0
    assert measure(nested_list(5) + "\nback at the margin\n- one\n").depth == 5


def test_table_cells_count_every_row_of_every_table():
    shape = measure("intro\n\n" + table(4, 10) + "\n" + table(3, 2))
    assert shape.table_cells == 4 * 11 + 3 * 3 and shape.table_line == 3
    assert measure("a | b\nnot a rule\n").table_cells == 0


def test_elements_are_over_estimated_never_missed():
    flood = element_flood(1_000)
    html = render_markdown(flood)
    assert measure(flood).elements >= html.count("<") // 2


def test_html_depth_counts_open_elements_only():
    assert html_depth("<p>a<br>b<img src=x/></p><div><div><span>c</span></div></div>") == 3
    assert html_depth("<div>" * 300) == 300


@pytest.mark.parametrize(("text", "words"), [
    ("x" * (LIMITS.chars + 1), "characters long, over the limit of 2,097,152 characters"),
    ("a\n" * LIMITS.lines, "lines, over the limit of 50,000 lines"),
    ("- " * 1_500 + "x\n", "nests 1,500 levels deep at its line 1 (lists, block quotes or brackets"),
    (table(300, 3_000), "tables of 900,300 cells (the largest from its line 1), over the limit of 40,000 cells"),
    ("[a](/p) " * 60_000, "about 60,000 elements (links, emphasis, inline HTML), over the limit of 50,000"),
    ("- *a*\n" * 30_000, "about 60,000 elements (blocks, links, emphasis, inline HTML), over the limit of 50,000"),
])
def test_each_bound_is_named_when_passed(text, words):
    with pytest.raises(PostError, match="over the limit") as raised:
        check_markdown(text)
    assert words in str(raised.value)
    assert str(raised.value).endswith("for one post: not rendered")


def test_rendered_html_is_bounded_in_size_and_depth():
    with pytest.raises(PostError, match="renders to 4,200,000 characters of HTML, over the limit of 4,194,304"):
        check_html("x" * 4_200_000)
    with pytest.raises(PostError, match="renders to HTML nested 300 elements deep, over the limit of 250 levels"):
        check_html(render_markdown("<div>" * 300 + "\n"))


def test_a_post_just_inside_every_markdown_bound_passes():
    """The bounds refuse only what is past them: 35,960 table cells and 90 levels of list are rendered."""
    text = table(40, 899) + "\n" + nested_list(90)
    assert check_markdown(text) == text
    assert check_html(render_markdown(text))


def test_limits_can_be_tightened():
    small = MarkupLimits(depth=3)
    assert check_markdown(nested_list(3), small) == nested_list(3)
    with pytest.raises(PostError, match="nests 4 levels deep at its line 4"):
        check_markdown(nested_list(4), small)


def _real_posts() -> list:
    return sorted(path for path in CORPORA.rglob("*") if path.suffix in (".md", ".markdown") and path.is_file())


@pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not present")
def test_no_real_post_comes_near_a_limit():
    """Every Markdown file of the shared Jekyll and Hugo corpora passes, with room to spare (a tenth)."""
    posts = _real_posts()
    assert len(posts) > 200
    tenth = MarkupLimits(*(getattr(LIMITS, name) // 10 for name in MarkupLimits.__slots__))
    for path in posts:
        text = path.read_text(encoding="utf-8", errors="replace")
        check_html(render_markdown(check_markdown(text, tenth)), tenth)
