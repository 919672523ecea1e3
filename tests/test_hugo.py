"""Hugo sites: TOML (+++) front matter, the content/posts/ layout and Hugo's URLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from feedsvc.content.dialects import detect
from feedsvc.content.dialects.hugo import HUGO
from feedsvc.model import Post

HUGO_TOML = """\
baseURL = "https://example.org/blog/"
title = "Hugo Site"
languageCode = "en-gb"
timeZone = "Europe/Berlin"

[params]
description = "Posts written for Hugo"
author = "Hanna"
"""


def toml_post(front: str, body: str = "Hello from *Hugo*.\n") -> str:
    return "+++\n" + front.strip("\n") + "\n+++\n" + body


FILES = {
    "content/posts/first-post.md": toml_post(
        'title = "First post"\ndate = 2026-01-02T10:30:00+01:00\nlastmod = 2026-01-05T08:00:00Z\n'
        'tags = ["go", "static sites"]\ncategories = ["Notes"]'),
    "content/posts/bundle/index.md": toml_post(
        'title = "A bundle"\ndate = 2026-01-03\nslug = "Custom Slug"\nsummary = "The summary."',
        "First paragraph.\n\nSecond paragraph.\n"),
    "content/posts/hidden.md": toml_post('title = "Hidden"\ndate = 2026-01-04\ndraft = true'),
    "content/posts/yaml-too.md": "---\ntitle: YAML works too\ndate: 2026-01-06\n---\nBody.\n",
    "content/posts/_index.md": toml_post('title = "Posts"'),  # a list page, not a post
    "content/about.md": toml_post('title = "About"'),  # a page, not a post
    "archetypes/default.md": toml_post('title = "{{ replace .Name "-" " " | title }}"\ndate = {{ .Date }}'),
    "themes/t/exampleSite/content/posts/demo.md": toml_post('title = "Theme demo"\ndate = 2020-01-01'),
}


def _hugo_site(site_dir, files=None, config=HUGO_TOML):
    root = site_dir(files if files is not None else FILES, config=None)
    if config is not None:
        (root / "hugo.toml").write_text(config)
    return root


def _posts(refresher) -> dict[str, Post]:
    return {p.source: p for p in refresher.store.snapshot.site.posts}


def test_a_hugo_site_serves_the_posts_under_content_posts_with_hugos_urls(site_dir, make_refresher):
    refresher = make_refresher(_hugo_site(site_dir))
    report = refresher.refresh()
    assert report.error is None
    posts = _posts(refresher)
    assert sorted(posts) == ["content/posts/bundle/index.md", "content/posts/first-post.md",
                             "content/posts/yaml-too.md"]
    assert [p for p in refresher.store.snapshot.site.problems if p.severity == "error"] == []
    first = posts["content/posts/first-post.md"]
    assert first.url == "https://example.org/blog/posts/first-post/"
    assert first.date == datetime(2026, 1, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))  # a real TOML datetime
    assert first.updated == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert first.tags == ("go", "static sites") and first.categories == ("Notes",)
    assert [a.name for a in first.authors] == ["Hanna"]
    bundle = posts["content/posts/bundle/index.md"]
    assert bundle.url == "https://example.org/blog/posts/custom-slug/"  # slug front matter, lower-cased
    assert bundle.summary_html == "<p>The summary.</p>"
    assert bundle.date.utcoffset() == timedelta(hours=1)  # a bare date is in the site's timeZone
    assert posts["content/posts/yaml-too.md"].url == "https://example.org/blog/posts/yaml-too/"
    feed = json.loads(refresher.store.snapshot.resources["/feed.json"].body)
    assert feed["title"] == "Hugo Site" and feed["description"] == "Posts written for Hugo"
    assert feed["home_page_url"].startswith("https://example.org/blog")


def test_url_front_matter_and_the_posts_permalink_setting(site_dir, make_refresher):
    files = {
        "content/posts/one.md": toml_post('title = "One Two!"\ndate = 2026-03-04\nurl = "/custom/place/"'),
        "content/posts/two.md": toml_post('title = "Hello, World"\ndate = 2026-03-05'),
    }
    config = HUGO_TOML + '\n[permalinks]\nposts = "/:year/:month/:title/"\n'
    refresher = make_refresher(_hugo_site(site_dir, files, config))
    refresher.refresh()
    posts = _posts(refresher)
    assert posts["content/posts/one.md"].url == "https://example.org/blog/custom/place/"
    assert posts["content/posts/two.md"].url == "https://example.org/blog/2026/03/hello-world/"


def test_broken_toml_names_the_file_and_line_and_the_other_posts_stay(site_dir, make_refresher):
    files = {
        "content/posts/good.md": toml_post('title = "Good"\ndate = 2026-01-01'),
        "content/posts/bad.md": toml_post('title = "Bad"\ndate = 2026-01-01\ntags = [unquoted]'),
        "content/posts/open.md": '+++\ntitle = "Never closed"\n\nBody\n',
    }
    refresher = make_refresher(_hugo_site(site_dir, files))
    refresher.refresh()
    assert list(_posts(refresher)) == ["content/posts/good.md"]
    problems = {p.path: p for p in refresher.store.snapshot.site.problems if p.severity == "error"}
    assert problems["content/posts/bad.md"].line == 4
    assert "TOML" in problems["content/posts/bad.md"].message
    assert "never closed" in problems["content/posts/open.md"].message


def test_hugo_bodies_are_not_liquid(site_dir, make_refresher):
    files = {"content/posts/sc.md": toml_post('title = "Shortcode"\ndate = 2026-01-01',
                                              '{{< youtube abc >}} and {{ .Title }}\n')}
    refresher = make_refresher(_hugo_site(site_dir, files))
    refresher.refresh()
    html = _posts(refresher)["content/posts/sc.md"].content_html
    assert "https://www.youtube.com/watch?v=abc" in html and "{{ .Title }}" in html
    assert not [p for p in refresher.store.snapshot.site.problems if "Liquid" in p.message]


def test_an_edited_hugo_config_is_picked_up(site_dir, make_refresher):
    root = _hugo_site(site_dir)
    refresher = make_refresher(root)
    refresher.refresh()
    (root / "hugo.toml").write_text(HUGO_TOML.replace('"Hugo Site"', '"Renamed Site"'))
    refresher.refresh()
    assert json.loads(refresher.store.snapshot.resources["/feed.json"].body)["title"] == "Renamed Site"


def test_which_folders_are_hugo(tmp_path):
    hugo_config, posts_only, jekyll = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    (hugo_config).mkdir()
    (hugo_config / "config.toml").write_text('title = "x"\n')
    (posts_only / "content" / "posts").mkdir(parents=True)
    (jekyll / "content" / "posts").mkdir(parents=True)
    (jekyll / "_config.yml").write_text("title: x\n")
    (jekyll / "hugo.toml").write_text('title = "x"\n')
    assert detect(hugo_config).name == "hugo" and detect(posts_only).name == "hugo"
    assert detect(jekyll).name == "jekyll"  # a _config.yml makes it Jekyll, whatever else is there


def test_a_jekyll_site_with_a_content_posts_folder_keeps_jekyll_rules(site_dir, make_refresher):
    text = "---\ntitle: Page\ndate: 2026-01-02\n---\nBody.\n"
    refresher = make_refresher(site_dir({"content/posts/page.md": text, "_posts/2026-01-01-a.md": text}))
    refresher.refresh()
    posts = _posts(refresher)
    assert posts["content/posts/page.md"].url == "https://example.org/2026/01/02/page/"  # BASIC_CONFIG: pretty


def test_a_bundles_images_hang_from_its_link_and_publish_and_expiry_dates_are_kept(site_dir, make_refresher, clock):
    files = {
        "content/posts/2024-06_02/index.md": toml_post('title = "Out of my cave: lots of updates!"\ndate = 2024-06-11',
                                                       "![A photo](photo.jpg)\n"),
        "content/posts/later.md": toml_post('title = "Later"\ndate = 2026-01-01\npublishDate = 2026-07-01'),
        "content/posts/going.md": toml_post('title = "Going"\ndate = 2026-01-01\nexpiryDate = 2026-06-15'),
        "content/posts/gone.md": toml_post('title = "Gone"\ndate = 2026-01-01\nexpiryDate = 2026-05-01'),
    }
    refresher = make_refresher(_hugo_site(site_dir, files))
    refresher.refresh()
    posts = _posts(refresher)
    bundle = posts["content/posts/2024-06_02/index.md"]
    assert bundle.url == "https://example.org/blog/posts/2024-06_02/"  # no [permalinks]: the folder's path
    assert 'src="https://example.org/blog/posts/2024-06_02/photo.jpg"' in bundle.content_html
    assert sorted(posts) == ["content/posts/2024-06_02/index.md", "content/posts/going.md"]
    site = refresher.store.snapshot.site
    assert site.next_publish_at == datetime(2026, 6, 15, tzinfo=timezone(timedelta(hours=2)))  # "going" goes first
    clock.now = datetime(2026, 7, 2, tzinfo=UTC)
    refresher.refresh()
    assert sorted(_posts(refresher)) == ["content/posts/2024-06_02/index.md", "content/posts/later.md"]


MULTILINGUAL_TOML = """\
baseURL = "https://example.org/"
defaultContentLanguage = "en"
[languages.en]
title = "In English"
languageCode = "en-GB"
[languages.fr]
title = "En français"
languageCode = "fr-FR"
[languages.de]
title = "Auf Deutsch"
contentDir = "inhalt"
"""


def test_each_language_has_its_feeds_under_its_prefix_saying_its_language_and_title(site_dir, make_refresher):
    files = {
        "content/posts/hello.md": toml_post('title = "Hello"\ndate = 2026-01-02\ntags = ["news"]'),
        "content/posts/hello.fr.md": toml_post('title = "Bonjour"\ndate = 2026-01-02\ntags = ["news"]'),
        "inhalt/posts/hallo.md": toml_post('title = "Hallo"\ndate = 2026-01-03'),
    }
    refresher = make_refresher(_hugo_site(site_dir, files, MULTILINGUAL_TOML))
    assert refresher.refresh().error is None
    resources = refresher.store.snapshot.resources
    english = json.loads(resources["/feed.json"].body)
    french = json.loads(resources["/fr/feed.json"].body)
    german = json.loads(resources["/de/feed.json"].body)
    assert [i["url"] for i in english["items"]] == ["https://example.org/posts/hello/"]
    assert [i["url"] for i in french["items"]] == ["https://example.org/fr/posts/hello/"]
    assert [i["url"] for i in german["items"]] == ["https://example.org/de/posts/hallo/"]
    assert (english["language"], french["language"], german["language"]) == ("en-GB", "fr-FR", "de")
    assert (english["title"], french["title"], german["title"]) == ("In English", "En français", "Auf Deutsch")
    assert b'xml:lang="fr-FR"' in resources["/fr/atom.xml"].body
    assert b"<language>fr-FR</language>" in resources["/fr/rss.xml"].body
    french_tag = json.loads(resources["/fr/tags/news/feed.json"].body)
    assert [i["title"] for i in french_tag["items"]] == ["Bonjour"]
    assert [i["title"] for i in json.loads(resources["/tags/news/feed.json"].body)["items"]] == ["Hello"]


def test_a_hugo_feed_keeps_hugos_order_weight_then_newest_then_link_title(site_dir, make_refresher):
    """Hugo's feeds list weighted pages first; posts of the same second by link title, case and accents
    weighing last; a Jekyll site of the same posts stays newest first, then by path."""
    same = "date = 2024-03-01T12:00:00Z"
    files = {
        "content/posts/a.md": toml_post(f'title = "Banana"\n{same}'),
        "content/posts/b.md": toml_post(f'title = "Éclair"\n{same}'),
        "content/posts/c.md": toml_post(f'title = "Ecluse"\n{same}'),
        "content/posts/d.md": toml_post(f'title = "Zulu"\nlinkTitle = "Aardvark"\n{same}'),
        "content/posts/e.md": toml_post(f'title = "apple"\n{same}'),
        "content/posts/f.md": toml_post('title = "Weighted"\nweight = 3\ndate = 2001-01-01'),
        "content/posts/g.md": toml_post('title = "Newer"\ndate = 2025-01-01'),
    }
    refresher = make_refresher(_hugo_site(site_dir, files))
    refresher.refresh()
    assert [p.title for p in refresher.store.snapshot.site.posts] == [
        "Weighted", "Newer", "Zulu", "apple", "Banana", "Éclair", "Ecluse"]


def test_retitling_a_hugo_post_among_posts_of_its_date_reorders_the_feed(site_dir, make_refresher):
    same = "date = 2024-03-01T12:00:00Z"
    files = {"content/posts/a.md": toml_post(f'title = "Alpha"\n{same}'),
             "content/posts/b.md": toml_post(f'title = "Beta"\n{same}')}
    root = _hugo_site(site_dir, files)
    refresher = make_refresher(root)
    refresher.refresh()
    (root / "content/posts/a.md").write_text(toml_post(f'title = "Gamma"\n{same}'))
    refresher.refresh()
    assert [p.title for p in refresher.store.snapshot.site.posts] == ["Beta", "Gamma"]


def test_hugos_own_feed_urls_answer_with_feedsvcs_rss_feeds(site_dir, make_refresher):
    """Subscribers of a Hugo site keep their feeds: /index.xml, /posts/index.xml and each term's."""
    refresher = make_refresher(_hugo_site(site_dir, {
        **FILES, "content/posts/cpp.md": toml_post('title = "C++"\ndate = 2026-01-07\ntags = ["C++"]')}))
    refresher.refresh()
    snapshot = refresher.store.snapshot
    resources, aliases = snapshot.resources, snapshot.aliases
    assert aliases["/index.xml"] is resources["/rss.xml"]
    assert aliases["/posts/index.xml"] is resources["/rss.xml"]
    assert aliases["/tags/static-sites/index.xml"] is resources["/tags/static-sites/rss.xml"]
    assert aliases["/categories/notes/index.xml"] is resources["/categories/notes/rss.xml"]
    assert aliases["/tags/c++/index.xml"] is resources["/tags/c/rss.xml"]


