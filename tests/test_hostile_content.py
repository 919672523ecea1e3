"""A catalogue of bad content, one case each.

Every case puts one hostile file (or folder, or fault) next to three good posts and asserts:
no exception escapes; the diagnostic names the file and the problem, in the refresher's
problems, in `/status` and in `feedsvc check`; every good post is in every feed it belongs to;
every output is well-formed.
"""

from __future__ import annotations

import errno
import json
import os
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import lxml.html
import pytest
from conftest import post_text
from hostile_posts import element_flood, hostile_site, nested_brackets, nested_list, nested_quotes, table
from lxml import etree

import feedsvc.content.reading as reading_module
import feedsvc.content.scanning as scanning_module
from feedsvc import cli
from feedsvc.content.parsing import MAX_NAMES_PER_FIELD
from feedsvc.model import FeedFormat
from feedsvc.web.app import create_app

GOOD = {
    "_posts/2026-01-01-alpha.md": post_text("title: Alpha\ncategories: [News]\ntags: [python, web]\nauthor: Ada Quill"),
    "_posts/2026-01-02-beta.md": post_text(
        "title: Beta\ntags: [web]\nauthor: {name: Ben Okafor, email: ben@example.org}"),
    "news/_posts/2026-01-03-gamma.md": post_text("title: Gamma\ntags: [python]"),
}
# Each good post and the feed folders that must list it (in every format).
GOOD_FEEDS = {
    "Alpha": ["/", "/categories/news/", "/tags/python/", "/tags/web/", "/authors/ada-quill/"],
    "Beta": ["/", "/tags/web/", "/authors/ben-okafor/"],
    "Gamma": ["/", "/categories/news/", "/tags/python/", "/authors/site-owner/"],
}
BAD = "_posts/2026-02-01-bad.md"


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    # (path, severity, words in the message, line or None); an empty tuple: the content must be clean
    expect: tuple[tuple[str, str, str, int | None], ...] = ()
    setup: Callable[[Path, pytest.MonkeyPatch], None] | None = None
    check: Callable[[object], None] | None = None  # more assertions on the snapshot


def _front(text: str, body: str = "Body.\n") -> str:
    return "---\n" + textwrap.dedent(text).strip("\n") + "\n---\n" + body


def _bomb(use: str) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        name, prev = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "---\n" + "\n".join(lines) + f"\ntitle: T\n{use}\n---\nBody.\n"


# -- setups that need more than files -------------------------------------------------------

def _symlink_outside(root: Path, _: pytest.MonkeyPatch) -> None:
    outside = root.parent / "elsewhere"
    outside.mkdir()
    (outside / "secret.md").write_text(post_text("title: Outside Secret"))
    (root / "_posts/2026-02-01-link.md").symlink_to(outside / "secret.md")
    (root / "_posts/linked-folder").symlink_to(outside, target_is_directory=True)


def _symlink_loops(root: Path, _: pytest.MonkeyPatch) -> None:
    (root / "_posts/loop").symlink_to(root / "_posts", target_is_directory=True)
    (root / "_posts/2026-02-01-self.md").symlink_to(root / "_posts/2026-02-01-self.md")


def _fifo(root: Path, _: pytest.MonkeyPatch) -> None:
    os.mkfifo(root / BAD)


def _non_utf8_name(root: Path, _: pytest.MonkeyPatch) -> None:
    name = os.fsencode(root / "_posts") + b"/2026-02-01-caf\xe9.md"
    with open(name, "wb") as handle:
        handle.write(post_text("title: Latin-1 Name").encode())


