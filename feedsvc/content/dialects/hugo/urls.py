"""Hugo's link for a page: `url` front matter, else its section's [permalinks] pattern, else its file path.

`urlize` is Hugo's path sanitising (letters, digits, marks and `._~+@#-/\\` kept, each run of spaces one
hyphen, anything else dropped, lower case); `:slug` is the `slug` front matter else the title, both urlized;
links end with a slash, or `.html` under `uglyURLs`.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from datetime import datetime

from feedsvc.content.dialects.hugo.rules import HugoRules

_KEPT = frozenset("./\\_#+~-@")
_TOKEN = re.compile(r":([a-z]+)")


def sanitize(text: str) -> str:
    """Hugo's `UnicodeSanitize`: keep letters, digits, marks and a few signs; a space before a kept one is `-`."""
    kept: list[str] = []
    hyphen = False
    for char in text:
        category = unicodedata.category(char)
        if char in _KEPT or category[0] in "LM" or category == "Nd":
            if hyphen:
                kept.append("-")
                hyphen = False
            kept.append(char)
        elif kept and char.isspace():
            hyphen = True
    return "".join(kept)


def urlize(text: str) -> str:
    """Hugo's `urlize` (unescaped: feedsvc escapes a whole link once, in `urls.absolute`)."""
    return sanitize(text).lower()


def base_name(source: str, languages: tuple[str, ...]) -> str:
    """The file name without its suffix and language (`index.fr.md` -> `index`), or a bundle's folder name."""
    folder, filename = posixpath.split(source)
    stem = posixpath.splitext(filename)[0]
    head, dot, language = stem.rpartition(".")
    if dot and language.lower() in languages:
        stem = head
    return posixpath.basename(folder) if stem == "index" and folder else stem


def sections(path: str, nested: tuple[str, ...] = ()) -> list[str]:
    """The sections a page at this content path is in: its top-level folder, then each folder below it that
    is a section of its own (`nested`: those with an `_index` page), as far down as they go unbroken."""
    folders = path.split("/")[:-1]
    found = folders[:1]
    for depth in range(2, len(folders) + 1):
        if "/".join(folders[:depth]) not in nested:
            break
        found = folders[:depth]
    return found


def page_path(path: str, front_url: str, slug: str, title: str, when: datetime, rules: HugoRules,
              prefix: str = "") -> str:
    """The URL path (unescaped) Hugo gives the page at `path` (relative to its content folder); `prefix`:
    its language's (`/fr`, or "")."""
    if front_url:
        return front_url if front_url.startswith("/") else "/" + front_url
    folders = sections(path, rules.nested_sections)
    filename = base_name(path, rules.languages)
    pattern = rules.permalink(folders[0]) if folders else None
    if pattern is None:  # the page's own path, its bundle folder or file name replaced by its slug
        within = path.split("/")[:-1]
        if posixpath.splitext(posixpath.basename(path))[0].split(".")[0] == "index":
            within = within[:-1]
        link = "/".join([*within, slug or filename])
        return prefix + _finish("/" + urlize(link), rules.ugly_urls)
    tokens = {
        "year": f"{when.year:04d}", "month": f"{when.month:02d}", "monthname": when.strftime("%B").lower(),
        "day": f"{when.day:02d}", "weekday": str(when.isoweekday() % 7), "weekdayname": when.strftime("%A").lower(),
        "yearday": str(when.timetuple().tm_yday), "section": urlize(folders[0]),
        "sections": "/".join(urlize(folder) for folder in folders),
        "title": urlize(title), "slug": urlize(slug or title), "filename": urlize(filename),
        "slugorfilename": urlize(slug or filename),
    }
    pattern = pattern if pattern.startswith("/") else "/" + pattern
    link = _TOKEN.sub(lambda m: tokens.get(m.group(1), m.group(0)), pattern)
    return prefix + _finish(re.sub(r"/{2,}", "/", link), rules.ugly_urls)


def _finish(path: str, ugly: bool) -> str:
    """A page's link is a folder (`/a/b/`), or under uglyURLs a file (`/a/b.html`)."""
    if ugly:
        return path.rstrip("/") + ".html" if path != "/" else path
    return path if path.endswith("/") else path + "/"
