"""parse_post: one file's bytes -> Post or Problem. Pure unit tests: no files, no Flask."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import BASIC_CONFIG, post_text, settings_from

from feedsvc.content.parsing import parse_post
from feedsvc.model import Author, Image, Post, Problem

BERLIN = ZoneInfo("Europe/Berlin")
REL = "_posts/2016-10-06-hello-world.md"
XML_FORBIDDEN = ("\x00", "\x01", "\x0b", "\x1f", "\ufffe")


def _parse(front: str, body: str = "Hello **world**.\n", relpath: str = REL, settings=None) -> Post | Problem:
    return parse_post(relpath, post_text(front, body).encode("utf-8"), settings or settings_from())


def _post(front: str, body: str = "Hello **world**.\n", relpath: str = REL, settings=None) -> Post:
    result = _parse(front, body, relpath, settings)
    assert isinstance(result, Post), result
    return result


def _problem(raw: bytes, relpath: str = REL, settings=None) -> Problem:
    result = parse_post(relpath, raw, settings or settings_from())
    assert isinstance(result, Problem), result
    assert result.path == relpath
    assert result.severity == "error"
    return result


def _config(**replacements: str) -> str:
    """BASIC_CONFIG with some `key: value` lines swapped or added."""
    lines = [line for line in BASIC_CONFIG.splitlines() if line.split(":", 1)[0] not in replacements]
    lines += [f"{key}: {value}" for key, value in replacements.items()]
    return "\n".join(lines) + "\n"


def _strings(value) -> list[str]:
    """Every str anywhere inside a Post (fields, tuples, nested dataclasses)."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    if isinstance(value, (tuple, list)):
        return [s for item in value for s in _strings(item)]
    return []


# -- date ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "instant_utc", "local_wall_time"),
    [
        ("2016-10-06 11:10:38 -0700", datetime(2016, 10, 6, 18, 10, 38), datetime(2016, 10, 6, 20, 10, 38)),
        ('"2016-10-06 11:10:38 -0700"', datetime(2016, 10, 6, 18, 10, 38), datetime(2016, 10, 6, 20, 10, 38)),
        ("2016-10-06", datetime(2016, 10, 5, 22, 0), datetime(2016, 10, 6, 0, 0)),  # CEST, +02:00
        ("2016-12-06", datetime(2016, 12, 5, 23, 0), datetime(2016, 12, 6, 0, 0)),  # CET, +01:00
        ("2016-10-06T11:10:38Z", datetime(2016, 10, 6, 11, 10, 38), datetime(2016, 10, 6, 13, 10, 38)),
        ("2016-10-06T11:10:38+05:30", datetime(2016, 10, 6, 5, 40, 38), datetime(2016, 10, 6, 7, 40, 38)),
        ("2016-10-06 11:10:38", datetime(2016, 10, 6, 9, 10, 38), datetime(2016, 10, 6, 11, 10, 38)),
        ("2016-12-06 11:10:38", datetime(2016, 12, 6, 10, 10, 38), datetime(2016, 12, 6, 11, 10, 38)),
    ],
)
def test_date_forms_give_an_aware_datetime_in_the_site_zone(value, instant_utc, local_wall_time):
    post = _post(f"title: T\ndate: {value}")
    assert post.date == instant_utc.replace(tzinfo=UTC)  # same instant
    assert post.date.tzinfo == BERLIN  # expressed in the site zone
    assert post.date.replace(tzinfo=None) == local_wall_time


def test_date_without_zone_uses_the_configured_site_zone():
    settings = settings_from(_config(timezone="America/New_York"))
    post = _post("title: T\ndate: 2016-10-06 11:10:38", settings=settings)
    assert post.date == datetime(2016, 10, 6, 15, 10, 38, tzinfo=UTC)
    assert post.date.tzinfo == ZoneInfo("America/New_York")


def test_missing_date_comes_from_the_file_name_prefix_at_site_midnight():
    post = _post("title: T")
    assert post.date == datetime(2016, 10, 6, 0, 0, tzinfo=BERLIN)
    assert post.date.tzinfo == BERLIN
    assert post.date.utcoffset().total_seconds() == 2 * 3600


