"""RFC 5005 archives: where each scope's older entries live, so a new subscriber can read every post.

A scope of N posts has N // limit archive pages, numbered from the oldest: page 1 holds the
oldest `limit` entries, page 2 the next, and so on. Only full pages are archives, so a page,
once it exists, keeps its entries while posts are only added; the newest entries (at most
`2 * limit - 1` of them) are read from the subscription feed, which overlaps the newest page.

Both vocabularies of RFC 5005 are written: archived feeds (`prev-archive`, `next-archive`,
`current`, `<fh:archive/>`) and paged feeds (`first` is the subscription feed, `next` goes
back in time, `last` is page 1). The subscription feed names its newest archive page and its
oldest in the document and in its `Link` response header.
"""

from __future__ import annotations

import re

from feedsvc.config import Settings
from feedsvc.model import FeedFormat, Scope, ScopeKind
from feedsvc.urls import absolute, feed_path, scope_dir

ARCHIVE_SEGMENT = "archive"
MAX_PAGE_DIGITS = 9
_FILES = {fmt.filename: fmt for fmt in FeedFormat}
_KINDS = {kind.value: kind for kind in ScopeKind if kind is not ScopeKind.SITE}
_ARCHIVE_PATH = re.compile(
    rf"/(?:(categories|tags|authors)/([^/]+)/)?{ARCHIVE_SEGMENT}/([1-9][0-9]{{0,{MAX_PAGE_DIGITS - 1}}})"
    r"/(rss\.xml|atom\.xml|feed\.json)")


def archive_count(total: int, limit: int) -> int:
    return total // limit


def archive_range(total: int, limit: int, number: int) -> slice:
    """Which entries (newest first, as a scope holds them) page `number` shows; page 1 is the oldest."""
    end = total - (number - 1) * limit
    return slice(end - limit, end)


def archive_path(scope: Scope, number: int, fmt: FeedFormat) -> str:
    return f"{scope_dir(scope)}{ARCHIVE_SEGMENT}/{number}/{fmt.filename}"


def parse_archive_path(path: str) -> tuple[ScopeKind, str, int, FeedFormat] | None:
    """(kind, slug, page, format) of an archive page's URL path (unescaped), or None."""
    found = _ARCHIVE_PATH.fullmatch(path)
    if found is None:
        return None
    kind, slug, number, filename = found.groups()
    return (_KINDS[kind] if kind else ScopeKind.SITE), slug or "", int(number), _FILES[filename]


def subscription_links(settings: Settings, scope: Scope, fmt: FeedFormat, total: int) -> list[tuple[str, str]]:
    """(rel, href) the subscription feed names (in the document and its `Link` header): its newest archive
    page and its oldest."""
    count = archive_count(total, settings.feed_limit)
    # Archive pages are served for the default language only, and not for the terms of other taxonomies.
    if not count or scope.language is not None or scope.kind is ScopeKind.TERM:
        return []
    newest = absolute(settings.public_url, archive_path(scope, count, fmt))
    return [("prev-archive", newest), ("next", newest),
            ("last", absolute(settings.public_url, archive_path(scope, 1, fmt)))]


def archive_links(settings: Settings, scope: Scope, fmt: FeedFormat, number: int, count: int
                  ) -> list[tuple[str, str]]:
    """(rel, href) written into archive page `number` of `count`."""
    def page(n: int) -> str:
        return absolute(settings.public_url, archive_path(scope, n, fmt))

    current = absolute(settings.public_url, feed_path(scope, fmt))
    links = [("current", current), ("first", current), ("last", page(1))]
    if number > 1:
        links += [("prev-archive", page(number - 1)), ("next", page(number - 1))]
    if number < count:
        links += [("next-archive", page(number + 1)), ("previous", page(number + 1))]
    else:
        links.append(("previous", current))
    return links
