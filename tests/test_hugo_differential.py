"""Real Hugo is the reference: each fixture site is built by `hugo` and by feedsvc, and their feeds compared.

Hugo builds each fixture once per session, with its built-in RSS template and no theme. Its home feed lists
every regular page, so the entries expected of feedsvc's site feed are the ones a theme lists as posts: the
pages of the main sections, which the harness asks Hugo itself for (a one-line `layouts/index.html` printing
`where site.RegularPages "Section" "in" site.Params.mainSections`), in the order of Hugo's feed.

Compared, entry by entry: which posts and in what order, link, guid, title, date (pubDate) and the summary
(description as text, whitespace collapsed). A field not matched yet on a fixture is one row of
KNOWN_DIFFERENCES, which the test also checks is still different: the table can only shrink.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from conftest import SHARED, require_tool
from lxml import etree
from lxml import html as lxml_html

from feedsvc.config import ConfigError
from feedsvc.pipeline.refresh import Refresher, SnapshotStore

FIXTURES = Path(__file__).resolve().parent / "data" / "hugo"
STACK_DEMO = SHARED / "corpora" / "hugo-stack-demo"

#: The harness's one addition to every fixture: Hugo prints the links of the pages of its main sections.
MAIN_SECTION_PAGES = ('{{ range where .Site.RegularPages "Section" "in" .Site.Params.mainSections }}'
                      '{{ .Permalink }}\n{{ end }}')

FIELDS = ("posts", "order", "link", "guid", "title", "date", "summary")

#: (field, feed) -> why feedsvc differs from Hugo there today; a feed is a fixture's name (its default
#: language) or `<fixture>/<language prefix>`. Each row must still differ (the test says when one can go);
#: the table shrinks as Hugo's rules land.
_SAME_DATE = "posts of the same date: Hugo orders them by weight, then title (with its language's collation); " \
             "feedsvc by file path"
_LINE_NUMBERS = "Hugo's highlighter numbers a code block's lines ([markup.highlight] lineNos), feedsvc's Markdown " \
                "renderer does not"
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    **{(field, f"stack-demo/{language}"): _SAME_DATE
       for field in ("order", "link", "guid") for language in ("ja", "zh")},
    **{("summary", f"stack-demo/{language}"): _LINE_NUMBERS for language in ("ja", "zh", "zh-hant-tw")},
}


def _stack_demo(root: Path) -> None:
    """hugo-stack-demo without its theme (see its SOURCE.md): the `[[module.imports]]` block is removed
    from config/_default/hugo.toml, the theme's shortcodes get one-line stand-ins in layouts/shortcodes/,
    and the RSS limit is lifted so every post is listed."""
    config = root / "config" / "_default" / "hugo.toml"
    text = re.sub(r"\[\[module\.imports\]\]\n\s*path\s*=.*\n", "", config.read_text(encoding="utf-8"))
    config.write_text(text + "\nrssLimit = -1\n", encoding="utf-8")
    shortcodes = root / "layouts" / "shortcodes"
    shortcodes.mkdir(parents=True)
    (shortcodes / "quote.html").write_text("{{ .Inner }}")
    for name in ("video", "tencent", "gitlab", "bilibili"):
        (shortcodes / f"{name}.html").write_text("{{ .Get 0 }}")


#: name -> (source folder, the adjustment made to a copy before both builds, or None)
SITES: dict[str, tuple[Path, Callable[[Path], None] | None]] = {
    "blog": (FIXTURES / "blog", None),
    "config-dir": (FIXTURES / "config-dir", None),
    "multilingual": (FIXTURES / "multilingual", None),
    "stack-demo": (STACK_DEMO, _stack_demo),
}


@dataclass(frozen=True, slots=True)
class Entry:
    link: str
    guid: str
    title: str
    date: datetime
    summary: str


@dataclass(frozen=True, slots=True)
class Build:
    """One fixture as Hugo and as feedsvc see it: the site feed of each language, entries in feed order."""

    hugo: dict[str, list[Entry]]  # language prefix ("" for the default language) -> entries
    feedsvc: dict[str, list[Entry]]
    hugo_languages: dict[str, str]  # language prefix -> the feed's <language> ("" for none)
    feedsvc_languages: dict[str, str]


def _text(fragment: str) -> str:
    """What a reader shows of an HTML fragment: its text, entities resolved, whitespace collapsed."""
    if not fragment.strip():
        return ""
    text = lxml_html.fragment_fromstring(fragment, create_parent="div").text_content()
    return " ".join(html.unescape(text).split())


def _language(rss: bytes) -> str:
    return etree.fromstring(rss).findtext("channel/language") or ""


def _entries(rss: bytes) -> list[Entry]:
    channel = etree.fromstring(rss).find("channel")
    assert channel is not None
    return [Entry(link=item.findtext("link") or "", guid=item.findtext("guid") or "",
                  title=item.findtext("title") or "", date=parsedate_to_datetime(item.findtext("pubDate") or ""),
                  summary=_text(item.findtext("description") or ""))
            for item in channel.iter("item")]


def _hugo_build(root: Path, out: Path) -> tuple[dict[str, list[Entry]], dict[str, str]]:
    """Hugo's site feed of each language (by its prefix, "" for the default), cut to its main sections' pages."""
    home_layout = root / "layouts" / "index.html"
    home_layout.parent.mkdir(exist_ok=True)
    home_layout.write_text(MAIN_SECTION_PAGES, encoding="utf-8")
    subprocess.run(["hugo", "--quiet", "--source", str(root), "--destination", str(out)], check=True,
                   capture_output=True, timeout=120)
    home_layout.unlink()  # feedsvc reads the same copy next
    feeds: dict[str, list[Entry]] = {}
    languages: dict[str, str] = {}
    for home in [out / "index.html", *sorted(out.glob("*/index.html"))]:
        feed = home.parent / "index.xml"
        words = home.read_text(encoding="utf-8").split() if home.is_file() else ["-"]
        if not feed.is_file() or not all(word.startswith(("http://", "https://")) for word in words):
            continue  # not a language's home page (Hugo's redirect pages are HTML)
        prefix = home.parent.relative_to(out).as_posix().strip(".")
        feeds[prefix] = [entry for entry in _entries(feed.read_bytes()) if entry.link in set(words)]
        languages[prefix] = _language(feed.read_bytes())
    return feeds, languages


def _feedsvc_build(root: Path, languages: list[str]) -> tuple[dict[str, list[Entry]], dict[str, str]]:
    """feedsvc's site feed of each language; none at all when it cannot read the site (the error is the
    difference every field then shows)."""
    refresher = Refresher(SnapshotStore(), root, {}, clock=lambda: datetime.now(UTC))
    try:
        refresher.refresh()
    except ConfigError:
        return {prefix: [] for prefix in languages}, {}
    resources = refresher.store.snapshot.resources
    feeds: dict[str, list[Entry]] = {}
    tags: dict[str, str] = {}
    for prefix in languages:
        path = f"/{prefix}/rss.xml" if prefix else "/rss.xml"
        feeds[prefix] = _entries(resources[path].body) if path in resources else []
        tags[prefix] = _language(resources[path].body) if path in resources else ""
    return feeds, tags


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Build]]:
    """Each fixture built by Hugo and by feedsvc once, on first use."""
    done: dict[str, Build] = {}

    def build(name: str) -> Build:
        if name not in done:
            source, adjust = SITES[name]
            if not source.is_dir():
                pytest.skip(f"{source} is not here")
            root = tmp_path_factory.mktemp(name) / "site"
            shutil.copytree(source, root)
            if adjust is not None:
                adjust(root)
            hugo, hugo_languages = _hugo_build(root, root.parent / "public")
            ours, our_languages = _feedsvc_build(root, sorted(hugo))
            done[name] = Build(hugo, ours, hugo_languages, our_languages)
        return done[name]

    yield build


def _field(entries: list[Entry], field: str) -> object:
    if field == "posts":
        return sorted(e.link for e in entries)
    if field == "order":
        return [e.link for e in entries]
    return {e.link: getattr(e, field) for e in entries}


def _common(build: Build, prefix: str, field: str) -> tuple[object, object]:
    """The field of each side; per-entry fields are compared on the entries both have (`posts` covers the rest)."""
    hugo, ours = build.hugo[prefix], build.feedsvc[prefix]
    if field in ("posts", "order"):
        return _field(hugo, field), _field(ours, field)
    if field in ("link", "guid"):
        # The link is the entry's identity: compared by position, so a wrong link shows as one.
        return [getattr(e, field) for e in hugo], [getattr(e, field) for e in ours]
    links = {e.link for e in hugo} & {e.link for e in ours}
    if hugo and not links:
        return _field(hugo, field), None  # nothing in common: nothing is proven, which is a difference
    return (_field([e for e in hugo if e.link in links], field), _field([e for e in ours if e.link in links], field))


def _label(site: str, prefix: str) -> str:
    """How KNOWN_DIFFERENCES names one feed: the site (its default language), or `site/<language prefix>`."""
    return f"{site}/{prefix}" if prefix else site


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("site", sorted(SITES))
def test_feedsvc_matches_hugo(builds: Callable[[str], Build], site: str, field: str) -> None:
    require_tool("hugo", shutil.which("hugo") is not None, "Debian package `hugo`")
    build = builds(site)
    assert build.hugo.get(""), f"Hugo listed no posts for {site}: the fixture proves nothing"
    for prefix in sorted(build.hugo):
        hugo, ours = _common(build, prefix, field)
        label = _label(site, prefix)
        known = KNOWN_DIFFERENCES.get((field, label))
        if known is None:
            assert ours == hugo, f"{label}: {field} differs from Hugo's"
        else:
            assert ours != hugo, f"{label}: {field} now matches Hugo; remove its row from KNOWN_DIFFERENCES ({known})"


def test_the_known_differences_name_real_fixtures_and_fields() -> None:
    for (field, label), reason in KNOWN_DIFFERENCES.items():
        assert field in FIELDS and label.split("/")[0] in SITES and reason


@pytest.mark.parametrize("site", sorted(SITES))
def test_each_language_feed_says_its_language_as_hugo_does(builds: Callable[[str], Build], site: str) -> None:
    """Where Hugo's feed of a language gives a <language> (its `languageCode`), feedsvc's gives the same."""
    require_tool("hugo", shutil.which("hugo") is not None, "Debian package `hugo`")
    build = builds(site)
    said = {prefix: code for prefix, code in build.hugo_languages.items() if code}
    assert {prefix: build.feedsvc_languages.get(prefix) for prefix in said} == said
