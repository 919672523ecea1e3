"""feedsvc against real Jekyll: each fixture site built by `jekyll build` (+ jekyll-feed) and `feedsvc build`,
their Atom feeds compared entry by entry, one test per fixture and field (tests/jekyll_harness.py).

KNOWN_DIFFERENCES is the honest state of compatibility: a (field, fixture) listed there is expected
to differ (the test is a strict xfail: once a rule lands and the difference is gone, the test fails
until its row is removed). docs/migrating/jekyll.md shows the same table. Deliberate
differences, which stay, are named in the harness where the comparison makes them.

Real Jekyll is Debian's `jekyll` and `ruby-jekyll-feed`; `.ci/run` installs them. Each fixture is
built once per session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import require_tool
from jekyll_harness import CORPORA, FIELDS, SITES, Built, Fixture, build_both, differences, jekyll_available, parse_atom


def _news(site: Path, config: dict[str, Any]) -> None:
    (site / "_docs").mkdir(exist_ok=True)
    (site / "_docs" / "history.md").write_text("---\ntitle: History\n---\nA stub.\n", encoding="utf-8")


def _test_source(site: Path, config: dict[str, Any]) -> None:
    config.update(title="Jekyll test source", url="https://example.org", timezone="UTC")


FIXTURES = {
    fixture.name: fixture for fixture in (
        Fixture("jekyll-news", CORPORA / "jekyll-news", adjust=_news, category_feeds=("release",), adjustments=(
            "plugins: only jekyll-feed (the others are not installed)",
            "a stub _docs/history.md (a post {% link %}s it)",
            "feed: posts_limit raised so every post is listed")),
        Fixture("jekyll-test-source", CORPORA / "jekyll-test-source", adjust=_test_source, adjustments=(
            "a _config.yml (it ships none): title, url, timezone UTC",
            "plugins: jekyll-feed (its own _plugins/*.rb run too, as in Jekyll's test suite)",
            "feed: posts_limit raised so every post is listed")),
    )
}
for _site in sorted(SITES.iterdir()) if SITES.is_dir() else ():
    FIXTURES[_site.name] = Fixture(_site.name, _site, adjustments=("feed: posts_limit raised",))

#: (field, fixture) -> why feedsvc differs from Jekyll there today. Shrinks as rules land.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Each fixture built by both programs once per session, on first use."""
    return {}


def _built(name: str, cache: dict[str, Built], tmp_path_factory: pytest.TempPathFactory) -> Built:
    require_tool("jekyll with jekyll-feed", jekyll_available(), "Debian: apt-get install jekyll ruby-jekyll-feed")
    fixture = FIXTURES[name]
    if not fixture.source.is_dir():
        pytest.skip(f"{fixture.source} is not present (the corpora live in ../shared/corpora)")
    if name not in cache:
        cache[name] = build_both(fixture, tmp_path_factory.mktemp(name))
    return cache[name]


def _cases() -> list[Any]:
    cases = []
    for name in FIXTURES:
        for field_name in FIELDS:
            reason = KNOWN_DIFFERENCES.get((field_name, name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(name, field_name, marks=marks, id=f"{name}-{field_name}"))
    return cases


@pytest.mark.parametrize(("fixture", "field_name"), _cases())
def test_feedsvc_writes_what_jekyll_feed_writes(fixture: str, field_name: str, built: dict[str, Built],
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    both = _built(fixture, built, tmp_path_factory)
    found = []
    for feed, jekyll_body in both.jekyll.items():
        jekyll, ours = parse_atom(jekyll_body), parse_atom(both.feedsvc[feed])
        if feed == "":
            assert jekyll, f"jekyll-feed listed no entries for {fixture}: the fixture proves nothing"
        elif field_name != "posts":
            continue  # a category feed: which posts, in which order; their fields are the site feed's
        found += [f"[{feed or 'site'} feed] {line}" for line in differences(field_name, jekyll, ours)]
    assert not found, f"{len(found)} difference(s) in {field_name} on {fixture}:\n" + "\n".join(found[:40])


def test_every_known_difference_names_a_fixture_and_a_field() -> None:
    for field_name, name in KNOWN_DIFFERENCES:
        assert field_name in FIELDS and name in FIXTURES, (field_name, name)


def test_the_docs_show_the_known_differences_as_they_stand() -> None:
    """docs/migrating/jekyll.md's "Known differences" table names exactly the (field, fixture) rows above."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "migrating" / "jekyll.md").read_text(encoding="utf-8")
    section = page.split("### Known differences", 1)[1].split("\n#", 1)[0]
    shown = set()
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1] in FIXTURES:
            shown |= {(field_name.strip(), cells[1]) for field_name in cells[0].split(",")}
    assert shown == set(KNOWN_DIFFERENCES)
