"""The differential harness: one site built by real Jekyll (+ jekyll-feed) and by feedsvc, Atom compared.

A fixture site is copied into a temporary folder, adjusted so real Jekyll can build it on this machine
(each adjustment is named by the fixture that makes it), then built twice: `jekyll build` writes
jekyll-feed's `feed.xml`, `feedsvc build` writes `atom.xml`. Both are parsed with lxml into `Entry`
values, paired post by post, and compared field by field; a difference is a readable line naming the
post, the field and both values.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import lxml.html
import yaml
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
SITES = Path(__file__).resolve().parent / "jekyll" / "sites"  # the small sites written for one rule each
CORPORA = ROOT.parent / "shared" / "corpora"
JEKYLL_FEED_GEMS = Path("/usr/share/rubygems-integration/all/gems")

_ATOM = "{http://www.w3.org/2005/Atom}"
_MEDIA = "{http://search.yahoo.com/mrss/}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_SPACE = re.compile(r"\s+")

#: Every field compared, in the order a report lists them.
FIELDS = ("posts", "id", "link", "title", "published", "updated", "authors", "categories", "summary",
          "content", "markup", "image", "language")


def jekyll_available() -> bool:
    """Whether `jekyll` and the jekyll-feed gem are installed (Debian: jekyll, ruby-jekyll-feed)."""
    if shutil.which("jekyll") is None:
        return False
    probe = subprocess.run(["ruby", "-e", "require 'jekyll-feed'"], capture_output=True, check=False)
    return probe.returncode == 0


# -- fixture sites --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fixture:
    """A site to build with both: where it comes from and what is changed so Jekyll builds it here."""

    name: str
    source: Path
    adjustments: tuple[str, ...] = ()  # each change made to the copy, in words (the test names them)
    adjust: Callable[[Path, dict[str, Any]], None] | None = None  # changes the copy and its config
    category_feeds: tuple[str, ...] = ()  # jekyll-feed's `feed: categories`, compared too


def _config(root: Path) -> dict[str, Any]:
    path = root / "_config.yml"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return loaded if isinstance(loaded, dict) else {}


def prepare(fixture: Fixture, into: Path) -> Path:
    """A copy of the fixture site with jekyll-feed as its one plugin and no feed length limit."""
    site = into / fixture.name
    shutil.copytree(fixture.source, site, symlinks=True)
    config = _config(site)
    if fixture.adjust is not None:
        fixture.adjust(site, config)
    config["plugins"] = ["jekyll-feed"]
    feed = config.get("feed") if isinstance(config.get("feed"), dict) else {}
    feed["posts_limit"] = 10_000  # jekyll-feed lists 10 by default; every post is compared
    config["feed"] = feed
    (site / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return site


def build_with_jekyll(site: Path, out: Path) -> None:
    """`jekyll build` (plugins from the site's `_plugins` allowed, as the site's owner builds it)."""
    result = subprocess.run(
        ["jekyll", "build", "--quiet", "--disable-disk-cache", "--source", str(site), "--destination", str(out)],
        capture_output=True, text=True, check=False, timeout=300, env=_clean_env(),
    )
    if result.returncode != 0 or not (out / "feed.xml").is_file():
        raise RuntimeError(f"jekyll build of {site.name} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def build_with_feedsvc(site: Path, out: Path) -> None:
    """`feedsvc build`, the command a site owner runs."""
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc", "build", "--content", str(site), "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=300, cwd=ROOT, env=_clean_env(),
    )
    if result.returncode != 0 or not (out / "atom.xml").is_file():
        raise RuntimeError(f"feedsvc build of {site.name} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("FEEDSVC_", "JEKYLL_"))}


@dataclass(frozen=True, slots=True)
class Built:
    """One fixture's feeds as each program wrote them: feed name ("" for the site) -> Atom bytes."""

    jekyll: Mapping[str, bytes]
    feedsvc: Mapping[str, bytes]


