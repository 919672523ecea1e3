"""Dates as Jekyll reads a front matter `date:` string: Ruby's `Time.parse`, in the site's zone.

Jekyll hands any date its YAML did not already read to `Time.parse`, which finds a time (with a zone
right after it), then a date in one of several spellings (`2016-07-19`, `September 8, 2014`,
`8 Sep 2014`, `06/10/2016`), and ignores what is left (`(optional)`). A zone Ruby's `Time` knows
(numeric offsets, UTC/GMT/Z, the US abbreviations and the military letters) moves the time; any
other word in its place leaves the time in the site's zone, as Ruby does. A date without a year
is refused (Ruby takes the current year, which a pure reader does not know).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import NamedTuple

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[^-\d\s']*"
_DAYS = re.compile(r"\b(?:sun|mon|tue|wed|thu|fri|sat)[^-/\d\s]*", re.IGNORECASE)

# The zones Ruby's Time.zone_offset knows by name, in hours east of UTC.
_NAMED_ZONES = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}
_NAMED_ZONES.update({letter: hours for hours, letter in enumerate("ABCDEFGHI", start=1)})
_NAMED_ZONES.update({letter: hours for hours, letter in enumerate("KLM", start=10)})
_NAMED_ZONES.update({letter: -hours for hours, letter in enumerate("NOPQRSTUVWXY", start=1)})

_ZONE = (r"(z\b|[-+]\d{1,2}(?::\d{2}){1,2}|[-+]\d{1,4}\b|(?:gmt|utc?)[-+]\d{1,2}(?:[,.:]\d+(?::\d+)?)?"
         r"|[a-z.\s]+(?:standard|daylight)\s+time\b|[a-z]+(?:\sdst)?\b)")
_TIME = re.compile(
    r"(?<![\d:])(\d{1,2})(?::\s*(\d{2})(?::\s*(\d{2})(?:[,.](\d+))?)?\s*(?:([ap])(?:m\b|\.m\.))?"
    r"|\s*([ap])(?:m\b|\.m\.))(?:\s*" + _ZONE + ")?",
    re.IGNORECASE,
)
_EU = re.compile(r"'?(\d+)[^-\d\s']*\s*" + _MONTH + r"(?:\s*,?\s*('?-?\d+))?", re.IGNORECASE)
_US = re.compile(r"\b" + _MONTH + r"\s*('?\d+)[^-\d\s']*(?:\s*,?\s*('?-?\d+))?", re.IGNORECASE)
_ISO = re.compile(r"('?[-+]?\d+)-(\d+)-('?-?\d+)")
_SLASH = re.compile(r"('?-?\d+)/\s*('?\d+)(?:\D\s*('?-?\d+))?")
_DOT = re.compile(r"('?-?\d+)\.\s*('?\d+)\.\s*('?-?\d+)")
_WORD = re.compile(r"[^\W_]", re.UNICODE)
# How nearly every Jekyll post writes its date (`2016-10-06 11:10:38 -0700`), read without the general search.
_COMMON = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([-+]\d{4})")


class ImpossibleZone(ValueError):
    """A numeric zone no clock has (`+2500`): Ruby refuses the date, and so does Jekyll."""


class RubyDate(NamedTuple):
    """A date string as Ruby reads it; `leftover` is the text Ruby ignored (a warning names it)."""

    when: datetime
    leftover: str


def read_ruby_date(text: str, tz: tzinfo) -> RubyDate | None:
    """`Time.parse(text)` with the local zone `tz`; None where Ruby finds no date, or no year.

    Raises ImpossibleZone for an offset of 24 hours or more (Ruby's ArgumentError)."""
    common = _COMMON.fullmatch(text)
    if common is not None:
        zone = _zone_of(common.group(7)) or tz
        try:
            year, month, day, hour, minute, second = (int(part) for part in common.group(1, 2, 3, 4, 5, 6))
            return RubyDate(datetime(year, month, day, hour, minute, second, tzinfo=zone), "")
        except ValueError:
            pass  # no such day or time: the general reading says what Ruby makes of it
    return _read_any(text, tz)


def _read_any(text: str, tz: tzinfo) -> RubyDate | None:
    """`read_ruby_date` for every spelling Ruby's `Time.parse` knows (the common one has a fast path)."""
    rest = _DAYS.sub(" ", text)
    hour = minute = second = micro = 0
    zone: tzinfo = tz
    time_match = _TIME.search(rest)
    if time_match is not None and (time_match.group(2) or time_match.group(6)):
        hour, minute, second, micro, zone = _time_of(time_match, tz)
        rest = rest[:time_match.start()] + " " + rest[time_match.end():]
    found = _date_of(rest)
    if found is None:
        return None
    (year, month, day), rest = found
    if not 1 <= year <= 9999:
        return None
    try:
        when = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        return None
    leftover = " ".join(word for word in re.sub(r"[\s,]+", " ", rest).split() if word not in ("T", "t"))
    return RubyDate(when, leftover if _WORD.search(leftover) else "")


def _time_of(match: re.Match[str], tz: tzinfo) -> tuple[int, int, int, int, tzinfo]:
    hour = int(match.group(1))
    minute, second = int(match.group(2) or 0), int(match.group(3) or 0)
    micro = int((match.group(4) or "0")[:6].ljust(6, "0"))
    meridian = (match.group(5) or match.group(6) or "").lower()
    if meridian:
        hour = hour % 12 + (12 if meridian == "p" else 0)
    zone = _zone_of(match.group(7)) if match.group(7) else None
    return hour, minute, second, micro, zone or tz


@lru_cache(maxsize=256)  # a site writes few zones: the offsets of its authors
def _zone_of(name: str) -> tzinfo | None:
    """Ruby's Time.zone_offset: a numeric offset or a name it knows; None leaves the local zone."""
    name = name.strip()
    upper = name.upper()
    if upper in _NAMED_ZONES:
        hours = _NAMED_ZONES[upper]
        return UTC if hours == 0 else timezone(timedelta(hours=hours))
    numeric = re.fullmatch(r"([-+])(\d{2}):?(\d{2})(?::?(\d{2}))?|([-+])(\d{1,2})", name)
    if numeric is None:
        return None
    sign = numeric.group(1) or numeric.group(5)
    hours = int(numeric.group(2) or numeric.group(6))
    minutes = int(numeric.group(3) or 0)
    if hours > 23 or minutes > 59:
        raise ImpossibleZone(f"has an impossible zone offset {name}")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if sign == "-" else offset)


