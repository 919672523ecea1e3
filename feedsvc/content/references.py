"""Links from one post to another (`{% post_url %}`, `{% link _posts/… %}`), resolved at index time.

A post alone cannot know another post's URL, and parsing stays pure and per file (posts are
parsed in worker processes, and only changed files are parsed again). So the Liquid tag writes a
placeholder (`feedsvc-ref:<key>/`, a URL with a scheme of its own, which Markdown and link
rewriting leave alone) and the post lists what it refers to in `Post.references`. At index time,
where every post is known, `resolve_references` swaps each placeholder for the target's URL and
folds those URLs into the post's fingerprint, so a feed is re-rendered whenever a target's URL
changes, with no re-parsing and no ordering between files. A target that does not exist leaves
the tag visible as written, with a warning.
"""

from __future__ import annotations

import hashlib
import html
import posixpath
import re
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import quote, unquote

from feedsvc.model import Post, Problem, pack_html

REF_PREFIX = "feedsvc-ref:"
_SHORTCODES = ("ref", "relref")  # Hugo's: content/dialects/hugo/builtins.py
_REF = re.compile(re.escape(REF_PREFIX) + r"([A-Za-z0-9_.~%-]+)/")


def placeholder(key: str) -> str:
    return REF_PREFIX + quote(key, safe="") + "/"


def post_url_key(name: str) -> str:
    return "post:" + name.strip().strip("/")


def file_key(relpath: str) -> str:
    return "file:" + relpath.strip().lstrip("/")


def shortcode_key(shortcode: str, written: str, key: str) -> str:
    """A Hugo `ref`/`relref` to the post `key` names, `written` as in the page: a missing one is warned about
    in Hugo's words and its link left empty (no shortcode reaches a reader as written)."""
    return f"{shortcode}:{key}\n{written}"


def _target(key: str) -> str:
    """The post a key names: a shortcode key's inner key, else the key itself."""
    kind, _, rest = key.partition(":")
    return rest.partition("\n")[0] if kind in _SHORTCODES else key


def _missing(key: str) -> str:
    kind, _, name = key.partition(":")
    if kind in _SHORTCODES:
        written = name.partition("\n")[2]
        return f'{{{{< {kind} "{written}" >}}}}: REF_NOT_FOUND: Ref "{written}": page not found; the link is left empty'
    return f"Liquid: {{% {'post_url' if kind == 'post' else 'link'} {name} %}}: no such post; left as text"


ResolvedPosts = dict[tuple[int, tuple[tuple[str, str], ...]], tuple[Post, Post]]
"""(id of a post, the URLs its references found) -> (that post, it resolved): kept by a caller between
indexings, so a post whose targets did not move is not inflated, substituted and compressed again."""


def resolve_references(posts: Iterable[Post], kept: ResolvedPosts | None = None) -> tuple[list[Post], list[Problem]]:
    """Swap every post's reference placeholders for the URLs of the posts they name. `kept`, if given, is read
    and then replaced by this call's posts (it holds each post, so an id is not reused while it is there)."""
    posts = list(posts)
    if not any(post.references for post in posts):
        if kept is not None:
            kept.clear()
        return posts, []
    by_key: dict[str, str] = {}
    for post in sorted(posts, key=lambda p: p.source):
        stem = posixpath.splitext(posixpath.basename(post.source))[0]
        by_key.setdefault(file_key(post.source), post.url)
        by_key.setdefault(post_url_key(stem), post.url)
        folder = posixpath.dirname(post.source).replace("/_posts", "").replace("_posts", "").strip("/")
        if folder:  # `{% post_url category/2016-01-01-name %}` for posts under category/_posts
            by_key.setdefault(post_url_key(f"{folder}/{stem}"), post.url)
    resolved: list[Post] = []
    problems: list[Problem] = []
    now_kept: ResolvedPosts = {}
    for post in posts:
        if not post.references:
            resolved.append(post)
            continue
        found: dict[str, str] = {}
        for key, line in post.references:
            url = by_key.get(_target(key))
            if url is None:
                problems.append(Problem(post.source, _missing(key), "warning", line))
            found.setdefault(key, url if url is not None else "")

        def swap(match: re.Match[str], escape: bool, found: dict[str, str] = found) -> str:
            key = unquote(match.group(1))
            url = found.get(key) or ("#" if key.partition(":")[0] in _SHORTCODES else _as_markup(key))
            return html.escape(url) if escape else url

        targets = tuple(sorted(found.items()))
        kept_as = (id(post), targets)
        earlier = kept.get(kept_as) if kept is not None else None
        if earlier is not None and earlier[0] is post:
            now_kept[kept_as] = earlier
            resolved.append(earlier[1])
            continue
        fingerprint = post.fingerprint + repr(list(targets))
        resolved.append(replace(
            post,
            content_zlib=pack_html(_REF.sub(lambda m: swap(m, True), post.content_html)),
            summary_html=_REF.sub(lambda m: swap(m, True), post.summary_html),
            summary_text=_REF.sub(lambda m: swap(m, False), post.summary_text),
            fingerprint=_digest(fingerprint),
            references=(),
        ))
        now_kept[kept_as] = (post, resolved[-1])
    if kept is not None:
        kept.clear()
        kept.update(now_kept)
    return resolved, problems


def _as_markup(key: str) -> str:
    kind, _, name = key.partition(":")
    return f"{{% {'post_url' if kind == 'post' else 'link'} {name} %}}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]
