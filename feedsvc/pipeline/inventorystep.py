"""The refresh's second step: which post files there are now, and which changed since the last refresh.

A full walk of the folder (content/scanning.py), or, when the OS or a push named the files that changed
and the last walk left nothing it alone could judge, those files looked at again (namedpaths.py); then
the difference with what was read last time, less what is still being written (settle.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path

from feedsvc.config import Settings
from feedsvc.content.dialects import dialect_for
from feedsvc.content.includes import changed_relatives
from feedsvc.content.scanning import Changes, diff_inventory, removal_settles_at, take_inventory
from feedsvc.model import Post
from feedsvc.pipeline.lastmodified import from_ns
from feedsvc.pipeline.namedpaths import inventory_with
from feedsvc.pipeline.refreshmemory import FORCED, RefreshMemory, Scan
from feedsvc.pipeline.settle import WRITER_DONE_TRIGGERS, Settling


def take_scan(memory: RefreshMemory, content_dir: Path, settings: Settings, named: frozenset[str] | None,
              serving: bool) -> Scan:
    """Every post file's signature, with the newest change of any folder or of the site's config.

    With `named` files, a complete inventory from an earlier scan and a site `serving`, only those are looked at."""
    dialect = dialect_for(settings.dialect, settings.dialect_rules)
    config_mtime = memory.config_signature.mtime_ns if memory.config_signature else 0
    if named is not None and memory.inventory and serving and not memory.moved \
            and not memory.scan_problems and not memory.linked:
        updated = inventory_with(memory.inventory, content_dir, named, dialect)
        if updated is not None:
            named_inventory, named_mtimes = updated
            memory.content_mtime = max(memory.content_mtime, from_ns(max(named_mtimes + [config_mtime])))
            return Scan(named_inventory, [], [])
    folder_mtimes: list[int] = []
    unreadable: list[str] = []
    memory.linked = []
    inventory, problems = take_inventory(content_dir, folder_mtimes, unreadable, dialect=dialect,
                                         linked=memory.linked)
    memory.content_mtime = from_ns(max(folder_mtimes + [config_mtime]))
    return Scan(inventory, problems, unreadable)


def mark_changed_relatives(memory: RefreshMemory, content_dir: Path) -> None:
    """A post whose `include_relative`d file changed is read again, as if it had changed itself: the
    inventory holds only posts, so neither the walk nor the watcher's named paths would see it."""
    for relpath, known in memory.parsed.items():
        if isinstance(known, Post) and known.relatives and relpath in memory.inventory \
                and changed_relatives(content_dir, known.relatives):
            memory.inventory[relpath] = FORCED


def diff_scan(memory: RefreshMemory, settling: Settling, content_dir: Path, scan: Scan, trigger: str,
              now: datetime, serving: bool) -> Changes:
    """What changed since the last refresh, less what is still being written (settle.py)."""
    known = memory.inventory
    changes = diff_inventory(known, scan.inventory)
    moved, memory.moved = memory.moved, False
    if moved and memory.moved_changes is not None:  # a new checkout: only the files its diff names
        changes = replace(changes, modified=tuple(p for p in changes.modified
                                                  if p in memory.moved_changes or known[p] == FORCED))
    # Not at startup, nor after a settings change, nor after a checkout; nor when a webhook (or the OS,
    # watching.py) said the writer is done.
    writer_done = any(name in trigger for name in WRITER_DONE_TRIGGERS)
    if serving and known and not writer_done and not moved:
        changes = settling.hold_unsettled(changes, known, scan.inventory, scan.unreadable, now,
                                          partial(removal_settles_at, content_dir))
    return changes