def test_no_date_anywhere_is_a_problem_naming_the_file():
    relpath = "_posts/hello-world.md"
    problem = _problem(post_text("title: T").encode(), relpath)
    assert "date" in problem.message
    assert relpath in str(problem)


def test_impossible_date_is_a_problem_mentioning_the_field():
    problem = _problem(post_text("title: T\ndate: 2021-02-30").encode())
    assert "`date`" in problem.message
    assert "2021-02-30" in problem.message


def test_impossible_last_modified_at_is_a_problem_mentioning_that_field():
    problem = _problem(post_text("title: T\nlast_modified_at: 2021-02-30").encode())
    assert "`last_modified_at`" in problem.message


def test_junk_date_is_a_problem():
    problem = _problem(post_text("title: T\ndate: next tuesday").encode())
    assert "`date`" in problem.message
    assert "next tuesday" in problem.message


def test_jekyll_tolerated_date_with_extra_text_parses_with_a_warning():
    # Ruby's Time.parse takes a zone only right after the time: this one is in the site's zone.
    post = _post("title: T\ndate: 2023-01-29 18:30:22 2023 -0800")
    assert post.date == datetime(2023, 1, 29, 18, 30, 22, tzinfo=BERLIN)
    assert post.date.tzinfo == BERLIN
    assert [(w.path, w.severity) for w in post.warnings] == [(REL, "warning")]
    assert "`date`" in post.warnings[0].message


def test_a_zone_before_trailing_junk_is_kept():
    post = _post("title: T\ndate: 2016-10-06 11:10:38 +0700 garbage")
    assert post.date == datetime(2016, 10, 6, 4, 10, 38, tzinfo=UTC)
    assert post.warnings and "extra text" in post.warnings[0].message


def test_permalink_date_parts_are_taken_in_the_site_zone():
    post = _post("title: T\ndate: 2016-10-06 23:30:00 -0700")  # 2016-10-07 08:30 in Berlin
    assert post.url == "https://example.org/2016/10/07/hello-world/"


# -- title -----------------------------------------------------------------------------


def test_title_given():
    post = _post('title: "Hello: a post"')
    assert post.title == "Hello: a post"
    assert post.warnings == ()


def test_missing_title_is_derived_from_the_slug_with_a_warning():
    post = _post("tags: x")
    assert post.title == "Hello World"
    assert len(post.warnings) == 1
    assert post.warnings[0].severity == "warning"
    assert post.warnings[0].path == REL
    assert "title" in post.warnings[0].message


@pytest.mark.parametrize("value", ["no", "yes", "off", "NO", "10:00", "2016-10-06", "1:30:00"])
def test_yaml_1_1_traps_in_title_stay_text(value):
    assert _post(f"title: {value}").title == value


# -- slug ------------------------------------------------------------------------------


def test_slug_is_the_file_name_without_date_prefix_and_extension():
    post = _post("title: T", relpath="_posts/2016-10-06-my-first.post.markdown")
    assert post.slug == "my-first.post"


def test_front_matter_slug_overrides_and_changes_the_permalink():
    post = _post("title: T\nslug: other-name")
    assert post.slug == "other-name"
    assert post.url == "https://example.org/2016/10/06/other-name/"


# -- categories and tags ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("front", "categories", "tags"),
    [
        ("categories: [Web, Python]\ntags: [a, b]", ("Web", "Python"), ("a", "b")),
        ("categories: web python\ntags: a b  c", ("web", "python"), ("a", "b", "c")),
        ("category: web\ntag: a", ("web",), ("a",)),
        ("category: web\ncategories: [web, python]\ntag: a\ntags: a b", ("web", "python"), ("a",)),  # Jekyll's
        ("category: Elixir in Production\ntag: big data", ("Elixir in Production",), ("big data",)),
        ("categories:\ntags: []", (), ()),
        ('categories: ""\ntags: ~', (), ()),
        ("tags: [2016, python]", (), ("2016", "python")),
    ],
    ids=["list", "string", "singular", "merged", "singular-with-spaces", "null-and-empty-list",
         "empty-string-and-tilde", "numbers"],
)
def test_categories_and_tags(front, categories, tags):
    post = _post("title: T\n" + front)
    assert post.categories == categories
    assert post.tags == tags


