"""A least-recently-used cache bounded by bytes (and optionally by count), safe to share between threads.

The one LRU of the package: feed entries (render/entrycache.py) and feeds rendered on request
(web/ondemand.py) both keep what is asked for again and drop what has not been asked for longest,
within a memory budget counted in bytes. It imports no layer, so every layer may use it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """Values by key, the least recently used dropped first once they hold over `max_bytes` (as `sizeof`
    counts them) or number over `max_items`. A value bigger than `max_bytes` on its own is not kept.

    Every method takes one lock, so a batch (`get_many`, `put_many`) is seen whole by other threads."""

    def __init__(self, max_bytes: int, sizeof: Callable[[V], int], max_items: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._sizeof = sizeof
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value held for `key`, now the most recently used; None if there is none."""
        return self.get_many((key,))[0]

    def get_many(self, keys: Sequence[K]) -> list[V | None]:
        """`get` for each key, in order, under one lock."""
        found: list[V | None] = []
        with self._lock:
            for key in keys:
                held = self._items.get(key)
                if held is None:
                    found.append(None)
                else:
                    self._items.move_to_end(key)
                    found.append(held[0])
        return found

    def put(self, key: K, value: V) -> None:
        self.put_many(((key, value),))

    def put_many(self, items: Iterable[tuple[K, V]]) -> None:
        """Hold each value (replacing what a key held) as the most recently used, in order, then drop
        the least recently used until within bounds."""
        with self._lock:
            for key, value in items:
                size = self._sizeof(value)
                old = self._items.pop(key, None)
                if old is not None:
                    self._bytes -= old[1]
                self._items[key] = (value, size)
                self._bytes += size
            while self._items and (self._bytes > self.max_bytes
                                   or (self.max_items is not None and len(self._items) > self.max_items)):
                _, (_, size) = self._items.popitem(last=False)
                self._bytes -= size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def usage(self) -> tuple[int, int]:
        """(values, bytes) held, read together."""
        with self._lock:
            return len(self._items), self._bytes

    def keys(self) -> list[K]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._items)
