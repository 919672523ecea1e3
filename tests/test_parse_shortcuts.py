"""Shortcuts of the parse (placeholders made only when a permalink uses them) give the plain path's result."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from feedsvc.content.dialects.jekyll import (
    PERMALINK_STYLES,
    expand_permalink,
    pattern_placeholders,
    permalink_placeholders,
)

PATTERNS = [*PERMALINK_STYLES.values(), "/:title:output_ext", "/blog/:year-:i_month-:i_day/:slug.html",
            "/:w_year/W:week/:w_day/:short_day/:long_day/:short_month/:long_month/:name",
            "/:short_year/:y_day/:hour:minute:second/:categories/:titlex/:unknown/:title_:slugs", "/static/page",
            "/:categories:title:output_ext/", ":year..:month/./:day"]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("when", [datetime(2016, 1, 3, 9, 5, 7, tzinfo=ZoneInfo("Asia/Tokyo")),
                                  datetime(2024, 12, 30, 23, 59, 59, tzinfo=ZoneInfo("America/New_York"))])
def test_a_permalink_filled_from_the_placeholders_it_uses_is_the_same(pattern: str, when: datetime) -> None:
    args = ("Hello, World_snake café", when, ("Release", "news", "release"))
    every = permalink_placeholders(*args)
    used = permalink_placeholders(*args, pattern_placeholders(pattern))
    assert len(used) < len(every)
    assert expand_permalink(pattern, used) == expand_permalink(pattern, every)