def test_folders_above_posts_add_categories():
    post = _post("title: T\ncategories: [extra]", relpath="news/world/_posts/2020-01-01-x.md")
    assert post.categories == ("news", "world", "extra")
    assert post.url == "https://example.org/news/world/extra/2020/01/01/x/"


# -- author ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("front", "authors"),
    [
        ("author: Jane Doe", (Author("Jane Doe"),)),
        (
            "author:\n  name: Jane Doe\n  email: jane@example.com\n  uri: https://jane.example",
            (Author("Jane Doe", "jane@example.com", "https://jane.example"),),
        ),
        ("author:\n  name: Jane Doe\n  url: https://jane.example", (Author("Jane Doe", None, "https://jane.example"),)),
        (
            "authors:\n  - Alice\n  - name: Bob\n    email: bob@example.com",
            (Author("Alice"), Author("Bob", "bob@example.com")),
        ),
        ("tags: x", (Author("Site Owner", "owner@example.org"),)),
    ],
    ids=["string", "mapping", "url-alias", "authors-list", "missing-uses-site-author"],
)
def test_author(front, authors):
    assert _post("title: T\n" + front).authors == authors


def test_author_mapping_without_name_is_a_problem():
    problem = _problem(post_text("title: T\nauthor:\n  email: x@example.com").encode())
    assert "`author`" in problem.message
    assert "name" in problem.message


# -- excerpt ---------------------------------------------------------------------------


def test_excerpt_from_front_matter_is_rendered_html():
    post = _post('title: T\nexcerpt: "Short *intro* [more](more/)"', "First.\n\nSecond.\n")
    assert post.summary_html == (
        '<p>Short <em>intro</em> <a href="https://example.org/2016/10/06/hello-world/more/">more</a></p>'
    )
    assert post.summary_text == "Short intro more"


def test_excerpt_separator_from_config():
    settings = settings_from(BASIC_CONFIG + 'excerpt_separator: "<!--more-->"\n')
    post = _post("title: T", "Intro one.\n\nIntro two.\n<!--more-->\nRest.\n", settings=settings)
    assert post.summary_html == "<p>Intro one.</p>\n<p>Intro two.</p>"
    assert post.content_html == "<p>Intro one.</p>\n<p>Intro two.</p>\n<p>Rest.</p>"
    assert "<!--more-->" not in post.content_html


@pytest.mark.parametrize("body", ["First *para*.\n\nSecond para.\n", "\nFirst *para*.\n\nSecond para.\n",
                                  "\n\n\nFirst *para*.\n\n\nSecond para.\n"],
                         ids=["no-blank-line", "blank-line-after-front-matter", "several-blank-lines"])
def test_default_excerpt_is_the_first_paragraph(body):
    post = _post("title: T", body)
    assert post.summary_html == "<p>First <em>para</em>.</p>"
    assert post.summary_text == "First para."
    assert post.content_html == "<p>First <em>para</em>.</p>\n<p>Second para.</p>"


# -- image -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("assets/x.jpg", "https://example.org/blog/assets/x.jpg"),
        ("/assets/x.jpg", "https://example.org/blog/assets/x.jpg"),
        ("https://cdn.example.net/a/x.jpg", "https://cdn.example.net/a/x.jpg"),
    ],
)
def test_image_string_is_made_absolute_against_url_and_baseurl(value, url):
    post = _post(f"title: T\nimage: {value}", settings=settings_from(_config(baseurl="/blog")))
    assert post.image == Image(url, "image/jpeg", None)


