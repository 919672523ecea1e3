"""Real Hugo is the reference: each fixture site is built by `hugo` and by feedsvc, and their feeds compared.

Hugo builds each fixture once per session, with its built-in RSS template and no theme. Its home feed lists
every regular page, so the entries expected of feedsvc's site feed are the ones a theme lists as posts: the
pages of the main sections, which the harness asks Hugo itself for (a one-line `layouts/index.html` printing
`where site.RegularPages "Section" "in" site.Params.mainSections`), in the order of Hugo's feed.

Compared, entry by entry: which posts and in what order, link, guid, title, date (pubDate), the summary
(description as text, whitespace collapsed) and its anchors (the id of each element that has one: heading
ids). A field not matched yet on a fixture is one row of KNOWN_DIFFERENCES, which the test also checks is
still different: the table can only shrink.
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
                      '{{ .Permalink }}\n{{ end }}{{ range .Site.Params.mainSections }}section:{{ . }}\n{{ end }}'
                      '{{ range $name, $_ := .Site.Taxonomies }}taxonomy:{{ $name }}\n{{ end }}')
ALIAS_PAGE = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)"')

#: Hugo's own feed paths where feedsvc answers otherwise than Hugo -> why; each must still differ.
_NESTED = "Hugo's section feed leaves out the pages of its nested sections; feedsvc answers with its site feed, " \
          "every post of the main section"
OWN_FEED_DIFFERENCES: dict[tuple[str, str], str] = {
    ("blog", "/posts/index.xml"): _NESTED,
    ("config-dir", "/notes/index.xml"): _NESTED,
}

FIELDS = ("posts", "order", "link", "guid", "title", "date", "summary", "anchors")

#: (field, feed) -> why feedsvc differs from Hugo there today; a feed is a fixture's name (its default
#: language) or `<fixture>/<language prefix>`. Each row must still differ (the test says when one can go);
#: the table shrinks as Hugo's rules land.
_SAME_DATE = "posts of the same date are ordered by title in the language's collation: Chinese's is by pinyin, " \
             "feedsvc's language-neutral one by code point (dialects/hugo/order.py; ICU's zh collation was tried: " \
             "it orders stack-demo's pair right but 57 of 2145 pairs of the collation fixture wrong, and Latin last)"
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    **{(field, site): _SAME_DATE for field in ("order", "link", "guid") for site in ("stack-demo/zh", "collation")},
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


def _plain_markup(root: Path) -> None:
    """The markup fixture with Goldmark's typographer and automatic heading ids turned off."""
    with (root / "hugo.toml").open("a", encoding="utf-8") as config:
        config.write("\n[markup.goldmark.extensions]\ntypographer = false\n"
                     "[markup.goldmark.parser]\nautoHeadingID = false\n")


def _default_dates(root: Path) -> None:
    """The frontmatter fixture without its [frontmatter] table: Hugo's default date settings."""
    config = root / "hugo.toml"
    config.write_text(config.read_text(encoding="utf-8").split("\n[frontmatter]")[0], encoding="utf-8")


def _numbers_inline_guessed(root: Path) -> None:
    """The linenos fixture with numbers at the start of each line, and every fenced block highlighted."""
    with (root / "hugo.toml").open("a", encoding="utf-8") as config:
        config.write("lineNumbersInTable = false\nguessSyntax = true\n")


#: name -> (source folder, the adjustment made to a copy before both builds, or None)
SITES: dict[str, tuple[Path, Callable[[Path], None] | None]] = {
    "blog": (FIXTURES / "blog", None),
    "collation": (FIXTURES / "collation", None),
    "config-dir": (FIXTURES / "config-dir", None),
    "frontmatter": (FIXTURES / "frontmatter", None),
    "frontmatter-default": (FIXTURES / "frontmatter", _default_dates),
    "linenos": (FIXTURES / "linenos", None),
    "linenos-inline": (FIXTURES / "linenos", _numbers_inline_guessed),
    "markup": (FIXTURES / "markup", None),
    "markup-plain": (FIXTURES / "markup", _plain_markup),
    "multilingual": (FIXTURES / "multilingual", None),
    "ordering": (FIXTURES / "ordering", None),
    "shortcodes": (FIXTURES / "shortcodes", None),
    "taxonomies": (FIXTURES / "taxonomies", None),
    "stack-demo": (STACK_DEMO, _stack_demo),
}


