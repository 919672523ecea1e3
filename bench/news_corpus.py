"""A second, realistic corpus: the Jekyll project's own news posts, replicated with varied dates and slugs.

bench's generated corpus is regular (same shape, ~600 words, one code block per post). Real posts
vary: long release notes, Liquid tags, reference links, tables, footnotes. `jekyll-news` (102 real
posts, /work/shared/corpora or $FEEDSVC_NEWS_CORPUS) is copied until there are N posts: copy 0 is the
original, copy k moves every post k * ~5 weeks back (with a jitter) and adds `-k` to its slug, so
`{% post_url %}` and `{% link %}` tags still find the originals. The same posts are written for Hugo.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .gen_corpus import CORPORA

GENERATOR_VERSION = "1"
DEFAULT_SOURCE = Path("/work/shared/corpora/jekyll-news")
_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)\.(markdown|md)$")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?\s*(?:([+-])(\d{2}):?(\d{2}))?")
_FIELD = re.compile(r"^(\w+):\s*(.*)$")


def source_folder() -> Path:
    return Path(os.environ.get("FEEDSVC_NEWS_CORPUS", DEFAULT_SOURCE))


def news_dir(count: int) -> Path:
    return CORPORA / f"news-n{count}"


def _split(text: str) -> tuple[list[str], str]:
    """Front matter lines and the body (every source post starts with `---`)."""
    _, front, body = text.split("---\n", 2)
    return front.splitlines(), body


def _original_date(front: list[str], name: re.Match[str]) -> datetime:
    """The post's date from its front matter (zone kept), else its file name; the site's zone is -0800."""
    pacific = timezone(timedelta(hours=-8))
    for line in front:
        if line.startswith("date:"):
            found = _DATE.search(line)
            if found:
                y, mo, d, h, mi, s, sign, zh, zm = found.groups()
                zone = pacific if sign is None else timezone(
                    (1 if sign == "+" else -1) * timedelta(hours=int(zh), minutes=int(zm)))
                return datetime(int(y), int(mo), int(d), int(h or 12), int(mi or 0), int(s or 0), tzinfo=zone)
    return datetime(int(name[1]), int(name[2]), int(name[3]), 12, tzinfo=pacific)


def _field(front: list[str], key: str) -> str | None:
    for line in front:
        found = _FIELD.match(line)
        if found and found[1] == key:
            return found[2].strip().strip("\"'")
    return None


def _hugo_text(front: list[str], date: datetime, body: str) -> str:
    title = _field(front, "title") or "Untitled"
    author = _field(front, "author") or ""
    category = _field(front, "category")
    lines = ["---", f"title: {json.dumps(title)}", f"date: {date.isoformat()}", f"author: {json.dumps(author)}"]
    if category:
        lines.append(f"categories: [{json.dumps(category)}]")
    return "\n".join(lines) + "\n---\n" + body


def write_news_corpus(root: Path, count: int, source: Path) -> str:
    """Write `jekyll/` and `hugo/content/posts/` under `root`; returns the digest of every file written."""
    digest = hashlib.sha256()
    originals = sorted(p for p in (source / "_posts").iterdir() if _NAME.match(p.name))
    if not originals:
        raise RuntimeError(f"no posts in {source / '_posts'}")
    jekyll, hugo = root / "jekyll", root / "hugo" / "content" / "posts"
    (jekyll / "_posts").mkdir(parents=True)
    hugo.mkdir(parents=True)
    shutil.copyfile(source / "_config.yml", jekyll / "_config.yml")
    digest.update((source / "_config.yml").read_bytes())
    rng = random.Random(count)
    written = 0
    copy = 0
    while written < count:
        shift = timedelta(days=35 * copy + (rng.randint(0, 20) if copy else 0), minutes=rng.randint(0, 600) * copy)
        for path in originals:
            if written == count:
                break
            name = _NAME.match(path.name)
            assert name is not None
            front, body = _split(path.read_text(encoding="utf-8"))
            date = _original_date(front, name) - shift
            slug = name[4] if copy == 0 else f"{name[4]}-{copy}"
            new_front = [f"date: {date.strftime('%Y-%m-%d %H:%M:%S %z')}" if line.startswith("date:") else line
                         for line in front]
            jekyll_text = "---\n" + "\n".join(new_front) + "\n---\n" + body
            _write(jekyll / "_posts" / f"{date:%Y-%m-%d}-{slug}.{name[5]}", jekyll_text, digest)
            _write(hugo / f"{date:%Y-%m-%d}-{slug}.md", _hugo_text(front, date, body), digest)
            written += 1
        copy += 1
    return digest.hexdigest()


def _write(path: Path, text: str, digest: hashlib._Hash) -> None:
    data = text.encode("utf-8")
    digest.update(path.name.encode() + b"\0" + data)
    path.write_bytes(data)


def ensure_news_corpus(count: int) -> tuple[Path, str]:
    """The replicated news corpus of `count` posts, generated once and reused; returns (folder, digest)."""
    root = news_dir(count)
    stamp = root / "COMPLETE"
    if stamp.is_file():
        version, _, digest = stamp.read_text().strip().partition(" ")
        if version == GENERATOR_VERSION:
            return root, digest
    shutil.rmtree(root, ignore_errors=True)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    digest = write_news_corpus(partial, count, source_folder())
    (partial / "COMPLETE").write_text(f"{GENERATOR_VERSION} {digest}\n")
    partial.rename(root)
    return root, digest