def build_both(fixture: Fixture, workdir: Path) -> Built:
    site = prepare(fixture, workdir)
    jekyll_out, feedsvc_out = workdir / f"{fixture.name}-jekyll", workdir / f"{fixture.name}-feedsvc"
    build_with_jekyll(site, jekyll_out)
    build_with_feedsvc(site, feedsvc_out)
    jekyll = {"": (jekyll_out / "feed.xml").read_bytes()}
    ours = {"": (feedsvc_out / "atom.xml").read_bytes()}
    for category in fixture.category_feeds:
        jekyll[category] = (jekyll_out / "feed" / f"{category}.xml").read_bytes()
        mine = feedsvc_out / "categories" / category / "atom.xml"
        ours[category] = mine.read_bytes() if mine.is_file() else b""
    return Built(jekyll, ours)


# -- entries --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One Atom entry, reduced to what a reader shows, so two programs' entries can be compared."""

    id: str
    link: str
    title: str
    published: str
    updated: str
    authors: tuple[tuple[str, str, str], ...]  # (name, email, uri)
    categories: tuple[str, ...]  # category and tag terms, sorted, once each
    summary: str
    content: str
    markup: Mapping[str, Any] = field(hash=False)
    image: str
    language: str

    def value(self, name: str) -> Any:
        return getattr(self, name)


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def html_text(fragment: str) -> str:
    """An HTML fragment as the text a reader sees, white space normalised."""
    if not fragment.strip():
        return ""
    tree = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in list(tree.iter("script", "style")):
        element.drop_tree()
    return normalise(tree.text_content())


def markup_features(fragment: str) -> dict[str, Any]:
    """The parts of a body's markup that matter to a reader beyond its text."""
    if not fragment.strip():
        return {"footnotes": 0, "tables": 0, "code_blocks": 0, "header_ids": ()}
    tree = lxml.html.fragment_fromstring(fragment, create_parent="div")
    notes = tree.xpath('.//div[contains(concat(" ", @class, " "), " footnotes ")]//li'
                       ' | .//section[contains(concat(" ", @class, " "), " footnotes ")]//li')
    return {
        "footnotes": len(notes),
        "tables": len(tree.xpath(".//table")),
        "code_blocks": len(tree.xpath(".//pre")),
        "header_ids": tuple(h.get("id", "") for h in tree.xpath(".//h1|.//h2|.//h3|.//h4|.//h5|.//h6")),
    }


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    if element.get("type") in ("html", "text/html"):
        return html_text(element.text or "")
    if element.get("type") == "xhtml":
        return normalise("".join(element.itertext()))
    return normalise(element.text or "")


def _instant(value: str) -> str:
    """An RFC 3339 time as one spelling (offset kept: both programs show times in the site's zone)."""
    return datetime.fromisoformat(value.strip()).isoformat() if value.strip() else ""


def parse_atom(body: bytes) -> list[Entry]:
    if not body:
        return []
    root = etree.fromstring(body)
    feed_lang = root.get(_XML_LANG, "")
    entries = []
    for entry in root.iterfind(f"{_ATOM}entry"):
        alternate = next((link.get("href", "") for link in entry.iterfind(f"{_ATOM}link")
                          if link.get("rel", "alternate") == "alternate"), "")
        image = entry.find(f"{_MEDIA}thumbnail")
        image_url = image.get("url", "") if image is not None else next(
            (link.get("href", "") for link in entry.iterfind(f"{_ATOM}link") if link.get("rel") == "enclosure"), "")
        content = entry.find(f"{_ATOM}content")
        content_html = (content.text or "") if content is not None else ""
        authors = tuple(
            (normalise(a.findtext(f"{_ATOM}name") or ""), (a.findtext(f"{_ATOM}email") or "").strip(),
             (a.findtext(f"{_ATOM}uri") or "").strip())
            for a in entry.iterfind(f"{_ATOM}author"))
        entries.append(Entry(
            id=(entry.findtext(f"{_ATOM}id") or "").strip(),
            link=alternate,
            title=_text(entry.find(f"{_ATOM}title")),
            published=_instant(entry.findtext(f"{_ATOM}published") or ""),
            updated=_instant(entry.findtext(f"{_ATOM}updated") or ""),
            authors=authors,
            categories=tuple(sorted({c.get("term", "") for c in entry.iterfind(f"{_ATOM}category")})),
            summary=_text(entry.find(f"{_ATOM}summary")),
            content=html_text(content_html),
            markup=markup_features(content_html),
            image=image_url,
            language=entry.get(_XML_LANG) or feed_lang,
        ))
    return entries


