"""The one URL scheme: where each feed lives and how names become its slugs.

A post's own URL is its generator's rule (content/dialects/); the URLs here are feedsvc's own.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote, unquote

from feedsvc.model import FeedFormat, Scope, ScopeKind

_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_NOT_ALNUM = re.compile(r"[\W_]+")
# ASCII that `quote` keeps and `unquote` does not change (no `%`): such a path with no empty or dot segment
# is its own escape.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~-]*")


def slugify(name: str) -> str:
    """A lower-case, URL-safe slug that keeps letters and digits of every script."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return _NOT_ALNUM.sub("-", folded).strip("-")


def disambiguated_slug(name: str) -> str:
    """The slug for a name whose plain slug is taken or empty: stable, and distinct per name."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    base = slugify(name)
    return f"{base}-{digest}" if base else digest


def feed_path(scope: Scope, fmt: FeedFormat) -> str:
    """The URL path (unescaped) at which a scope's feed in one format is served."""
    return scope_dir(scope) + fmt.filename


def scope_dir(scope: Scope) -> str:
    """Where a scope's feeds live: `/`, `/tags/<slug>/`, a term's `/<taxonomy>/<slug>/`, and each under
    `/<prefix>/` in another language."""
    root = f"/{scope.language.prefix}/" if scope.language is not None else "/"
    if scope.kind is ScopeKind.SITE:
        return root
    if scope.kind is ScopeKind.TERM:
        return f"{root}{scope.taxonomy}/{scope.slug}/"
    return f"{root}{scope.kind.value}/{scope.slug}/"


def escape_path(path: str) -> str:
    """Percent-encode a path for use in a URL; already-escaped input is left as it is.

    Dot segments are dropped after unescaping, so a category named `..` or `%2e%2e` can
    never make a link climb above the site root.
    """
    if _PLAIN_PATH.fullmatch(path) and "//" not in path and "/." not in path and not path.startswith("."):
        return path
    return _escaped(path)


def _escaped(path: str) -> str:
    segments = unquote(path).split("/")
    inner = [s for s in segments[1:-1] if s not in ("", ".", "..")]
    first = [] if segments[0] in (".", "..") else segments[:1]
    last = [] if len(segments) == 1 or segments[-1] in (".", "..") else segments[-1:]
    trailing = [""] if len(segments) > 1 and segments[-1] in (".", "..") else []
    return quote("/".join(first + inner + last + trailing), safe=_PATH_SAFE)


def absolute(root: str, path: str) -> str:
    """Join a site root (no trailing slash) and an unescaped path into an absolute URL."""
    return root + escape_path(path if path.startswith("/") else "/" + path)


OUTBOUND_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_IGNORED_BY_BROWSERS = re.compile(r"[\x00-\x20\x7f]+")  # `java\tscript:` is javascript: to a browser


def is_outbound_safe(link: str) -> bool:
    """Whether a link may leave feedsvc: http, https or mailto, or relative (made absolute where it enters)."""
    scheme = _SCHEME.match(_IGNORED_BY_BROWSERS.sub("", link))
    return scheme is None or scheme.group(1).lower() in OUTBOUND_SCHEMES


def outbound_url(link: str | None, root: str) -> str | None:
    """A link as it may leave feedsvc: absolute against `root` (the site URL), or None for any other scheme."""
    if not link or not is_outbound_safe(link):
        return None
    link = link.strip()
    if _SCHEME.match(link):
        return link
    if link.startswith("//"):
        return "https:" + link
    return absolute(root, link)
