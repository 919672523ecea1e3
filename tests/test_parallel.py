"""One policy for batches on every core (pipeline/parallel.py): children when it pays and is safe,
here otherwise or when children fail, and the same results in the same order either way."""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
from collections.abc import Sequence
from functools import partial
from multiprocessing.synchronize import Event

import pytest

import feedsvc.pipeline.parallel as parallel
from feedsvc.pipeline.parallel import run_batch

ITEMS = list(range(100))


def _start_tagging() -> parallel.Work[int, tuple[int, int]]:
    """Each item with the process that did it."""
    return _tag


def _tag(chunk: Sequence[int]) -> list[tuple[int, int]]:
    return [(item, os.getpid()) for item in chunk]


def _start_dying(parent: int) -> parallel.Work[int, tuple[int, int]]:
    def work(chunk: Sequence[int]) -> list[tuple[int, int]]:
        if os.getpid() != parent:
            os._exit(3)  # a child killed half-way, as by the OOM killer
        return _tag(chunk)
    return work


def _start_failing() -> parallel.Work[int, tuple[int, int]]:
    raise RuntimeError("cannot start this worker")


def _items(results: list[tuple[int, int]]) -> list[int]:
    return [item for item, _ in results]


def _pids(results: list[tuple[int, int]]) -> set[int]:
    return {pid for _, pid in results}


@pytest.fixture
def forkable(monkeypatch):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(parallel, "fork_is_safe", lambda: True)  # pytest may run threads of its own


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_big_batch_runs_in_child_processes_and_keeps_its_order(method, monkeypatch, caplog):
    if method == "fork" and "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(parallel, "fork_is_safe", lambda: True)
    dones: list[int] = []
    results = run_batch(ITEMS, _start_tagging, method=method, min_items=10, doing="tagging items",
                        processes=2, progress=dones.append)
    assert _items(results) == ITEMS
    # Each child takes chunks as it is ready: a child that starts late may find none left.
    assert 1 <= len(_pids(results)) <= 2 and os.getpid() not in _pids(results)
    assert len(dones) >= 2 and dones == sorted(dones) and dones[-1] == len(ITEMS)
    assert "failed" not in caplog.text


def test_a_small_batch_one_core_or_an_unsafe_fork_runs_here(monkeypatch):
    assert _pids(run_batch(ITEMS, _start_tagging, method="spawn", min_items=101, doing="tagging items",
                           processes=2)) == {os.getpid()}
    assert _pids(run_batch(ITEMS, _start_tagging, method="spawn", min_items=1, doing="tagging items",
                           processes=1)) == {os.getpid()}
    release = threading.Event()
    other = threading.Thread(target=release.wait)  # another thread: fork would copy its locks
    other.start()
    try:
        assert not parallel.fork_is_safe()
        assert _pids(run_batch(ITEMS, _start_tagging, method="fork", min_items=1, doing="tagging items",
                               processes=2)) == {os.getpid()}
    finally:
        release.set()
        other.join()


def test_here_is_the_callers_own_way_when_it_has_one():
    calls: list[int] = []

    def here(items, progress):
        calls.append(len(items))
        progress(len(items))
        return [(item, -1) for item in items]

    results = run_batch(ITEMS, _start_tagging, method="fork", min_items=1000, doing="tagging items", here=here)
    assert calls == [len(ITEMS)] and _items(results) == ITEMS and _pids(results) == {-1}


def _start_held_up(released: Event) -> parallel.Work[int, tuple[int, int]]:
    """The child that takes the first chunk is held up (as by other load) until the last chunk is done."""
    def work(chunk: Sequence[int]) -> list[tuple[int, int]]:
        if ITEMS[0] in chunk:
            released.wait(30)
        done = _tag(chunk)
        if ITEMS[-1] in chunk:
            released.set()
        return done
    return work


def test_a_child_held_up_leaves_the_rest_of_the_batch_to_the_other(forkable):
    released = multiprocessing.get_context("fork").Event()
    results = run_batch(ITEMS, partial(_start_held_up, released), method="fork", min_items=1,
                        doing="tagging items", processes=2)
    assert _items(results) == ITEMS
    held_up = dict(results)[ITEMS[0]]
    others = {pid for item, pid in results if item > 10}
    assert len(others) == 1 and held_up not in others and os.getpid() not in others


def test_a_child_that_dies_leaves_the_batch_to_this_process(forkable, caplog):
    results = run_batch(ITEMS, partial(_start_dying, os.getpid()), method="fork", min_items=1,
                        doing="tagging items", processes=2)
    assert _items(results) == ITEMS and _pids(results) == {os.getpid()}
    assert "tagging 100 items in worker processes failed (feedsvc-batch-" in caplog.text
    assert "exited with code 3); tagging them here instead" in caplog.text
    assert not [child for child in multiprocessing.active_children() if child.name.startswith("feedsvc-batch")]


def test_a_child_whose_work_raises_says_why(forkable, caplog):
    with pytest.raises(RuntimeError, match="cannot start this worker"):  # here, it raises as well
        run_batch(ITEMS, _start_failing, method="fork", min_items=1, doing="tagging items", processes=2)
    # Both children fail; whichever the parent hears first is the one named (the order is the scheduler's).
    assert re.search(r"\(feedsvc-batch-[01]: RuntimeError: cannot start this worker\)", caplog.text)