# -- pairing and comparing ------------------------------------------------------------------------


def _bare(url: str) -> str:
    return url.rstrip("/").removesuffix(".html").removesuffix("/index")


def pair(jekyll: Sequence[Entry], ours: Sequence[Entry]) -> tuple[list[tuple[Entry, Entry]], list[Entry], list[Entry]]:
    """Jekyll's entries paired with ours (same link, else same id, else same date and title, else same
    title); then Jekyll's entries we lack, and ours Jekyll lacks."""
    left, right = list(jekyll), list(ours)
    pairs: list[tuple[Entry, Entry]] = []
    keys: tuple[Callable[[Entry], Any], ...] = (
        lambda e: e.link,
        lambda e: _bare(e.id),
        lambda e: (e.published, e.title.casefold()),
        lambda e: e.title.casefold(),
        lambda e: _bare(e.link).rsplit("/", 1)[-1],
    )
    for key in keys:
        by_key: dict[Any, list[Entry]] = {}
        for entry in right:
            by_key.setdefault(key(entry), []).append(entry)
        still: list[Entry] = []
        for entry in left:
            found = by_key.get(key(entry))
            if found and len(found) == 1:
                match = found.pop()
                right.remove(match)
                pairs.append((entry, match))
            else:
                still.append(entry)
        left = still
    order = {id(e): i for i, e in enumerate(jekyll)}
    pairs.sort(key=lambda p: order[id(p[0])])
    return pairs, left, right


def _shown(value: Any, other: Any) -> str:
    """A value as a report shows it: long texts from a little before where they stop agreeing."""
    if isinstance(value, str) and isinstance(other, str) and len(value) > 160:
        start = next((i for i, (a, b) in enumerate(zip(value, other, strict=False)) if a != b),
                     min(len(value), len(other)))
        start = max(start - 60, 0)
        return ("..." if start else "") + repr(value[start:start + 160]) + ("..." if start + 160 < len(value) else "")
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def differences(field_name: str, jekyll: Sequence[Entry], ours: Sequence[Entry]) -> list[str]:
    """Every difference in one field, one readable line each (empty when the programs agree)."""
    pairs, missing, extra = pair(jekyll, ours)
    if field_name == "posts":
        found = [f"missing (Jekyll lists it, feedsvc does not): {e.link} {e.title!r}" for e in missing]
        found += [f"extra (feedsvc lists it, Jekyll does not): {e.link} {e.title!r}" for e in extra]
        return found + _order_differences(pairs, ours)
    found = []
    for theirs, mine in pairs:
        expected, actual = _compared(field_name, theirs), _compared(field_name, mine, theirs)
        if expected != actual:
            found.append(f"{theirs.link}: {field_name}\n    jekyll:  {_shown(expected, actual)}"
                         f"\n    feedsvc: {_shown(actual, expected)}")
    return found


def _compared(field_name: str, entry: Entry, jekyll_entry: Entry | None = None) -> Any:
    value = entry.value(field_name)
    if field_name == "authors" and jekyll_entry is not None:
        # Deliberate: jekyll-feed names a post's first author only; feedsvc names every one. The first must agree.
        # Deliberate: with no author anywhere jekyll-feed writes an empty <name>; feedsvc names the site.
        return value[:1] if jekyll_entry.authors[:1] != (("", "", ""),) else jekyll_entry.authors[:1]
    return value


def _order_differences(pairs: Iterable[tuple[Entry, Entry]], ours: Sequence[Entry]) -> list[str]:
    """Ours must list the paired posts in Jekyll's order; posts published at the same instant may swap."""
    position = {id(e): i for i, e in enumerate(ours)}
    listed = [(position[id(mine)], theirs) for theirs, mine in pairs]
    found = []
    for (before, a), (after, b) in zip(listed, listed[1:], strict=False):
        if after < before and a.published != b.published:
            found.append(f"order: Jekyll lists {a.link} before {b.link}; feedsvc lists it after")
    return found