def test_a_jekyll_site_has_no_hugo_feed_urls(site_dir, make_refresher):
    refresher = make_refresher(site_dir({"_posts/2026-01-01-a.md": "---\ntitle: A\ntags: [x]\n---\nBody.\n"}))
    refresher.refresh()
    assert not any(path.endswith("index.xml") for path in refresher.store.snapshot.aliases)


def test_a_posts_aliases_answer_301_to_the_post(site_dir, make_refresher):
    from feedsvc.web.app import create_app

    files = {**FILES, "content/posts/moved/index.md": toml_post(
        'title = "Moved"\ndate = 2026-01-08\naliases = ["/2019/old-name/", "/old page.html", "earlier", '
        '"../../../etc", "/status"]')}
    refresher = make_refresher(_hugo_site(site_dir, files))
    refresher.refresh()
    client = create_app(refresher.settings, refresher.store).test_client()
    link = "https://example.org/blog/posts/moved/"
    for old in ("/2019/old-name/", "/2019/old-name", "/2019/old-name/index.html", "/old%20page.html",
                "/posts/earlier/", "/posts/earlier"):
        response = client.get(old)
        assert (response.status_code, response.headers.get("Location")) == (301, link), old
    assert client.get("/status").status_code == 200
    assert not any("etc" in path for path in refresher.store.snapshot.redirects)


