"""The growth chart bench/ draws for docs/performance.md: every measured point is on it, by subject."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bench.chart import draw

SVG = "{http://www.w3.org/2000/svg}"


def _figures() -> list[dict[str, object]]:
    rows = []
    for subject, seconds in (("feedsvc", (0.9, 9.5, 49.1)), ("Hugo", (1.1, 10.7, 45.9)),
                             ("naive Python", (2.4, 24.5, 250.0))):
        for posts, value in zip((1_000, 10_000, 100_000), seconds, strict=True):
            rows.append({"figure": "cold build", "subject": subject, "posts": posts, "median": value,
                         "corpus": "bench"})
            rows.append({"figure": "cold build peak memory", "subject": subject, "posts": posts,
                         "median": value * 40, "corpus": "bench"})
    rows.append({"figure": "cold build", "subject": "feedsvc", "posts": 1_000, "median": 99.0, "corpus": "news"})
    return rows


def test_every_measured_point_is_drawn_with_its_value_and_one_line_per_subject():
    root = ET.fromstring(draw(_figures(), caption="test run"))
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert len(titles) == 18  # 3 subjects x 3 sizes x 2 panels; the other corpus is not mixed in
    assert "feedsvc, 100,000 posts: 49.1 s" in titles
    assert "naive Python, 100,000 posts: 10,000 MB" in titles
    assert len(list(root.iter(f"{SVG}polyline"))) == 6
    assert not any("99.0" in t for t in titles)


def test_points_further_right_are_larger_and_higher_values_are_drawn_higher():
    root = ET.fromstring(draw(_figures()))
    circles = {c.find(f"{SVG}title").text: (float(c.get("cx")), float(c.get("cy"))) for c in root.iter(f"{SVG}circle")}
    small, large = circles["Hugo, 1,000 posts: 1.1 s"], circles["Hugo, 10,000 posts: 10.7 s"]
    assert large[0] > small[0] and large[1] < small[1]  # SVG's y grows downwards
    assert circles["naive Python, 10,000 posts: 24.5 s"][1] < circles["feedsvc, 10,000 posts: 9.5 s"][1]


def test_a_run_without_build_figures_says_so_instead_of_drawing_nothing():
    assert "not measured" in draw([])
