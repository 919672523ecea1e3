"""The HTML pages: the index and one page per category, tag and author, for people rather than readers."""

from __future__ import annotations

import lxml.html
import pytest
from conftest import post_text

import feedsvc.pipeline.rendercache
from feedsvc.cli import main
from feedsvc.web.app import create_app

PUBLIC = "https://example.org"
HOSTILE = '<img src=x onerror="alert(1)">'
POSTS = {
    "_posts/2026-01-10-alpha.md": post_text(
        "title: Alpha Post\ndate: 2026-01-10 09:00:00 +0100\ncategories: [News]\ntags: [python, web]\n"
        "author: Ada Quill",
        "Alpha summary with **bold** text.\n\nSecond paragraph.\n"),
    "_posts/2026-02-15-beta.md": post_text(
        "title: Beta Post\ndate: 2026-02-15 10:00:00 +0100\ncategories: [News]\ntags: [python]\n"
        "author: {name: Ben Okafor, email: ben@example.org}", "Beta summary.\n"),
    "_posts/2026-03-20-gamma.md": post_text(
        "title: Gamma Post\ndate: 2026-03-20 11:00:00 +0100\ncategories: [Life]\ntags: [travel]\nauthor: Ada Quill",
        "Gamma summary.\n"),
}
SCOPE_PAGES = {  # page path -> the titles it lists, newest first
    "/categories/news/": ["Beta Post", "Alpha Post"],
    "/categories/life/": ["Gamma Post"],
    "/tags/python/": ["Beta Post", "Alpha Post"],
    "/tags/web/": ["Alpha Post"],
    "/tags/travel/": ["Gamma Post"],
    "/authors/ada-quill/": ["Gamma Post", "Alpha Post"],
    "/authors/ben-okafor/": ["Beta Post"],
}
FEED_TYPES = {"rss.xml": "application/rss+xml", "atom.xml": "application/atom+xml",
              "feed.json": "application/feed+json"}


@pytest.fixture
def served(site_dir, make_refresher):
    def serve(files=None, environ=None):
        root = site_dir(POSTS if files is None else files)
        refresher = make_refresher(root, environ)
        assert refresher.refresh().error is None
        app = create_app(refresher.settings, refresher.store)
        app.testing = True
        return root, refresher, app.test_client()

    return serve


def _page(client, path: str):
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return lxml.html.fromstring(response.data)


def _entries(doc) -> list[tuple[str, str]]:
    return [(a.text_content(), a.get("href")) for a in doc.xpath("//ol[@class='entries']//h3/a")]


@pytest.mark.parametrize("path", sorted(SCOPE_PAGES))
def test_each_scope_page_lists_its_newest_entries_linked_to_the_posts(served, path):
    _, refresher, client = served()
    doc = _page(client, path)
    assert [title for title, _ in _entries(doc)] == SCOPE_PAGES[path]
    by_title = {post.title: post for post in refresher.store.snapshot.site.posts}
    assert [href for _, href in _entries(doc)] == [by_title[t].url for t in SCOPE_PAGES[path]]
    for article, title in zip(doc.xpath("//ol[@class='entries']/li/article"), SCOPE_PAGES[path], strict=True):
        post = by_title[title]
        [time] = article.xpath(".//time")
        assert time.get("datetime") == post.date.isoformat()
        assert time.text == post.date.date().isoformat()
        assert ", ".join(a.name for a in post.authors) in article.text_content()
        assert article.xpath(".//p")[0].text_content() == post.summary_text


def test_a_scope_page_offers_its_own_feeds_for_subscribing(served):
    _, refresher, client = served()
    doc = _page(client, "/tags/python/")
    assert doc.xpath("string(//h1)") == "Tag: python"
    own = {f"{PUBLIC}/tags/python/{name}": kind for name, kind in FEED_TYPES.items()}
    discovery = {link.get("href"): link.get("type") for link in doc.xpath("//head/link[@rel='alternate']")}
    assert discovery == own
    hrefs = [a.get("href") for a in doc.xpath("//section[@class='subscribe']//a")]
    assert [h for h in hrefs if h in own] == list(own)  # one button per format
    assert [h for h in hrefs if h.startswith("feed:")] == ["feed:" + url for url in own]
    assert f"{PUBLIC}/feeds.opml" in hrefs
    resources = refresher.store.snapshot.resources
    for href in hrefs:  # every subscribe link is served
        assert href.removeprefix("feed:").removeprefix(PUBLIC) in resources, href


def test_a_scope_page_shows_as_many_entries_as_its_feeds(served):
    _, _, client = served(environ={"FEEDSVC_FEED_LIMIT": "1"})
    assert [title for title, _ in _entries(_page(client, "/authors/ada-quill/"))] == ["Gamma Post"]


