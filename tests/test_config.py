"""Settings: `_config.yml` values, `FEEDSVC_*` overrides, defaults, and every mistake named at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import settings_from

from feedsvc.config import ConfigError, load_settings, webhook_body_seconds
from feedsvc.content.dialects.jekyll import PERMALINK_STYLES
from feedsvc.model import Author


def test_defaults_follow_jekyll_and_the_issue():
    settings = settings_from("url: https://example.org\n")
    assert settings.feed_limit == 20
    assert settings.rescan_seconds == 60
    assert settings.cache_max_age == 300
    assert settings.timezone == "UTC"
    assert settings.permalink == PERMALINK_STYLES["date"]
    assert settings.excerpt_separator == "\n\n"
    assert settings.future is False and settings.excerpt_only is False
    assert settings.public_url == "https://example.org"


def test_config_file_values():
    settings = settings_from("""\
        name: Old Name
        title: My Site
        url: https://example.org/
        baseurl: blog/
        author: {name: Ann, email: ann@example.org, url: https://ann.example}
        timezone: Asia/Tokyo
        lang: ja
        permalink: pretty
        future: true
        excerpt_separator: "<!--more-->"
        feed: {posts_limit: 5, excerpt_only: true}
    """)
    assert settings.title == "My Site"
    assert (settings.url, settings.baseurl, settings.site_url) == ("https://example.org", "/blog",
                                                                   "https://example.org/blog")
    assert settings.public_url == "https://example.org/blog"
    assert settings.author == Author("Ann", "ann@example.org", "https://ann.example")
    assert (settings.timezone, settings.lang) == ("Asia/Tokyo", "ja")
    assert settings.permalink == PERMALINK_STYLES["pretty"]
    assert settings.future and settings.excerpt_only
    assert (settings.excerpt_separator, settings.feed_limit) == ("<!--more-->", 5)


def test_name_is_the_title_when_no_title_is_given():
    assert settings_from("name: Jekyll News\nurl: https://example.org\n").title == "Jekyll News"


def test_environment_overrides_every_setting():
    environ = {
        "FEEDSVC_TITLE": "Env Title", "FEEDSVC_DESCRIPTION": "Env desc", "FEEDSVC_URL": "https://env.example",
        "FEEDSVC_BASEURL": "/b", "FEEDSVC_BASE_URL": "https://feeds.example/x/", "FEEDSVC_AUTHOR": "Env Author",
        "FEEDSVC_TIMEZONE": "Europe/Paris", "FEEDSVC_LANG": "fr", "FEEDSVC_PERMALINK": "/:title/",
        "FEEDSVC_FUTURE": "true", "FEEDSVC_EXCERPT_SEPARATOR": "~~~", "FEEDSVC_FEED_LIMIT": "7",
        "FEEDSVC_EXCERPT_ONLY": "1", "FEEDSVC_RESCAN_SECONDS": "2.5", "FEEDSVC_CACHE_MAX_AGE": "60",
    }
    settings = settings_from("title: File\nurl: https://file.example\nfeed: {posts_limit: 3}\n", environ)
    assert (settings.title, settings.description, settings.url, settings.baseurl) == (
        "Env Title", "Env desc", "https://env.example", "/b")
    assert settings.public_url == "https://feeds.example/x"
    assert settings.author == Author("Env Author")
    assert (settings.timezone, settings.lang, settings.permalink) == ("Europe/Paris", "fr", "/:title/")
    assert settings.future and settings.excerpt_only
    assert (settings.excerpt_separator, settings.feed_limit) == ("~~~", 7)
    assert (settings.rescan_seconds, settings.cache_max_age) == (2.5, 60)


def test_empty_environment_values_mean_unset():
    settings = settings_from("url: https://example.org\n", {"FEEDSVC_BASE_URL": "", "FEEDSVC_FEED_LIMIT": ""})
    assert settings.public_url == "https://example.org" and settings.feed_limit == 20


def test_posts_collection_permalink_wins_over_the_site_permalink():
    settings = settings_from("url: https://x.org\npermalink: pretty\n"
                             "collections:\n  posts:\n    permalink: /news/:year/:title/\n")
    assert settings.permalink == "/news/:year/:title/"


def test_missing_url_falls_back_with_a_warning():
    settings = settings_from("title: T\n")
    assert settings.url == "http://localhost:8000"
    assert any("url" in w for w in settings.warnings)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        settings_from("url: ftp://nope\ntimezone: Mars/Base\nfeed: {posts_limit: 0}\nfuture: maybe\n",
                      {"FEEDSVC_RESCAN_SECONDS": "soon"})
    problems = info.value.problems
    assert len(problems) == 5, problems
    for needle in ("url", "Mars/Base", "posts_limit", "future", "FEEDSVC_RESCAN_SECONDS"):
        assert any(needle in p for p in problems), needle


def test_the_webhook_body_deadline_is_a_process_setting_refused_when_unusable():
    assert webhook_body_seconds({}, 10.0) == 10.0
    assert webhook_body_seconds({"FEEDSVC_WEBHOOK_BODY_SECONDS": " 1.5 "}, 10.0) == 1.5
    for wrong in ("soon", "0", "-3", "nan", "99999"):
        with pytest.raises(ConfigError) as info:
            webhook_body_seconds({"FEEDSVC_WEBHOOK_BODY_SECONDS": wrong}, 10.0)
        assert "FEEDSVC_WEBHOOK_BODY_SECONDS" in str(info.value), wrong


def test_broken_config_yaml_names_the_file_and_line(tmp_path: Path):
    (tmp_path / "_config.yml").write_text("title: ok\nurl: [broken\n")
    with pytest.raises(ConfigError) as info:
        load_settings({}, tmp_path)
    assert "_config.yml" in str(info.value) and "line" in str(info.value)


def test_settings_fingerprint_tracks_what_shapes_posts():
    a = settings_from("url: https://a.example\n")
    b = settings_from("url: https://b.example\n")
    c = settings_from("url: https://a.example\ntitle: Other title\n")
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == c.fingerprint  # the title shapes feeds, not posts


def test_baseurl_is_percent_encoded_once_so_every_link_is_a_valid_uri():
    assert settings_from("url: https://example.org\nbaseurl: /my blog/\n").site_url == "https://example.org/my%20blog"
    assert settings_from("url: https://example.org\nbaseurl: blög\n").baseurl == "/bl%C3%B6g"
    assert settings_from("url: https://example.org\nbaseurl: /my%20blog\n").baseurl == "/my%20blog"