def test_image_mapping_with_path_and_alt():
    post = _post("title: T\nimage:\n  path: /assets/p.png\n  alt: A picture",
                 settings=settings_from(_config(baseurl="/blog")))
    assert post.image == Image("https://example.org/blog/assets/p.png", "image/png", "A picture")


@pytest.mark.parametrize(("ext", "mime"), [(".png", "image/png"), (".jpg", "image/jpeg"), (".jpeg", "image/jpeg"),
                                           (".webp", "image/webp"), (".JPG", "image/jpeg")])
def test_image_mime_type_from_extension(ext, mime):
    assert _post(f"title: T\nimage: /assets/x{ext}").image.mime_type == mime


def test_no_image_is_none():
    assert _post("title: T").image is None


# -- published -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("front", "published"),
    [("published: false", False), ("draft: true", False), ("tags: x", True),
     ("published: true", True), ("draft: false", True)],
)
def test_published(front, published):
    assert _post("title: T\n" + front).published is published


# -- updated ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("front", "updated"),
    [
        ("last_modified_at: 2016-10-08 09:00:00 +0000", datetime(2016, 10, 8, 9, 0, tzinfo=UTC)),
        ("updated: 2016-10-07", datetime(2016, 10, 7, 0, 0, tzinfo=BERLIN)),
    ],
)
def test_last_modified_at_or_updated(front, updated):
    post = _post("title: T\n" + front)
    assert post.updated == updated
    assert post.updated.tzinfo == BERLIN
    assert post.date == datetime(2016, 10, 6, 0, 0, tzinfo=BERLIN)


def test_updated_defaults_to_date():
    post = _post("title: T\ndate: 2016-10-06 11:10:38 -0700")
    assert post.updated == post.date
    assert post.updated.tzinfo == BERLIN


# -- permalinks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("permalink", "path"),
    [
        ("date", "/news/2016/10/06/hello-world.html"),
        ("pretty", "/news/2016/10/06/hello-world/"),
        ("ordinal", "/news/2016/280/hello-world.html"),
        ("none", "/news/hello-world.html"),
        ('"/:categories/:year/:month/:day/:title.html"', "/news/2016/10/06/hello-world.html"),
        ('"/blog/:year/:slug/"', "/blog/2016/hello-world/"),
    ],
)
def test_site_permalink_styles_and_patterns(permalink, path):
    post = _post("title: T\ncategories: [news]", settings=settings_from(_config(permalink=permalink)))
    assert post.url == "https://example.org" + path


def test_front_matter_permalink_wins():
    post = _post("title: T\ncategories: [news]\npermalink: /about/me/")
    assert post.url == "https://example.org/about/me/"


def test_posts_collection_permalink_wins_over_site_permalink():
    config = BASIC_CONFIG + "collections:\n  posts:\n    permalink: /news/:year/:month/:day/:title/\n"
    post = _post("title: T", settings=settings_from(config))
    assert post.url == "https://example.org/news/2016/10/06/hello-world/"


def test_categories_in_url_are_lower_cased():
    post = _post("title: T\ncategories: [News, World]")
    assert post.categories == ("News", "World")
    assert post.url == "https://example.org/news/world/2016/10/06/hello-world/"


def test_url_is_url_plus_baseurl_plus_permalink():
    post = _post("title: T", settings=settings_from(_config(baseurl="/blog")))
    assert post.url == "https://example.org/blog/2016/10/06/hello-world/"


def test_non_ascii_slug_is_percent_encoded_in_url():
    post = _post("title: T", relpath="_posts/2016-10-06-grüße.md")
    assert post.slug == "grüße"
    assert post.url == "https://example.org/2016/10/06/gr%C3%BC%C3%9Fe/"


# -- body ------------------------------------------------------------------------------


def test_body_gfm_table():
    post = _post("title: T", "| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert post.content_html == (
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n"
        "<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>"
    )


def test_body_strikethrough():
    assert _post("title: T", "Was ~~gone~~ here.\n").content_html == "<p>Was <del>gone</del> here.</p>"


