"""Each feed entry's bytes, made once and reused by every document that shows the entry.

A post is shown by the site feed and by the feeds of each of its categories, tags and authors,
and by an archive page of each: rendering every document from scratch rebuilds the same entry
many times. The format writers (render/xmlfeed.py, jsonfeed.py) ask an `EntryCache` for an entry's
bytes by (post, format, shape) instead.

There is no cache of the module's own: whoever renders owns one and passes it in (the refresher,
the on-demand feeds, each forked renderer of a cold build, which makes its own and sends the
entries worth keeping to the refresher's: `tell_made`, `take_made`, `adopt`; `build --cache` keeps the
entries between processes: `export`, `preload`), or passes None to
render without one (the reference path tests compare against: the bytes are the same). It is
bounded (lru.py: least recently used entries go first, by bytes held) and safe to share between
the refresh thread and request threads.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from feedsvc.lru import LRUCache
from feedsvc.model import FeedFormat, Post

Shape = TypeVar("Shape", bound=Hashable)  # what else an entry's bytes depend on; `build` receives it back

# What it may hold in a serving process. An entry is ~5.7 KB (10,000-post corpus: 600 words, one
# format), so this is ~700 entries: what one edit's refresh re-renders (some 30 feeds of 20 entries)
# finds again. A full cache adds its size to the builder's resident memory, which at 10,000 posts is
# already over the 150 MB target, so it is kept small; at 16 MB archive walks at 10k still found
# almost nothing again (measured), so more would buy little.
MAX_BYTES = 4 * 1024 * 1024
# A forked renderer of a cold build (pipeline/parallel.py) exits after it: it may hold every entry its feeds
# share (10,000 posts: ~60 MB per child of two), which the build's order of feeds needs to find them again.
FORKED_MAX_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    entries: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class Made:
    """One entry as built in another process (a forked renderer), named so its parent's cache can hold it."""

    fingerprint: str
    fmt: FeedFormat
    shape: Hashable
    entry: bytes


@dataclass(frozen=True, slots=True)
class Kept:
    """One entry as it is kept between processes (`build --cache`): its shape named by its `repr`, which for
    the shapes the writers use (render.documents.EntryShape: frozen dataclasses of plain values) names the value."""

    fingerprint: str
    fmt: FeedFormat
    shape: str
    entry: bytes


def _entry_size(held: tuple[Post, bytes]) -> int:
    return len(held[1])


