"""A post file's text -> its front matter (a mapping), its body and where each starts.

The only module that reads front matter formats (python-frontmatter, YAML, TOML): `---` YAML is
read without YAML 1.1's surprises, `+++` TOML as TOML, and every failure is named by line. Which
formats a site may use is its dialect's choice (dialects/); what the fields mean is parsing.py's.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from feedsvc.content.simpleyaml import Resolvers, read_simple

# A front matter nested deeper than this is refused outright: the pure-Python loader would take
# seconds only to reach its recursion limit.
MAX_NESTING = 5000


class FrontMatterError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class FrontMatter:
    data: dict[Any, Any]
    body: str
    body_line: int  # the file line the body starts on
    duplicates: tuple[tuple[str, int], ...] = ()  # (key given again, file line of the repeat)


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
# libyaml's composer recurses on the C stack: some 30,000 nested `[` crash the whole process. Front
# matter that may nest deeper than this goes to the pure-Python loader, which raises RecursionError.
_C_LOADER_MAX_NESTING = 200
_BRACKETS = re.compile(r"[^\[\]{}]+")


def _loader_class(base: type) -> type:
    class Loader(base):  # type: ignore[misc]  # a base chosen at run time (libyaml or not)
        """YAML without the 1.1 surprises: `no` stays "no", `10:00` stays "10:00", dates stay text.

        Jekyll-style date strings are then parsed by `_parse_date`, one code path for all.
        Keys given twice are recorded (YAML keeps the last one silently; we warn).
        """

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.duplicates: list[tuple[str, int]] = []  # (key, 0-based line of the repeat)

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in seen:
                        self.duplicates.append((key_node.value, key_node.start_mark.line))
                    seen.add(key_node.value)
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return mapping

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                               "tag:yaml.org,2002:float")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for tag, pattern, firsts in (
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9_]*)$", "-+0123456789"),
        ("tag:yaml.org,2002:float", r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?$", "-+0123456789."),
    ):
        Loader.add_implicit_resolver(tag, re.compile(pattern), list(firsts))
    return Loader


_FrontMatterLoader = _loader_class(_BaseLoader)
_DeepFrontMatterLoader = _loader_class(yaml.SafeLoader)
# How the loader types a plain scalar: the reader of simple front matter (simpleyaml.py) types them the same way.
_IMPLICIT: Resolvers = _FrontMatterLoader.yaml_implicit_resolvers  # type: ignore[attr-defined]


def _flow_nesting_bound(front_text: str) -> int:
    """An upper bound on `[`/`{` nesting (quotes ignored, so it errs towards the safe side)."""
    if front_text.count("[") + front_text.count("{") <= _C_LOADER_MAX_NESTING:
        return 0
    depth = deepest = 0
    for char in _BRACKETS.sub("", front_text):
        depth = depth + 1 if char in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


_HANDLER = YAMLHandler()
_TOML_FRONT = re.compile(r"\A\+\+\+[ \t]*\n(.*?)^\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL | re.MULTILINE)
_TOML_LINE = re.compile(r"at line (\d+)")

#: Reads one format of front matter from a post's text: None when the text has none of that kind.
FrontMatterReader = Callable[[str], FrontMatter | None]


def split_front_matter(text: str, readers: tuple[FrontMatterReader, ...]) -> FrontMatter | None:
    """The front matter of the first format, in the dialect's order, that the text opens with; None if none."""
    for read in readers:
        found = read(text)
        if found is not None:
            return found
    return None


def split_toml(text: str) -> FrontMatter | None:
    """`+++`-fenced TOML front matter; raises FrontMatterError, with the file line, when it cannot be read."""
    if not text.startswith("+++"):
        return None
    match = _TOML_FRONT.match(text)
    if match is None:
        raise FrontMatterError("front matter opened on line 1 by +++ is never closed by a line of +++", 1)
    try:
        data = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_LINE.search(str(exc))
        line = int(where.group(1)) + 1 if where else None  # the opening +++ is line 1
        raise FrontMatterError(f"front matter is not valid TOML: {exc}", line) from None
    body = text[match.end():]
    return FrontMatter(data, body, _first_line(text, body))


def split_yaml(text: str) -> FrontMatter | None:
    """`---`-fenced YAML front matter (newlines already `\\n`); None if the text has none.

    Raises FrontMatterError, with the file line where known, for front matter that cannot be read.
    """
    if not _HANDLER.detect(text):
        return None
    try:
        front_text, body = _HANDLER.split(text)
    except ValueError:
        raise FrontMatterError("front matter opened on line 1 is never closed by a line of ---", 1) from None
    # YAML counts from the start of the front matter; the file has the opening --- before it.
    first_line = text.count("\n", 0, text.find(front_text, 3)) + 1
    simple = read_simple(front_text, _IMPLICIT)
    if simple is not None:
        data, repeats = simple
        return FrontMatter(data or {}, body, _first_line(text, body),
                           tuple((key, first_line + line) for key, line in repeats))
    nesting = _flow_nesting_bound(front_text)
    if nesting > MAX_NESTING:
        raise FrontMatterError(f"front matter is nested too deeply ({nesting:,} levels of [ or {{)")
    loader = (_DeepFrontMatterLoader if nesting > _C_LOADER_MAX_NESTING else _FrontMatterLoader)(front_text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = first_line + mark.line if mark is not None else None
        raise FrontMatterError(f"front matter is not valid YAML: {problem}", line) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrontMatterError(f"front matter must be a mapping of fields, got a {yaml_kind(data)}", 2)
    duplicates = tuple((key, first_line + line) for key, line in loader.duplicates)
    return FrontMatter(data, body, _first_line(text, body), duplicates)


_CLOSING = re.compile(r"^(---|\.\.\.)[ \t]*$", re.MULTILINE)


def split_yaml_or_dots(text: str) -> FrontMatter | None:
    """YAML front matter closed by `---` or, as Jekyll also accepts (YAML's end of document), by `...`."""
    if text.startswith("---"):
        opening_end = text.find("\n")
        closing = _CLOSING.search(text, opening_end + 1) if opening_end >= 0 else None
        if closing is not None and closing.group(1) == "...":
            text = text[:closing.start()] + "---" + text[closing.start() + 3:]
    return split_yaml(text)


def _first_line(text: str, body: str) -> int:
    """The file line the body starts on (the body is the tail of the text)."""
    return text.count("\n", 0, len(text) - len(body)) + 1


def yaml_kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "scalar")
