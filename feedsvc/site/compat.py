"""Keeping subscribers: the generator's own feed URLs (Hugo's `index.xml`), those of jekyll-feed and
WordPress, and a redirect map for any other old URL.

A site moving to feedsvc must not lose the readers subscribed to its old feed URLs. This
module decides, from the site config alone, which extra paths serve which already-rendered
feed (aliases: the same `Resource` objects, nothing rendered twice) and which old paths
answer `301` to where (redirects, with absolute `Location`s). The web layer only looks them up.

Old feed URLs are answered with the feed itself (an alias, `200`), not a redirect: every reader keeps
working, whether or not it follows or remembers a `301`, and the old URL keeps working if the site
moves back. Precedence, first match wins: feedsvc's own paths (`/rss.xml`,
`/categories/<slug>/atom.xml`, ...), then the generator's own feed paths, then the compatibility
aliases, then the redirect map, then the posts' own old paths (Hugo's `aliases`, as `301`s to the post).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from feedsvc.model import FeedFormat, Post, Resource, Scope, ScopeKind
from feedsvc.urls import absolute, feed_path

JEKYLL_FEED = "jekyll-feed"
WORDPRESS = "wordpress"
STYLES = (JEKYLL_FEED, WORDPRESS)
CONFIG_KEY = "feedsvc"
_KNOWN_KEYS = ("compat", "redirects")
_RESERVED = ("/", "/status", "/healthz")  # never redirected: the service itself answers there


@dataclass(frozen=True, slots=True)
class CompatConfig:
    """Which old URL schemes to answer, and the site's own redirect map (source path -> target)."""

    jekyll_feed: bool = False
    jekyll_feed_path: str = "/feed.xml"  # jekyll-feed's `feed: path`, where its site Atom feed lived
    wordpress: bool = False
    redirects: tuple[tuple[str, str], ...] = ()


def compat_config(environ: Mapping[str, str], config: Mapping[str, Any],
                  errors: list[str], warnings: list[str]) -> CompatConfig:
    """Read the `feedsvc:` mapping of `_config.yml` (and `FEEDSVC_COMPAT`); problems go to `errors`."""
    section = config.get(CONFIG_KEY)
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        errors.append(f"_config.yml: `{CONFIG_KEY}` must be a mapping, got {type(section).__name__}")
        section = {}
    for key in section:
        if key not in _KNOWN_KEYS:
            warnings.append(f"_config.yml: `{CONFIG_KEY}: {key}` is not a feedsvc setting (known: "
                            f"{', '.join(_KNOWN_KEYS)}); ignored")

    override = (environ.get("FEEDSVC_COMPAT") or "").strip()
    if override:
        styles = _styles([] if override.lower() == "none" else override.split(","), "FEEDSVC_COMPAT", errors)
    else:
        raw = section.get("compat") or []
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            errors.append(f"_config.yml: `{CONFIG_KEY}: compat` must be a list of {' or '.join(STYLES)}")
            raw = []
        styles = _styles(raw, f"{CONFIG_KEY}: compat", errors)

    feed_section = config.get("feed")
    jekyll_path = feed_section.get("path") if isinstance(feed_section, Mapping) else None
    if jekyll_path is None:
        jekyll_path = "/feed.xml"
    elif not isinstance(jekyll_path, str) or not jekyll_path.strip() or "://" in jekyll_path:
        errors.append(f"_config.yml: `feed: path` must be a path such as /feed.xml, got {jekyll_path!r}")
        jekyll_path = "/feed.xml"
    jekyll_path = "/" + unquote(jekyll_path.strip()).lstrip("/")

    return CompatConfig(
        jekyll_feed=JEKYLL_FEED in styles,
        jekyll_feed_path=jekyll_path,
        wordpress=WORDPRESS in styles,
        redirects=_redirects(section.get("redirects"), errors),
    )


def _styles(values: Iterable[Any], source: str, errors: list[str]) -> set[str]:
    styles = set()
    for value in values:
        name = str(value).strip().lower()
        if name in STYLES:
            styles.add(name)
        elif name:
            errors.append(f"{source}: unknown compatibility style {value!r} (known: {', '.join(STYLES)})")
    return styles


