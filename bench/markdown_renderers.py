"""Which Markdown renderer comes closest to Jekyll's kramdown, and at what speed.

Run: `.venv/bin/python -m bench.markdown_renderers` (needs `jekyll` on PATH and the candidates installed:
mdit-py-plugins and mistune are not feedsvc dependencies, only candidates). Fidelity is the share of
documents (our feature snippets, then the shared Jekyll corpora's posts) whose HTML tree equals real
Jekyll's; speed is posts per second over the jekyll-news bodies, the median of several runs, with the
ratio to today's cmarkgfm measured in the same run.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import kramdown_oracle as oracle  # noqa: E402

Renderer = Callable[[str], str]
RUNS = 7


def _cmarkgfm() -> Renderer:
    from cmarkgfm import cmark

    options = cmark.Options.CMARK_OPT_UNSAFE | cmark.Options.CMARK_OPT_FOOTNOTES | cmark.Options.CMARK_OPT_SMART
    extensions = ["table", "strikethrough", "autolink", "tasklist"]
    return lambda text: cmark.markdown_to_html_with_extensions(text, options=options, extensions=extensions)


def _markdown_it() -> Renderer:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.anchors import anchors_plugin
    from mdit_py_plugins.attrs import attrs_block_plugin, attrs_plugin
    from mdit_py_plugins.deflist import deflist_plugin
    from mdit_py_plugins.footnote import footnote_plugin

    md = (MarkdownIt("commonmark", {"typographer": True, "html": True})
          .enable(["table", "strikethrough", "replacements", "smartquotes"])
          .use(footnote_plugin).use(deflist_plugin).use(attrs_plugin).use(attrs_block_plugin)
          .use(anchors_plugin, max_level=6))
    return md.render


def _python_markdown() -> Renderer:
    import markdown

    md = markdown.Markdown(extensions=["extra", "smarty", "toc", "sane_lists"])

    def render(text: str) -> str:
        md.reset()
        return md.convert(text)
    return render


def _mistune() -> Renderer:
    import mistune

    return mistune.create_markdown(escape=False, plugins=["strikethrough", "footnotes", "table", "url", "def_list",
                                                          "abbr", "task_lists"])


def _feedsvc_gfm() -> Renderer:
    from feedsvc.content.markup import render_markdown

    return render_markdown


def _feedsvc() -> Renderer:
    from feedsvc.content.kramdown import KramdownOptions
    from feedsvc.content.markup import render_markdown

    options = KramdownOptions()
    return lambda text: render_markdown(text, options)


CANDIDATES: dict[str, Callable[[], Renderer]] = {
    "feedsvc before (cmarkgfm, GFM)": _feedsvc_gfm,
    "feedsvc kramdown (cmarkgfm + passes)": _feedsvc,
    "cmarkgfm (footnotes, smart)": _cmarkgfm,
    "markdown-it-py + mdit-py-plugins": _markdown_it,
    "Python-Markdown (extra, smarty, toc)": _python_markdown,
    "mistune 3 + plugins": _mistune,
}


def fidelity(render: Renderer, documents: dict[str, str], expected: dict[str, str]) -> float:
    equal = sum(oracle.tree_of(render(text)) == oracle.tree_of(expected[name]) for name, text in documents.items())
    return equal / len(documents)


def speed(render: Renderer, bodies: list[str]) -> float:
    timings = []
    for body in bodies:  # warm up
        render(body)
    for _ in range(RUNS):
        start = time.perf_counter()
        for body in bodies:
            render(body)
        timings.append(time.perf_counter() - start)
    return len(bodies) / statistics.median(timings)


def main() -> None:
    snippets, corpus = oracle.snippets(), oracle.corpus_bodies()
    expected_snippets, expected_corpus = oracle.render_with_jekyll(snippets), oracle.render_with_jekyll(corpus)
    news = [body for name, body in corpus.items() if name.startswith("jekyll-news/")]
    baseline = speed(_cmarkgfm(), news)
    print(f"{len(snippets)} snippets, {len(corpus)} corpus posts, speed over {len(news)} jekyll-news posts")
    print(f"{'renderer':40} {'snippets':>9} {'corpus':>7} {'posts/s':>9} {'vs cmark':>9}")
    for name, make in CANDIDATES.items():
        render = make()
        rate = speed(render, news)
        print(f"{name:40} {fidelity(render, snippets, expected_snippets):9.0%} "
              f"{fidelity(render, corpus, expected_corpus):7.0%} {rate:9,.0f} {rate / baseline:8.2f}x")


if __name__ == "__main__":
    main()
