"""Which files in a Jekyll site are posts, and how each kind is read: Markdown by `markdown_ext`, `.html`
and other extensions taken as written (Liquid still rendered), files without front matter in `_posts`,
YAML front matter closed by `...`."""

from __future__ import annotations

from pathlib import Path

from conftest import BASIC_CONFIG, settings_from

from feedsvc.content.dialects.jekyll import JEKYLL
from feedsvc.content.parsing import parse_post
from feedsvc.content.scanning import take_inventory
from feedsvc.model import Post

DATE_PERMALINKS = BASIC_CONFIG.replace("permalink: pretty", "permalink: date")


def _post(relpath: str, text: str, config: str = BASIC_CONFIG) -> Post:
    result = parse_post(relpath, text.encode(), settings_from(config))
    assert isinstance(result, Post), result
    return result


def test_in_posts_any_dated_file_is_a_post_and_elsewhere_only_markdown() -> None:
    for relpath in ("_posts/2020-01-01-a.md", "_posts/2020-01-01-a.html", "_posts/2020-01-01-a.Rmd",
                    "_posts/2020-01-01-a.text", "_posts/2020-01-01-a.mkdn", "notes/_posts/2020-1-2-b.textile",
                    "about.md", "blog/post.markdown"):
        assert JEKYLL.is_post_file(relpath), relpath
    for relpath in ("_posts/2020-01-01-a.yml", "_posts/2020-01-01-a.png", "_posts/a.html", "_posts/.2020-01-01-a.md",
                    "about.html", "blog/2020-01-01-a.html", "_posts/2020-01-01-a", "_posts/2020-01-01-a.md~",
                    "_posts/#2020-01-01-a.md#", "_posts/_2020-01-01-a.md"):
        assert not JEKYLL.is_post_file(relpath), relpath


def test_scanning_finds_the_html_posts(tmp_path: Path) -> None:
    (tmp_path / "_posts").mkdir()
    for name in ("2020-01-01-a.html", "2020-01-02-b.md", "2020-01-03-data.yml"):
        (tmp_path / "_posts" / name).write_text("---\ntitle: T\n---\nx\n")
    (tmp_path / "page.html").write_text("---\ntitle: T\n---\nx\n")
    inventory, _ = take_inventory(tmp_path, dialect=JEKYLL)
    assert sorted(inventory) == ["_posts/2020-01-01-a.html", "_posts/2020-01-02-b.md"]


def test_an_html_post_is_not_markdown_but_its_liquid_is_rendered() -> None:
    post = _post("_posts/2020-01-08-html-post.html",
                 "---\ntitle: HTML\n---\n<p>Written *as* HTML for {{ page.title }}.</p>\n\n    not code\n",
                 DATE_PERMALINKS)
    html = post.content_html
    assert "<p>Written *as* HTML for HTML.</p>" in html
    assert "<pre" not in html and "    not code" in html
    assert post.url == "https://example.org/2020/01/08/html-post.html"


def test_another_extension_is_taken_as_written_and_keeps_its_extension_in_the_link() -> None:
    post = _post("_posts/2011-04-12-text-extension.text", "Best **post** ever\n", DATE_PERMALINKS)
    assert post.content_html == "Best **post** ever"
    assert post.title == "Text Extension"  # no front matter: Jekyll's title from the file name
    assert post.url == "https://example.org/2011/04/12/text-extension.text"
    assert [w.message for w in post.warnings if "no front matter" in w.message]


def test_markdown_ext_decides_which_extensions_are_markdown() -> None:
    config = BASIC_CONFIG + "markdown_ext: md,txt\n"
    settings = settings_from(config)
    assert settings.dialect_rules == '{"markdown_ext": "md,txt"}'
    markdown = _post("_posts/2020-01-01-a.txt", "---\ntitle: T\n---\n**bold**\n", config)
    assert "<strong>bold</strong>" in markdown.content_html
    as_written = _post("_posts/2020-01-01-a.markdown", "---\ntitle: T\n---\n**bold**\n", config)
    assert as_written.content_html == "**bold**"
    assert settings.fingerprint != settings_from().fingerprint
    assert settings_from(BASIC_CONFIG + "markdown_ext: markdown,mkdown,mkdn,mkd,md\n").dialect_rules == ""


def test_yaml_front_matter_may_end_with_dots() -> None:
    post = _post("_posts/2014-03-03-yaml-with-dots.md", "---\ntitle: Dots\n...\n\n# Test\n")
    assert post.title == "Dots"
    assert "<h1" in post.content_html and "..." not in post.content_html
