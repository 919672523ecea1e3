"""Parsed posts -> the `Site` visible at one moment: which posts show, in which feeds, in what order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial

from feedsvc.config import Settings
from feedsvc.content.dialects import dialect_for
from feedsvc.content.references import ResolvedPosts, resolve_references
from feedsvc.model import SITE_SCOPE, Language, Post, Problem, Scope, ScopeKind, Site
from feedsvc.site.archives import ARCHIVE_SEGMENT
from feedsvc.urls import disambiguated_slug, slugify


def build_site(posts: Iterable[Post], problems: Iterable[Problem], settings: Settings, now: datetime,
               resolved: ResolvedPosts | None = None) -> Site:
    """Select and order what is visible at `now` (injected, so scheduled publishing is testable); `resolved`:
    the posts whose references the last indexing resolved, read and replaced (references.py)."""
    posts, unresolved = resolve_references(posts, resolved)  # {% post_url %} and {% link %} to other posts
    candidates = sorted((p for p in posts if p.published), key=lambda p: p.source)
    visible: list[Post] = []
    upcoming: list[datetime] = []
    hidden = {p.source for p in posts if not p.published}
    found: list[Problem] = []
    by_url: dict[str, Post] = {}
    for post in candidates:
        publish_at = post.publish_at or post.date
        if publish_at > now and not settings.future:
            upcoming.append(publish_at)
            hidden.add(post.source)
            continue
        if post.expire_at is not None and post.expire_at <= now:
            hidden.add(post.source)
            continue
        if post.expire_at is not None:
            upcoming.append(post.expire_at)
        first = by_url.get(post.url)
        if first is not None:
            found.append(Problem(post.source, f"has the same link as {first.source} ({post.url}); skipped"))
            continue
        by_url[post.url] = post
        visible.append(post)
    own = [p for p in unresolved if not (p.severity == "warning" and p.path in hidden)] + found
    visible.sort(key=dialect_for(settings.dialect, settings.dialect_rules).order_key)  # the generator's own order
    ordered = tuple(visible)
    by_language: dict[Language | None, list[Post]] = {None: []}  # the default one even empty: subscribe early
    for post in ordered:
        by_language.setdefault(post.language, []).append(post)
    scopes: dict[Scope, tuple[Post, ...]] = {}
    for language in sorted(by_language, key=lambda lang: lang.prefix if lang is not None else ""):
        scopes.update(_scopes(tuple(by_language[language]), language))
    return Site(
        posts=ordered,
        scopes=scopes,
        problems=_all_problems(problems, own, hidden),
        next_publish_at=min(upcoming, default=None),  # a post to show, or one to take down
        hidden=frozenset(hidden),
        own_problems=tuple(own),
    )


def _scopes(posts: tuple[Post, ...], language: Language | None) -> dict[Scope, tuple[Post, ...]]:
    """The scopes of one language's posts: the site's, then its categories, tags, authors and the terms of
    its other taxonomies."""
    scopes: dict[Scope, tuple[Post, ...]] = {replace(SITE_SCOPE, language=language): posts}
    scopes.update(_group(posts, ScopeKind.CATEGORY, lambda p: p.categories, language))
    scopes.update(_group(posts, ScopeKind.TAG, lambda p: p.tags, language))
    scopes.update(_group(posts, ScopeKind.AUTHOR, lambda p: tuple(a.name for a in p.authors), language))
    for taxonomy in _taxonomies(posts):
        scopes.update(_group(posts, ScopeKind.TERM, partial(_terms, taxonomy=taxonomy), language, taxonomy))
    return scopes


# A taxonomy by one of these names would put its feeds where feedsvc's own are: it has none.
_TAKEN_SEGMENTS = frozenset({kind.value for kind in ScopeKind if kind is not ScopeKind.TERM} | {ARCHIVE_SEGMENT})


def _taxonomies(posts: tuple[Post, ...]) -> list[str]:
    """The other taxonomies the posts have terms in, sorted; each a single URL segment that is free."""
    named = {plural for post in posts for plural, _ in post.taxonomies}
    return sorted(p for p in named if p not in _TAKEN_SEGMENTS and "/" not in p and p.strip("."))


def _terms(post: Post, taxonomy: str) -> tuple[str, ...]:
    return next((terms for plural, terms in post.taxonomies if plural == taxonomy), ())


def update_site(previous: Site, replaced: Mapping[str, Post], problems: Iterable[Problem]) -> Site | None:
    """`previous` with new versions of some posts, when no edit can move anything: a retitle, a fixed typo.

    Same order, same scopes, so the whole re-index is skipped. None when an edit touches what
    places a post (date, link, visibility, categories, tags, authors, terms, weight), retitles a post next to
    one of the same date, or uses references to other posts: then `build_site` must run.
    """
    current = {post.source: post for post in previous.posts}
    swaps: list[tuple[Post, Post]] = []
    for source, new in replaced.items():
        old = current.get(source)
        if old is None or old.references or new.references or _placement(old) != _placement(new) \
                or (old.title != new.title and _has_same_date_neighbour(previous.posts, old)):
            return None
        swaps.append((old, new))
    posts, scopes = previous.posts, dict(previous.scopes)
    for old, new in swaps:  # only the tuples that hold the post are rebuilt, by C-speed index and slices
        posts = _swapped(posts, old, new)
        names = {(ScopeKind.CATEGORY, "", _key(n)) for n in old.categories} | \
            {(ScopeKind.TAG, "", _key(n)) for n in old.tags} | \
            {(ScopeKind.AUTHOR, "", _key(a.name)) for a in old.authors} | \
            {(ScopeKind.TERM, plural, _key(n)) for plural, terms in old.taxonomies for n in terms}
        for scope, members in scopes.items():
            if scope.kind is ScopeKind.SITE or (scope.kind, scope.taxonomy, _key(scope.label)) in names:
                scopes[scope] = _swapped(members, old, new)
    return replace(previous, posts=posts, scopes=scopes,
                   problems=_all_problems(problems, previous.own_problems, previous.hidden))


def _has_same_date_neighbour(posts: tuple[Post, ...], post: Post) -> bool:
    """Whether a post of the same date sits next to `post`: their order may then hang on the title (Hugo)."""
    for at, other in enumerate(posts):
        if other is post:
            second = int(post.date.timestamp())
            return any(0 <= near < len(posts) and int(posts[near].date.timestamp()) == second
                       for near in (at - 1, at + 1))
    return False


def _swapped(posts: tuple[Post, ...], old: Post, new: Post) -> tuple[Post, ...]:
    for at, post in enumerate(posts):
        if post is old:
            return posts[:at] + (new,) + posts[at + 1:]
    return posts


def _placement(post: Post) -> tuple[object, ...]:
    return (post.published, post.date, post.publish_at, post.expire_at, post.url, post.categories, post.tags,
            tuple(a.name for a in post.authors), post.weight, post.link_title, post.taxonomies)


def _all_problems(given: Iterable[Problem], own: Iterable[Problem], hidden: set[str] | frozenset[str]
                  ) -> tuple[Problem, ...]:
    # /status is public: a hidden post's warnings (which may quote its title) wait until it is shown.
    shown = [p for p in given if not (p.severity == "warning" and p.path in hidden)] + list(own)
    return tuple(sorted(shown, key=lambda p: (p.path, p.line or 0, p.message)))


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def _group(posts: tuple[Post, ...], kind: ScopeKind, names_of: Callable[[Post], tuple[str, ...]],
           language: Language | None = None, taxonomy: str = "") -> dict[Scope, tuple[Post, ...]]:
    """Scopes of one kind; names equal but for case and spacing are one scope.

    Names that slug alike but differ stay apart: the one used first keeps the plain slug,
    the others get a stable hashed suffix, so no feed overwrites another.
    """
    members: dict[str, list[Post]] = defaultdict(list)
    spellings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    keys: dict[str, str] = {}  # a few hundred names over tens of thousands of uses
    for post in posts:
        for name in dict.fromkeys(names_of(post)):
            key = keys.get(name)
            if key is None:
                key = keys[name] = _key(name)
            if not key:
                continue
            if not members[key] or members[key][-1] is not post:
                members[key].append(post)
            spellings[key][name] += 1
    labels = {key: max(sorted(counts), key=lambda s: counts[s]) for key, counts in spellings.items()}
    oldest_first = sorted(members, key=lambda k: (members[k][-1].date, members[k][-1].source, k))
    taken: set[str] = set()
    scopes: dict[Scope, tuple[Post, ...]] = {}
    for key in oldest_first:
        slug = slugify(labels[key])
        if not slug or slug in taken:
            slug = disambiguated_slug(labels[key])
        taken.add(slug)
        scopes[Scope(kind, slug, labels[key], language, taxonomy)] = tuple(members[key])
    return dict(sorted(scopes.items(), key=lambda item: item[0].slug))
