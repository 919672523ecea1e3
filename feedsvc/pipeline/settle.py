"""The settle policy: keep serving what was there while files are still being written.

An editor's save, a `git checkout` or a copy leaves a file half-written, or briefly missing, for
a moment. A refresh that sees such a file holds it back: the previous version stays served (or a
new file stays unseen) and a follow-up refresh looks again once it has been still for the window
(content/scanning.py's `settles_at`). Pure apart from `removal_settles_at`, which is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from feedsvc.content.scanning import SETTLE_SECONDS, Changes, FileSignature, diff_inventory, settles_at

OS_EVENT_TRIGGER = "os event"  # watching.py: the OS said every writer closed its file
WRITER_DONE_TRIGGERS = ("webhook", OS_EVENT_TRIGGER)
"""A refresh whose trigger names one of these skips the window: the sender says the files are complete."""

RemovalSettlesAt = Callable[[str, datetime], datetime | None]
"""`removal_settles_at(relpath, now)`: when a file found missing may count as removed (None: now)."""


class Settling:
    """The files one refresh held back, and until when; `pending` starts empty at each refresh."""

    def __init__(self, window_seconds: float = SETTLE_SECONDS) -> None:
        self.window = timedelta(seconds=window_seconds)
        self.pending: dict[str, datetime] = {}

    def start(self) -> None:
        """A new refresh: what it holds back is decided afresh."""
        self.pending = {}

    def hold_unsettled(self, changes: Changes, known: Mapping[str, FileSignature], found: dict[str, FileSignature],
                       unreadable: Iterable[str], now: datetime, removal_settles_at: RemovalSettlesAt) -> Changes:
        """The changes to act on now, `found` (this scan) edited so held files keep their `known` signature.

        A file changed within the window keeps its previous version (or stays unseen if new); a
        file found missing stays while its folder changed within the window (editors save by
        rename, `git checkout` deletes and rewrites); a file under a folder that cannot be read
        (`unreadable`: folder paths ending in "/", or file paths) stays as long as that lasts.
        Held files keep their old signature, so the next refresh sees them as changed and looks again.
        """
        unreadable = tuple(unreadable)
        for relpath in changes.added + changes.modified:
            when = settles_at(found[relpath], now, self.window.total_seconds())
            if when is not None:
                self.pending[relpath] = when
                self._keep_known(relpath, known, found)
        for relpath in changes.removed:
            if any(relpath == entry or (entry.endswith("/") and relpath.startswith(entry)) for entry in unreadable):
                found[relpath] = known[relpath]  # unknown, not gone
                continue
            when = removal_settles_at(relpath, now)
            if when is not None:
                self.pending[relpath] = when
                found[relpath] = known[relpath]
        return diff_inventory(known, found)

    def hold_vanished(self, relpath: str, known: Mapping[str, FileSignature], found: dict[str, FileSignature],
                      now: datetime) -> None:
        """A file that vanished, or changed, between listing and reading: what was served stays; look again."""
        self.pending[relpath] = now + self.window
        self._keep_known(relpath, known, found)

    def follow_up_at(self, now: datetime) -> datetime | None:
        """When to refresh again for the files held back (never in the past), or None if none were."""
        if not self.pending:
            return None
        return max(min(self.pending.values()), now)

    @staticmethod
    def _keep_known(relpath: str, known: Mapping[str, FileSignature], found: dict[str, FileSignature]) -> None:
        if relpath in known:
            found[relpath] = known[relpath]
        else:
            found.pop(relpath, None)
