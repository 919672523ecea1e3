"""Where Hugo publishes its own RSS feeds, so feedsvc answers there too and subscribers keep their feeds.

Hugo writes `index.xml` next to each list page: the home page (`/index.xml`), each section
(`/posts/index.xml`) and each taxonomy term (`/tags/<term>/index.xml`, the term urlized; the site's own
plural for tags and categories, none for a taxonomy it turns off, and each other taxonomy's own:
taxonomies.py), each under its language's prefix. feedsvc's site feed is the main sections' posts, so it
answers at the section's path only when there is one main section; a term's feed is feedsvc's feed of that
tag, category or term.
"""

from __future__ import annotations

from feedsvc.content.dialects.hugo.rules import HugoRules
from feedsvc.content.dialects.hugo.taxonomies import plural_of
from feedsvc.content.dialects.hugo.urls import urlize
from feedsvc.model import Scope, ScopeKind

FEED_FILE = "index.xml"
_TAXONOMIES = {ScopeKind.CATEGORY: "category", ScopeKind.TAG: "tag"}  # the singular of Hugo's taxonomy


def own_feed_paths(scope: Scope, rules: HugoRules) -> tuple[str, ...]:
    """The paths (unescaped) of Hugo's own RSS feeds of `scope`."""
    root = f"/{scope.language.prefix}/" if scope.language is not None else "/"
    if scope.kind is ScopeKind.SITE:
        sections = [f"{root}{urlize(section)}/{FEED_FILE}" for section in rules.main_sections[:1]
                    if len(rules.main_sections) == 1 and urlize(section)]
        return (f"{root}{FEED_FILE}", *sections)
    if scope.kind is ScopeKind.TERM:
        taxonomy: str | None = scope.taxonomy
    else:
        singular = _TAXONOMIES.get(scope.kind)
        taxonomy = plural_of(singular, rules.taxonomies) if singular is not None else None
    term = urlize(scope.label or scope.slug)
    if taxonomy is None or not term.strip("/."):
        return ()
    return (f"{root}{taxonomy}/{term}/{FEED_FILE}",)
