"""The Last-Modified policy: a validator that moves forward whenever a resource's bytes change.

The newest entry's date alone would not: a retitled or deleted post changes a feed without a
newer date, and a reader sending only If-Modified-Since would get a stale 304. So the entries'
file mtimes count, and so do the folders' and `_config.yml`'s (deletions, renames, settings:
also across a restart); a change seen while running counts as now. Pure: times come in as values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from feedsvc.content.scanning import FileSignature
from feedsvc.model import Post, Resource
from feedsvc.render.documents import EPOCH


def from_ns(ns: int) -> datetime:
    """An `os.stat` time in nanoseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ns / 1e9, UTC)


@dataclass(frozen=True, slots=True)
class LastModified:
    """Dates the resources of one refresh, made at `now` from the folder as `inventory` found it."""

    now: datetime
    content_mtime: datetime  # the newest change of any content folder or of `_config.yml`
    inventory: Mapping[str, FileSignature]  # post file -> signature, as this refresh read them

    def date(self, resource: Resource, posts: Iterable[Post], previous: Resource | None) -> Resource:
        """`resource` with the Last-Modified it is served under, given what was served at its path before."""
        if previous is not None and previous.etag == resource.etag:
            # Same bytes, same validators; only a `Link` header (a new archive page) may have moved.
            return previous if previous.headers == resource.headers else replace(previous, headers=resource.headers)
        candidates = [resource.last_modified or EPOCH, self.content_mtime]
        inventory = self.inventory
        candidates.extend(from_ns(inventory[p.source].mtime_ns) for p in posts if p.source in inventory)
        last_modified = max(candidates)
        if previous is not None:
            last_modified = max(last_modified, self.now, (previous.last_modified or EPOCH) + timedelta(seconds=1))
        return replace(resource, last_modified=last_modified.replace(microsecond=0))
