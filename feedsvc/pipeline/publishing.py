"""The refresh's last step, in parts: the facts /status shows, and whether a new snapshot serves as the old."""

from __future__ import annotations

from collections.abc import Mapping

from feedsvc.model import Resource, Site
from feedsvc.snapshot import Served


def site_stats(site: Site, resources: Mapping[str, Resource], files: int) -> dict[str, object]:
    """The JSON-able facts /status shows, computed once per publish (workers that follow get only these)."""
    return {
        "posts": len(site.posts),
        "feeds": sum(1 for path in resources if path.endswith((".xml", ".json")) and path != "/feeds.opml"),
        "scopes": {kind: sum(1 for s in site.scopes if s.kind.name.lower() == kind)
                   for kind in ("category", "tag", "author")},
        "files": files,
        "errors": sum(1 for p in site.problems if p.severity == "error"),
        "problems": [{"path": p.path, "line": p.line, "severity": p.severity, "message": p.message}
                     for p in site.problems],
    }


def serves_the_same(served: Served, resources: Mapping[str, Resource], aliases: Mapping[str, Resource],
                    redirects: Mapping[str, str]) -> bool:
    """Whether a new snapshot would answer every request as `served` does (same paths, validators, headers)."""
    def seen(resource: Resource) -> tuple[object, ...]:
        return resource.path, resource.etag, resource.last_modified, resource.content_type, resource.headers

    return served.resources.keys() == resources.keys() and dict(served.redirects) == dict(redirects) \
        and all(seen(resource) == seen(served.resources[path]) for path, resource in resources.items()) \
        and {alias: seen(r) for alias, r in served.aliases.items()} == {alias: seen(r) for alias, r in aliases.items()}
