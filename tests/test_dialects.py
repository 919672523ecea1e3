"""The Dialect seam: which generator a folder is, and each generator's slug, file-name and permalink rules."""

from __future__ import annotations

import pickle
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feedsvc.config import ConfigError, load_settings
from feedsvc.content.dialects import DIALECTS, PostPlace, SiteKindError, detect, dialect_named
from feedsvc.content.dialects.hugo import HUGO, HugoRules
from feedsvc.content.dialects.jekyll import JEKYLL, PERMALINK_STYLES, slugify
from feedsvc.content.fields import PostError
from feedsvc.content.scanning import ScanError, take_inventory

BERLIN = ZoneInfo("Europe/Berlin")


def _folder(root: Path, *relpaths: str) -> Path:
    """Files (a name with a dot) and folders (without) under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for relpath in relpaths:
        path = root / relpath
        if "." in path.name:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("title: x\n" if path.suffix in (".yml", ".yaml") else 'title = "x"\n')
        else:
            path.mkdir(parents=True, exist_ok=True)
    return root


# -- detect: the one place that decides ------------------------------------------------------


@pytest.mark.parametrize(("relpaths", "expected"), [
    (["_config.yml"], "jekyll"),
    (["_posts"], "jekyll"),  # no config file: the posts folder tells
    (["_config.yml", "hugo.toml", "content/posts"], "jekyll"),  # a _config.yml decides, whatever else is there
    (["hugo.toml"], "hugo"),
    (["config.yaml", "_posts"], "hugo"),  # a config file outranks a posts folder
    (["content/posts"], "hugo"),
    (["config/_default"], "hugo"),
], ids=["config.yml", "_posts", "config.yml-wins", "hugo.toml", "hugo-config-and-_posts", "content-posts",
        "hugo-config-folder"])
def test_detect_names_the_generator_of_a_folder(tmp_path, relpaths, expected):
    assert detect(_folder(tmp_path / "site", *relpaths)).name == expected


def test_a_folder_that_is_neither_is_an_error_naming_what_was_looked_for(tmp_path):
    root = _folder(tmp_path / "site", "about.md", "news/_posts", "posts")
    with pytest.raises(SiteKindError) as caught:
        detect(root)
    message = str(caught.value)
    assert str(root) in message
    for looked_for in ("_config.yml", "_posts", "hugo.toml", "config.toml", "config/_default", "content/posts"):
        assert looked_for in message
    with pytest.raises(ConfigError, match="not a site feedsvc can read"):
        load_settings({}, root)
    with pytest.raises(ScanError, match="not a site feedsvc can read"):
        take_inventory(root)


def test_a_folder_with_both_posts_folders_and_no_config_is_ambiguous(tmp_path):
    root = _folder(tmp_path / "site", "_posts", "content/posts")
    with pytest.raises(SiteKindError, match="looks like both Jekyll and Hugo") as caught:
        detect(root)
    assert "_config.yml" in str(caught.value) and "hugo.toml" in str(caught.value)


def test_a_missing_folder_or_a_file_is_named(tmp_path):
    with pytest.raises(SiteKindError, match="does not exist"):
        detect(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SiteKindError, match="is not a folder"):
        detect(tmp_path / "file")


def test_a_hugo_config_folder_is_read(tmp_path):
    root = _folder(tmp_path / "site", "config/_default/hugo.toml", "content/post/a.md")
    (root / "config/_default/hugo.toml").write_text('baseURL = "https://example.org/"\ntitle = "From the folder"\n')
    settings = load_settings({}, root)
    assert (settings.dialect, settings.title, settings.url) == ("hugo", "From the folder", "https://example.org")


def test_settings_carry_the_dialect_by_name_and_pickle(tmp_path):
    hugo_site = _folder(tmp_path / "hugo", "hugo.toml")
    jekyll_site = _folder(tmp_path / "jekyll", "_config.yml")
    hugo, jekyll = load_settings({}, hugo_site), load_settings({}, jekyll_site)
    assert (hugo.dialect, jekyll.dialect) == ("hugo", "jekyll")
    assert pickle.loads(pickle.dumps(hugo)) == hugo
    assert dialect_named(hugo.dialect) is HUGO and dialect_named(jekyll.dialect) is JEKYLL
    assert hugo.fingerprint != jekyll.fingerprint  # posts parsed under one are not reused under the other
    assert [d.name for d in DIALECTS] == ["jekyll", "hugo"]
    with pytest.raises(ValueError, match="unknown site dialect 'eleventy'"):
        dialect_named("eleventy")


def test_scanning_follows_the_dialect_it_is_given(tmp_path):
    root = _folder(tmp_path / "site", "_posts/2026-01-01-a.md", "content/posts/b.md", "content/posts/_index.md",
                   "content/posts/c/index.md", "about.md")
    assert sorted(take_inventory(root, dialect=JEKYLL)[0]) == [  # `_index.md`: Jekyll skips names starting with _
        "_posts/2026-01-01-a.md", "about.md", "content/posts/b.md", "content/posts/c/index.md"]
    assert sorted(take_inventory(root, dialect=HUGO)[0]) == ["content/posts/b.md", "content/posts/c/index.md"]


# -- Jekyll's rules ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "mode", "cased", "slug"), [
    ("Hello, World_Again!", "default", False, "hello-world-again"),
    ("Hello, World_Again!", "pretty", False, "hello,-world_again!"),  # each checked against Jekyll 4.3
    ("Hello, World_Again!", "pretty", True, "Hello,-World_Again!"),
    ("Café  Olé", "raw", False, "café-olé"),
    ("Café Olé", "ascii", False, "caf-ol"),
    ("Café Olé", "latin", False, "cafe-ole"),
    ("As It Is", "none", False, "As It Is"),
])
def test_jekyll_slugify_modes(text, mode, cased, slug):
    assert slugify(text, mode, cased) == slug


def _jekyll_path(slug: str, pattern: str, front: dict[str, object] | None = None,
                 categories: tuple[str, ...] = ()) -> str:
    when = datetime(2016, 10, 6, 11, 10, 38, tzinfo=BERLIN)
    place = PostPlace(front or {}, slug, slug, "ignored", when, categories)
    return JEKYLL.post_path(place, JEKYLL.permalink_pattern(pattern))


def test_jekyll_permalinks_through_the_dialect():
    assert _jekyll_path("Hello_World", "date") == "/2016/10/06/Hello_World.html"  # :title keeps case and _
    assert _jekyll_path("Hello_World", "/:slug/:name/") == "/hello-world/hello-world/"
    assert _jekyll_path("a", "pretty", categories=("News", "Tech", "news")) == "/news/tech/2016/10/06/a/"
    assert _jekyll_path("a", "/:year/:y_day/:short_month/:hour:minute/") == "/2016/280/Oct/1110/"
    assert _jekyll_path("a", "date", {"permalink": "/fixed/:title/"}) == "/fixed/a/"
    assert JEKYLL.permalink_pattern("weekdate") == PERMALINK_STYLES["weekdate"]
    assert JEKYLL.permalink_pattern("blog/:title") == "/blog/:title"
    with pytest.raises(PostError, match="`permalink` must be text, got a list"):
        _jekyll_path("a", "date", {"permalink": ["/x/"]})


@pytest.mark.parametrize(("slug", "pattern", "front", "entry_id"), [
    ("jekyll-1-0-released", "/news/:year/:month/:day/:title/", {},
     "https://example.org/news/2016/10/06/jekyll-1-0-released"),  # no trailing slash
    ("hello", "date", {}, "https://example.org/2016/10/06/hello"),  # no .html
    ("own", "date", {"permalink": "/special/place/"}, "https://example.org/special/own"),  # folder + slug
    ("hash-#1", "date", {}, "https://example.org/2016/10/06/hash-#1"),  # as Jekyll writes it
])
def test_jekyll_entry_ids_are_jekyll_feeds(slug, pattern, front, entry_id):
    place = PostPlace(front, slug, slug, "T", datetime(2016, 10, 6, 11, 10, tzinfo=BERLIN), ())
    path = JEKYLL.post_path(place, JEKYLL.permalink_pattern(pattern))
    assert JEKYLL.entry_id(place, path, "https://example.org") == entry_id


def test_jekyll_file_names_and_folders():
    assert JEKYLL.file_name("news/_posts/2016-10-06-hello.md") == ("hello", date(2016, 10, 6))
    assert JEKYLL.file_name("_posts/2018-10-12-trailing-dots...markdown").slug == "trailing-dots"
    assert JEKYLL.file_name("about.markdown") == ("about", None)
    with pytest.raises(PostError, match="the file name's date '2016-02-30' is not a real date"):
        JEKYLL.file_name("_posts/2016-02-30-no.md")
    assert JEKYLL.folder_categories("news/tech/_posts/2016-10-06-hello.md") == ["news", "tech"]
    assert JEKYLL.always_a_post("_posts/a.md") and not JEKYLL.always_a_post("pages/a.md")
    assert JEKYLL.renders_liquid and JEKYLL.summary_keys == ("description", "excerpt")
    in_collections = JEKYLL.configured(JEKYLL.site_rules({"collections_dir": "/my_collections/"}))
    assert in_collections.post_folders == ("my_collections",)
    assert in_collections.folder_categories("my_collections/news/_posts/2016-10-06-hello.md") == ["news"]
    assert JEKYLL.post_folders == ("",)


# -- Hugo's rules --------------------------------------------------------------------------


def _hugo_path(relpath: str, pattern: str, front: dict[str, object] | None = None, title: str = "A Title") -> str:
    file_slug = HUGO.file_name(relpath).slug
    front = front or {}
    slug = str(front.get("slug") or file_slug)
    place = PostPlace(front, slug, file_slug, title, datetime(2026, 1, 3, 9, 0, tzinfo=BERLIN), (), relpath)
    rules = HugoRules(permalinks=(("posts", pattern),)) if pattern else HugoRules()
    return HUGO.configured(rules.to_json()).post_path(place, HUGO.permalink_pattern(pattern or "/"))


def test_hugo_slugs_and_permalinks_through_the_dialect():
    assert HUGO.file_name("content/posts/bundle/index.md") == ("bundle", None)
    assert HUGO.file_name("content/posts/2026-01-03-x.md") == ("2026-01-03-x", None)  # no date in Hugo's names
    assert _hugo_path("content/posts/My Post.md", "") == "/posts/my-post/"  # no pattern: the file's path
    assert _hugo_path("content/posts/b/index.md", "/:slug/") == "/a-title/"  # no slug: the title, urlized
    assert _hugo_path("content/posts/b/index.md", ":year/:month/:title/", {"slug": "Custom Slug"}) == \
        "/2026/01/a-title/"
    assert _hugo_path("content/posts/b/index.md", "/:slug/:filename/", {"slug": "Custom Slug"}) == \
        "/custom-slug/b/"
    assert _hugo_path("content/posts/b.md", "/posts/:slug/", {"url": "elsewhere/page/"}) == "/elsewhere/page/"
    assert HUGO.permalink_pattern("pretty") == "/pretty"  # Jekyll's style names mean nothing to Hugo


def test_hugo_files_and_keys():
    assert HUGO.is_post_file("post.md") and not HUGO.is_post_file("_index.md") and not HUGO.is_post_file(".x.md")
    assert not HUGO.walks_folder("_drafts") and HUGO.walks_folder("bundle")
    assert HUGO.folder_categories("content/posts/news/a.md") == []
    assert not HUGO.always_a_post("content/posts/a.md")
    assert not HUGO.renders_liquid and HUGO.summary_keys == ("summary",)
    assert "lastmod" in HUGO.updated_keys and "lastmod" not in JEKYLL.updated_keys
