"""The Last-Modified policy: a validator that moves forward whenever a resource's bytes change.

From a folder: the newest entry's date alone would not do, since a retitled or deleted post changes
a feed without a newer date, and a reader sending only If-Modified-Since would get a stale 304. So
the entries' file mtimes count, and so do the folders' and `_config.yml`'s (deletions, renames,
settings: also across a restart); a change seen while running counts as now.

From git (`history` set): the time the served commit last changed the site (deploy/githistory.py),
for every resource (or the newest entry's date, when a future post came out later), whatever the
file times of this checkout; so replicas on one commit agree. It
never goes back, and moves at least a second when the bytes change, so history that goes back in
time (a force push to older commits) still never earns a stale 304. Pure: times come in as values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from feedsvc.content.scanning import FileSignature
from feedsvc.model import Post, Resource
from feedsvc.render.documents import EPOCH

_SECOND = timedelta(seconds=1)


def from_ns(ns: int) -> datetime:
    """An `os.stat` time in nanoseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ns / 1e9, UTC)


@dataclass(frozen=True, slots=True)
class LastModified:
    """Dates the resources of one refresh, made at `now` from the folder as `inventory` found it."""

    now: datetime
    content_mtime: datetime  # the newest change of any content folder or of `_config.yml`
    inventory: Mapping[str, FileSignature]  # post file -> signature, as this refresh read them
    history: datetime | None = None  # git: when the served commit last changed the site; file times then unused

    @property
    def redates_all(self) -> bool:
        """Whether resources reused unchanged must be dated again too (their time follows the commit)."""
        return self.history is not None

    @property
    def modified(self) -> datetime:
        """The newest change to the content: the Last-Modified of what is rendered on request."""
        return self.history if self.history is not None else self.content_mtime

    def date(self, resource: Resource, posts: Iterable[Post], previous: Resource | None) -> Resource:
        """`resource` with the Last-Modified it is served under, given what was served at its path before."""
        if self.history is not None:
            # A future post that has come out since its commit changed the bytes at its own date.
            shown_from = min(resource.last_modified or EPOCH, self.now)
            return self._from_history(resource, previous, max(self.history, shown_from).replace(microsecond=0))
        if previous is not None and previous.etag == resource.etag:
            # Same bytes, same validators; only a `Link` header (a new archive page) may have moved.
            return previous if previous.headers == resource.headers else replace(previous, headers=resource.headers)
        candidates = [resource.last_modified or EPOCH, self.content_mtime]
        inventory = self.inventory
        candidates.extend(from_ns(inventory[p.source].mtime_ns) for p in posts if p.source in inventory)
        last_modified = max(candidates)
        if previous is not None:
            last_modified = max(last_modified, self.now, (previous.last_modified or EPOCH) + _SECOND)
        return replace(resource, last_modified=last_modified.replace(microsecond=0))

    @staticmethod
    def _from_history(resource: Resource, previous: Resource | None, changed_at: datetime) -> Resource:
        last_modified = changed_at
        if previous is not None and previous.last_modified is not None:
            floor = previous.last_modified if previous.etag == resource.etag else previous.last_modified + _SECOND
            last_modified = max(last_modified, floor)
        if previous is not None and previous.etag == resource.etag and previous.last_modified == last_modified:
            return previous if previous.headers == resource.headers else replace(previous, headers=resource.headers)
        if resource.last_modified == last_modified:
            return resource
        return replace(resource, last_modified=last_modified)
