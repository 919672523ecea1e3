"""Jekyll's front matter defaults: the `defaults:` list of `_config.yml`, applied to a post as Jekyll does.

Each set has a `scope` (a `path` the post's file lies under, `""` for every file, and an optional
`type`, here `posts`) and `values`. Every set that applies is merged in order; where two disagree the
more specific scope wins (a longer path, then one that names a type), and the post's own front
matter wins over them all. Merging is deep, as Jekyll's `Utils.deep_merge_hashes`: a mapping value
(an `image:` with `path` and `alt`) is merged key by key.

A scope path with `*` is a glob in Jekyll, matched against the files on disk; here it is matched
against the post's path and its folders (`fnmatch`), which agrees for the globs sites write
(`_posts/*/drafts`, `notes/*`) without reading the disk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from feedsvc.content.fields import deep_merge

POST_TYPE = "posts"
_OLD_TYPES = {"post": "posts", "page": "pages", "draft": "drafts"}  # Jekyll 2's names, still accepted


def apply_defaults(front: Mapping[Any, Any], relpath: str, site_config: str,
                   doc_type: str = POST_TYPE) -> dict[Any, Any]:
    """The post's front matter over the defaults that apply to `relpath` (its path in the site)."""
    defaults = defaults_for(relpath, doc_type, site_config)
    return deep_merge(defaults, front) if defaults else dict(front)


def defaults_for(relpath: str, doc_type: str, site_config: str) -> dict[Any, Any]:
    """The defaults for `relpath`: worked out once per folder when no scope can tell the folder's files apart
    (a scope naming a file, or a glob, is matched against each file), else once per file."""
    folder, slash, _ = relpath.rpartition("/")
    if slash and not _tells_files_apart(folder + "/", site_config):
        return _defaults_for(folder + "/", doc_type, site_config)
    return _defaults_for(relpath, doc_type, site_config)


@lru_cache(maxsize=1024)
def _tells_files_apart(folder: str, site_config: str) -> bool:
    """Whether some scope may apply to one file of `folder` and not to another: a glob, or a path that goes
    on past the folder (`_posts/2020-01-01-one.md`, `_posts/2020`). Any other path is a prefix of every file
    of the folder or of none, and `_applies` answers the same for the folder as for each of its files."""
    for scope, _ in _sets(site_config):
        path = _clean(scope.get("path"))
        if "*" in path or (path.startswith(folder) and len(path) > len(folder)):
            return True
    return False


@lru_cache(maxsize=4096)
def _defaults_for(relpath: str, doc_type: str, site_config: str) -> dict[Any, Any]:
    merged: dict[Any, Any] = {}
    winner: Mapping[str, Any] | None = None
    for scope, values in _sets(site_config):
        if not _applies(scope, relpath, doc_type):
            continue
        if _has_precedence(winner, scope):
            merged = deep_merge(merged, values)
            winner = scope
        else:
            merged = deep_merge(values, merged)
    return merged


@lru_cache(maxsize=4)
def _sets(site_config: str) -> tuple[tuple[dict[str, Any], dict[Any, Any]], ...]:
    """The valid sets of `defaults:` (a scope and a mapping of values), in order; others are skipped."""
    try:
        config = json.loads(site_config) if site_config else {}
    except ValueError:
        return ()
    sets = config.get("defaults") if isinstance(config, dict) else None
    if not isinstance(sets, list):
        return ()
    found: list[tuple[dict[str, Any], dict[Any, Any]]] = []
    for item in sets:
        if not isinstance(item, dict) or not isinstance(item.get("values"), dict):
            continue
        given = item.get("scope")
        scope: dict[str, Any] = given if isinstance(given, dict) else {}
        if "type" in scope:
            scope = {**scope, "type": _OLD_TYPES.get(str(scope["type"]), str(scope["type"]))}
        found.append((scope, item["values"]))
    return tuple(found)


def _clean(path: Any) -> str:
    """Jekyll's `sanitize_path`: a leading `/` dropped."""
    return path.removeprefix("/") if isinstance(path, str) else ""


def _applies(scope: Mapping[str, Any], relpath: str, doc_type: str) -> bool:
    if "type" in scope and scope["type"] != doc_type:
        return False
    path = _clean(scope.get("path"))
    if not path:
        return True
    if "*" in path:
        folders = [relpath] + [relpath.rsplit("/", n)[0] for n in range(1, relpath.count("/") + 1)]
        return any(fnmatchcase(candidate, path) for candidate in folders)
    return relpath.startswith(path)


def _has_precedence(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Jekyll's rule: a longer scope path wins; for paths of one length, a scope naming a type does."""
    if old is None:
        return True
    new_path, old_path = _clean(new.get("path")), _clean(old.get("path"))
    if len(new_path) != len(old_path):
        return len(new_path) >= len(old_path)
    return "type" in new or "type" not in old
