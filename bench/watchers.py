"""Which file-watching library tells feedsvc what changed: watchfiles, watchdog or inotify_simple, measured.

    python -m bench.watchers [--posts 10000] [--results bench/results]

Each library runs in its own child process over a copy of bench's corpus and is asked the questions the
watcher edge cares about: the CPU it spends while nothing changes (against one full stat walk, today's
"check"), how long after an editor-style save (write a temporary file, rename it over the post) the event
arrives, whether it says the writer closed the file, and what it reports when a folder of posts is moved
in, renamed inside the tree, and written into after the rename. Prints and writes one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .gen_corpus import ensure_corpus

LIBRARIES = ("watchfiles", "watchdog", "inotify_simple")
RESULTS = Path(__file__).resolve().parent / "results"
IDLE_SECONDS = 5.0
DEADLINE = 10.0

Event = tuple[str, str]  # (kind, absolute path)


class Adapter:
    """One library behind one shape: events land in `events` as (kind, path) with their arrival time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events: queue.Queue[tuple[float, Event]] = queue.Queue()
        self.stopping = threading.Event()

    def put(self, kind: str, path: str) -> None:
        self.events.put((time.perf_counter(), (kind, path)))

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()


class WatchfilesAdapter(Adapter):
    def start(self) -> None:
        import watchfiles

        ready = threading.Event()

        def run() -> None:
            ready.set()
            for changes in watchfiles.watch(self.root, debounce=1600, step=20, stop_event=self.stopping,
                                            watch_filter=None, rust_timeout=1000, yield_on_timeout=False):
                for change, path in changes:
                    self.put(change.name, path)

        threading.Thread(target=run, daemon=True).start()
        ready.wait()
        time.sleep(0.5)  # the Rust watcher starts in the generator's first step


