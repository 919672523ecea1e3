"""`site.data` from a Jekyll site's `_data` folder (content/datafiles.py): every format, nested folders,
Liquid that reads it, jekyll-feed's author lookup, and a rescan that notices a data file changed."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest
from conftest import BASIC_CONFIG, write_site

from feedsvc.config import ConfigError, load_settings
from feedsvc.content.datafiles import read_data_folder
from feedsvc.content.parsing import parse_post
from feedsvc.model import Author, Post

RELEASE = "---\ntitle: Release\n---\nVersion {{ site.data.release.version }}, {{ site.data.mirrors[1].host }}.\n"


#: The files as given, `_config.yml` among them where a test wants one.
_write = partial(write_site, config=None)


def test_every_format_and_nested_folders(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "_data/release.yml": "version: 2.5.1\nchecksum: abc\n",
        "_data/team.json": '{"lead": "Ann"}',
        "_data/mirrors.csv": "host,port\na.example,80\nb.example,8080\n",
        "_data/sizes.tsv": "name\tbytes\nsmall\t10\n",
        "_data/docs/api v2.yaml": "- one\n- two\n",
        "_data/.hidden.yml": "secret: 1\n",
    })
    assert read_data_folder(root) == {
        "release": {"version": "2.5.1", "checksum": "abc"},
        "team": {"lead": "Ann"},
        "mirrors": [{"host": "a.example", "port": "80"}, {"host": "b.example", "port": "8080"}],
        "sizes": [{"name": "small", "bytes": "10"}],
        "docs": {"api_v2": ["one", "two"]},
    }


def test_a_site_without_data_has_none(tmp_path: Path) -> None:
    assert read_data_folder(tmp_path) == {}


def test_a_broken_data_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    root = _write(tmp_path, {"_config.yml": BASIC_CONFIG, "_data/bad.yml": "a: [unclosed\n"})
    with pytest.raises(ConfigError, match=r"_data/bad.yml \(line \d+\)"):
        load_settings({}, root)


def test_liquid_reads_site_data_and_authors_are_looked_up(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "_config.yml": BASIC_CONFIG,
        "_data/release.yml": "version: 2.5.1\n",
        "_data/mirrors.csv": "host\na.example\nb.example\n",
        "_data/authors.yml": "ann:\n  name: Ann Author\n  email: ann@example.org\n  uri: https://ann.example.org\n",
    })
    settings = load_settings({}, root)
    post = parse_post("_posts/2020-01-01-release.md", RELEASE.encode(), settings)
    assert isinstance(post, Post) and "Version 2.5.1, b.example." in post.content_html
    by_key = parse_post("_posts/2020-01-02-a.md", b"---\ntitle: A\nauthor: ann\n---\nx\n", settings)
    assert isinstance(by_key, Post)
    assert by_key.authors == (Author("Ann Author", "ann@example.org", "https://ann.example.org"),)
    unknown = parse_post("_posts/2020-01-03-b.md", b"---\ntitle: B\nauthor: bob\n---\nx\n", settings)
    assert isinstance(unknown, Post) and unknown.authors == (Author("bob"),)


def test_authors_data_is_part_of_every_posts_fingerprint(tmp_path: Path) -> None:
    root = _write(tmp_path, {"_config.yml": BASIC_CONFIG, "_data/authors.yml": "ann:\n  name: Ann\n"})
    before = load_settings({}, root)
    _write(root, {"_data/authors.yml": "ann:\n  name: Ann Author\n"})
    after = load_settings({}, root)
    assert before.fingerprint != after.fingerprint
    _write(root, {"_data/release.yml": "version: 3\n"})
    assert load_settings({}, root).fingerprint == after.fingerprint  # other data: only Liquid posts see it
    assert load_settings({}, root).liquid_fingerprint != after.liquid_fingerprint


def test_a_rescan_notices_a_data_file_change(site_dir, make_refresher) -> None:
    root = site_dir({"_posts/2020-01-01-release.md": RELEASE, "_data/release.yml": "version: 1.0\n",
                     "_data/mirrors.csv": "host\na\nb\n"})
    refresher = make_refresher(root)
    refresher.refresh()
    assert "Version 1.0, b." in refresher.store.snapshot.site.posts[0].content_html
    data = root / "_data" / "release.yml"
    stat = data.stat()
    data.write_text("version: 2.0\n", encoding="utf-8")
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert refresher.refresh().published
    assert "Version 2.0, b." in refresher.store.snapshot.site.posts[0].content_html