def _date_of(text: str) -> tuple[tuple[int, int, int], str] | None:
    """The first date spelling Ruby tries that matches, in Ruby's order, and the text around it."""
    for pattern, order in ((_EU, "dmy"), (_US, "mdy"), (_ISO, "ymd"), (_SLASH, "ymd"), (_DOT, "ymd")):
        match = pattern.search(text)
        if match is None:
            continue
        parts = dict(zip(order, match.groups(), strict=True))
        if order != "ymd":
            month = str(MONTHS.index(parts["m"][:3].lower()) + 1)
            ymd = _guess_order(parts["y"], month, parts["d"]) if parts["y"] else None
        else:
            ymd = _guess_order(parts["y"], parts["m"], parts["d"])
        if ymd is None:
            return None
        return ymd, text[:match.start()] + " " + text[match.end():]
    return None


def _guess_order(y: str | None, m: str | None, d: str | None) -> tuple[int, int, int] | None:
    """Ruby's guess at which of three numbers is the year (a `'` or more than two digits says so)."""
    if y and m and not d:
        y, m, d = d, y, m
    if y is None and d and (len(d) > 2 or d.startswith("'")):
        y, d = d, None
    if m and (m.startswith("'") or len(m) > 2):
        y, m, d = m, d, y
    if d and (d.startswith("'") or len(d) > 2):
        y, d = d, y
    if not (y and m and d):
        return None
    year = int(y.lstrip("'"))
    if len(y.lstrip("'-+")) <= 2:  # a two-digit year: 69..99 are 19xx, the rest 20xx
        year += 1900 if year >= 69 else 2000
    return year, int(m), int(d)