@dataclass(frozen=True, slots=True)
class Entry:
    link: str
    guid: str
    title: str
    date: datetime
    summary: str
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Build:
    """One fixture as Hugo and as feedsvc see it: the site feed of each language, entries in feed order."""

    hugo: dict[str, list[Entry]]  # language prefix ("" for the default language) -> entries
    feedsvc: dict[str, list[Entry]]
    hugo_languages: dict[str, str]  # language prefix -> the feed's <language> ("" for none)
    feedsvc_languages: dict[str, str]
    hugo_own: dict[str, list[Entry]]  # path of each of Hugo's own feeds -> its entries that are posts
    feedsvc_own: dict[str, list[Entry] | None]  # feedsvc's answer at that path (None: no answer)
    hugo_aliases: dict[str, str]  # path of each of Hugo's redirect pages to a post -> the post's link
    feedsvc_redirects: dict[str, str]  # every redirect feedsvc answers: path -> Location


def _text(fragment: str) -> str:
    """What a reader shows of an HTML fragment: its text, entities resolved, whitespace collapsed."""
    if not fragment.strip():
        return ""
    text = lxml_html.fragment_fromstring(fragment, create_parent="div").text_content()
    return " ".join(html.unescape(text).split())


def _anchors(fragment: str) -> tuple[str, ...]:
    """The ids in an HTML fragment, in document order (a link to `#id` lands there)."""
    if not fragment.strip():
        return ()
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    return tuple(f"{element.tag}#{element.get('id')}" for element in root.iter() if element.get("id") is not None)


def _language(rss: bytes) -> str:
    return etree.fromstring(rss).findtext("channel/language") or ""


def _entries(rss: bytes) -> list[Entry]:
    channel = etree.fromstring(rss).find("channel")
    assert channel is not None
    return [Entry(link=item.findtext("link") or "", guid=item.findtext("guid") or "",
                  title=item.findtext("title") or "", date=parsedate_to_datetime(item.findtext("pubDate") or ""),
                  summary=_text(item.findtext("description") or ""),
                  anchors=_anchors(item.findtext("description") or ""))
            for item in channel.iter("item")]


def _hugo_build(root: Path, out: Path
                ) -> tuple[dict[str, list[Entry]], dict[str, str], dict[str, list[Entry]], dict[str, str]]:
    """Hugo's site feed of each language (by its prefix, "" for the default), cut to its main sections' pages;
    and each of its own feeds that feedsvc answers too (OWN_FEED: home, main section, terms), cut the same way."""
    home_layout = root / "layouts" / "index.html"
    home_layout.parent.mkdir(exist_ok=True)
    home_layout.write_text(MAIN_SECTION_PAGES, encoding="utf-8")
    subprocess.run(["hugo", "--quiet", "--source", str(root), "--destination", str(out)], check=True,
                   capture_output=True, timeout=120)
    home_layout.unlink()  # feedsvc reads the same copy next
    feeds: dict[str, list[Entry]] = {}
    languages: dict[str, str] = {}
    posts: set[str] = set()
    sections: set[str] = set()
    taxonomies: set[str] = set()
    for home in [out / "index.html", *sorted(out.glob("*/index.html"))]:
        feed = home.parent / "index.xml"
        words = home.read_text(encoding="utf-8").split() if home.is_file() else ["-"]
        links = {word for word in words if not word.startswith(("section:", "taxonomy:"))}
        if not feed.is_file() or not all(word.startswith(("http://", "https://")) for word in links):
            continue  # not a language's home page (Hugo's redirect pages are HTML)
        prefix = home.parent.relative_to(out).as_posix().strip(".")
        feeds[prefix] = [entry for entry in _entries(feed.read_bytes()) if entry.link in links]
        languages[prefix] = _language(feed.read_bytes())
        posts |= links
        sections |= {word.removeprefix("section:").lower() for word in words if word.startswith("section:")}
        taxonomies |= {word.removeprefix("taxonomy:") for word in words if word.startswith("taxonomy:")}
    own: dict[str, list[Entry]] = {}
    for feed in sorted(out.rglob("index.xml")):
        path = feed.relative_to(out).as_posix()
        parts = path.split("/")
        if parts[0] in feeds:
            parts = parts[1:]
        if not (parts == ["index.xml"] or (len(parts) == 2 and parts[0] in sections and len(sections) == 1)
                or (len(parts) == 3 and parts[0] in taxonomies)):
            continue  # a nested section's, a taxonomy's list of terms, another section's: feedsvc has no such feed
        own["/" + path] = [entry for entry in _entries(feed.read_bytes()) if entry.link in posts]
    return feeds, languages, own, _alias_pages(out, posts)


