"""Jekyll's Liquid beyond one file: `{% include %}` and `{% include_relative %}` (content/includetag.py,
content/includes.py), `markdownify` through the site's kramdown, and
`site.posts` in Liquid (content/siteposts.py): what a post shows, the warnings, and rescans that notice
an include or the list of posts changed."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from conftest import BASIC_CONFIG, write_site

from feedsvc.config import load_settings
from feedsvc.content.includes import read_includes_folder, read_relative_files
from feedsvc.content.parsing import parse_post
from feedsvc.content.reading import read_post
from feedsvc.content.scanning import signature_of
from feedsvc.model import Post

#: The files as given, `_config.yml` among them where a test wants one.
_write = partial(write_site, config=None)


def _touch_later(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def _post(root: Path, relpath: str, text: str) -> Post:
    post = parse_post(relpath, text.encode(), load_settings({}, root))
    assert isinstance(post, Post), post
    return post


def test_include_with_parameters_a_variable_name_and_nesting(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "_config.yml": BASIC_CONFIG,
        "_includes/note.html": '<aside class="{{ include.level }}">{{ include.content }}'
                               "{% include parts/sign.html who=page.author %}</aside>",
        "_includes/parts/sign.html": "<em>by {{ include.who }}</em>",
        "_includes/plain.md": "Plain *include*.",
    })
    post = _post(root, "_posts/2020-01-01-a.md",
                 "---\ntitle: A\nauthor: Ann\nwhich: plain\n---\n"
                 '{% include note.html content="Mind the gap" level=page.title %}\n\n'
                 "{% include {{ page.which | append: '.md' }} %}\n")
    assert '<aside class="A">Mind the gap<em>by Ann</em></aside>' in post.content_html
    assert "<p>Plain <em>include</em>.</p>" in post.content_html
    assert post.warnings == ()


def test_a_missing_include_is_left_out_with_a_warning_naming_file_line_and_include(tmp_path: Path) -> None:
    root = _write(tmp_path, {"_config.yml": BASIC_CONFIG, "_includes/outer.html": "[{% include gone.html %}]"})
    post = _post(root, "_posts/2020-01-01-a.md",
                 "---\ntitle: A\n---\nFirst.\n\n{% include missing.html %}\n\n{% include outer.html %}\n\nLast.\n")
    assert "First." in post.content_html and "Last." in post.content_html and "[]" in post.content_html
    assert "{%" not in post.content_html
    shown = [(w.line, w.message) for w in post.warnings]
    assert shown[0][0] == 6 and "`{% include missing.html %}`" in shown[0][1]
    assert "no file _includes/missing.html" in shown[0][1]
    assert shown[1][0] == 8 and "gone.html" in shown[1][1] and "in _includes/outer.html, line 1" in shown[1][1]


def test_an_include_cannot_climb_out_of_its_folder(tmp_path: Path) -> None:
    root = _write(tmp_path, {"_config.yml": BASIC_CONFIG, "secret.txt": "do not show"})
    post = _post(root, "_posts/2020-01-01-a.md", "---\ntitle: A\n---\n{% include ../secret.txt %} ok\n")
    assert "do not show" not in post.content_html and "ok" in post.content_html
    assert "Jekyll refuses" in post.warnings[0].message
    assert read_relative_files(root, ["_posts/../secret.txt", "/etc/hostname"]) == {}


def test_the_includes_folder_skips_hidden_files_and_symlinks(tmp_path: Path) -> None:
    root = _write(tmp_path, {"_includes/a.html": "A", "_includes/.b.html": "B", "elsewhere.html": "E"})
    (root / "_includes" / "link.html").symlink_to(root / "elsewhere.html")
    assert read_includes_folder(root) == {"_includes/a.html": "A"}


def test_include_relative_reads_the_posts_neighbours(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "_config.yml": BASIC_CONFIG,
        "_posts/parts/intro.html": "Intro {{ include.word }}{% include_relative parts/more.html %}",
        "_posts/parts/more.html": ", and more",
        "_posts/2020-01-01-a.md": "---\ntitle: A\npart: intro\n---\n"
                                  "{% include_relative parts/{{ page.part }}.html word='here' %}\n",
    })
    relpath = "_posts/2020-01-01-a.md"
    post = read_post(root, relpath, signature_of(os.stat(root / relpath)), load_settings({}, root))
    assert isinstance(post, Post) and "Intro here, and more" in post.content_html and post.warnings == ()


def test_a_rescan_notices_an_include_changed(site_dir, make_refresher) -> None:
    root = site_dir({"_posts/2020-01-01-a.md": "---\ntitle: A\n---\n{% include sig.html %}\n",
                     "_includes/sig.html": "Signed, Ann"})
    refresher = make_refresher(root)
    refresher.refresh()
    assert "Signed, Ann" in refresher.store.snapshot.site.posts[0].content_html
    _touch_later(root / "_includes" / "sig.html", "Signed, Bob")
    assert refresher.refresh().published
    assert "Signed, Bob" in refresher.store.snapshot.site.posts[0].content_html


def test_a_rescan_notices_an_include_relative_file_changed_or_created(site_dir, make_refresher) -> None:
    """The inventory holds only posts, so the file a post include_relatives is checked on each refresh,
    by the walk and when the OS watcher named only that file."""
    root = site_dir({"_posts/2020-01-01-a.md": "---\ntitle: A\n---\n{% include_relative parts/sig.html %}"
                                               "{% include_relative parts/later.html %}\n",
                     "_posts/parts/sig.html": "Signed, Ann"})
    refresher = make_refresher(root)
    refresher.refresh()

    def text() -> str:
        return refresher.store.snapshot.site.posts[0].content_html

    assert "Signed, Ann" in text() and "P.S." not in text()
    assert not refresher.refresh().published  # nothing changed: nothing read again
    _touch_later(root / "_posts" / "parts" / "sig.html", "Signed, Bob")
    assert refresher.refresh().published
    assert "Signed, Bob" in text()
    (root / "_posts" / "parts" / "later.html").write_text("P.S. hello", encoding="utf-8")
    assert refresher.refresh(named=frozenset({"_posts/parts/later.html"})).published
    assert "Signed, Bob" in text() and "P.S. hello" in text()


INDEX = ("---\ntitle: Index\ndate: 2019-01-01\n---\n"
         "{% for post in site.posts %}[{{ post.title }} {{ post.url }} {{ post.date | date: '%Y' }}]{% endfor %}"
         " {{ site.posts.size }} posts; {{ site.tags.news.size }} news; {{ site.related_posts.size }} related\n")


def test_site_posts_lists_every_post_newest_first_and_follows_changes(site_dir, make_refresher) -> None:
    root = site_dir({"_posts/2019-01-01-index.md": INDEX,
                     "_posts/2020-01-01-a.md": "---\ntitle: A\ntags: [news]\n---\nx\n",
                     "_posts/2021-01-01-b.md": "---\ntitle: B\n---\ny\n"})
    refresher = make_refresher(root)
    refresher.refresh()

    def index_text() -> str:
        return next(p for p in refresher.store.snapshot.site.posts if p.title == "Index").content_html

    assert "[B /2021/01/01/b/ 2021][A /2020/01/01/a/ 2020][Index /2019/01/01/index/ 2019]" in index_text()
    assert "3 posts; 1 news; 2 related" in index_text()
    _touch_later(root / "_posts" / "2020-01-01-a.md", "---\ntitle: A renamed\n---\nx\n")
    assert refresher.refresh().published
    assert "[A renamed /2020/01/01/a/ 2020]" in index_text() and "3 posts;  news" in index_text()
    (root / "_posts" / "2021-01-01-b.md").unlink()
    assert refresher.refresh().published
    assert "[B " not in index_text() and "2 posts" in index_text()


def test_a_post_that_reads_no_list_of_posts_does_not_depend_on_it(site_dir, make_refresher) -> None:
    root = site_dir({"_posts/2020-01-01-a.md": "---\ntitle: A\n---\n{{ page.title }} alone\n"})
    refresher = make_refresher(root)
    refresher.refresh()
    assert refresher.store.snapshot.site.posts[0].listing == ""


def test_markdownify_renders_as_the_sites_kramdown(tmp_path: Path) -> None:
    root = _write(tmp_path, {"_config.yml": BASIC_CONFIG + "kramdown:\n  auto_id_prefix: h-\n"})
    post = _post(root, "_posts/2020-01-01-a.md",
                 "---\ntitle: A\nblurb: \"It's *here* -- now\"\n---\n{{ page.blurb | markdownify }}\n\n"
                 "{{ '## Hello there' | markdownify }}\n")
    assert "<p>It’s <em>here</em> – now</p>" in post.content_html
    assert '<h2 id="h-hello-there">Hello there</h2>' in post.content_html


def test_an_include_that_includes_itself_stops_with_a_warning(tmp_path: Path) -> None:
    root = _write(tmp_path, {"_config.yml": BASIC_CONFIG, "_includes/self.html": "x{% include self.html %}"})
    post = _post(root, "_posts/2020-01-01-a.md", "---\ntitle: A\n---\nbefore {% include self.html %} after\n")
    assert "before" in post.content_html and "after" in post.content_html
    assert len(post.warnings) == 1 and "recursive" in post.warnings[0].message