def test_body_leaves_bare_url_as_text_as_jekyll_does():
    """kramdown links <https://…> but not a bare URL; a Jekyll site's readers see what its pages show."""
    assert _post("title: T", "See https://example.com/z now.\n").content_html == "<p>See https://example.com/z now.</p>"


def test_body_fenced_code_block_in_rouge_wrapper():
    assert _post("title: T", "```python\nx = 1 < 2\n```\n").content_html == (
        '<div class="language-python highlighter-rouge"><div class="highlight"><pre class="highlight">'
        '<code>x = 1 &lt; 2\n</code></pre></div></div>'
    )


def test_body_relative_link_and_image_resolved_against_entry_url():
    post = _post("title: T", "[a](other/) ![i](img.png)\n")
    assert post.content_html == (
        '<p><a href="https://example.org/2016/10/06/hello-world/other/">a</a> '
        '<img src="https://example.org/2016/10/06/hello-world/img.png" alt="i" /></p>'
    )


def test_body_root_relative_link_resolved_against_site_host():
    post = _post("title: T", "[r](/x/)\n", settings=settings_from(_config(baseurl="/blog")))
    assert post.content_html == '<p><a href="https://example.org/x/">r</a></p>'


def test_body_absolute_links_untouched():
    body = "[a](https://other.example/p?q=1&r=2) [m](mailto:me@example.org) [rel](x/)\n"
    post = _post("title: T", body)
    assert post.content_html == (
        '<p><a href="https://other.example/p?q=1&amp;r=2">a</a> <a href="mailto:me@example.org">m</a> '
        '<a href="https://example.org/2016/10/06/hello-world/x/">rel</a></p>'
    )


# -- XML-forbidden characters ----------------------------------------------------------


def test_xml_forbidden_characters_removed_from_title_body_categories():
    front = "title: He\x00l\x01lo\x0b W\x1forld\ufffe\ncategories: [ne\x01ws, wo\x1frld]\ntags: a\x01b"
    post = _post(front, "Bo\x00dy \x01te\x0bxt\x1f here\ufffe.\n")
    assert post.title == "Hello World"
    assert post.categories == ("news", "world")
    assert post.tags == ("ab",)
    assert post.content_html == "<p>Body text here.</p>"
    assert not [s for s in _strings(post) if any(c in s for c in XML_FORBIDDEN)]


@pytest.mark.parametrize(
    ("front", "field", "expected"),
    [
        (r'title: "A\x01B\0C\vD\x1fE\uFFFEF"', "title", "ABCDEF"),
        (r'categories: ["ne\x01ws"]', "categories", ("news",)),
        (r'categories: "ne\x01ws world"', "categories", ("news", "world")),
        (r'tags: "py\x01thon"', "tags", ("python",)),
        (r'slug: "hel\x01lo"', "slug", "hello"),
    ],
    ids=["title", "categories-list", "categories-string", "tags-string", "slug"],
)
def test_xml_forbidden_characters_from_yaml_escapes_are_removed(front, field, expected):
    post = _post("title: T\n" + front if not front.startswith("title") else front)
    assert getattr(post, field) == expected
    assert not [s for s in _strings(post) if any(c in s for c in XML_FORBIDDEN)]


def test_xml_forbidden_characters_from_yaml_escapes_absent_from_author_and_excerpt():
    post = _post(r'title: T' '\n' r'author: "Ja\x01ne"' '\n' r'excerpt: "In\x01tro"')
    assert post.authors == (Author("Jane"),)
    assert post.summary_html == "<p>Intro</p>"
    assert not [s for s in _strings(post) if any(c in s for c in XML_FORBIDDEN)]


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "keyword"),
    [
        (b"---\n- a\n- b\n---\nbody\n", "list"),
        (b"---\njust some words\n---\nbody\n", "mapping"),
        (b"---\ntitle: T\nbody that never ends\n", "never closed"),
        (b"---\ntitle: Caf\xe9\n---\nbody\n", "UTF-8"),
        (b"\xff\xfe-\x00-\x00-\x00\n\x00", "UTF-8"),
        (b"", "empty"),
        (b"  \n\t\n\r\n", "empty"),
        (b"---\ntitle:\n  text: nested\n---\nbody\n", "`title`"),
        (b"---\ntitle: {a: 1}\n---\nbody\n", "`title`"),
    ],
    ids=["front-matter-list", "front-matter-scalar", "never-closed", "latin-1",
         "utf-16-bom", "empty", "whitespace-only", "title-mapping-block", "title-mapping-flow"],
)
def test_bad_input_is_a_problem(raw, keyword):
    problem = _problem(raw)
    assert keyword in problem.message


