"""The package's one LRU (lru.py): bounded by bytes and count, least recently used out first, one lock."""

from __future__ import annotations

import random
import sys
import threading

from feedsvc.lru import LRUCache


def _cache(max_bytes: int, max_items: int | None = None) -> LRUCache[str, bytes]:
    return LRUCache(max_bytes, len, max_items)


def test_values_over_the_byte_budget_push_out_the_least_recently_used() -> None:
    cache = _cache(10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    cache.put("c", b"1234")  # 12 bytes: "a" goes
    assert cache.get("a") is None
    assert cache.get("b") == b"1234" and cache.get("c") == b"1234"
    assert cache.usage() == (2, 8)


def test_reading_a_value_makes_it_the_last_to_go() -> None:
    cache = _cache(12)
    for key in "abc":
        cache.put(key, b"1234")
    assert cache.get("a") == b"1234"  # now "b" is the least recently used
    cache.put("d", b"1234")
    assert cache.keys() == ["c", "a", "d"]
    assert cache.get_many(["b", "c", "d"]) == [None, b"1234", b"1234"]
    assert cache.keys() == ["a", "c", "d"]


def test_replacing_a_value_counts_its_new_size_only() -> None:
    cache = _cache(100)
    cache.put("a", b"x" * 40)
    cache.put("a", b"x" * 10)
    cache.put("b", b"x" * 5)
    assert cache.usage() == (2, 15)
    cache.put("a", b"x" * 96)  # now the most recent: "b" goes to make room
    assert cache.keys() == ["a"] and cache.usage() == (1, 96)


def test_a_value_bigger_than_the_budget_is_not_kept_and_takes_the_rest_with_it() -> None:
    cache = _cache(10)
    cache.put("small", b"123")
    cache.put("big", b"x" * 11)
    assert cache.get("big") is None
    assert cache.usage() == (0, 0)


def test_a_count_bound_applies_alongside_the_byte_budget() -> None:
    cache = _cache(1000, max_items=2)
    cache.put_many([("a", b""), ("b", b""), ("c", b"")])  # empty values still count as values
    assert cache.keys() == ["b", "c"]
    cache.clear()
    assert cache.usage() == (0, 0) and cache.get("c") is None


def test_threads_sharing_one_cache_keep_its_accounting_exact() -> None:
    """Eight threads putting and getting at once: what it holds always adds up to what it counts."""
    cache: LRUCache[int, bytes] = LRUCache(5_000, len, max_items=60)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(6_000):
                key = rng.randrange(200)
                if rng.random() < 0.5:
                    cache.put_many([(key, bytes(rng.randrange(1, 200))), (key + 1, b"x" * rng.randrange(50))])
                else:
                    value = cache.get(key)
                    assert value is None or isinstance(value, bytes)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so unlocked updates would interleave
    try:
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    keys = cache.keys()
    values = cache.get_many(keys)
    count, held = cache.usage()
    assert count == len(keys) <= 60
    assert held == sum(len(value) for value in values if value is not None) <= 5_000
