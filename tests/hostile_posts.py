"""Markdown shaped to exhaust a renderer: huge tables, deep nesting, floods of elements.

Each maker returns the body of one post (front matter not included); `hostile_site` lays out the
site of issue 12 (60 posts, 10 of them hostile). Used by tests/test_hostile_content.py and by
bench/hostile.py, which measures what such a site costs to build.
"""

from __future__ import annotations

from pathlib import Path

CONFIG = "title: Hostile\nurl: https://example.org\ntimezone: UTC\n"


def table(columns: int, rows: int) -> str:
    """A GFM table of `columns` x `rows` short cells (300 x 3,000 is 900,000 cells in 2.7 MB)."""
    header = "|" + "|".join(f"h{c}" for c in range(columns)) + "|\n"
    rule = "|" + "|".join("-" for _ in range(columns)) + "|\n"
    row = "|" + "|".join("x" for _ in range(columns)) + "|\n"
    return header + rule + row * rows


def nested_list(depth: int) -> str:
    """A bulleted list nested `depth` levels deep, each level indented two more spaces."""
    return "".join("  " * level + f"- item {level}\n" for level in range(depth))


def nested_quotes(depth: int) -> str:
    """One line inside `depth` block quotes."""
    return ">" * depth + " deep\n"


def nested_brackets(depth: int) -> str:
    """Link brackets opened `depth` times: CommonMark's link search on them is the classic blow-up."""
    return "[" * depth + "x" + "](u)" * depth + "\n"


def element_flood(count: int) -> str:
    """`count` tiny paragraphs with a link each: no deep shape, just very many elements."""
    return "".join(f"[a](/p{i})\n\n" for i in range(count))


def post(title: str, day: int, body: str) -> str:
    return f"---\ntitle: {title}\ndate: 2026-01-{day:02d} 10:00:00 +0000\ntags: [t{day % 3}]\n---\n{body}"


def hostile_site(root: Path, good: int = 50, tables: int = 5, lists: int = 5,
                 columns: int = 300, rows: int = 3_000, depth: int = 1_500) -> dict[str, str]:
    """Write issue 12's site under `root`: `good` plain posts, `tables` huge tables, `lists` deep lists.

    Returns {relative path: kind} for the hostile posts."""
    posts = root / "_posts"
    posts.mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text(CONFIG, encoding="utf-8")
    for i in range(good):
        name = f"_posts/2025-{1 + i % 12:02d}-{1 + i % 28:02d}-good-{i}.md"
        (root / name).write_text(post(f"Good {i}", 1 + i % 28, f"Paragraph {i} with *emphasis*.\n"), encoding="utf-8")
    hostile: dict[str, str] = {}
    shapes = [("table", table(columns, rows))] * tables + [("list", nested_list(depth))] * lists
    for i, (kind, body) in enumerate(shapes):
        name = f"_posts/2026-01-{1 + i:02d}-hostile-{kind}-{i}.md"
        (root / name).write_text(post(f"Hostile {kind} {i}", 1 + i, body), encoding="utf-8")
        hostile[name] = kind
    return hostile