def test_undecodable_bytes_point_at_the_line():
    problem = _problem(b"---\ntitle: Caf\xe9\n---\nbody\n")
    assert problem.line == 2
    assert "0xe9" in problem.message


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (b"---\ntitle: a\n  b: c\n---\nbody\n", 3),
        (b"---\ntitle: T\ndate: 2016-10-06\n- item\n---\nbody\n", 4),
        (b"---\ntitle: T\ntags: [a, b\nauthor: x\n---\nbody\n", 4),
        (b"---\n\ntitle: a\n  b: c\n---\nbody\n", 4),
    ],
    ids=["mapping-values", "block-end", "unclosed-flow-sequence", "blank-line-after-opening-dashes"],
)
def test_broken_yaml_is_a_problem_with_the_file_line(raw, line):
    """`line` is the 1-based line of the whole file where the YAML mistake is (the `---` is line 1)."""
    problem = _problem(raw)
    assert "YAML" in problem.message
    assert problem.line == line
    assert str(problem).startswith(f"{REL}:{line}: ")


def test_no_front_matter_outside_posts_folder_is_only_a_warning():
    result = parse_post("about.md", b"Just a page.\n", settings_from())
    assert isinstance(result, Problem)
    assert result.severity == "warning"


# -- good but odd ----------------------------------------------------------------------


def test_utf8_bom_and_crlf_line_endings():
    raw = b"\xef\xbb\xbf---\r\ntitle: Crlf\r\ndate: 2016-10-06 10:00:00 +0000\r\n---\r\nLine one.\r\n\r\nLine two.\r\n"
    post = parse_post(REL, raw, settings_from())
    assert isinstance(post, Post), post
    assert post.title == "Crlf"
    assert post.date == datetime(2016, 10, 6, 10, 0, tzinfo=UTC)
    assert post.summary_html == "<p>Line one.</p>"
    assert post.content_html == "<p>Line one.</p>\n<p>Line two.</p>"
    assert not [s for s in _strings(post) if "\r" in s or "\ufeff" in s]


@pytest.mark.parametrize("raw", [b"---\n---\nBody.\n", b"---\n\n---\nBody.\n", b"---\n# only a comment\n---\nBody.\n"])
def test_empty_front_matter_block(raw):
    post = parse_post(REL, raw, settings_from())
    assert isinstance(post, Post), post
    assert post.title == "Hello World"
    assert post.date == datetime(2016, 10, 6, 0, 0, tzinfo=BERLIN)
    assert post.content_html == "<p>Body.</p>"


# -- determinism -----------------------------------------------------------------------


def test_same_bytes_give_equal_posts():
    raw = post_text("title: T\ndate: 2016-10-06 11:10:38 -0700\ntags: [a, b]\nauthor: Jane",
                    "One [x](y/).\n\nTwo.\n").encode()
    settings = settings_from()
    first, second = parse_post(REL, raw, settings), parse_post(REL, raw, settings)
    assert isinstance(first, Post)
    assert first == second
    assert first.fingerprint == second.fingerprint
    assert parse_post(REL, raw, settings_from()) == first  # a fresh but equal Settings too


def test_fingerprint_changes_when_the_bytes_change():
    settings = settings_from()
    one = _post("title: T", "Body.\n", settings=settings)
    two = _post("title: T", "Body!\n", settings=settings)
    assert one.fingerprint != two.fingerprint
