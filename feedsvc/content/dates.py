"""Front matter dates -> aware datetimes in the site's zone: feedsvc's shared reading (ISO 8601 and near)
and, for text, the dialect's own (Jekyll reads text as Ruby's Time.parse does: dialects/jekylldates.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from feedsvc.content.dialects import Dialect
from feedsvc.content.fields import PostError
from feedsvc.model import Problem

_DATE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2}|[+-]\d{2})?\s*$",
    re.IGNORECASE,
)
# Text after the time (a zone further on is taken): read with a warning, where the dialect has no reading of its own.
_LENIENT_DATE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\b"
    r"(?:.*?\s([+-]\d{2}:?\d{2}|Z)(?=\s|$))?",
)


def shown_in(when: datetime, tz: ZoneInfo) -> datetime:
    """`when` in the site's zone, or in UTC where that zone's offset then had seconds (local mean time, before
    standard time: `+09:18:59`), which no feed format can write (RFC 822 and RFC 3339 offsets are minutes)."""
    local = when.astimezone(tz)
    offset = local.utcoffset()
    return when.astimezone(UTC) if offset is not None and offset.seconds % 60 else local


def parse_date(value: Any, tz: ZoneInfo, field: str, dialect: Dialect) -> tuple[datetime, str | None]:
    """A datetime, a date or a string (read as the dialect reads it) -> aware datetime (site zone when none given)."""
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=tz)
        _check_range(when, tz, field, value)
        return when, None
    if isinstance(value, date):
        when = datetime.combine(value, time(), tz)
        _check_range(when, tz, field, value)
        return when, None
    if not isinstance(value, str):
        raise PostError(f"`{field}` must be a date such as 2016-10-06 11:10:38 -0700, got {value!r}")
    try:
        reading = dialect.date_from_text(value, tz)
    except ValueError as exc:
        raise PostError(f"`{field}` {value!r} {exc}") from None
    if reading is not None:
        when, ignored = reading
        _check_range(when, tz, field, value)
        return when, f"`{field}` {value!r} has extra text; read as {when:%Y-%m-%d %H:%M:%S %z}" if ignored else None
    match = _DATE.match(value)
    note = None
    if not match:
        lenient = _LENIENT_DATE.match(value)
        if not lenient:
            raise PostError(f"`{field}` is not a date Jekyll understands: {value!r} (try 2016-10-06 11:10:38 -0700)")
        y, mo, d, h, mi, s, zone = lenient.groups()
        frac = None
        note = f"`{field}` {value!r} has extra text; read as {y}-{mo}-{d} {h}:{mi}:{s or '00'} {zone or ''}".rstrip()
    else:
        y, mo, d, h, mi, s, frac, zone = match.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        when = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro,
                        tzinfo=_zone(zone, tz, field, value))
    except ValueError as exc:
        raise PostError(f"`{field}` {value!r} is not a real date: {exc}") from None
    _check_range(when, tz, field, value)
    return when, note


def _check_range(when: datetime, tz: ZoneInfo, field: str, value: Any) -> None:
    """Years 1 to 9999 in every zone the date is shown in; the edges overflow once a zone moves them."""
    try:
        when.astimezone(UTC)
        when.astimezone(tz)
    except (OverflowError, ValueError):
        raise PostError(f"`{field}` {value!r} is out of range: dates must fall within the years 1 to 9999 "
                         "in every time zone") from None


def _zone(zone: str | None, tz: ZoneInfo, field: str, value: str) -> timezone | ZoneInfo:
    if zone is None:
        return tz
    if zone.upper() in ("Z", "UTC", "GMT"):
        return UTC
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise PostError(f"`{field}` {value!r} has an impossible zone offset {zone}")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone[0] == "-" else offset)


def first_date(dialect: Dialect, data: Mapping[Any, Any], keys: tuple[str, ...], tz: ZoneInfo, relpath: str,
                warnings: list[Problem]) -> datetime | None:
    """The first of `keys` the front matter gives, as a date in the site's zone (a note in `warnings`)."""
    for key in keys:
        if data.get(key) is not None:
            when, note = parse_date(data[key], tz, key, dialect)
            if note:
                warnings.append(Problem(relpath, note, "warning"))
            return when.astimezone(tz)
    return None
