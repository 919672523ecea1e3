"""The one URL scheme: where each feed lives, how names become slugs, how permalinks expand."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from urllib.parse import quote, unquote

from feedsvc.model import FeedFormat, Scope, ScopeKind

_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_NOT_ALNUM = re.compile(r"[\W_]+")
_NOT_PRETTY = re.compile(r"[^\w.~!$&'()+,;=@]+|_+")


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
    if scope.kind is ScopeKind.SITE:
        return "/"
    return f"/{scope.kind.value}/{scope.slug}/"


def escape_path(path: str) -> str:
    """Percent-encode a path for use in a URL; already-escaped input is left as it is.

    Dot segments are dropped after unescaping, so a category named `..` or `%2e%2e` can
    never make a link climb above the site root.
    """
    segments = unquote(path).split("/")
    inner = [s for s in segments[1:-1] if s not in ("", ".", "..")]
    first = [] if segments[0] in (".", "..") else segments[:1]
    last = [] if len(segments) == 1 or segments[-1] in (".", "..") else segments[-1:]
    trailing = [""] if len(segments) > 1 and segments[-1] in (".", "..") else []
    return quote("/".join(first + inner + last + trailing), safe=_PATH_SAFE)


def absolute(root: str, path: str) -> str:
    """Join a site root (no trailing slash) and an unescaped path into an absolute URL."""
    return root + escape_path(path if path.startswith("/") else "/" + path)


# -- Jekyll permalinks ------------------------------------------------------------------

def _jekyll_slug(value: str, pretty: bool) -> str:
    if pretty:
        return _NOT_PRETTY.sub("-", value).strip("-")
    return _NOT_ALNUM.sub("-", value).strip("-").lower()


def permalink_placeholders(slug: str, date: datetime, categories: tuple[str, ...]) -> dict[str, str]:
    """Jekyll's placeholders for a post, with `date` already in the site's time zone."""
    iso_year, iso_week, iso_day = date.isocalendar()
    seen: list[str] = []
    for category in categories:
        lowered = category.lower()
        if lowered not in seen:
            seen.append(lowered)
    return {
        "year": f"{date.year:04d}",
        "short_year": f"{date.year % 100:02d}",
        "month": f"{date.month:02d}",
        "i_month": str(date.month),
        "short_month": date.strftime("%b"),
        "long_month": date.strftime("%B"),
        "day": f"{date.day:02d}",
        "i_day": str(date.day),
        "y_day": f"{date.timetuple().tm_yday:03d}",
        "w_year": str(iso_year),
        "week": f"{iso_week:02d}",
        "w_day": str(iso_day),
        "short_day": date.strftime("%a"),
        "long_day": date.strftime("%A"),
        "hour": f"{date.hour:02d}",
        "minute": f"{date.minute:02d}",
        "second": f"{date.second:02d}",
        "title": _jekyll_slug(slug, pretty=True),
        "slug": _jekyll_slug(slug, pretty=False),
        "name": _jekyll_slug(slug, pretty=False),
        "categories": "/".join(seen),
        "output_ext": ".html",
    }


_PLACEHOLDER = re.compile(r":([a-z_]+)")


def expand_permalink(pattern: str, placeholders: dict[str, str]) -> str:
    """Fill a Jekyll permalink pattern; empty parts collapse as Jekyll collapses them."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        # Longest known placeholder that prefixes the token (":title:output_ext" has two).
        for end in range(len(name), 0, -1):
            if name[:end] in placeholders:
                return placeholders[name[:end]] + name[end:]
        return match.group(0)

    url = "/" + _PLACEHOLDER.sub(fill, pattern)
    url = url.replace("..", "/").replace("./", "")
    return re.sub(r"/{2,}", "/", url)
