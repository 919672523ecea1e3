"""JSON Feed items are written without json's pure-Python encoder: the text must be json.dumps's, to the byte."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.render.jsonfeed import indented_json

# What breaks a hand-made JSON writer: quotes, backslashes, every control character, the line and paragraph
# separators JavaScript treats as line ends, lone surrogates, characters outside the BMP.
_HOSTILE = st.sampled_from(['"', "\\", "\u2028", "\u2029", "\ud800", "\udfff", "\U0001f600", "\x7f", "/", "</script>"])
_TEXT = st.lists(st.one_of(st.characters(max_codepoint=0x1F), _HOSTILE, st.text(max_size=8)), max_size=8).map("".join)
_AUTHOR = st.fixed_dictionaries({"name": _TEXT}, optional={"url": _TEXT})
_ITEM = st.fixed_dictionaries(
    {"id": _TEXT, "url": _TEXT, "title": _TEXT, "content_html": _TEXT},
    optional={"summary": _TEXT, "image": _TEXT, "date_published": _TEXT, "authors": st.lists(_AUTHOR, max_size=3),
              "author": _AUTHOR, "tags": st.lists(_TEXT, max_size=4), "language": _TEXT},
)
_ANY = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ITEM, max_size=4))
def test_items_are_written_as_json_dumps_writes_them_inside_a_feed(items):
    expected = json.dumps({"items": items}, ensure_ascii=False, indent=2)
    written = ",\n    ".join(indented_json(item, 2) for item in items)
    assert ('{\n  "items": [\n    ' + written + "\n  ]\n}" if items else '{\n  "items": []\n}') == expected


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_any_value_of_strings_lists_and_objects_is_written_as_json_dumps_writes_it(value):
    assert indented_json(value, 0) == json.dumps(value, ensure_ascii=False, indent=2)


def test_a_lone_surrogate_fails_to_encode_as_the_plain_path_does():
    item = {"title": "broken \ud800 half"}
    assert indented_json(item, 0) == json.dumps(item, ensure_ascii=False, indent=2)
    with pytest.raises(UnicodeEncodeError):
        indented_json(item, 0).encode("utf-8")
