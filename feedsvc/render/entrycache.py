"""Each feed entry's bytes, made once and reused by every document that shows the entry.

A post is shown by the site feed and by the feeds of each of its categories, tags and authors,
and by an archive page of each: rendering every document from scratch rebuilds the same entry
many times. render/feeds.py asks this cache for an entry's bytes by (post, format, shape) instead.

The cache is bounded (least recently used entries go first, by bytes held), safe to share between
the refresh thread and request threads, and needs nothing special across `fork`: a child gets a
copy of what the parent held (parallel.py) and its lock is made new (see `_after_fork`).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from feedsvc.model import FeedFormat, Post

Shape = TypeVar("Shape", bound=Hashable)  # what else an entry's bytes depend on; `build` receives it back

# What it may hold in a serving process. An entry is ~5.7 KB (10,000-post corpus: 600 words, one
# format), so this is ~700 entries: what one edit's refresh re-renders (some 30 feeds of 20 entries)
# finds again. A full cache adds its size to the builder's resident memory, which at 10,000 posts is
# already over the 150 MB target, so it is kept small; at 16 MB archive walks at 10k still found
# almost nothing again (measured), so more would buy little.
MAX_BYTES = 4 * 1024 * 1024
# A forked renderer of a cold build (parallel.py) exits after it: it may hold every entry its feeds
# share (10,000 posts: ~60 MB per child of two), which the build's order of feeds needs to find them again.
FORKED_MAX_BYTES = 128 * 1024 * 1024


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    entries: int = 0
    bytes: int = 0


class EntryCache:
    """Entry bytes by (post fingerprint, format, shape): the fingerprint names the post's contents
    and `shape` the settings the entry depends on (render.feeds.EntryShape). The post itself is kept
    and compared on a hit, so two posts that share a fingerprint (only hand-made ones can) never
    share an entry."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.enabled = True
        self._items: OrderedDict[tuple[str, int], tuple[Post, bytes]] = OrderedDict()
        self._variants: dict[tuple[FeedFormat, Hashable], int] = {}  # a few per settings ever used
        self._numbers = itertools.count()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, posts: Sequence[Post], fmt: FeedFormat, shape: Shape,
            build: Callable[[list[Post], FeedFormat, Shape], list[bytes]]) -> list[bytes]:
        """Each post's entry bytes, in order: held ones where there are, the rest from one
        `build(missing, fmt, shape)` call (building several at once is cheaper), kept for next time."""
        found: list[bytes | None] = []
        with self._lock:
            # (format, shape) as a number, hashed once per call rather than once per entry; numbers are
            # never reused, so an entry built before a `clear` cannot be found under another shape.
            variant = self._variants.get((fmt, shape))
            if variant is None:
                variant = self._variants[(fmt, shape)] = next(self._numbers)
            keys = [(post.fingerprint, variant) for post in posts]
            for key, post in zip(keys, posts, strict=True):
                held = self._items.get(key)
                if held is not None and (held[0] is post or held[0] == post):
                    self._items.move_to_end(key)
                    found.append(held[1])
                else:
                    found.append(None)
            missing = [i for i, made in enumerate(found) if made is None]
            self._hits += len(posts) - len(missing)
            self._misses += len(missing)
        if not missing:
            return found  # type: ignore[return-value]
        # Built outside the lock: another thread may build the same entries meanwhile; they are equal.
        made = build([posts[i] for i in missing], fmt, shape)
        with self._lock:
            for i, entry in zip(missing, made, strict=True):
                found[i] = entry
                old = self._items.pop(keys[i], None)
                if old is not None:
                    self._bytes -= len(old[1])
                self._items[keys[i]] = (posts[i], entry)
                self._bytes += len(entry)
            while self._bytes > self.max_bytes and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= len(dropped)
        return found  # type: ignore[return-value]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._variants.clear()
            self._bytes = self._hits = self._misses = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._items), self._bytes)

    @contextmanager
    def disabled(self) -> Iterator[None]:
        """Render without the cache (the reference path tests compare against), then as before."""
        previous, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = previous

    def _after_fork(self) -> None:
        # A lock held by another thread at fork time would stay held in the child forever.
        self._lock = threading.Lock()


ENTRIES = EntryCache()
os.register_at_fork(after_in_child=ENTRIES._after_fork)
