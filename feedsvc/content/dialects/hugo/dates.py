"""Hugo's `[frontmatter]` date settings: which front matter key (or the file name) gives each of a page's dates.

Each of `date`, `lastmod`, `publishDate` and `expiryDate` is a list of sources tried in order, the first one
found winning: a front matter key (case-insensitive, with Hugo's aliases: `lastmod` also reads `modified`,
`publishDate` also `pubdate` and `published`, `expiryDate` also `unpublishdate`), `:default` (Hugo's own list
for that date), `:filename` (the date a `2024-01-02-slug.md` name begins with, which also makes the rest of
the name the page's slug unless the front matter gives one), `:fileModTime` and `:git`. A site that sets a
list replaces Hugo's: no `:default` is added to it.

`:fileModTime` and `:git` are not read (a source that gives nothing, so the next one is tried): feedsvc's
core reads a post's bytes, not its file's times or its git history, and a checkout's file times are the
time of the clone. A page no source dates gets Hugo's zero date, 0001-01-01 00:00 UTC (feeds list it last),
with a warning; in a site zone west of UTC, which cannot show that instant, local midnight of that day (both
shown in UTC: year 1 is local mean time in every zone, an offset with seconds: content/dates.shown_in).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DATE = "date"
LASTMOD = "lastmod"
PUBLISH_DATE = "publishdate"
EXPIRY_DATE = "expirydate"
FILENAME, FILE_MOD_TIME, GIT, DEFAULT = ":filename", ":filemodtime", ":git", ":default"

#: The key each date is handed to the shared reading under (Hugo.updated_keys, publish_keys, expiry_keys).
OUTPUT_KEYS = {DATE: "date", LASTMOD: "lastmod", PUBLISH_DATE: "publishDate", EXPIRY_DATE: "expiryDate"}
ZERO_DATE = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time: what Hugo dates a page nothing dates

_ALIASES: dict[str, tuple[str, ...]] = {LASTMOD: ("modified",), PUBLISH_DATE: ("pubdate", "published"),
                                        EXPIRY_DATE: ("unpublishdate",)}
_DEFAULTS: dict[str, tuple[str, ...]] = {
    DATE: (DATE, PUBLISH_DATE, LASTMOD),
    LASTMOD: (GIT, LASTMOD, DATE, PUBLISH_DATE),
    PUBLISH_DATE: (PUBLISH_DATE, DATE),
    EXPIRY_DATE: (EXPIRY_DATE,),
}


def _expanded(sources: tuple[str, ...], defaults: tuple[str, ...]) -> tuple[str, ...]:
    """`:default` replaced by Hugo's list, each key followed by its aliases, each source once."""
    out: list[str] = []
    for source in sources:
        for one in defaults if source == DEFAULT else (source,):
            for name in (one, *_ALIASES.get(one, ())):
                if name not in out:
                    out.append(name)
    return tuple(out)


def date_sources(config: Any) -> tuple[tuple[str, ...], ...]:
    """The `[frontmatter]` table as (date, source, source, ...) rows, Hugo's defaults where it sets nothing."""
    table = config if isinstance(config, Mapping) else {}
    rows = []
    for field, defaults in _DEFAULTS.items():
        given = table.get(field)
        if isinstance(given, str):
            given = [given]
        sources = tuple(str(s).strip().lower() for s in given if str(s).strip()) \
            if isinstance(given, list) else (DEFAULT,)
        rows.append((field, *_expanded(sources, defaults)))
    return tuple(rows)


DEFAULT_SOURCES = date_sources(None)


def _from_file_name(name: str) -> tuple[date, str] | None:
    """The date a base name begins with (`2024-01-02-slug`), and the rest as the slug."""
    if len(name) < 10:
        return None
    try:
        when = date.fromisoformat(name[:10])
    except ValueError:
        return None
    return when, name[10:].strip(" -_")


def zero_date(zone: str) -> datetime:
    """Hugo's zero date as the site's zone (`timeZone`) can show it."""
    try:
        local = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return ZERO_DATE
    try:
        ZERO_DATE.astimezone(local)
    except OverflowError:
        return ZERO_DATE.replace(tzinfo=local)
    return ZERO_DATE


def resolve_dates(front: Mapping[Any, Any], name: str, rows: tuple[tuple[str, ...], ...],
                  zero: datetime = ZERO_DATE) -> dict[Any, Any]:
    """The front matter with each date as the settings find it, under the key the shared reading takes
    (OUTPUT_KEYS); `name` is the page's base name (a bundle's folder), for `:filename`; `zero` for none."""
    lowered = {str(key).lower(): value for key, value in front.items()}
    resolved = {key: value for key, value in front.items() if str(key).lower() not in OUTPUT_KEYS}
    for field, *sources in rows:
        found: Any = None
        for source in sources:
            if source == FILENAME:
                named = _from_file_name(name)
                if named is not None:
                    found = named[0]
                    if "slug" not in lowered and named[1]:
                        resolved["slug"] = lowered["slug"] = named[1]
            elif not source.startswith(":"):
                found = lowered.get(source)
            if found is not None:
                break
        if found is not None:
            resolved[OUTPUT_KEYS[field]] = found
        elif field == DATE:
            resolved[OUTPUT_KEYS[field]] = zero
    return resolved
