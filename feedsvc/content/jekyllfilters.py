"""Jekyll's Liquid filters (`relative_url`, `date_to_xmlschema`, `slugify`, …) and its URL rules for files.

What python-liquid lacks of Jekyll's own filters, written to Jekyll's documented behaviour, and how
Jekyll gives a collection document, page or static file its URL (for `{% link %}`). The Liquid
environment that uses them is built in templating.py.
"""

from __future__ import annotations

import email.utils
import json
import posixpath
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from urllib.parse import quote, quote_plus

from feedsvc.content.dialects.jekyll import slugify
from feedsvc.content.markup import render_markdown
from feedsvc.urls import escape_path

_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def is_post_path(path: str) -> bool:
    return "_posts" in path.strip("/").split("/")[:-1]


def page_url(path: str, site: Mapping[str, Any]) -> str:
    """The URL Jekyll gives a file: collection documents by their collection's permalink, pages by
    the site's style, static files as they are. Front matter `permalink` in that file is not seen."""
    path = path.strip().lstrip("/")
    folder, filename = posixpath.split(path)
    stem, ext = posixpath.splitext(filename)
    collections = site.get("collections") if isinstance(site, Mapping) else None
    top = path.split("/", 1)[0]
    if top.startswith("_") and isinstance(collections, Mapping) and top[1:] in collections:
        name = top[1:]
        spec = collections.get(name)
        pattern = spec.get("permalink") if isinstance(spec, Mapping) else None
        inner = posixpath.splitext(path.split("/", 1)[1] if "/" in path else "")[0]
        pattern = pattern or "/:collection/:path:output_ext"
        values = {"collection": name, "path": inner, "name": stem, "title": stem, "output_ext": ".html"}
        url = re.sub(r":(collection|path|name|title|output_ext)", lambda m: values[m.group(1)], pattern)
        return "/" + re.sub(r"/{2,}", "/", url).lstrip("/")
    if ext.lower() in (".md", ".markdown", ".html", ".htm"):
        base = f"/{folder}/" if folder else "/"
        if stem == "index":
            return base
        style = str(site.get("permalink") or "") if isinstance(site, Mapping) else ""
        pretty = style == "pretty" or style.endswith("/")
        return base + (f"{stem}/" if pretty else f"{stem}.html")
    return "/" + path


def site_relative_url(value: Any, site: Any) -> str:
    """Jekyll's relative_url: baseurl + path, one slash between; absolute URLs pass through."""
    text = "" if value is None else str(value)
    if _URL_SCHEME.match(text) or text.startswith("//"):
        return text
    baseurl = str(site.get("baseurl") or "") if isinstance(site, Mapping) else ""
    cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=len(text))
    path, suffix = text[:cut], text[cut:]  # only the path is escaped: `#anchor` stays an anchor
    joined = "/".join(part.strip("/") for part in (baseurl, path) if part.strip("/"))
    trailing = "/" if path.endswith("/") and joined else ""
    return escape_path("/" + joined + trailing) + suffix


def _absolute_url(value: Any, site: Any) -> str:
    text = "" if value is None else str(value)
    if _URL_SCHEME.match(text) or text.startswith("//"):
        return text
    root = str(site.get("url") or "").rstrip("/") if isinstance(site, Mapping) else ""
    return root + site_relative_url(text, site)


def relative_url(value: Any, *, context: Any) -> str:
    return site_relative_url(value, context.resolve("site"))


def absolute_url(value: Any, *, context: Any) -> str:
    return _absolute_url(value, context.resolve("site"))


MARKDOWN_VAR = "__feedsvc_markdown"  # the site's Markdown flavour, in a render's globals (templating.py)


def markdownify(value: Any, *, context: Any) -> str:
    """Jekyll's `markdownify`: Markdown as the site's own converter renders it (kramdown, with its settings)."""
    return render_markdown("" if value is None else str(value), context.resolve(MARKDOWN_VAR, default=None))


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
    return None


def _date_filter(render: Any) -> Any:
    def apply(value: Any, *args: Any) -> Any:
        when = _as_datetime(value)
        return value if when is None else render(when, *args)

    return apply


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_to_string(when: datetime, kind: Any = None, style: Any = None, month: str = "%b") -> str:
    if kind == "ordinal":
        day = _ordinal(when.day)
        if style == "US":
            return f"{when.strftime(month)} {day}, {when.year}"
        return f"{day} {when.strftime(month)} {when.year}"
    return when.strftime(f"%d {month} %Y")


def _xml_escape(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _plain(value: Any) -> Any:
    """A Liquid value as JSON-able data (undefined is null, dates are ISO 8601)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return None if type(value).__name__.endswith("Undefined") else str(value)


def _jsonify(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _array_to_sentence(value: Any, connector: Any = "and") -> str:
    items = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {connector} {items[1]}"
    return f"{', '.join(items[:-1])}, {connector} {items[-1]}"


def _group_by(value: Any, prop: Any) -> list[dict[str, Any]]:
    groups: dict[str, list[Any]] = {}
    for item in value if isinstance(value, (list, tuple)) else []:
        key = item.get(prop) if isinstance(item, Mapping) else None
        groups.setdefault("" if key is None else str(key), []).append(item)
    return [{"name": name, "items": items, "size": len(items)} for name, items in groups.items()]


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


CONTEXT_FILTERS = frozenset({"relative_url", "absolute_url", "markdownify"})
FILTERS: dict[str, Any] = {
    "relative_url": relative_url,
    "absolute_url": absolute_url,
    "date_to_xmlschema": _date_filter(lambda d: d.isoformat()),
    "date_to_rfc822": _date_filter(lambda d: email.utils.format_datetime(d) if d.tzinfo else d.strftime(
        "%a, %d %b %Y %H:%M:%S")),
    "date_to_string": _date_filter(_date_to_string),
    "date_to_long_string": _date_filter(lambda d, kind=None, style=None: _date_to_string(d, kind, style, "%B")),
    "xml_escape": _xml_escape,
    "cgi_escape": lambda value: quote_plus("" if value is None else str(value)),
    "uri_escape": lambda value: quote("" if value is None else str(value), safe="!#$&'()*+,/:;=?@[]~"),
    "jsonify": _jsonify,
    "inspect": _jsonify,
    "slugify": slugify,
    "markdownify": markdownify,
    "number_of_words": lambda value: len(("" if value is None else str(value)).split()),
    "normalize_whitespace": lambda value: " ".join(("" if value is None else str(value)).split()),
    "array_to_sentence_string": _array_to_sentence,
    "group_by": _group_by,
    "to_integer": _to_integer,
    "push": lambda value, item: [*_list(value), item],
    "unshift": lambda value, item: [item, *_list(value)],
    "pop": lambda value, n=1: _list(value)[: max(len(_list(value)) - _to_integer(n), 0)],
    "shift": lambda value, n=1: _list(value)[_to_integer(n):],
}
