"""Jekyll's `date:` strings read as Ruby's `Time.parse` reads them (content/dialects/jekylldates.py).

Each case is checked against the answer written here and, where Ruby is installed (it is wherever
Jekyll is), against Ruby itself, so the table cannot drift from what Jekyll does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import require_tool
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.content.dialects import jekylldates
from feedsvc.content.dialects.jekylldates import read_ruby_date

NEW_YORK = ZoneInfo("America/New_York")

#: text -> (ISO 8601 as Ruby gives it in New York, text Ruby ignored); None: Ruby reads no date.
CASES: dict[str, tuple[str, str] | None] = {
    "September 8, 2014": ("2014-09-08T00:00:00-04:00", ""),
    "8 September 2014": ("2014-09-08T00:00:00-04:00", ""),
    "March 3rd, 2015": ("2015-03-03T00:00:00-05:00", ""),
    "Sep 8 2014 10:00pm": ("2014-09-08T22:00:00-04:00", ""),
    "Tue, 06 Oct 2016 11:10:38 GMT": ("2016-10-06T11:10:38+00:00", ""),
    "2016-07-19 (optional)": ("2016-07-19T00:00:00-04:00", "(optional)"),
    "2016-03-23 11:00 EDT": ("2016-03-23T11:00:00-04:00", ""),
    "2016-12-01 09:30:00 PST": ("2016-12-01T09:30:00-08:00", ""),
    "2016-10-06 11:10:38 PDT -0700": ("2016-10-06T11:10:38-07:00", "-0700"),
    "2016-10-06 11:10:38 +0700 garbage": ("2016-10-06T11:10:38+07:00", "garbage"),
    "2023-01-29 18:30:22 2023 -0800": ("2023-01-29T18:30:22-05:00", "2023 -0800"),  # the zone must follow the time
    "2016-10-06 11:10 CEST": ("2016-10-06T11:10:00-04:00", ""),  # a name Ruby's Time does not know: local
    "2016-10-06 11:10 a": ("2016-10-06T11:10:00+01:00", ""),  # a military letter
    "2016-10-06T11:10:38.5Z": ("2016-10-06T11:10:38.500000+00:00", ""),
    "06/10/2016": ("2016-10-06T00:00:00-04:00", ""),
    "2014/09/08": ("2014-09-08T00:00:00-04:00", ""),
    "next tuesday": None,
    "soon": None,
}


@pytest.mark.parametrize("text", list(CASES))
def test_a_date_string_reads_as_ruby_reads_it(text: str) -> None:
    reading = read_ruby_date(text, NEW_YORK)
    expected = CASES[text]
    if expected is None:
        assert reading is None
        return
    assert reading is not None
    assert (reading.when, reading.leftover) == (datetime.fromisoformat(expected[0]), expected[1])


def test_the_table_is_what_ruby_says() -> None:
    require_tool("ruby", shutil.which("ruby") is not None, "Debian: apt-get install ruby; jekyll brings it")
    script = ("require 'time'; require 'json'; out = {}; JSON.parse(STDIN.read).each { |s| "
              "out[s] = begin; Time.parse(s).iso8601(6); rescue ArgumentError; nil; end }; print out.to_json")
    result = subprocess.run(["ruby", "-e", script], input=json.dumps(list(CASES)), capture_output=True, text=True,
                            check=True, env={"TZ": "America/New_York", "PATH": "/usr/bin:/bin"}, timeout=60)
    ruby = json.loads(result.stdout)
    for text, expected in CASES.items():
        said = ruby[text]
        if expected is None:  # Ruby refuses it, or reads a year it takes from the clock: both refused here
            assert said is None or not any(ch.isdigit() for ch in text), (text, said)
        else:
            assert said is not None and datetime.fromisoformat(said) == datetime.fromisoformat(expected[0]), \
                (text, said, expected)


def test_a_year_beyond_9999_is_no_date() -> None:
    assert read_ruby_date("99999-01-01", NEW_YORK) is None


# -- the common spelling's fast path reads as the general one --------------------------------------

_DIGITS = st.text(alphabet="0123456789", min_size=2, max_size=2)


@settings(max_examples=400, deadline=None)
@given(year=st.text(alphabet="0123456789", min_size=4, max_size=4), month=_DIGITS, day=_DIGITS, hour=_DIGITS,
       minute=_DIGITS, second=_DIGITS, sign=st.sampled_from("+-"), zone_hours=_DIGITS, zone_minutes=_DIGITS,
       tz=st.sampled_from([NEW_YORK, ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata")]))
def test_the_common_spelling_reads_as_the_general_reading(year: str, month: str, day: str, hour: str, minute: str,
                                                         second: str, sign: str, zone_hours: str,
                                                         zone_minutes: str, tz: ZoneInfo) -> None:
    """`2016-10-06 11:10:38 -0700` skips the general search: the same date, zone and refusals (impossible days,
    times and zones), field by field, including the zone object's offset."""
    text = f"{year}-{month}-{day} {hour}:{minute}:{second} {sign}{zone_hours}{zone_minutes}"
    assert jekylldates._COMMON.fullmatch(text)
    assert _outcome(read_ruby_date, text, tz) == _outcome(jekylldates._read_any, text, tz)


def test_the_common_spelling_of_real_posts() -> None:
    for text in ("2016-10-06 11:10:38 -0700", "2024-02-29 23:59:59 +0530", "2023-02-29 10:00:00 +0000",
                 "2016-10-06 24:00:00 -0700", "2016-10-06 11:10:38 +2500", "0000-01-01 00:00:00 +0000"):
        assert _outcome(read_ruby_date, text, NEW_YORK) == _outcome(jekylldates._read_any, text, NEW_YORK), text
    assert read_ruby_date("2016-10-06 11:10:38 -0700", NEW_YORK).when.isoformat() == "2016-10-06T11:10:38-07:00"


def _outcome(read: Callable[[str, ZoneInfo], object], text: str, tz: ZoneInfo) -> object:
    try:
        reading = read(text, tz)
    except jekylldates.ImpossibleZone as exc:
        return ("refused", str(exc))
    if not isinstance(reading, jekylldates.RubyDate):
        return reading
    return reading.when.isoformat(), reading.when.utcoffset(), reading.when.tzname(), reading.leftover