class WatchdogAdapter(Adapter):
    def start(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers.inotify import InotifyObserver

        adapter = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                kind = event.event_type + ("/dir" if event.is_directory else "")
                adapter.put(kind, os.fsdecode(event.dest_path or event.src_path))

        self.observer = InotifyObserver()
        self.observer.schedule(Handler(), str(self.root), recursive=True)
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join()


class InotifySimpleAdapter(Adapter):
    """inotify_simple is the bare system call: recursion and folder moves are ours to write."""

    def start(self) -> None:
        from inotify_simple import INotify, flags

        self.flags = flags
        self.inotify = INotify()
        self.mask = (flags.CLOSE_WRITE | flags.MOVED_TO | flags.MOVED_FROM | flags.CREATE | flags.DELETE
                     | flags.DELETE_SELF | flags.MODIFY)
        self.folders: dict[int, str] = {}
        self._watch_tree(str(self.root), synthetic=False)
        threading.Thread(target=self._run, daemon=True).start()

    def _watch_tree(self, top: str, synthetic: bool) -> None:
        for folder, _, files in os.walk(top):
            self.folders[self.inotify.add_watch(folder, self.mask)] = folder
            if synthetic:
                for name in files:
                    self.put("created (found in a new folder)", os.path.join(folder, name))

    def _run(self) -> None:
        flags = self.flags
        while not self.stopping.is_set():
            for event in self.inotify.read(timeout=500):
                folder = self.folders.get(event.wd)
                if folder is None:
                    continue
                path = os.path.join(folder, event.name)
                names = "|".join(f.name for f in flags.from_mask(event.mask))
                if event.mask & flags.ISDIR and event.mask & (flags.CREATE | flags.MOVED_TO):
                    self._watch_tree(path, synthetic=True)
                self.put(names, path)

    def stop(self) -> None:
        super().stop()
        time.sleep(0.6)
        self.inotify.close()


ADAPTERS: dict[str, Callable[[Path], Adapter]] = {
    "watchfiles": WatchfilesAdapter, "watchdog": WatchdogAdapter, "inotify_simple": InotifySimpleAdapter}


def drain(adapter: Adapter, until: Callable[[list[Event]], bool],
          deadline: float = DEADLINE) -> tuple[float, list[Event]]:
    """Events until `until(events so far)` holds; returns the arrival time of the last one and all of them."""
    seen: list[Event] = []
    last = 0.0
    end = time.perf_counter() + deadline
    while not until(seen):
        try:
            last, event = adapter.events.get(timeout=max(0.0, end - time.perf_counter()))
        except queue.Empty:
            break
        seen.append(event)
    return last, seen


def quiet(adapter: Adapter, seconds: float = 0.3) -> list[Event]:
    """Whatever else arrives within `seconds` (a library that sends one change as several events)."""
    time.sleep(seconds)
    rest = []
    while not adapter.events.empty():
        rest.append(adapter.events.get()[1])
    return rest


def measure_one(name: str, root: Path) -> dict[str, object]:
    from feedsvc.content.scanning import take_inventory

    posts = root / "_posts"
    result: dict[str, object] = {"library": name}
    walk_cpu = []
    for _ in range(5):
        cpu = time.process_time()
        take_inventory(root)
        walk_cpu.append(time.process_time() - cpu)
    result["full stat walk CPU ms (median of 5)"] = round(sorted(walk_cpu)[2] * 1000, 2)

    cpu, wall = time.process_time(), time.perf_counter()
    adapter = ADAPTERS[name](root)
    adapter.start()
    result["start CPU ms"] = round((time.process_time() - cpu) * 1000, 1)
    result["start wall ms"] = round((time.perf_counter() - wall) * 1000, 1)

    cpu = time.process_time()
    time.sleep(IDLE_SECONDS)
    result["idle CPU ms per second"] = round((time.process_time() - cpu) * 1000 / IDLE_SECONDS, 3)
    quiet(adapter, 0.0)

    target = max(posts.iterdir(), key=lambda p: p.name)
    latencies, closed = [], False
    for run in range(5):
        temp = posts / f".{target.name}.tmp{run}"
        temp.write_bytes(target.read_bytes() + f"\nsaved {run}\n".encode())
        quiet(adapter, 0.1)  # reading the post above is an event too (watchdog: opened): not the one timed

        def arrived(seen: list[Event]) -> bool:
            return any(path == str(target) and "open" not in kind for kind, path in seen)

        started = time.perf_counter()
        os.replace(temp, target)
        last, events = drain(adapter, arrived)
        if arrived(events):
            latencies.append(round((last - started) * 1000, 2))
        events += quiet(adapter)
        result[f"editor save {run}: events"] = sorted({f"{kind} {Path(path).name}" for kind, path in events})
    result["editor save -> event ms (5 runs)"] = latencies
    with target.open("ab") as out:  # an in-place write: does the library say when the writer closed it?
        out.write(b"\nappended\n")
    events = drain(adapter, lambda seen: len(seen) >= 3, 1.0)[1] + quiet(adapter)
    closed = any("close" in kind.lower() for kind, _ in events)
    result["in-place write: events"] = sorted({kind for kind, _ in events})
    result["says when the writer closed the file"] = closed

    outside = root.parent / f"outside-{name}"
    outside.mkdir()
    for index in range(5):
        (outside / f"2024-12-{index + 10}-moved-in-{index}.md").write_text("---\ntitle: x\n---\nbody\n")
    os.rename(outside, posts / "moved-in")
    events = drain(adapter, lambda seen: sum("moved-in-" in p for _, p in seen) >= 5, 3.0)[1] + quiet(adapter)
    result["folder of 5 posts moved in: post files named"] = sum(1 for _, p in events if "moved-in-" in p
                                                                  and p.endswith(".md"))
    os.rename(posts / "moved-in", posts / "renamed")
    events = drain(adapter, lambda seen: False, 1.0)[1]
    result["folder renamed inside the tree: events"] = sorted({f"{kind} {os.path.relpath(p, posts)}"
                                                               for kind, p in events})[:12]
    (posts / "renamed" / "2024-12-30-after-rename.md").write_text("---\ntitle: y\n---\nbody\n")
    last, events = drain(adapter, lambda seen: any("after-rename" in p for _, p in seen), 3.0)
    result["file written in the renamed folder: seen at"] = sorted({os.path.relpath(p, posts) for _, p in events
                                                                   if "after-rename" in p})
    adapter.stop()
    return result


def child(name: str, posts: int) -> None:
    corpus, _ = ensure_corpus(posts, 1)
    tmp = Path(tempfile.mkdtemp(prefix=f"feedsvc-watch-{name}-"))
    try:
        root = tmp / "site"
        shutil.copytree(corpus / "jekyll", root)
        print(json.dumps(measure_one(name, root)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--library", choices=LIBRARIES, help="measure one library in this process")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.library:
        child(args.library, args.posts)
        return 0
    found = {"posts": args.posts, "loadavg at start": os.getloadavg(), "libraries": []}
    for name in LIBRARIES:
        done = subprocess.run([sys.executable, "-m", "bench.watchers", "--library", name, "--posts", str(args.posts)],
                              capture_output=True, text=True, check=False)
        found["libraries"].append(json.loads(done.stdout) if done.returncode == 0  # type: ignore[attr-defined]
                                  else {"library": name, "error": done.stderr[-1500:]})
    found["loadavg at end"] = os.getloadavg()
    args.results.mkdir(parents=True, exist_ok=True)
    text = json.dumps(found, indent=2)
    (args.results / f"watchers-{args.posts}.json").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