class EntryCache:
    """Entry bytes by (post fingerprint, format, shape): the fingerprint names the post's contents
    and `shape` the settings the entry depends on (render.documents.EntryShape). The post itself is kept
    and compared on a hit, so two posts that share a fingerprint (only hand-made ones can) never
    share an entry."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: LRUCache[tuple[str, int], tuple[Post, bytes]] = LRUCache(max_bytes, _entry_size)
        self._variants: dict[tuple[FeedFormat, Hashable], int] = {}  # a few per settings ever used
        self._shapes: dict[int, tuple[FeedFormat, Hashable]] = {}  # the other way round, for `export`
        # Entries `preload` was given, by (format, repr of shape), until a render asks for that shape.
        self._pending: dict[tuple[FeedFormat, str], list[tuple[str, tuple[Post, bytes]]]] = {}
        self._numbers = itertools.count()
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()  # for the variants and the counts; the entries have their own
        self._wanted: frozenset[str] = frozenset()  # fingerprints of the posts whose new entries `made` tells
        self._made: list[Made] = []

    def get(self, posts: Sequence[Post], fmt: FeedFormat, shape: Shape,
            build: Callable[[list[Post], FeedFormat, Shape], list[bytes]]) -> list[bytes]:
        """Each post's entry bytes, in order: held ones where there are, the rest from one
        `build(missing, fmt, shape)` call (building several at once is cheaper), kept for next time."""
        with self._lock:
            # (format, shape) as a number, hashed once per call rather than once per entry; numbers are
            # never reused, so an entry built before a `clear` cannot be found under another shape.
            variant = self._variants.get((fmt, shape))
            if variant is None:
                variant = self._new_variant(fmt, shape)
        keys = [(post.fingerprint, variant) for post in posts]
        found: list[bytes | None] = [
            held[1] if held is not None and (held[0] is post or held[0] == post) else None
            for held, post in zip(self._entries.get_many(keys), posts, strict=True)]
        missing = [i for i, made in enumerate(found) if made is None]
        with self._lock:
            self._hits += len(posts) - len(missing)
            self._misses += len(missing)
        if not missing:
            return found  # type: ignore[return-value]
        # Built outside any lock: another thread may build the same entries meanwhile; they are equal.
        made = build([posts[i] for i in missing], fmt, shape)
        for i, entry in zip(missing, made, strict=True):
            found[i] = entry
        self._entries.put_many((keys[i], (posts[i], entry)) for i, entry in zip(missing, made, strict=True))
        if self._wanted:
            with self._lock:
                self._made.extend(Made(posts[i].fingerprint, fmt, shape, entry)
                                  for i, entry in zip(missing, made, strict=True)
                                  if posts[i].fingerprint in self._wanted)
        return found  # type: ignore[return-value]

    def tell_made(self, fingerprints: frozenset[str]) -> None:
        """From now on, note each entry built for these posts, for `take_made`."""
        with self._lock:
            self._wanted = fingerprints

    def take_made(self) -> list[Made]:
        """The entries noted since the last call (see `tell_made`)."""
        with self._lock:
            made, self._made = self._made, []
            return made

    def adopt(self, posts: Mapping[str, Post], made: Iterable[Made]) -> None:
        """Hold entries another process built, each for this process's own post of that fingerprint (so
        a hit compares by identity); the last given are kept longest. Entries of unknown posts are dropped."""
        items: list[tuple[tuple[str, int], tuple[Post, bytes]]] = []
        with self._lock:
            for each in made:
                post = posts.get(each.fingerprint)
                if post is None:
                    continue
                variant = self._variants.get((each.fmt, each.shape))
                if variant is None:
                    variant = self._new_variant(each.fmt, each.shape)
                items.append(((each.fingerprint, variant), (post, each.entry)))
        self._entries.put_many(items)

    def _new_variant(self, fmt: FeedFormat, shape: Hashable) -> int:
        """Number a (format, shape) first seen; entries `preload` holds for it join the cache now. Under `_lock`."""
        variant = self._variants[(fmt, shape)] = next(self._numbers)
        self._shapes[variant] = (fmt, shape)
        if self._pending:
            pending = self._pending.pop((fmt, repr(shape)), ())
            self._entries.put_many(((fingerprint, variant), held) for fingerprint, held in pending)
        return variant

    def export(self) -> list[Kept]:
        """Every entry held, least recently used first, to be given to another process's `preload`: those
        `preload` gave that no render asked for yet come first (an edit elsewhere next time may want them),
        the oldest dropped beyond `max_bytes`."""
        keys = self._entries.keys()
        with self._lock:
            shapes = dict(self._shapes)
            kept = [Kept(fingerprint, fmt, shape, held[1])
                    for (fmt, shape), pending in self._pending.items() for fingerprint, held in pending]
        for (fingerprint, variant), held in zip(keys, self._entries.get_many(keys), strict=True):
            if held is not None and variant in shapes:
                fmt, shape = shapes[variant]
                kept.append(Kept(fingerprint, fmt, repr(shape), held[1]))
        total, first = sum(len(each.entry) for each in kept), 0
        while total > self.max_bytes and first < len(kept):
            total -= len(kept[first].entry)
            first += 1
        return kept[first:]

    def preload(self, posts: Mapping[str, Post], kept: Iterable[Kept]) -> None:
        """Hold entries `export` gave in another process, each for this process's post of that fingerprint;
        they are found once a render asks for a shape of the same `repr`. Entries of unknown posts are dropped."""
        now: list[tuple[tuple[str, int], tuple[Post, bytes]]] = []
        with self._lock:
            known = {(fmt, repr(shape)): variant for (fmt, shape), variant in self._variants.items()}
            for each in kept:
                post = posts.get(each.fingerprint)
                if post is None:
                    continue
                variant = known.get((each.fmt, each.shape))
                if variant is not None:
                    now.append(((each.fingerprint, variant), (post, each.entry)))
                else:
                    self._pending.setdefault((each.fmt, each.shape), []).append(
                        (each.fingerprint, (post, each.entry)))
        self._entries.put_many(now)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._variants.clear()
            self._shapes.clear()
            self._pending.clear()
            self._hits = self._misses = 0

    def stats(self) -> CacheStats:
        entries, held = self._entries.usage()
        with self._lock:
            return CacheStats(self._hits, self._misses, entries, held)
