"""The naive Python baseline: what a first script would do, with no cache and every post rendered.

python-frontmatter reads each post, Python-Markdown renders every body, feedgen writes RSS
and Atom (and `json` the JSON Feed) for the site and every category, tag and author, 20
newest entries each with full content: the same feeds `feedsvc build` writes.

    python -m bench.naive_build --content DIR --out DIR
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import frontmatter
import markdown
import yaml
from feedgen.feed import FeedGenerator

LIMIT = 20


@dataclass(frozen=True, slots=True)
class Entry:
    title: str
    url: str
    date: datetime
    author: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    summary: str
    html: str


def slugify(name: str) -> str:
    return re.sub(r"[\W_]+", "-", name.lower()).strip("-")


def parse_date(value: object, path: Path) -> datetime:
    """The front matter date (as YAML or as text with a zone), else the file name's date at noon UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    for pattern in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M %z", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(str(value).strip(), pattern)  # noqa: DTZ007 (zone added below)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.strptime(path.name[:10], "%Y-%m-%d").replace(hour=12, tzinfo=UTC)


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def read_entry(path: Path, site_url: str) -> Entry:
    post = frontmatter.load(path)
    date = parse_date(post.get("date"), path)
    slug = path.stem[11:]
    return Entry(
        title=str(post["title"]),
        url=f"{site_url}/{date:%Y/%m/%d}/{slug}.html",
        date=date,
        author=str(post.get("author", "")),
        categories=_names(post.get("categories", post.get("category", ()))),
        tags=_names(post.get("tags", ())),
        summary=str(post.get("excerpt", "")),
        html=markdown.markdown(post.content, extensions=["fenced_code", "tables"]),
    )


def group_scopes(entries: list[Entry]) -> dict[str, list[Entry]]:
    """Scope folder ("" for the site) -> its entries, newest first."""
    scopes: dict[str, list[Entry]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e.date, reverse=True):
        scopes[""].append(entry)
        for category in entry.categories:
            scopes[f"categories/{slugify(category)}/"].append(entry)
        for tag in entry.tags:
            scopes[f"tags/{slugify(tag)}/"].append(entry)
        if entry.author:
            scopes[f"authors/{slugify(entry.author)}/"].append(entry)
    return scopes


def render_xml(scope: str, entries: list[Entry], config: dict, site_url: str) -> tuple[bytes, bytes]:
    fg = FeedGenerator()
    fg.id(f"{site_url}/{scope}")
    fg.title(f"{config.get('title', 'Site')} {scope}".strip())
    fg.link(href=f"{site_url}/{scope}", rel="alternate")
    fg.description(config.get("description") or "feed")
    for entry in entries[:LIMIT]:
        fe = fg.add_entry(order="append")
        fe.id(entry.url)
        fe.title(entry.title)
        fe.link(href=entry.url)
        fe.published(entry.date)
        fe.updated(entry.date)
        fe.author(name=entry.author)
        fe.summary(entry.summary)
        fe.content(entry.html, type="CDATA")
        for term in entry.categories + entry.tags:
            fe.category(term=term)
    return fg.rss_str(pretty=True), fg.atom_str(pretty=True)


def render_json(scope: str, entries: list[Entry], config: dict, site_url: str) -> bytes:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"{config.get('title', 'Site')} {scope}".strip(),
        "home_page_url": f"{site_url}/{scope}",
        "items": [
            {"id": e.url, "url": e.url, "title": e.title, "content_html": e.html, "summary": e.summary,
             "date_published": e.date.isoformat(), "authors": [{"name": e.author}],
             "tags": list(e.categories + e.tags)}
            for e in entries[:LIMIT]
        ],
    }
    return json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8")


def build(content: Path, out: Path) -> int:
    """Write every feed; returns how many files were written."""
    config = yaml.safe_load((content / "_config.yml").read_text(encoding="utf-8")) or {}
    site_url = str(config.get("url", "http://localhost")).rstrip("/")
    entries = [read_entry(path, site_url) for path in sorted((content / "_posts").iterdir())
               if path.suffix in (".md", ".markdown")]
    written = 0
    for scope, scoped in group_scopes(entries).items():
        folder = out / scope
        folder.mkdir(parents=True, exist_ok=True)
        rss, atom = render_xml(scope, scoped, config, site_url)
        (folder / "rss.xml").write_bytes(rss)
        (folder / "atom.xml").write_bytes(atom)
        (folder / "feed.json").write_bytes(render_json(scope, scoped, config, site_url))
        written += 3
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="naive baseline feed build")
    parser.add_argument("--content", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    written = build(args.content, args.out)
    print(f"wrote {written} feeds to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
