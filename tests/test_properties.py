"""Property-based tests: generated front matter and bodies never break a feed or leak a hidden post.

Runs the pure core (parse -> index -> render) on generated sites; bounded to a few seconds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import yaml
from conftest import settings_from
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsvc.content.parsing import parse_post
from feedsvc.model import FeedFormat, Post
from feedsvc.render.feeds import render_feed
from feedsvc.render.pages import render_index, render_opml
from feedsvc.site.indexing import build_site

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = settings_from()
# Any characters at all, XML-forbidden controls included (surrogates cannot reach a UTF-8 file).
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
NAMES = st.one_of(st.sampled_from(["python", "web", "News", "..", "]]>", "<b>x</b>", "CON", "C++", "日本語", " "]),
                  ANY_TEXT)
DATES = st.one_of(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S +0000")),
    st.sampled_from(["2026-06-01 12:00:00 +0000", "2026-06-01 12:00:01 +0000", "2026-02-30", "0000-01-01",
                     "9999-12-31 23:59:59 -1200", "soon"]),
)
BODIES = st.lists(st.one_of(ANY_TEXT, st.sampled_from(
    ["<script>x</script>", "]]>", "<![CDATA[", "&amp;", "&#0;", "[link](../x)", "![i](y.png)", "\n\n", "---",
     "| a | b |\n|---|---|\n| 1 | 2 |", "<div>", "`code`", "\x00", "\ufeff"])), max_size=8).map("".join)


@st.composite
def front_matter(draw) -> dict:
    data: dict = {}
    if draw(st.booleans()):
        data["title"] = draw(ANY_TEXT)
    if draw(st.integers(0, 3)):
        data["date"] = draw(DATES)
    for key in ("tags", "categories"):
        if draw(st.booleans()):
            data[key] = draw(st.one_of(st.lists(NAMES, max_size=4), NAMES))
    if draw(st.booleans()):
        data["author"] = draw(st.one_of(NAMES, st.fixed_dictionaries({"name": NAMES, "email": ANY_TEXT})))
    for key in ("published", "draft"):
        if draw(st.integers(0, 3)) == 0:
            data[key] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        data["excerpt"] = draw(ANY_TEXT)
    return data


def _hidden(data: dict, result: Post) -> bool:
    return data.get("published") is False or data.get("draft") is True or result.date > NOW


def _render_all(site) -> dict[str, bytes]:
    outputs = {}
    for scope in site.scopes:
        for fmt in FeedFormat:
            resource = render_feed(site, scope, fmt, SETTINGS)
            outputs[resource.path] = resource.body
    for page in (render_index(site, SETTINGS), render_opml(site, SETTINGS)):
        outputs[page.path] = page.body
    return outputs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # new examples each run
@given(st.lists(st.tuples(front_matter(), BODIES), min_size=1, max_size=5))
def test_generated_sites_give_valid_feeds_without_hidden_posts(generated):
    posts, problems, hidden_markers, shown_markers = [], [], [], []
    for index, (data, body) in enumerate(generated):
        marker = f"Qz{index}marker"
        data = {**data, "title": f"{data.get('title', '')} {marker}"}
        text = "---\n" + yaml.safe_dump(data, allow_unicode=True) + "---\n" + body + f"\n\n{marker}body\n"
        result = parse_post(f"_posts/2026-01-0{1 + index}-post-{index}.md", text.encode("utf-8"), SETTINGS)
        if not isinstance(result, Post):
            assert result.path.endswith(f"post-{index}.md") and result.message
            problems.append(result)
            continue
        posts.append(result)
        (hidden_markers if _hidden(data, result) else shown_markers).append(marker)
    site = build_site(posts, problems, SETTINGS, NOW)
    outputs = _render_all(site)
    for path, body in outputs.items():
        for marker in hidden_markers:
            assert marker.encode() not in body, (marker, path)
        if path.endswith(".json"):
            feed = json.loads(body)
            ids = [item["id"] for item in feed["items"]]
            assert len(ids) == len(set(ids)) and feed["version"] == "https://jsonfeed.org/version/1.1"
        elif path.endswith((".xml", ".opml")):
            etree.fromstring(body)
            if path.endswith(".xml"):
                parsed = feedparser.parse(body)
                assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    site_rss = outputs["/rss.xml"]
    for marker in shown_markers[: SETTINGS.feed_limit]:
        assert marker.encode() in site_rss  # distinct links here, so every visible post is listed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_post_or_a_problem_naming_the_file(raw):
    result = parse_post("_posts/2026-01-01-x.md", raw, SETTINGS)
    assert isinstance(result, Post) or (result.path == "_posts/2026-01-01-x.md" and result.message)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_front_matter_text_gives_a_post_or_a_problem(front):
    result = parse_post("_posts/2026-01-01-x.md", f"---\n{front}\n---\nBody.\n".encode("utf-8", "surrogatepass"),
                        SETTINGS)
    assert isinstance(result, Post) or (result.path == "_posts/2026-01-01-x.md" and result.message)
