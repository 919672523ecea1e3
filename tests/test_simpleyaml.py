"""Simple front matter read without the YAML parser gives the parser's data, types and repeated keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from frontmatter.default_handlers import YAMLHandler
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.content import front_matter
from feedsvc.content.front_matter import FrontMatterError, split_yaml
from feedsvc.content.simpleyaml import read_simple

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
CORPORA = Path(os.environ.get("FEEDSVC_SHARED_CORPORA", "/work/shared/corpora")) if not CORPORA.is_dir() else CORPORA

_RESOLVERS = front_matter._IMPLICIT

KEYS = ["title", "date", "tags", "categories", "layout", "draft", "a_b", "a-b", "true", "True", "null", "NULL",
        "on", "yes", "no", "y", "n", "x" * 1030, "_x"]
SCALARS = ["", "hello world", "on", "off", "yes", "no", "y", "Yes", "ON", "true", "True", "TRUE", "tRue", "false",
           "~", "null", "Null", "NULL", "nUll", "0", "00", "010", "0o10", "0x1f", "0b11", "1_000", "1__0", "1_",
           "1.5", ".5", "._", "1.", "1.e5", "-1", "+1", "-0", "+0", "-0.0", "1e5", "1.5e3", "1.5E+3", "-.5", ".inf",
           ".NaN", "2016-10-06", "2016-10-06 11:10:38 -0700", "2016-10-06T11:10:38Z", "10:00", "1:20:30",
           "a: b", "a:b", "a:", "a #b", "a#b", "#a", "[a, b]", "[]", "[ ]", "[a,,b]", "[a, b,]", "[1, true, ~]",
           "[a, [b]]", "[a: b]", "[a b, c]", "['a', b]", "[a", "'it''s'", "'a'", "''", "'a' b", "'a", '"q"', '""',
           '"a\\nb"', '"a" #c', "-", "- a", "-a", "-1a", "--", "---", "...", "*x", "&x", "!t", "!!str 1", "|",
           ">-", "=", "<<", "<b>", "?x", "? x", ":x", "%x", "@x", "`x", "a,b", "{a: b}", "a ", "a  b", " a",
           "é", "naïve café", "a\xa0", "\xa0", "a\x85b", "a\u2028b", "a\tb", "a\x7fb", "\ufeffa", "a\x00",
           "https://example.com/a?b=c#d", '["a b", "c, d", e]', "['it''s', x]", '[ "a" , b ]', '["a",]', '["a":b]',
           '["a\\"b"]', '["a" b]', "['a'b']", '[a, "b]', '[a,"b"]', '["#", "[x]", "{y}", ": z"]', '[-1, +2, .5, ~]',
           '[ "" ]', "[a  b  , c]", "a: b: c", "it's", 'say "hi"', "x" * 1100]
INDENTS = ["", " ", "  ", "    "]
# the scalars read without the parser on their own: most lines use them, so most texts are read both ways
TAKEN = [value for value in SCALARS if read_simple(f"k: {value}\n", _RESOLVERS) is not None]


def _scalars() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(TAKEN), st.sampled_from(TAKEN), st.sampled_from(TAKEN), st.sampled_from(SCALARS))


@st.composite
def front_texts(draw: st.DrawFn) -> str:
    """Lines in the shapes the reader takes, and in shapes next to them that it must leave to the parser."""
    lines = [""]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["pair"] * 8 + ["list"] * 4 + ["blank", "comment", "other"]))
        key = draw(st.sampled_from(KEYS if draw(st.integers(0, 9)) == 0 else KEYS[:8]))
        if kind == "pair":
            space = draw(st.sampled_from([" "] * 8 + ["  ", ""]))
            lines.append(f"{key}:{space}{draw(_scalars())}{draw(st.sampled_from(['', ' ', '  ']))}")
        elif kind == "list":
            lines.append(f"{key}:")
            indent = draw(st.sampled_from(INDENTS))
            for _ in range(draw(st.integers(0, 4))):
                if draw(st.integers(0, 19)) == 0:
                    indent = draw(st.sampled_from(INDENTS))
                lines.append(f"{indent}-{draw(st.sampled_from([' '] * 8 + ['  ', '']))}{draw(_scalars())}")
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "  "])))
        elif kind == "comment":
            lines.append(draw(st.sampled_from(INDENTS)) + "# " + draw(_scalars()))
        else:
            lines.append(draw(st.sampled_from(INDENTS)) + draw(st.sampled_from(SCALARS + ["k: v", "- x"])))
    return "\n".join(lines) + "\n"


def _parsed(text: str) -> tuple[Any, list[tuple[str, int]]]:
    loader = front_matter._FrontMatterLoader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


def _same(simple: tuple[Any, list[tuple[str, int]]], parsed: tuple[Any, list[tuple[str, int]]]) -> None:
    # repr tells 1 from 1.0 and True, -0.0 from 0.0, and shows the keys' order
    assert repr(simple[0]) == repr(parsed[0])
    assert simple[1] == parsed[1]


@settings(max_examples=1000, deadline=None)
@given(front_texts())
def test_what_the_simple_reader_reads_equals_the_parser(text: str) -> None:
    simple = read_simple(text, _RESOLVERS)
    if simple is not None:
        _same(simple, _parsed(text))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYS[:8]),
                          st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)),
                max_size=6))
def test_any_characters_in_a_value(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{key}: {value}\n" for key, value in pairs)
    simple = read_simple(text, _RESOLVERS)
    if simple is not None:
        _same(simple, _parsed(text))


def test_the_common_shapes_are_read_without_the_parser() -> None:
    text = ("\ntitle: Jekyll 3.0 released\ndate: 2015-10-26 12:00:00 -0700\nauthor: parkr\nversion: 3.0.0\n"
            "draft: false\ncount: 12\nratio: 0.5\nmode: on\nempty:\ntags: [release, jekyll]\ncategories:\n"
            "  - release\n  - news\ntitle: again\n")
    data, repeats = read_simple(text, _RESOLVERS) or ({}, [])
    assert data == {"title": "again", "date": "2015-10-26 12:00:00 -0700", "author": "parkr", "version": "3.0.0",
                    "draft": False, "count": 12, "ratio": 0.5, "mode": "on", "empty": None,
                    "tags": ["release", "jekyll"], "categories": ["release", "news"]}
    assert repeats == [("title", 14)]
    _same((data, repeats), _parsed(text))


@pytest.mark.parametrize("text", ["a: |\n  x\n", "a: b\n  c\n", "a:\n  b: c\n", "a: 'x\n  y'\n", "a: *x\n",
                                  "a: b # c\n", "a: \"\\u00e9\"\n", "a:\n- [x]\n", "a: {b: c}\n", "a:\tb\n"])
def test_other_shapes_are_left_to_the_parser(text: str) -> None:
    assert read_simple(text, _RESOLVERS) is None


def _real_front_matter() -> list[str]:
    handler, found = YAMLHandler(), []
    for path in sorted(CORPORA.rglob("*")):
        if path.suffix in (".md", ".markdown", ".html") and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
            if handler.detect(text):
                try:
                    found.append(handler.split(text)[0])
                except ValueError:
                    pass
    return found


def test_real_front_matter_reads_the_same() -> None:
    texts = _real_front_matter()
    if not texts:
        pytest.skip("the shared corpora are not here")
    read = [text for text in texts if read_simple(text, _RESOLVERS) is not None]
    assert len(read) > len(texts) // 2  # most real front matter is simple
    for text in read:
        _same(read_simple(text, _RESOLVERS) or ({}, []), _parsed(text))


@pytest.mark.parametrize("text", ["---\ntitle: a\ntitle: b\ntags:\n- x\n---\nbody\n", "---\n---\nbody",
                                  "---\n# only a comment\n---\n", "---\nfoo: [a, b\n---\n"])
def test_split_yaml_gives_the_same_front_matter_either_way(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def outcome() -> object:
        try:
            return split_yaml(text)
        except FrontMatterError as exc:
            return str(exc), exc.line

    fast = outcome()
    monkeypatch.setattr(front_matter, "read_simple", lambda text, resolvers: None)
    assert fast == outcome()
