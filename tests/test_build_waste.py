"""The cold build's shortcuts give what the plain path gives: a compiled Liquid template reused for a body
seen before, an excerpt that is the whole body rendered once, links already absolute left as written."""

from __future__ import annotations

from conftest import post_text, settings_from

from feedsvc.content import templating
from feedsvc.content.parsing import parse_post
from feedsvc.model import Post

SETTINGS = settings_from("title: Site\nurl: https://example.org\npermalink: pretty\ntimezone: UTC\n")
BODY = "{{ page.title }} on {{ page.date | date: '%Y' }}: see {% post_url 2026-01-01-first %}.\n{% if x %}\n"


def _post(relpath: str, front: str, body: str) -> Post:
    result = parse_post(relpath, post_text(front, body).encode(), SETTINGS)
    assert isinstance(result, Post), result
    return result


def _two_posts_with_one_body() -> list[Post]:
    return [_post("_posts/2026-02-01-a.md", "title: Alpha\ndate: 2026-02-01", BODY),
            _post("_posts/2025-03-01-b.md", "title: Beta\ndate: 2025-03-01\nx: 1", BODY)]


def test_a_compiled_template_reused_gives_what_a_fresh_compile_gives(monkeypatch):
    with monkeypatch.context() as fresh_compiles:  # as before the cache: every body compiled anew
        fresh_compiles.setattr(templating, "_compiled", lambda text: templating._environment()[0].from_string(text))
        fresh = _two_posts_with_one_body()
    templating._compiled.cache_clear()
    cached = _two_posts_with_one_body()  # the second post's body comes from the cache
    assert templating._compiled.cache_info().hits > 0
    assert cached == fresh
    assert "Alpha on 2026" in cached[0].content_html and "Beta on 2025" in cached[1].content_html
    assert [post.references[0][1] for post in cached] == [5, 6]  # each post's own line, from one template
    assert [[w.line for w in post.warnings] for post in cached] == [[6], [7]]  # the unclosed `if`


def test_a_body_without_a_separator_is_its_own_excerpt_rendered_once(monkeypatch):
    from feedsvc.content import parsing

    sources: list[str] = []
    plain = parsing._html
    monkeypatch.setattr(parsing, "_html", lambda source, *rest: sources.append(source) or plain(source, *rest))
    post = _post("_posts/2026-02-01-one.md", "title: One\ndate: 2026-02-01", "A single paragraph, [a link](/x/).\n")
    assert len(sources) == 1
    assert post.summary_html == post.content_html == \
        '<p>A single paragraph, <a href="https://example.org/x/">a link</a>.</p>'


_MARKDOWN_PIECES = (">", "> ", "-", "- ", "* ", "+ ", "1. ", "12) ", " ", "  ", "    ", "\n", "\n\n", "[", "]",
                    "[a](b)", "word ", "*em*", "`x`", "<b>", "```\n", "|", " | ", "---", "\t", "_", "#")


def test_the_quick_bound_on_nesting_agrees_with_the_line_by_line_pass(monkeypatch):
    """check_markdown skips its line pass when a bound at C speed shows the text is within every limit:
    it accepts and refuses exactly what the line pass does (tight limits make both answers common)."""
    import random

    from feedsvc.content import limits

    tight = limits.MarkupLimits(depth=8, elements=60)
    rng = random.Random(7)
    quick = refused = 0

    def verdict(text: str) -> str:
        try:
            limits.check_markdown(text, tight)
        except Exception as exc:  # noqa: BLE001 - the refusal's message is compared
            return str(exc)
        return "ok"

    for _ in range(4000):
        text = "".join(rng.choice(_MARKDOWN_PIECES) for _ in range(rng.randint(1, 250)))
        bound = limits.container_bound(text)
        if bound is not None:
            assert limits.measure(text).depth <= 2 * bound + text.count("["), text
        with monkeypatch.context() as line_pass_only:
            line_pass_only.setattr(limits, "container_bound", lambda text: None)
            expected = verdict(text)
        assert verdict(text) == expected, text
        quick += bound is not None and 2 * bound + text.count("[") <= tight.depth
        refused += expected != "ok"
    assert quick > 50 and refused > 400
