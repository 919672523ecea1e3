"""URL escaping (feedsvc/urls.py): the shortcut for paths that need no escaping gives the plain path's answer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc import urls
from feedsvc.urls import absolute, escape_path

# Characters that matter to escaping: dots and slashes (dot and empty segments), `%` (already escaped), the
# sub-delimiters `quote` keeps, spaces and non-ASCII letters it does not.
_PATHS = st.text(alphabet="ab/.-_~%2eE: é#?", max_size=24)


@settings(max_examples=1000, deadline=None)
@given(path=_PATHS)
def test_every_path_escapes_as_the_plain_path_escapes_it(path: str) -> None:
    assert escape_path(path) == urls._escaped(path)


def test_paths_that_take_the_shortcut() -> None:
    for path in ("/2016/10/06/release-1.2.html", "/", "", "/a/b/", "a", "/feed.xml", "/a..b/c~d_e"):
        assert escape_path(path) == urls._escaped(path) == path
    for path, escaped in (("/a/../b/", "/a/b/"), ("/./x", "/x"), ("//x", "/x"), ("../x", "x"), ("/a/..", "/a/"),
                          ("/C# and .NET/", "/C%23%20and%20.NET/"), ("/%2e%2e/x", "/x"),
                          ("/.well-known/", "/.well-known/")):
        assert escape_path(path) == escaped, path
    assert absolute("https://example.org", "2016/10/06/x.html") == "https://example.org/2016/10/06/x.html"