def test_the_index_shows_the_newest_posts_and_links_every_scope_page(served):
    _, refresher, client = served()
    doc = _page(client, "/")
    assert [title for title, _ in _entries(doc)] == ["Gamma Post", "Beta Post", "Alpha Post"]
    page_links = {a.get("href") for a in doc.xpath("//ul[@class='scopes']//a[not(@class)]")}
    assert page_links == {PUBLIC + path for path in SCOPE_PAGES}
    for link in page_links:
        _page(client, link.removeprefix(PUBLIC))
    subscribe = [a.get("href") for a in doc.xpath("//section[@class='subscribe']//a")]
    assert [h for h in subscribe if h.startswith("feed:")] == [f"feed:{PUBLIC}/{name}" for name in FEED_TYPES]


def test_an_empty_site_still_invites_subscribers(served):
    _, _, client = served(files={})
    doc = _page(client, "/")
    assert _entries(doc) == []
    assert "No posts yet" in doc.text_content()


def test_every_user_controlled_string_is_escaped(served):
    files = {"_posts/2026-01-10-x.md": post_text(
        f"title: 'Less <than> & \"more\" {HOSTILE}'\ntags: ['{HOSTILE}']\n"
        "author: '<b>Bold</b> & Co'\ncategories: ['</style><script>alert(2)</script>']",
        f"Summary {HOSTILE} &amp; <i>done</i>.\n")}
    _, refresher, client = served(files=files)
    site = refresher.store.snapshot.site
    pages = ["/"] + [path for path in refresher.store.snapshot.resources if path.endswith("/") and path != "/"]
    assert len(pages) == 4
    for path in pages:
        raw = client.get(path).data
        doc = lxml.html.fromstring(raw)
        assert doc.xpath("//script | //img | //b | //i | //*[@onerror]") == [], path
        assert b"<script" not in raw and b"<img" not in raw, path
    [tag] = [scope for scope in site.scopes if scope.kind.name == "TAG"]
    tag_page = lxml.html.fromstring(client.get(f"/tags/{tag.slug}/").data)
    assert tag_page.xpath("string(//h1)") == f"Tag: {HOSTILE}"
    [(title, _)] = _entries(tag_page)
    assert title == site.posts[0].title


def test_pages_run_no_script_and_load_nothing_from_elsewhere(served):
    _, _, client = served()
    for path in ["/", *SCOPE_PAGES]:
        response = client.get(path)
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        doc = lxml.html.fromstring(response.data)
        assert doc.xpath("//script | //*[@src] | //link[@rel='stylesheet'] | //*[@style]") == [], path
        assert [attr for el in doc.iter() for attr in el.attrib if attr.startswith("on")] == []


def test_an_edit_re_renders_only_the_pages_of_the_scopes_that_show_the_post(served, monkeypatch):
    root, refresher, client = served()
    rendered: list[str] = []
    real = feedsvc.pipeline.rendercache.scope_page_parts

    def counting(scope, shown, settings):
        parts = real(scope, shown, settings)
        rendered.append(parts[0])
        return parts

    monkeypatch.setattr(feedsvc.pipeline.rendercache, "scope_page_parts", counting)
    before = dict(refresher.store.snapshot.resources)
    (root / "_posts/2026-02-15-beta.md").write_text(
        POSTS["_posts/2026-02-15-beta.md"].replace("Beta Post", "Beta Renamed"), encoding="utf-8")
    report = refresher.refresh()
    beta_pages = ["/categories/news/", "/tags/python/", "/authors/ben-okafor/"]
    assert sorted(rendered) == sorted(beta_pages)
    after = refresher.store.snapshot.resources
    for path in SCOPE_PAGES:
        if path in beta_pages:
            assert after[path].etag != before[path].etag, path
            assert "Beta Renamed" in [t for t, _ in _entries(_page(client, path))]
        else:
            assert after[path] is before[path], path  # the very bytes and validators
    assert not any(path.endswith("/") for path in report.feeds_changed)  # WebSub pings feeds, never pages



def test_the_index_is_rendered_again_only_when_what_it_shows_changes(served, monkeypatch):
    root, refresher, client = served()
    rendered: list[bool] = []
    real = feedsvc.pipeline.rendercache.render_index
    monkeypatch.setattr(feedsvc.pipeline.rendercache, "render_index",
                        lambda site, settings: rendered.append(True) or real(site, settings))
    alpha = root / "_posts/2026-01-10-alpha.md"
    before = refresher.store.snapshot.resources
    alpha.write_text(POSTS["_posts/2026-01-10-alpha.md"].replace("Second paragraph", "Second, longer paragraph"),
                     encoding="utf-8")
    refresher.refresh()
    after = refresher.store.snapshot.resources
    assert after["/rss.xml"].etag != before["/rss.xml"].etag  # the feeds show the whole post...
    assert rendered == [] and after["/"] is before["/"]  # ...the index only its summary: left as it was
    alpha.write_text(POSTS["_posts/2026-01-10-alpha.md"].replace("Alpha Post", "Alpha Retitled"), encoding="utf-8")
    refresher.refresh()
    assert rendered == [True]
    assert "Alpha Retitled" in [title for title, _ in _entries(_page(client, "/"))]


