"""How cost grows with posts, drawn: cold build time and peak memory against corpus size, as one SVG.

Written by hand (a few dozen elements: no plotting dependency). Both axes are logarithmic, so a
straight line is a power law and a slope of one is linear growth. `python -m bench.chart RESULTS.json
OUT.svg` redraws a saved run; `bench.run` draws one after every run that measured two sizes or more.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

SUBJECTS = {"feedsvc": "#1f6feb", "Hugo": "#d1242f", "naive Python": "#6e7781"}
PANELS = (("cold build", "build time (s)", "s"), ("cold build peak memory", "peak memory (MB)", "MB"))
WIDTH, HEIGHT = 840, 400
PANEL_W, PANEL_H = 330, 250
LEFT, TOP = 70, 50


@dataclass(frozen=True, slots=True)
class Point:
    subject: str
    posts: int
    value: float


def points_from(figures: Iterable[dict[str, object]], figure: str, corpus: str) -> list[Point]:
    """Medians of one figure on one corpus, from a results JSON's "figures" list."""
    found: dict[tuple[str, int], Point] = {}  # the last run of several merged wins
    for row in figures:
        if row.get("figure") == figure and row.get("corpus", "bench") == corpus and row.get("median") is not None \
                and row.get("subject") in SUBJECTS:
            point = Point(str(row["subject"]), int(row["posts"]), float(row["median"]))  # type: ignore[arg-type]
            found[(point.subject, point.posts)] = point
    return list(found.values())


def _decades(low: float, high: float) -> list[float]:
    start, stop = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if start == stop:
        stop += 1
    return [10.0 ** e for e in range(start, stop + 1)]


def _label(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _panel(x0: float, title: str, unit: str, points: Sequence[Point]) -> list[str]:
    if not points:
        return [f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H / 2}" text-anchor="middle">{escape(title)}: '
                "not measured</text>"]
    xs = _decades(min(p.posts for p in points), max(p.posts for p in points))
    ys = _decades(min(p.value for p in points), max(p.value for p in points))

    def px(posts: float) -> float:
        return x0 + (math.log10(posts) - math.log10(xs[0])) / (math.log10(xs[-1]) - math.log10(xs[0])) * PANEL_W

    def py(value: float) -> float:
        span = math.log10(ys[-1]) - math.log10(ys[0])
        return TOP + PANEL_H - (math.log10(value) - math.log10(ys[0])) / span * PANEL_H

    out = [f'<text x="{x0 + PANEL_W / 2}" y="{TOP - 18}" text-anchor="middle" font-weight="bold">'
           f"{escape(title)}</text>",
           f'<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>']
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" y1="{TOP}" x2="{px(x):.1f}" y2="{TOP + PANEL_H}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{TOP + PANEL_H + 16}" text-anchor="middle">{_label(x)}</text>')
    for y in ys:
        out.append(f'<line x1="{x0}" y1="{py(y):.1f}" x2="{x0 + PANEL_W}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{_label(y)}</text>')
    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H + 34}" text-anchor="middle">posts</text>')
    for subject, colour in SUBJECTS.items():
        mine = sorted((p for p in points if p.subject == subject), key=lambda p: p.posts)
        if not mine:
            continue
        line = " ".join(f"{px(p.posts):.1f},{py(p.value):.1f}" for p in mine)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in mine:
            shown = f"{p.value:.1f}" if p.value < 100 else f"{p.value:,.0f}"
            out.append(f'<circle cx="{px(p.posts):.1f}" cy="{py(p.value):.1f}" r="3.5" fill="{colour}">'
                       f"<title>{escape(subject)}, {p.posts:,} posts: {shown} {unit}</title></circle>")
    return out


def draw(figures: Iterable[dict[str, object]], corpus: str = "bench", caption: str = "") -> str:
    """The SVG text: build time and peak memory against posts, one line per subject."""
    rows = list(figures)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    for index, (figure, title, unit) in enumerate(PANELS):
        parts += _panel(LEFT + index * (PANEL_W + 90), title, unit, points_from(rows, figure, corpus))
    legend_x = LEFT
    for subject, colour in SUBJECTS.items():
        parts.append(f'<rect x="{legend_x}" y="{HEIGHT - 46}" width="14" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 20}" y="{HEIGHT - 40}">{escape(subject)}</text>')
        legend_x += 130
    if caption:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 14}" fill="#555">{escape(caption)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="results JSON files (their figures are merged)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--corpus", default="bench")
    parser.add_argument("--caption", default="")
    args = parser.parse_args(argv)
    figures: list[dict[str, object]] = []
    for path in args.results:
        figures += json.loads(path.read_text(encoding="utf-8"))["figures"]
    args.out.write_text(draw(figures, args.corpus, args.caption), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
