"""JSON Feed 1.1 documents, each item's bytes made once per (post, EntryShape) when an entry cache is given."""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # json's C string encoder

from feedsvc.config import Settings
from feedsvc.content.markup import plain_title
from feedsvc.model import Author, FeedFormat, Post
from feedsvc.render.documents import EntryShape, FeedDoc, feed_language, terms_of
from feedsvc.render.entrycache import EntryCache

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
_JSON_EMPTY_ITEMS = b"[]\n}"


def render_json(doc: FeedDoc, settings: Settings, entries: EntryCache | None) -> bytes:
    feed: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": doc.title,
        "home_page_url": settings.site_url + "/",
        "feed_url": doc.self_url,
    }
    if doc.next_url:
        feed["next_url"] = doc.next_url
    if settings.description:
        feed["description"] = settings.description
    language = feed_language(settings, doc.language)
    if language:
        feed["language"] = language
    if settings.author:
        site_author = _json_author(settings.author)
        feed["authors"] = [site_author]
        feed["author"] = site_author  # JSON Feed 1.0's, beside 1.1's list
    if doc.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in doc.hubs]
    shape = EntryShape.of(settings)
    if entries is None:
        feed["items"] = [_json_item(post, shape) for post in doc.entries]
        return json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    feed["items"] = []
    head = json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8")
    if not doc.entries:
        return head + b"\n"
    # "items" is the last key: `"items": []\n}` becomes the items, each indented as json.dumps would.
    items = b",\n    ".join(entries.get(doc.entries, FeedFormat.JSON, shape, _json_entries))
    return head[: -len(_JSON_EMPTY_ITEMS)] + b"[\n    " + items + b"\n  ]\n}\n"


def _json_entries(posts: list[Post], fmt: FeedFormat, shape: EntryShape) -> list[bytes]:
    """Each item as `json.dumps(feed, ensure_ascii=False, indent=2)` writes it inside "items"."""
    return [indented_json(_json_item(post, shape), _ITEM_DEPTH).encode("utf-8") for post in posts]


_ITEM_DEPTH = 2  # the feed object, then its "items" list
_SCALARS = (bool, int, float, type(None))


def indented_json(value: object, depth: int) -> str:
    """`value` as `json.dumps(..., ensure_ascii=False, indent=2)` writes it at `depth`, without its
    pure-Python encoder (indent forces it): strings go through the C string encoder json itself uses.
    Keys must be strings, as every item's are."""
    parts: list[str] = []
    _write(value, "\n" + "  " * depth, parts)
    return "".join(parts)


def _write(value: object, newline: str, parts: list[str]) -> None:
    """Appends `value` as json writes it; `newline` is the line break and indentation of its own line."""
    if isinstance(value, str):
        parts.append(encode_basestring(value))
    elif isinstance(value, dict):
        if not value:
            parts.append("{}")
            return
        inner = newline + "  "
        opener = "{" + inner
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON Feed keys are strings, not {type(key).__name__}")
            parts.append(opener + encode_basestring(key) + ": ")
            _write(item, inner, parts)
            opener = "," + inner
        parts.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            parts.append("[]")
            return
        inner = newline + "  "
        opener = "[" + inner
        for item in value:
            parts.append(opener)
            _write(item, inner, parts)
            opener = "," + inner
        parts.append(newline + "]")
    elif isinstance(value, _SCALARS):
        parts.append(json.dumps(value))
    else:
        raise TypeError(f"no JSON for {type(value).__name__}")


def _json_author(author: Author) -> dict[str, str]:
    data = {"name": author.name}
    if author.uri:
        data["url"] = author.uri
    return data


def _json_item(post: Post, shape: EntryShape) -> dict[str, object]:
    item: dict[str, object] = {"id": post.url, "url": post.url, "title": plain_title(post.title)}
    item["content_html"] = post.summary_html if shape.excerpt_only else post.content_html
    if post.summary_text:
        item["summary"] = post.summary_text
    if post.image:
        item["image"] = post.image.url
    item["date_published"] = post.date.isoformat()
    item["date_modified"] = post.updated.isoformat()
    if post.authors:
        authors = [_json_author(a) for a in post.authors]
        item["authors"] = authors
        item["author"] = authors[0]  # JSON Feed 1.0's, for readers that know no 1.1 (gofeed, atoma)
    terms = terms_of(post)
    if terms:
        item["tags"] = terms
    if post.lang:
        item["language"] = post.lang
    return item

