"""Jekyll's `site.posts` (and `site.categories`, `site.tags`, `site.related_posts`) for Liquid.

A post's Liquid that reads the list of posts depends on every other post, which parsing one file
cannot see. So the refresher parses every post first, then hands the posts that read the list
(`Post.listing` is set) the list as the index built it, and parses those again when it differs from
the one they saw (pipeline/refresh.py). Each listed post carries what Jekyll computes for it and its
title: url, id, title, date, slug, categories, tags, path, collection. Deliberately not `content`
or `excerpt`: Jekyll renders posts in turn, so they would be whatever that order left there, and
every post would depend on every other's body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from feedsvc.model import Post

#: Keys of Liquid's `site` that list posts: a body reading one of them depends on the list.
LISTING_KEYS = frozenset(("posts", "categories", "tags", "related_posts"))


def listing_of(posts: Iterable[Post], site_url: str) -> str:
    """The posts as Liquid lists them (in the given order: the index's, newest first), as JSON."""
    entries = []
    for post in posts:
        path = post.url[len(site_url):] if site_url and post.url.startswith(site_url) else post.url
        entries.append({
            "url": path, "id": path.rstrip("/").removesuffix(".html") or "/", "title": post.title,
            "date": post.date.isoformat(), "slug": post.slug, "categories": list(post.categories),
            "tags": list(post.tags), "path": post.source, "collection": "posts",
        })
    return json.dumps(entries, ensure_ascii=False, sort_keys=True)


def listing_digest(listing: str) -> str:
    """What a post that read the list records (`Post.listing`): never empty, even for an empty list."""
    return hashlib.sha256(listing.encode()).hexdigest()[:16]