def test_an_entry_beyond_a_pages_limit_does_not_re_render_it(served, monkeypatch):
    root, refresher, _ = served(environ={"FEEDSVC_FEED_LIMIT": "1"})
    rendered: list[str] = []
    real = feedsvc.pipeline.rendercache.scope_page_parts
    monkeypatch.setattr(feedsvc.pipeline.rendercache, "scope_page_parts",
                        lambda scope, shown, settings: rendered.append(scope.slug) or real(scope, shown, settings))
    (root / "_posts/2026-01-10-alpha.md").write_text(
        POSTS["_posts/2026-01-10-alpha.md"].replace("Alpha summary", "Older summary"), encoding="utf-8")
    refresher.refresh()
    assert rendered == ["web"]  # the only scope whose newest entry is Alpha


def test_build_writes_each_page_as_index_html_in_its_folder(site_dir, tmp_path, served):
    _, refresher, _ = served()
    out = tmp_path / "out"
    assert main(["build", "--content", str(site_dir(POSTS)), "--out", str(out)]) == 0
    for path in SCOPE_PAGES:
        written = out / path.lstrip("/") / "index.html"
        assert written.read_bytes() == refresher.store.snapshot.resources[path].body, path
    # The index too, less what only the server answers (the next test).
    from feedsvc.render.pages import render_index
    assert (out / "index.html").read_bytes() == \
        render_index(refresher.store.snapshot.site, refresher.settings, custom_feeds=False).body


def test_long_summaries_end_at_a_word_and_a_long_url_is_cut_rather_than_dropped(served):
    words = " ".join(f"word{n}" for n in range(80))  # about 550 characters
    url = "https://example.org/" + "x" * 300
    _, _, client = served(files={
        "_posts/2026-01-01-words.md": post_text("title: Words", words + "\n"),
        "_posts/2026-01-02-url.md": post_text("title: Url", f"See {url} now.\n"),
    })
    summaries = {a.xpath("string(.//h3)"): a.xpath("string(.//p)") for a in _page(client, "/").xpath("//article")}
    assert summaries["Words"].endswith("\u2026") and len(summaries["Words"]) <= 281
    assert words.startswith(summaries["Words"][:-1] + " ")  # whole words only
    assert summaries["Url"] == f"See {url}"[:280] + "\u2026"


def test_a_scope_page_without_its_trailing_slash_is_redirected_to_it(site_dir, make_refresher):
    refresher = make_refresher(site_dir({"_posts/2026-01-01-a.md": post_text("title: A\ntags: [python]")}))
    refresher.refresh()
    client = create_app(refresher.settings, refresher.store).test_client()
    response = client.get("/tags/python")
    assert response.status_code == 301
    assert response.headers["Location"] == "https://example.org/tags/python/"
    assert client.get("/tags/nope").status_code == 404


def test_the_index_shows_custom_feed_urls_made_from_the_sites_own_names_and_they_work(served):
    import feedparser

    _, _, client = served(environ={"FEEDSVC_FEED_LIMIT": "1"})
    doc = _page(client, "/")
    examples = {a.text_content(): a.get("href") for a in doc.xpath("//ul[@class='examples']//a")}
    assert examples == {
        "Posts tagged python or travel": f"{PUBLIC}/rss.xml?tags=python,travel",
        "Posts tagged python in News": f"{PUBLIC}/rss.xml?tags=python&categories=news",
        "The oldest posts (archive page 1; feed readers that support RFC 5005 find every page)":
            f"{PUBLIC}/archive/1/rss.xml",
    }
    expected = {  # with one entry a feed: the newest match
        "Posts tagged python or travel": "Gamma Post",
        "Posts tagged python in News": "Beta Post",
        "The oldest posts (archive page 1; feed readers that support RFC 5005 find every page)": "Alpha Post",
    }
    for text, url in examples.items():
        response = client.get(url.removeprefix(PUBLIC))
        assert response.status_code == 200, url
        assert [entry.title for entry in feedparser.parse(response.data).entries] == [expected[text]], url


def test_a_site_without_tags_or_archives_shows_no_custom_feed_examples(served):
    _, _, client = served({"_posts/2026-01-10-alpha.md": post_text("title: Alone")})
    assert _page(client, "/").xpath("//ul[@class='examples']") == []


def test_a_static_build_offers_no_custom_feeds_which_only_the_server_answers(served, tmp_path):
    root, refresher, client = served(environ={"FEEDSVC_FEED_LIMIT": "1"})
    assert _page(client, "/").xpath("//ul[@class='examples']")
    out = tmp_path / "out"
    assert main(["build", "--content", str(root), "--out", str(out)]) == 0
    built = lxml.html.fromstring((out / "index.html").read_bytes())
    assert built.xpath("//ul[@class='examples']") == [] and "?tags=" not in lxml.html.tostring(built).decode()
    assert built.xpath("//ol[@class='entries']//h3/a")  # the rest of the index is there
