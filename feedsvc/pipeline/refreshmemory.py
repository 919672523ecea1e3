"""What the refresher carries from one refresh to the next (refresh.py), shared by the steps split out of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from feedsvc.config import Settings
from feedsvc.content.references import ResolvedPosts
from feedsvc.content.scanning import FileSignature
from feedsvc.model import Post, Problem
from feedsvc.render.documents import EPOCH

FORCED = FileSignature(-1, -1, -1, -1)
"""An inventory signature no file has: the post under it is read again by the next refresh."""


@dataclass(frozen=True, slots=True)
class Scan:
    """What one look at the folder found; `inventory` is edited in place for the files held back."""

    inventory: dict[str, FileSignature]
    problems: list[Problem]
    unreadable: list[str]  # folders ("…/") and files that could not be read


@dataclass
class RefreshMemory:
    """What the refresher carries between runs about settings and posts (never shared with request threads)."""

    settings: Settings | None = None
    config_signature: FileSignature | None = None
    data_signature: tuple[tuple[str, int, int, int], ...] = ()  # the `_data` and `_includes` folders (Liquid)
    config_errors: tuple[Problem, ...] = ()
    retry: bool = False  # the last refresh failed half-way: the next one must publish even if nothing changed
    content_mtime: datetime = EPOCH  # newest folder or config change
    inventory: dict[str, FileSignature] = field(default_factory=dict)
    parsed: dict[str, Post | Problem] = field(default_factory=dict)
    last_good: dict[str, Post] = field(default_factory=dict)
    scan_problems: list[Problem] = field(default_factory=list)
    reported: set[Problem] = field(default_factory=set)
    next_publish_at: datetime | None = None
    liquid_fingerprint: str | None = None  # settings.liquid_fingerprint the parsed posts were made under
    seeded_fingerprint: str | None = None  # settings.fingerprint of posts taken from the post cache (seed)
    moved: bool = False  # the folder was replaced whole since the last scan (see `Refresher.moved`)
    linked: list[str] = field(default_factory=list)  # links and hard-linked posts the last full walk met
    moved_changes: frozenset[str] | None = None  # ...and only these files differ (None: unknown)
    listing: str = ""  # Liquid's site.posts as last indexed, when a post reads it (content/siteposts.py)
    history: datetime | None = None  # git: when the served commit last changed the site (lastmodified.py)
    redate: bool = False  # `history` moved since the last publish: publish even if no post changed
    resolved: ResolvedPosts = field(default_factory=dict)  # posts whose references the last indexing resolved