def _vanishes_before_reading(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / BAD).write_text(post_text("title: Ghost"))
    real_open = open

    def vanish_then_open(file, *args, **kwargs):
        if str(file).endswith("bad.md") and os.path.exists(file):
            os.unlink(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(reading_module, "open", vanish_then_open, raising=False)


def _unreadable_folder(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """We run as root, where chmod 000 does not stop reads: the OSError is simulated."""
    (root / "_posts/locked").mkdir()
    (root / "_posts/locked/2026-02-01-hidden.md").write_text(post_text("title: Locked In"))
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("/_posts/locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(scanning_module.os, "scandir", scandir)


def _unreadable_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, a 000 file is still readable: the OSError is simulated."""
    (root / BAD).write_text(post_text("title: Unreadable"))
    real_open = open

    def deny(file, *args, **kwargs):
        if str(file).endswith("bad.md"):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(reading_module, "open", deny, raising=False)


# -- checks on the snapshot ---------------------------------------------------------------------

def _post(snapshot, title_start: str):
    [post] = [p for p in snapshot.site.posts if p.title.startswith(title_start)]
    return post


def _check_controls_removed(snapshot) -> None:
    post = _post(snapshot, "ab")
    assert post.title == "abc" and "\x00" not in post.content_html and "\x07" not in post.content_html


def _check_rtl_kept(snapshot) -> None:
    post = _post(snapshot, "\u202e")
    assert post.title == "\u202eevil\u200f" and post.tags == ("\u202etag",)
    index = snapshot.resources["/"].body.decode()
    assert "<bdi>\u202etag</bdi>" in index  # isolated: it cannot reverse the text around it


def _check_long_title(snapshot) -> None:
    post = _post(snapshot, "xxxx")
    assert len(post.title) == 100_000
    entry = feedparser.parse(snapshot.resources["/atom.xml"].body).entries[0]
    assert len(entry.title) == 100_000


def _check_markup_names(snapshot) -> None:
    post = _post(snapshot, "<script>")
    assert post.categories == ("]]>", "<img src=x onerror=alert(1)>")
    page = lxml.html.fromstring(snapshot.resources["/"].body)
    assert page.findall(".//script") == [] and page.findall(".//img") == []
    assert "<img src=x onerror=alert(1)>" in page.text_content()
    # Plain-text formats show the title's text; the markup never reaches them as markup.
    items = json.loads(snapshot.resources["/feed.json"].body)["items"]
    assert items[0]["title"] == "alert(1) ]]> & bold"
    rss = etree.fromstring(snapshot.resources["/rss.xml"].body)
    assert rss.findtext("channel/item/title") == "alert(1) ]]> & bold"


def _check_path_like_names(snapshot) -> None:
    post = _post(snapshot, "Paths")
    assert post.categories == ("..", "/", "%2e%2e", "CON", ".", "a/../b", "\\")
    for path in snapshot.resources:
        segments = path.split("/")
        assert ".." not in segments and "." not in segments and "\\" not in path, path
    category_dirs = {p.split("/")[2] for p in snapshot.resources if p.startswith("/categories/")}
    assert len(category_dirs) == 1 + 7  # news, and one distinct feed per name
    assert "/../" not in post.url and "/./" not in post.url and post.url.startswith("https://example.org/")


def _check_capped_tags(snapshot) -> None:
    post = _post(snapshot, "Many Tags")
    assert len(post.tags) == MAX_NAMES_PER_FIELD and post.tags[0] == "t0"
    assert sum(1 for p in snapshot.resources if p.startswith("/tags/") and p.endswith("/rss.xml")) == 2 + 100


def _check_not_followed(snapshot) -> None:
    for resource in snapshot.resources.values():
        assert b"Outside Secret" not in resource.body


def _check_big_but_bounded_served(snapshot) -> None:
    post = _post(snapshot, "Big But Bounded")
    assert post.content_html.count("<td>") == 40 * 150 and post.content_html.count("<ul>") == 90


def _check_one_duplicate_served(snapshot) -> None:
    assert [p.source for p in snapshot.site.posts if p.slug == "dup"] == ["_posts/2026-02-01-dup.markdown"]


CASES = [
    Case("yaml-syntax-error", {BAD: "---\ntitle: [unclosed\ndate: 2026-02-01\n---\nBody.\n"},
         ((BAD, "error", "not valid YAML", 3),)),
    Case("yaml-tab-indentation", {BAD: "---\ntitle: T\n\tdate: 2026-02-01\n---\nBody.\n"},
         ((BAD, "error", "not valid YAML", 3),)),
    Case("yaml-python-tag", {BAD: "---\ntitle: !!python/object/apply:os.system ['true']\n---\nBody.\n"},
         ((BAD, "error", "not valid YAML: could not determine a constructor", 2),)),
    Case("front-matter-list", {BAD: "---\n- a\n- b\n---\nBody.\n"},
         ((BAD, "error", "front matter must be a mapping of fields, got a list", 2),)),
    Case("front-matter-scalar", {BAD: "---\njust words\n---\nBody.\n"},
         ((BAD, "error", "front matter must be a mapping of fields, got a string", 2),)),
    Case("front-matter-never-closed", {BAD: "---\ntitle: T\nBody that never ends.\n"},
         ((BAD, "error", "never closed", 1),)),
    Case("no-front-matter", {BAD: "Just a body.\n"},  # Jekyll's rule: in _posts it is a post all the same
         ((BAD, "warning", "no front matter (a post starts with a line of three dashes, ---): read as a post", 1),
          (BAD, "warning", "no title; using 'Bad' from the file name", None))),
    Case("no-front-matter-outside-posts", {"about.md": "# About\n"},
         (("about.md", "warning", "no front matter: not a post, skipped", None),)),
    Case("bom-and-crlf-parse-fine",
         {BAD: b"\xef\xbb\xbf---\r\ntitle: Windows Post\r\ntags: [web]\r\n---\r\nLine one.\r\n"},
         check=lambda s: _post(s, "Windows Post")),
    Case("latin-1", {BAD: "---\ntitle: Café\n---\nBody.\n".encode("latin-1")},
         ((BAD, "error", "not valid UTF-8: byte 0xe9", 2),)),
    Case("random-bytes", {BAD: b"\x80" + random.Random(5).randbytes(4096)},
         ((BAD, "error", "not valid UTF-8: byte 0x80 at offset 0", 1),)),
    Case("utf-16", {BAD: post_text("title: Sixteen").encode("utf-16")}, ((BAD, "error", "not valid UTF-8", 1),)),
    Case("empty-file", {BAD: b""}, ((BAD, "error", "empty file", None),)),
    Case("whitespace-only-file", {BAD: b" \n\t\r\n"}, ((BAD, "error", "empty file", None),)),
    Case("twenty-megabytes", {BAD: b"---\ntitle: Huge\n---\n" + b"a" * (20 * 1024 * 1024)},
         ((BAD, "error", "over the 5,242,880-byte limit for a post; not read", None),)),
    Case("alias-bomb-unused", {BAD: _bomb("unused: x")}, check=lambda s: _post(s, "T")),
    Case("alias-bomb-as-title", {BAD: _bomb("x: *i\nsummary: *i\nslug: *i")},
         ((BAD, "error", "`slug` must be text, got a list", None),)),
    Case("alias-bomb-as-tags", {BAD: _bomb("tags: *i")}, ((BAD, "error", "`tags` must hold names, got a nested list",
                                                          None),)),
    Case("deeply-nested-front-matter", {BAD: "---\ntitle: T\nx: " + "[" * 50_000 + "]" * 50_000 + "\n---\nB.\n"},
         ((BAD, "error", "front matter is nested too deeply", None),)),
    Case("deeply-nested-within-python-limits", {BAD: "---\ntitle: T\nx: " + "{a: " * 600 + "1" + "}" * 600
                                                + "\n---\nB.\n"},
         ((BAD, "error", "front matter is nested too deeply", None),)),
    Case("impossible-date", {BAD: _front("title: T\ndate: 2026-02-30")},
         ((BAD, "error", "`date` '2026-02-30' is not a real date: day is out of range for month", None),)),
    Case("impossible-time", {BAD: _front("title: T\ndate: 2026-02-01T25:00:00Z")},
         ((BAD, "error", "is not a real date: hour must be in 0..23", None),)),
    Case("impossible-zone", {BAD: _front("title: T\ndate: 2026-02-01 10:00:00 +2500")},
         ((BAD, "error", "impossible zone offset +2500", None),)),
    Case("year-zero", {BAD: _front("title: T\ndate: 0000-01-01")}, ((BAD, "error", "year 0 is out of range", None),)),
    Case("year-99999", {BAD: _front("title: T\ndate: 99999-01-01")},
         ((BAD, "error", "`date` is not a date Jekyll understands: '99999-01-01'", None),)),
    Case("year-9999-pushed-over-by-its-zone", {BAD: _front("title: T\ndate: 9999-12-31 23:00:00 -1200")},
         ((BAD, "error", "is out of range: dates must fall within the years 1 to 9999", None),)),
    Case("year-1-pushed-under-by-the-site-zone", {BAD: _front("title: T\ndate: 0001-01-01")},
         ((BAD, "error", "`date` '0001-01-01' is out of range", None),)),
    Case("date-in-no-format", {BAD: _front("title: T\ndate: someday")},
         ((BAD, "error", "`date` is not a date Jekyll understands: 'someday' (try 2016-10-06 11:10:38 -0700)",
           None),)),
    Case("date-as-epoch-number", {BAD: _front("title: T\ndate: 1475748638")},
         ((BAD, "error", "`date` must be a date such as 2016-10-06 11:10:38 -0700, got 1475748638", None),)),
    Case("date-with-junk-jekyll-accepts", {BAD: _front("title: Junk Date\ndate: 2016-10-06 11:10:38 PDT -0700")},
         ((BAD, "warning", "has extra text; read as 2016-10-06 11:10:38 -0700", None),),
         check=lambda s: _post(s, "Junk Date")),
    Case("file-name-date-impossible", {"_posts/2026-02-30-bad.md": _front("title: T")},
         (("_posts/2026-02-30-bad.md", "error", "the file name's date '2026-02-30' is not a real date", None),)),
    Case("nul-and-control-characters", {BAD: _front('title: "a\\0b\\x01c"', "Body \x00 with \x07 bell.\n")},
         check=_check_controls_removed),
    Case("lone-surrogate-escape", {BAD: _front('title: "a\\ud800b"')},
         ((BAD, "error", "not valid YAML: found invalid Unicode character escape code", 2),)),
    Case("lone-surrogate-bytes", {BAD: b"---\ntitle: T\n---\nA \xed\xa0\x80 B\n"},
         ((BAD, "error", "not valid UTF-8: byte 0xed at offset 19", 4),)),
    Case("right-to-left-marks", {BAD: _front('title: "\u202eevil\u200f"\ntags: ["\u202etag"]')},
         check=_check_rtl_kept),
    Case("hundred-thousand-character-title", {BAD: _front("title: " + "x" * 100_000)}, check=_check_long_title),
    Case("html-and-cdata-end-in-names",
         {BAD: _front('title: "<script>alert(1)</script> ]]> & <b>bold</b>"\n'
                      'categories: ["]]>", "<img src=x onerror=alert(1)>"]\n'
                      'author: "</strong><script>alert(2)</script>]]>"', "Body ]]> <![CDATA[ x ]]>\n")},
         check=_check_markup_names),
    Case("path-like-category-names",
         {BAD: _front('title: Paths\ncategories: ["..", "/", "%2e%2e", "CON", "", ".", "a/../b", "\\\\"]\n'
                      'tags: ["..", "nul", "%00"]')},
         check=_check_path_like_names),
    Case("ten-thousand-tags", {BAD: _front("title: Many Tags\ntags: [" + ", ".join(f"t{i}" for i in range(10_000))
                                           + "]")},
         ((BAD, "warning", "`tags` lists 10,000 names; only the first 100 are used", None),),
         check=_check_capped_tags),
    Case("duplicate-keys", {BAD: _front("title: First\ntitle: Second\ndate: 2026-02-01")},
         ((BAD, "warning", "`title` is given more than once; the last one is used", 3),),
         check=lambda s: _post(s, "Second")),
    Case("title-is-a-mapping", {BAD: _front("title: {a: 1}")}, ((BAD, "error", "`title` must be text", None),)),
    Case("same-slug-and-date",
         {"_posts/2026-02-01-dup.md": _front("title: Dup One"), "_posts/2026-02-01-dup.markdown": _front("title: Two")},
         (("_posts/2026-02-01-dup.md", "error", "has the same link as _posts/2026-02-01-dup.markdown", None),),
         check=_check_one_duplicate_served),
    # Shapes that cost a renderer seconds and gigabytes (issue 12): refused before rendering (content/limits.py).
    Case("table-of-900,000-cells", {BAD: _front("title: T", table(300, 3_000))},
         ((BAD, "error", "tables of 900,300 cells (the largest from its line 2), over the limit of 40,000 cells for "
                         "one post: not rendered", None),)),
    Case("list-nested-1,500-deep", {BAD: _front("title: T", "- " * 1_500 + "x\n")},
         ((BAD, "error", "nests 1,500 levels deep at its line 2 (lists, block quotes or brackets inside each other), "
                         "over the limit of 100 levels", None),)),
    Case("list-nested-by-indentation", {BAD: _front("title: T", nested_list(150))},
         ((BAD, "error", "nests 150 levels deep at its line 151", None),)),
    Case("quotes-nested-1,500-deep", {BAD: _front("title: T", nested_quotes(1_500))},
         ((BAD, "error", "nests 1,500 levels deep", None),)),
    Case("brackets-nested-1,500-deep", {BAD: _front("title: T", nested_brackets(1_500))},
         ((BAD, "error", "nests 1,500 levels deep", None),)),
    Case("sixty-thousand-links", {BAD: _front("title: T", "[a](/p) " * 60_000)},
         ((BAD, "error", "about 60,000 elements (links, emphasis, inline HTML), over the limit of 50,000", None),)),
    Case("twenty-thousand-paragraphs-and-more", {BAD: _front("title: T", element_flood(20_000) + "*a* " * 10_000)},
         ((BAD, "error", "about 50,001 elements (blocks, links, emphasis, inline HTML), over the limit of 50,000",
           None),)),
    Case("raw-html-nested-1,000-deep", {BAD: _front("title: T", "<div>" * 1_000 + "\n")},
         ((BAD, "error", "renders to HTML nested 1,000 elements deep, over the limit of 250 levels", None),)),
    Case("html-five-times-the-markdown", {BAD: _front("title: T", "```\n" + ("&" * 999 + "\n") * 1_000 + "```\n")},
         ((BAD, "error", "renders to 4,996,128 characters of HTML, over the limit of 4,194,304 characters", None),)),
    # A post near the bounds passes them (test_limits); here a big one goes all the way into every feed (a
    # smaller table than the bound: every feed of every case is read back by feedparser, slowly for huge entries).
    Case("big-but-bounded-is-served",
         {BAD: _front("title: Big But Bounded", table(40, 150) + "\n" + nested_list(90))},
         check=_check_big_but_bounded_served),
    Case("symlink-outside-the-content-folder", setup=_symlink_outside,
         expect=(("_posts/2026-02-01-link.md", "warning", "symlink points outside the content folder; not followed",
                  None),
                 ("_posts/linked-folder", "warning", "symlink points outside the content folder; not followed", None)),
         check=_check_not_followed),
    Case("symlink-loops", setup=_symlink_loops,
         expect=(("_posts/2026-02-01-self.md", "warning", "symlink loop", None),
                 ("_posts/loop", "warning", "symlink loop; not followed", None))),
    Case("named-pipe", setup=_fifo,
         expect=((BAD, "warning", "not a regular file (a pipe, socket or device); skipped", None),)),
    Case("file-name-not-utf-8", setup=_non_utf8_name,
         expect=(("_posts/2026-02-01-caf\ufffd.md", "warning", "name is not valid UTF-8; skipped", None),)),
    Case("vanishes-between-listing-and-reading", setup=_vanishes_before_reading),
    Case("folder-without-read-permission", setup=_unreadable_folder,
         expect=(("_posts/locked", "error", "cannot read folder: Permission denied", None),)),
    Case("file-without-read-permission", setup=_unreadable_file,
         expect=((BAD, "error", "cannot read: Permission denied", None),)),
]


def _assert_good_posts_everywhere(snapshot) -> None:
    for title, folders in GOOD_FEEDS.items():
        for folder in folders:
            for fmt in FeedFormat:
                body = snapshot.resources[folder + fmt.filename].body
                if fmt is FeedFormat.JSON:
                    titles = [item["title"] for item in json.loads(body)["items"]]
                else:
                    titles = [entry.title for entry in feedparser.parse(body).entries]
                assert title in titles, (title, folder + fmt.filename)


def _assert_well_formed(snapshot) -> None:
    for path, resource in snapshot.resources.items():
        if path.endswith(".json"):
            assert json.loads(resource.body)["version"].startswith("https://jsonfeed.org/")
        elif path.endswith((".xml", ".opml")):
            etree.fromstring(resource.body)
            if path.endswith(".xml"):
                parsed = feedparser.parse(resource.body)
                assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        else:
            assert lxml.html.fromstring(resource.body).find(".//h1") is not None


def _matches(problem: dict | object, path: str, severity: str, words: str, line: int | None) -> bool:
    get = problem.get if isinstance(problem, dict) else lambda key: getattr(problem, key)
    return (get("path") == path and get("severity") == severity and words in get("message")
            and (line is None or get("line") == line))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_content(case: Case, site_dir, make_refresher, monkeypatch, capsys):
    root = site_dir({**GOOD, **case.files})
    if case.setup:
        case.setup(root, monkeypatch)
    refresher = make_refresher(root)
    report = refresher.refresh("startup")
    assert report.error is None
    snapshot = refresher.store.snapshot
    problems = snapshot.site.problems
    for expected in case.expect:
        assert any(_matches(p, *expected) for p in problems), (expected, problems)
    assert len(problems) == len(case.expect), problems
    _assert_good_posts_everywhere(snapshot)
    _assert_well_formed(snapshot)
    if case.check:
        case.check(snapshot)

    status = create_app(refresher.settings, refresher.store).test_client().get("/status").get_json()
    for expected in case.expect:
        assert any(_matches(p, *expected) for p in status["problems"]), (expected, status["problems"])

    if case.id == "vanishes-between-listing-and-reading":
        return  # the file is gone now; `check` would simply not see it
    capsys.readouterr()
    monkeypatch.setattr(cli, "configure_logging", lambda: None)  # no handler bound to this test's stderr
    code = cli.main(["check", "--content", str(root)])
    out = capsys.readouterr().out
    for path, severity, words, line in case.expect:
        where = f"{path}:{line}" if line else path
        prefix = "" if severity == "error" else f"{severity}: "
        assert any(row.startswith(f"{where}: {prefix}") and words in row for row in out.splitlines()), out
    assert code == (1 if any(e[1] == "error" for e in case.expect) else 0)


def test_issue_12_site_serves_every_good_post(tmp_path, make_refresher):
    """Issue 12's site (a 300 x 3,000 table, a list nested 1,500 levels deep) cost ~1 GB per process and
    half a minute: now each hostile post is one error naming its file and its bound, and the rest is served."""
    hostile = hostile_site(tmp_path / "content", good=8, tables=2, lists=2)
    refresher = make_refresher(tmp_path / "content")
    assert refresher.refresh("startup").error is None
    snapshot = refresher.store.snapshot
    errors = {p.path: p.message for p in snapshot.site.problems if p.severity == "error"}
    assert set(errors) == set(hostile)
    assert all("over the limit of" in message and message.endswith("for one post: not rendered")
               for message in errors.values())
    titles = [entry.title for entry in feedparser.parse(snapshot.resources["/atom.xml"].body).entries]
    assert sorted(titles) == sorted(f"Good {i}" for i in range(8))
