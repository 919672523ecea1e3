"""Hugo's `[taxonomies]`: which front matter keys are tags and categories, and where their term feeds live.

A site without the table has Hugo's two, `tag = "tags"` and `category = "categories"`; a site with it has
exactly the ones it lists, so a table without `tag` turns tags off (Hugo then reads `tags:` as a plain
parameter). The taxonomy whose singular is `tag` gives a post's tags, from the front matter key of its
plural (`tag = "labels"`: `labels:`), its term feeds at `/labels/<term>/index.xml`; the same for `category`.
A term given as a string is one term, spaces and all, as in Hugo. Every other taxonomy (`series = "series"`)
gives a post its terms in `Post.taxonomies`, from the key of its plural, and each term its feeds at
`/series/<term>/` (site/indexing.py), Hugo's at `/series/<term>/index.xml` (feeds.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_TAXONOMIES = (("category", "categories"), ("tag", "tags"))
#: (feedsvc's field, the singular Hugo's taxonomy has, the front matter keys feedsvc reads for it otherwise)
_FIELDS = (("tags", "tag", ("tags", "tag")), ("categories", "category", ("categories", "category")))


def taxonomies_of(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(singular, plural) of each taxonomy the site has, sorted; none when `disableKinds` has `term`."""
    kinds = config.get("disablekinds")
    if isinstance(kinds, list) and any(str(kind).lower() == "term" for kind in kinds):
        return ()
    table = config.get("taxonomies")
    if not isinstance(table, Mapping):
        return DEFAULT_TAXONOMIES
    return tuple(sorted((str(singular).lower(), str(plural).strip("/").lower())
                        for singular, plural in table.items() if isinstance(plural, str) and plural.strip("/")))


def plural_of(singular: str, taxonomies: tuple[tuple[str, str], ...]) -> str | None:
    """The URL segment (and front matter key) of the taxonomy `singular` names; None when the site has none."""
    return dict(taxonomies).get(singular)


def with_taxonomies(front: Mapping[Any, Any], taxonomies: tuple[tuple[str, str], ...]) -> dict[Any, Any]:
    """The front matter with `tags` and `categories` as the site's taxonomies give them: from the key of
    their plural, a string as one term; dropped when the site has no such taxonomy."""
    resolved = dict(front)
    if taxonomies == DEFAULT_TAXONOMIES and not any(isinstance(front.get(k), str) for k, _, _ in _FIELDS):
        return resolved
    lowered = {str(key).lower(): value for key, value in front.items()}
    for field, singular, own_keys in _FIELDS:
        plural = plural_of(singular, taxonomies)
        if plural != field:  # renamed or turned off: `tags:` is not this taxonomy
            for key in [k for k in resolved if str(k).lower() in own_keys]:
                del resolved[key]
        value = lowered.get(plural) if plural is not None else None
        if value is not None:
            resolved[field] = [value] if isinstance(value, str) else value
    return resolved



def custom_terms(front: Mapping[Any, Any], taxonomies: tuple[tuple[str, str], ...]
                 ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(plural, terms) of each taxonomy but tags and categories that the front matter gives terms in: from
    the key of its plural, any case; a string is one term."""
    own = {singular for _, singular, _ in _FIELDS}
    custom = [plural for singular, plural in taxonomies if singular not in own]
    if not custom:
        return ()
    lowered = {str(key).lower(): value for key, value in front.items()}
    found = []
    for plural in custom:
        value = lowered.get(plural)
        given = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        terms = tuple(dict.fromkeys(str(term).strip() for term in given
                                    if isinstance(term, (str, int, float)) and not isinstance(term, bool)))
        terms = tuple(term for term in terms if term)
        if terms:
            found.append((plural, terms))
    return tuple(found)