def _redirects(raw: Any, errors: list[str]) -> tuple[tuple[str, str], ...]:
    where = f"_config.yml: `{CONFIG_KEY}: redirects`"
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        errors.append(f"{where} must be a mapping of old path to new path or URL")
        return ()
    pairs = []
    for source, target in raw.items():
        if not isinstance(source, str) or not source.startswith("/") or "?" in source or "#" in source:
            errors.append(f"{where}: {source!r}: the old URL must be a path starting with / (no query, no fragment)")
            continue
        path = unquote(source)
        if path in _RESERVED:
            errors.append(f"{where}: {source!r}: feedsvc itself answers there; it cannot be redirected")
            continue
        if not isinstance(target, str) or not _valid_target(target):
            errors.append(f"{where}: {source!r}: the target must be a path starting with / or an http(s) URL, "
                          f"got {target!r}")
            continue
        if target == source:
            errors.append(f"{where}: {source!r} redirects to itself")
            continue
        pairs.append((path, target.strip()))
    return tuple(sorted(pairs))


def _valid_target(target: str) -> bool:
    target = target.strip()
    if target.startswith("/") and not target.startswith("//"):
        return True
    parts = urlsplit(target)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# -- the routes of one snapshot (pure) ---------------------------------------------------

def _alias_paths(scope: Scope, config: CompatConfig) -> list[tuple[str, FeedFormat]]:
    """The old paths under which a scope's feed was published, with the format each served."""
    paths: list[tuple[str, FeedFormat]] = []
    names = [scope.slug] + ([scope.label] if scope.label and scope.label != scope.slug else [])
    if config.jekyll_feed:
        # jekyll-feed publishes Atom only, named after the category or tag as written.
        if scope.kind is ScopeKind.SITE:
            paths.append((config.jekyll_feed_path, FeedFormat.ATOM))
        elif scope.kind is ScopeKind.CATEGORY:
            paths.extend((f"/feed/{name}.xml", FeedFormat.ATOM) for name in names)
        elif scope.kind is ScopeKind.TAG:
            paths.extend((f"/feed/by_tag/{name}.xml", FeedFormat.ATOM) for name in names)
    if config.wordpress and scope.kind is not ScopeKind.TERM:  # WordPress has no other taxonomies' feeds
        # WordPress serves RSS 2.0 at .../feed/ and Atom at .../feed/atom/.
        base = {
            ScopeKind.SITE: "",
            ScopeKind.CATEGORY: f"/category/{scope.slug}",
            ScopeKind.TAG: f"/tag/{scope.slug}",
            ScopeKind.AUTHOR: f"/author/{scope.slug}",
        }[scope.kind]
        paths.append((f"{base}/feed/", FeedFormat.RSS))
        paths.append((f"{base}/feed/rss2/", FeedFormat.RSS))
        paths.append((f"{base}/feed/atom/", FeedFormat.ATOM))
    return paths


def compat_routes(resources: Mapping[str, Resource], scopes: Iterable[Scope], config: CompatConfig,
                  public_url: str, own_feed_paths: Callable[[Scope], Iterable[str]] = lambda scope: (),
                  posts: Iterable[Post] = ()) -> tuple[dict[str, Resource], dict[str, str]]:
    """Aliases (old path -> an already-rendered Resource) and redirects (old path -> absolute URL).

    `own_feed_paths`: where the site's generator published a scope's RSS feed itself (the dialect's;
    Hugo's `/index.xml`, `/tags/<term>/index.xml`), answered before the compatibility styles. Each of
    `posts`' own old paths (`Post.aliases`) redirects to it, after the site's redirect map.
    Never shadows a path feedsvc serves itself; among aliases the first one claimed wins,
    in the order of `scopes` (the site first).
    """
    aliases: dict[str, Resource] = {}
    redirects: dict[str, str] = {}
    for scope in scopes:
        paths = [(path, FeedFormat.RSS) for path in own_feed_paths(scope)] + _alias_paths(scope, config)
        for path, fmt in paths:
            resource = resources.get(feed_path(scope, fmt))
            if resource is None or path in resources or path in aliases:
                continue
            aliases[path] = resource
            if path.endswith("/") and path != "/":  # WordPress answers the slash-less form with a 301 too
                redirects.setdefault(path[:-1], absolute(public_url, path))
    for source, target in config.redirects:
        if source not in resources and source not in aliases:
            redirects[source] = target if "://" in target else absolute(public_url, target)
    for post in posts:
        for path in post.aliases:
            if path not in _RESERVED:
                redirects.setdefault(path, post.url)
    for path in list(redirects):
        if path in resources or path in aliases:
            del redirects[path]
    return aliases, redirects