def _alias_pages(out: Path, posts: set[str]) -> dict[str, str]:
    """Hugo's redirect pages (`aliases`) to posts: the path a web server answers them at -> the post's link."""
    found: dict[str, str] = {}
    for page in sorted(out.rglob("*.html")):
        target = ALIAS_PAGE.search(page.read_text(encoding="utf-8"))
        if target is None or html.unescape(target.group(1)) not in posts:
            continue
        path = "/" + page.relative_to(out).as_posix()
        found[path.removesuffix("index.html") if page.name == "index.html" else path] = html.unescape(target.group(1))
    return found


def _feedsvc_build(root: Path, languages: list[str], own_paths: list[str]
                   ) -> tuple[dict[str, list[Entry]], dict[str, str], dict[str, list[Entry] | None], dict[str, str]]:
    """feedsvc's site feed of each language, and its answer at each of Hugo's own feed paths; none at all
    when it cannot read the site (the error is the difference every field then shows)."""
    refresher = Refresher(SnapshotStore(), root, {}, clock=lambda: datetime.now(UTC))
    try:
        refresher.refresh()
    except ConfigError:
        return {prefix: [] for prefix in languages}, {}, {}, {}
    snapshot = refresher.store.snapshot
    resources = snapshot.resources
    own: dict[str, list[Entry] | None] = {}
    for path in own_paths:
        answer = resources.get(path) or snapshot.aliases.get(path)
        own[path] = None if answer is None else _entries(answer.body)
    feeds: dict[str, list[Entry]] = {}
    tags: dict[str, str] = {}
    for prefix in languages:
        path = f"/{prefix}/rss.xml" if prefix else "/rss.xml"
        feeds[prefix] = _entries(resources[path].body) if path in resources else []
        tags[prefix] = _language(resources[path].body) if path in resources else ""
    return feeds, tags, own, dict(snapshot.redirects)


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
            hugo, hugo_languages, hugo_own, hugo_aliases = _hugo_build(root, root.parent / "public")
            ours, our_languages, our_own, redirects = _feedsvc_build(root, sorted(hugo), sorted(hugo_own))
            done[name] = Build(hugo, ours, hugo_languages, our_languages, hugo_own, our_own, hugo_aliases, redirects)
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


@pytest.mark.parametrize("site", sorted(SITES))
def test_feedsvc_answers_at_hugos_own_feed_urls_with_the_same_posts(builds: Callable[[str], Build], site: str) -> None:
    """Subscribers keep their feeds: at each of Hugo's own feed URLs (home, main section, tag and category
    terms, per language) feedsvc answers, with the same posts in the same order, links and titles."""
    require_tool("hugo", shutil.which("hugo") is not None, "Debian package `hugo`")
    build = builds(site)
    assert build.hugo_own, f"Hugo wrote no feeds for {site}"
    for path, hugo in build.hugo_own.items():
        ours = build.feedsvc_own.get(path)
        known = OWN_FEED_DIFFERENCES.get((site, path))
        if ours is None:
            assert known is not None, f"{site}: feedsvc does not answer at Hugo's {path}"
            continue
        first = path.split("/")[1]
        label = _label(site, first if first in build.hugo else "")
        if ("order", label) in KNOWN_DIFFERENCES:
            hugo, ours = sorted(hugo, key=lambda e: e.link), sorted(ours, key=lambda e: e.link)
        theirs, mine = [(e.link, e.title, e.date) for e in hugo], [(e.link, e.title, e.date) for e in ours]
        if known is None:
            assert mine == theirs, f"{site}: {path}"
        else:
            assert mine != theirs, f"{site}: {path} now matches Hugo; remove its row from OWN_FEED_DIFFERENCES"
            assert [m for m in mine if m in theirs] == theirs, f"{site}: {path} lacks some of Hugo's posts"


def test_the_own_feed_differences_name_real_fixtures() -> None:
    assert all(site in SITES and path.endswith("/index.xml") and why
               for (site, path), why in OWN_FEED_DIFFERENCES.items())


@pytest.mark.parametrize("site", sorted(SITES))
def test_hugos_alias_pages_are_301s_to_the_same_posts(builds: Callable[[str], Build], site: str) -> None:
    """Each redirect page Hugo writes for a post's `aliases` is a 301 from feedsvc to the same link."""
    require_tool("hugo", shutil.which("hugo") is not None, "Debian package `hugo`")
    build = builds(site)
    assert {path: build.feedsvc_redirects.get(path) for path in build.hugo_aliases} == build.hugo_aliases


def test_the_fixtures_prove_aliases(builds: Callable[[str], Build]) -> None:
    require_tool("hugo", shutil.which("hugo") is not None, "Debian package `hugo`")
    assert len(builds("blog").hugo_aliases) >= 5 and builds("multilingual").hugo_aliases
