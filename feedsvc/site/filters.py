"""Ad-hoc feeds: `/rss.xml?tags=a,b&categories=c`, any feed narrowed to the posts a reader wants.

Syntax (documented in the README):
- `categories`, `tags`, `authors` (or `category`, `tag`, `author`) name what to keep;
- a comma means *any of*: `tags=python,rust` keeps posts tagged python or rust;
- repeating a parameter means *all of*: `tags=python&tags=web` keeps posts tagged both;
- different kinds all apply: `tags=python&categories=news` keeps python posts in news.

A name matches a scope's name (ignoring case and spacing) or its slug. Other parameters
(`utm_source`, ...) are ignored. The query is canonicalised (names folded and sorted) so
that spellings of one filter share one cached feed, and it is bounded: hostile query
strings are refused before any work, and the cache of rendered answers has a fixed size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from feedsvc.model import Post, Scope, ScopeKind, Site

MAX_QUERY_CHARS = 2000
MAX_NAMES = 20
MAX_GROUPS = 8
MAX_NAME_CHARS = 200
PARAMETERS = {
    "categories": ScopeKind.CATEGORY, "category": ScopeKind.CATEGORY,
    "tags": ScopeKind.TAG, "tag": ScopeKind.TAG,
    "authors": ScopeKind.AUTHOR, "author": ScopeKind.AUTHOR,
}
_CANONICAL = {ScopeKind.CATEGORY: "categories", ScopeKind.TAG: "tags", ScopeKind.AUTHOR: "authors"}
_SINGULAR = {ScopeKind.CATEGORY: "category", ScopeKind.TAG: "tag", ScopeKind.AUTHOR: "author"}


class FilterError(ValueError):
    """The query cannot be a filter; the message says why, for a 400 answer."""


class UnknownNames(LookupError):
    """Some names match nothing on this site; the message names them, for a 404 answer."""


@dataclass(frozen=True, slots=True)
class Filter:
    """Groups ANDed together; the names of one group ORed. Names are folded: one spelling per filter."""

    groups: tuple[tuple[ScopeKind, tuple[str, ...]], ...]

    @property
    def query(self) -> str:
        """The canonical query string: the cache key, and the query of the feed's self link."""
        return "&".join(f"{_CANONICAL[kind]}=" + ",".join(quote(name, safe="") for name in names)
                        for kind, names in self.groups)


def mentions_filter(query_string: str) -> bool:
    """Cheap test for the fast path: could this query be a filter (so the plain feed is not the answer)?"""
    return any(name in query_string for name in ("categor", "tag", "author"))


def parse_filter(query_string: str) -> Filter | None:
    """The filter a query string asks for, None if it asks for none; FilterError if it is malformed."""
    if len(query_string) > MAX_QUERY_CHARS:
        raise FilterError(f"query string longer than {MAX_QUERY_CHARS} characters")
    groups: set[tuple[ScopeKind, tuple[str, ...]]] = set()
    names_seen = 0
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, max_num_fields=MAX_NAMES + 50,
                          errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise FilterError(f"malformed query string: {exc}") from None
    for parameter, value in pairs:
        kind = PARAMETERS.get(parameter)
        if kind is None:
            continue
        names = tuple(sorted({fold(name) for name in value.split(",") if fold(name)}))
        if not names:
            raise FilterError(f"`{parameter}` names nothing: give one or more names, separated by commas")
        too_long = [name for name in names if len(name) > MAX_NAME_CHARS]
        if too_long:
            raise FilterError(f"a name in `{parameter}` is longer than {MAX_NAME_CHARS} characters")
        names_seen += len(names)
        groups.add((kind, names))
    if not groups:
        return None
    if names_seen > MAX_NAMES or len(groups) > MAX_GROUPS:
        raise FilterError(f"at most {MAX_NAMES} names in at most {MAX_GROUPS} parameters")
    kinds = list(_CANONICAL)
    return Filter(tuple(sorted(groups, key=lambda group: (kinds.index(group[0]), group[1]))))


def fold(name: str) -> str:
    """How names compare: as indexing groups them, ignoring case and runs of spaces."""
    return " ".join(name.casefold().split())


def lookup(site: Site) -> Mapping[tuple[ScopeKind, str], Scope]:
    """Every scope by (kind, folded name) and by (kind, slug)."""
    found: dict[tuple[ScopeKind, str], Scope] = {}
    for scope in site.scopes:
        if scope.kind is not ScopeKind.SITE:
            found.setdefault((scope.kind, scope.slug), scope)
            found[(scope.kind, fold(scope.label))] = scope
    return found


def select(site: Site, posts: tuple[Post, ...], wanted: Filter,
           scopes: Mapping[tuple[ScopeKind, str], Scope] | None = None) -> tuple[Post, ...]:
    """The posts (in their order) that every group of the filter keeps; UnknownNames if a name matches nothing."""
    scopes = lookup(site) if scopes is None else scopes
    unknown = [f"{_SINGULAR[kind]} {name!r}" for kind, names in wanted.groups for name in names
               if (kind, name) not in scopes]
    if unknown:
        raise UnknownNames("no " + ", ".join(unknown) + " on this site")
    keep: set[int] | None = None
    for kind, names in wanted.groups:
        group = {id(post) for name in names for post in site.scopes[scopes[(kind, name)]]}
        keep = group if keep is None else keep & group
    assert keep is not None
    return tuple(post for post in posts if id(post) in keep)


def describe(wanted: Filter, scopes: Mapping[tuple[ScopeKind, str], Scope]) -> str:
    """Words for the feed title: `tag Python or Rust, category News`."""
    parts = []
    for kind, names in wanted.groups:
        labels = [scopes[(kind, name)].label for name in names]
        noun = {ScopeKind.AUTHOR: "posts by"}.get(kind, _SINGULAR[kind] if len(labels) == 1 else _CANONICAL[kind])
        parts.append(f"{noun} {' or '.join(labels)}")
    return ", ".join(parts)
