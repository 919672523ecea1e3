"""Hugo's [frontmatter] date settings: which key, or the file name, dates a post (the differential suite's
`frontmatter` fixtures compare them with Hugo's feeds; these cover what a feed does not show)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

from conftest import require_tool
from test_hugo import _hugo_site, _posts, toml_post

from feedsvc.content.dialects.hugo.dates import date_sources, resolve_dates

CONFIG = 'baseURL = "https://example.org/"\ntitle = "Dates"\n'


def test_a_list_replaces_hugos_and_default_brings_hugos_back_with_each_keys_aliases() -> None:
    rows = dict((row[0], row[1:]) for row in date_sources({"date": ["published_on"], "lastmod": ["x", ":default"]}))
    assert rows["date"] == ("published_on",)
    assert rows["lastmod"] == ("x", ":git", "lastmod", "modified", "date", "publishdate", "pubdate", "published")
    assert rows["publishdate"] == ("publishdate", "pubdate", "published", "date")  # not set: Hugo's own
    assert rows["expirydate"] == ("expirydate", "unpublishdate")


def test_a_dated_file_name_dates_the_post_and_names_its_slug_unless_the_front_matter_does() -> None:
    rows = date_sources({"date": [":filename", ":default"]})
    named = resolve_dates({"title": "T"}, "2024-01-02-hello-world", rows)
    assert named["date"] == date(2024, 1, 2) and named["slug"] == "hello-world"
    kept = resolve_dates({"Slug": "mine", "Date": "2020-01-01"}, "2024-01-02-hello-world", rows)
    assert kept["date"] == date(2024, 1, 2) and kept["Slug"] == "mine" and "slug" not in kept and "Date" not in kept
    assert resolve_dates({"date": "2020-01-01"}, "2024-99-02-x", rows)["date"] == "2020-01-01"


def test_git_and_file_times_are_not_read_so_the_next_source_dates_the_post(site_dir, make_refresher) -> None:
    """feedsvc reads a post's bytes, not its file's times nor its git history: those sources give nothing."""
    config = CONFIG + 'enableGitInfo = true\n[frontmatter]\ndate = [":git", ":fileModTime", "published_on"]\n'
    files = {"content/posts/a.md": toml_post('title = "A"\npublished_on = 2024-05-06T07:08:09Z')}
    refresher = make_refresher(_hugo_site(site_dir, files, config))
    refresher.refresh()
    assert _posts(refresher)["content/posts/a.md"].date == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_hugo_with_git_info_refuses_a_folder_outside_git_where_feedsvc_reads_the_next_sources(tmp_path) -> None:
    require_tool("hugo", shutil.which("hugo") is not None, "Debian package `hugo`")
    root = tmp_path / "site"
    (root / "content" / "posts").mkdir(parents=True)
    (root / "hugo.toml").write_text(CONFIG + "enableGitInfo = true\n")
    (root / "content" / "posts" / "a.md").write_text(toml_post('title = "A"\ndate = 2024-05-06'))
    built = subprocess.run(["hugo", "--source", str(root), "--destination", str(tmp_path / "out")],
                           capture_output=True, timeout=120, text=True, env={"PATH": "/usr/bin:/bin", "HOME": "/"},
                           cwd="/")
    assert built.returncode != 0 and "not a git repository" in built.stdout + built.stderr


def test_a_post_nothing_dates_comes_last_dated_0001_with_a_warning(site_dir, make_refresher) -> None:
    files = {"content/posts/undated.md": toml_post('title = "Undated"'),
             "content/posts/dated.md": toml_post('title = "Dated"\ndate = 2024-01-01T00:00:00Z')}
    refresher = make_refresher(_hugo_site(site_dir, files, CONFIG))
    refresher.refresh()
    posts = refresher.store.snapshot.site.posts
    assert [p.source for p in posts][-1] == "content/posts/undated.md"
    assert posts[-1].date == datetime(1, 1, 1, tzinfo=UTC)
    warnings = [p.message for p in refresher.store.snapshot.site.problems if p.path == "content/posts/undated.md"]
    assert any("no date" in message and "0001-01-01" in message for message in warnings)


def test_an_undated_post_in_any_zone_is_in_a_feed_readers_can_parse(site_dir, make_refresher) -> None:
    """Hugo's zero instant cannot be shown in a zone behind UTC: the post stays, at that day's local midnight;
    and year 1 is local mean time everywhere (offsets with seconds, `+09:18:59`), which no feed can write."""
    for zone in ("America/New_York", "Asia/Tokyo"):
        files = {"content/posts/undated.md": toml_post('title = "Undated"')}
        refresher = make_refresher(_hugo_site(site_dir, files, CONFIG + f'timeZone = "{zone}"\n'))
        refresher.refresh()
        [post] = refresher.store.snapshot.site.posts
        assert post.date.date() == date(1, 1, 1)
        rss = refresher.store.snapshot.resources["/rss.xml"].body.decode()
        published = rss.split("<pubDate>")[1].split("</pubDate>")[0]
        assert published.startswith("Mon, 01 Jan 0001 ") and published.endswith(" +0000")  # as Hugo writes it
        assert "<lastBuildDate>Mon, 01 Jan 0001 " in rss
        assert parsedate_to_datetime(published).utcoffset() == timedelta(0)  # (Python reads year 1 as 2001)
