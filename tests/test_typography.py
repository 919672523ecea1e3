"""jekyll-feed's smartify of titles (content/typography.py): kramdown's typography, entities decoded once."""

from __future__ import annotations

import pytest

from feedsvc.content.kramdown import KramdownOptions
from feedsvc.content.typography import smartify

KRAMDOWN = KramdownOptions()


@pytest.mark.parametrize(("written", "shown"), [
    ("Sponsoring Jekyll's development", "Sponsoring Jekyll\u2019s development"),
    ('Jekyll 3.4.1, or "Unintended Consequences"', "Jekyll 3.4.1, or \u201cUnintended Consequences\u201d"),
    ("Foo --- Bar -- Baz", "Foo \u2014 Bar \u2013 Baz"),
    ("Err... I mean 2.1.0.", "Err\u2026 I mean 2.1.0."),
    ("&ldquo;agilefall&rdquo;", "\u201cagilefall\u201d"),
    ("Fish &amp; chips &lt;3", "Fish & chips <3"),
    ("Back in the '80s", "Back in the \u201980s"),
    ("('quoted')", "(\u2018quoted\u2019)"),
    ("*not* Markdown", "*not* Markdown"),
    ("A <em>\"real\"</em> tag &amp; text", "A <em>\u201creal\u201d</em> tag &amp; text"),
])
def test_titles_are_smartified(written: str, shown: str) -> None:
    assert smartify(written, KRAMDOWN) == shown


def test_the_sites_smart_quotes_are_used() -> None:
    german = KramdownOptions(smart_quotes=("\u201a", "\u2018", "\u201e", "\u201c"))
    assert smartify('"Hallo"', german) == "\u201eHallo\u201c"
