"""What a process holds: the bytes it serves, and (in the builder only) the parsed site they came from.

Every worker serves a `Served`: the builder makes it, followers load it from the state folder
(deploy/statefolder.py). Only the builder also holds the posts, as a `Built`, the one kind of
snapshot that can render more (archive pages, filtered feeds: web/ondemand.py). Request threads
read `SnapshotStore.snapshot`, typed as `Served`; the store is swapped whole by a refresh, never mutated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from feedsvc.model import Resource, ScanStatus, Site


@dataclass(frozen=True, slots=True)
class Served:
    """The bytes one generation serves, with what /status and the HTTP edge need beside them."""

    resources: Mapping[str, Resource]
    generation: int
    stats: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))  # what /status shows
    aliases: Mapping[str, Resource] = field(default_factory=lambda: MappingProxyType({}))  # old feed URLs
    redirects: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # old path -> absolute URL
    # The newest change seen anywhere in the content (files, folders, _config.yml): the Last-Modified
    # of what is rendered on demand (ondemand.py), which must move whenever its bytes may have.
    modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class Built(Served):
    """The builder's snapshot: the served bytes and the `Site` they were rendered from."""

    site: Site = field(kw_only=True)


class SnapshotStore:
    """The one place the web layer reads from; swapping the reference is atomic."""

    def __init__(self) -> None:
        self.snapshot: Served | None = None
        self.status = ScanStatus()
        # More for /status (scheduler, last refresh, WebSub, role), supplied by whoever runs this process.
        self.details: Callable[[], Mapping[str, object]] = dict
        # What keeps this process from working normally while it still serves (a full disk): area -> reason.
        # /healthz and /status say `degraded` with these reasons. Replaced whole, never mutated.
        self.troubles: Mapping[str, str] = MappingProxyType({})
        self._troubles_lock = threading.Lock()

    def trouble(self, area: str, reason: str | None) -> None:
        """Report a trouble in `area`, or (`reason` None) that it is over."""
        with self._troubles_lock:
            if self.troubles.get(area) == reason:
                return
            changed = {key: value for key, value in self.troubles.items() if key != area}
            if reason is not None:
                changed[area] = reason
            self.troubles = MappingProxyType(changed)