def test_alias_paths_follow_hugos_placement():
    from feedsvc.content.dialects.hugo.aliases import alias_paths

    assert alias_paths(["/Old Case/"], "/fr/a/") == ("/Old Case/", "/Old Case", "/Old Case/index.html")
    assert alias_paths("rel", "/fr/2024/01/a/") == ("/fr/2024/01/rel/", "/fr/2024/01/rel", "/fr/2024/01/rel/index.html")
    assert alias_paths("rel.html", "/posts/a.html") == ("/posts/rel.html",)
    assert alias_paths(["/x.html", 3, "", "https://elsewhere.example/"], "/posts/a/") == ("/x.html",)


def test_build_options_keep_a_page_out_of_the_site_feed_as_hugo_lists_it():
    """Hugo 0.111: `_build: {list: never}` (or false) leaves a page out of every list, `list: local` out of the
    home feed (it stays in its section's); `build` is a later Hugo's key, read as a plain parameter."""
    assert not HUGO.listed({"_build": {"list": "never"}}) and not HUGO.listed({"_Build": {"List": False}})
    assert not HUGO.listed({"_build": {"list": "local"}}) and not HUGO.listed({"headless": True})
    assert HUGO.listed({"_build": {"list": "always", "render": "never"}}) and HUGO.listed({"build": {"list": "never"}})
