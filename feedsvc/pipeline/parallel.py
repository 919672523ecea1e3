"""Batches of pure jobs on every core, with one fallback policy: a cold build's reading and rendering.

Both are pure Python for the most part (YAML and front-matter rules; feedgen), so threads would
queue on the GIL: `run_batch` hands a batch to one child process per core instead, in chunks that each
child takes as it finishes its last (a slow child holds no share of the batch back), and
puts the results back in order. The start method is the caller's choice, for a reason each:

- **fork** (rendering): the children inherit the site and the jobs, so nothing goes in but the
  number of the next chunk, and only the finished (gzip) resources come back. Fork is safe only with no other thread in
  the process (a forked copy of a lock another thread holds would hang the child): `feedsvc build`,
  `check`, and the first build of `serve` before the server starts. Each child renders with an
  entry cache it makes for itself (`_start_renderer`), never one inherited from the parent, and
  sends back with each resource the entries it built that the parent asked to keep (those the
  first edits would render again), which the parent's cache then holds.
- **spawn** (reading, from a threaded process): fresh interpreters, safe from any process, threaded
  workers included (a settings change re-reads every post from a serving process's refresh thread);
  what they need (paths, signatures, settings: every chunk, as any child may take any) is small to
  pickle. Where fork is safe, reading forks
  too: the children then need not import feedsvc again.

The policy, the same for both: in this process when the batch is small (starting processes costs
more than it saves), when there is one core, or when fork is asked for and unsafe; in children
otherwise; and if the children fail (cannot start, die, raise), here after all, with a warning.
The results are the same objects in the same order either way (tested).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, TypeVar

from feedsvc.config import Settings
from feedsvc.content import reading
from feedsvc.content.bodies import BodyKey, MarkdownBody, kept_body, made_elsewhere
from feedsvc.content.reading import Result
from feedsvc.content.scanning import FileSignature
from feedsvc.model import BODY_LEVEL, Post, Resource
from feedsvc.render.entrycache import FORKED_MAX_BYTES, EntryCache, Made
from feedsvc.render.feeds import GZIP_LEVEL, ResourceParts, as_resource

log = logging.getLogger("feedsvc")

T = TypeVar("T")
R = TypeVar("R")
Work = Callable[[Sequence[T]], list[R]]
"""What a child does with each chunk of the batch dealt to it."""
Here = Callable[[Sequence[T], Callable[[int], None]], list[R]]
"""The whole batch in this process, telling progress."""
StartMethod = Literal["fork", "spawn"]
RenderJob = Callable[[EntryCache | None], ResourceParts]
"""One feed or page to render, with the entry cache of the process that renders it."""

FORK_FROM = 200  # fewer render jobs than this: forking costs more than it saves
READ_IN_PROCESSES_FROM = 400  # fewer files than this: starting interpreters costs more than it saves
_CHUNKS_PER_PROCESS = 8  # small enough for the children to finish together and to show progress
_READ_CHUNK = 250
_HASH_THREADS = 2


class ChildFailed(Exception):
    """A child process could not finish its share of a batch."""


def fork_is_safe() -> bool:
    return (os.cpu_count() or 1) > 1 and threading.active_count() == 1 \
        and "fork" in multiprocessing.get_all_start_methods()


def run_batch(items: Sequence[T], start_worker: Callable[[], Work[T, R]], *, method: StartMethod, min_items: int,
              doing: str, here: Here[T, R] | None = None, progress: Callable[[int], None] | None = None,
              processes: int | None = None, max_chunk: int | None = None) -> list[R]:
    """The results of every item, in order: `start_worker()` is called once in each child and the
    work it returns is given that child's chunks; `here(items, progress)` (by default the same work
    on every item) runs them in this process when children would not pay or cannot be used.
    `progress(done)` hears how many items are done, ending with all of them; `doing` names the
    batch in log lines ("reading posts")."""
    tell = progress or _ignore
    processes = processes if processes is not None else (os.cpu_count() or 1)
    if processes > 1 and len(items) >= min_items and (method != "fork" or fork_is_safe()):
        try:
            return _in_children(items, start_worker, method, processes, tell, max_chunk)
        except Exception as exc:  # no more processes, a child that died, no importable __main__ for spawn
            verb, _, noun = doing.partition(" ")
            log.warning("%s %d %s in worker processes failed (%s); %s them here instead", verb, len(items), noun,
                        exc, verb)
    if here is not None:
        return here(items, tell)
    done = start_worker()(items)
    tell(len(done))
    return done


def _ignore(done: int) -> None:
    pass


def _in_children(items: Sequence[T], start_worker: Callable[[], Work[T, R]], method: StartMethod, processes: int,
                 tell: Callable[[int], None], max_chunk: int | None) -> list[R]:
    """Each child takes the next chunk when it has finished its last (a shared counter), so a child slowed by
    other load does fewer chunks rather than holding the batch up; the results go back in the chunks' order."""
    size = max(1, -(-len(items) // (processes * _CHUNKS_PER_PROCESS)))
    size = min(size, max_chunk) if max_chunk else size
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    context = multiprocessing.get_context("fork") if method == "fork" else multiprocessing.get_context("spawn")
    next_chunk = context.Value("q", 0)
    made: list[list[R] | None] = [None] * len(chunks)
    started: list[multiprocessing.process.BaseProcess] = []
    children: dict[Connection, multiprocessing.process.BaseProcess] = {}
    try:
        for number in range(min(processes, len(chunks))):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(start_worker, chunks, next_chunk, send),
                                      name=f"feedsvc-batch-{number}", daemon=True)
            process.start()
            started.append(process)
            send.close()  # the child holds the only writing end: its exit is our end of file
            children[receive] = process
        done = 0
        while children:
            for ready in multiprocessing.connection.wait(list(children)):
                assert isinstance(ready, Connection)
                child = children[ready]
                try:
                    index, result = ready.recv()
                except EOFError:
                    child.join(5)
                    raise ChildFailed(f"{child.name} exited with code {child.exitcode}") from None
                if index == _FAILED:
                    raise ChildFailed(f"{child.name}: {result}")
                if index == _FINISHED:
                    del children[ready]
                    ready.close()
                    continue
                made[index] = result
                done += len(result)
                tell(done)
    finally:
        for receive, left in children.items():  # what is left after a failure
            receive.close()
            left.terminate()
        for each in started:
            each.join(5)
    if any(chunk is None for chunk in made):
        raise ChildFailed("a chunk of the batch was never done")
    return [result for chunk in made for result in chunk or ()]


_FAILED = -1
_FINISHED = -2


def _child(start_worker: Callable[[], Work[T, R]], chunks: Sequence[Sequence[T]], next_chunk: Any,
           send: Connection) -> None:
    """A child's life: make its worker, then take the next chunk nobody has taken and send its results, until
    none is left; or send why it could not."""
    try:
        work = start_worker()
        while True:
            with next_chunk.get_lock():
                index = next_chunk.value
                next_chunk.value = index + 1
            if index >= len(chunks):
                break
            send.send((index, work(chunks[index])))
        send.send((_FINISHED, None))
    except BaseException as exc:  # told to the parent as text: the exception itself may not pickle
        send.send((_FAILED, f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()


# -- the two batches ------------------------------------------------------------------------------

def read_posts(root: Path, items: Sequence[tuple[str, FileSignature]], settings: Settings,
               processes: int | None = None, progress: Callable[[int], None] | None = None,
               body_level: int = BODY_LEVEL) -> list[Result]:
    """`content.reading.read_posts` on every core when there are many files: the same results, in order.

    Forked children where fork is safe (`feedsvc build`, a server's first build): they start with every
    module already imported, where each spawned one imports feedsvc again (about 0.4 s of a core)."""
    method: StartMethod = "fork" if fork_is_safe() else "spawn"
    return run_batch(items, partial(_start_reader, root, settings, body_level), method=method,
                     min_items=READ_IN_PROCESSES_FROM, doing="reading posts", processes=processes,
                     progress=progress, max_chunk=_READ_CHUNK,
                     here=lambda batch, tell: reading.read_posts(root, batch, settings, body_level, tell))


def _start_reader(root: Path, settings: Settings, body_level: int) -> Work[tuple[str, FileSignature], Result]:
    return partial(reading.read_posts, root, settings=settings, body_level=body_level)


def render_all(jobs: Sequence[RenderJob], entries: EntryCache | None, progress: Callable[[int], None] | None = None,
               gzip_level: int = GZIP_LEVEL, keep: Sequence[Post] = (), shown: Sequence[Post] = ()) -> list[Resource]:
    """`as_resource(*job(entries))` for each job, in order: in forked children for a big batch (each
    with an entry cache of its own), else here with `entries`, hashing and gzip (which release the GIL)
    on other threads. The children send back the entries they built for the posts in `keep` (most
    worth keeping first), which `entries` then holds, so the first edit after a cold build finds them.
    Before children render, the bodies of `shown` (the posts whose bodies the jobs show) that are kept as
    Markdown are rendered once, spread over the children, rather than once in each child that shows them."""
    wanted = frozenset(post.fingerprint for post in keep) if entries is not None else frozenset()
    kept = [post for post in shown if isinstance(post.body_markup, MarkdownBody)]
    bodies: dict[BodyKey, str] = {}
    if len(jobs) >= FORK_FROM and len(kept) >= FORK_FROM and (os.cpu_count() or 1) > 1 and fork_is_safe():
        bodies = dict(made for made in run_batch(kept, _start_body_renderer, method="fork", min_items=FORK_FROM,
                                                 doing="rendering bodies") if made is not None)
    with made_elsewhere(bodies):
        made = run_batch(jobs, partial(_start_renderer, gzip_level, wanted), method="fork", min_items=FORK_FROM,
                         doing="rendering files", progress=progress, here=partial(_render_here, entries, gzip_level))
    if entries is not None and wanted:
        rank = {post.fingerprint: n for n, post in enumerate(keep)}
        built = sorted((entry for _, kept in made for entry in kept), key=lambda entry: -rank[entry.fingerprint])
        entries.adopt({post.fingerprint: post for post in keep}, built)  # the most worth keeping, last
    return [resource for resource, _ in made]


def _start_body_renderer() -> Work[Post, tuple[BodyKey, str] | None]:
    return _render_bodies


def _render_bodies(posts: Sequence[Post]) -> list[tuple[BodyKey, str] | None]:
    return [kept_body(post) for post in posts]


Rendered = tuple[Resource, Sequence[Made]]
"""A job's resource, with the entries for the parent's cache that rendering it built (children only)."""


def _start_renderer(gzip_level: int, wanted: frozenset[str]) -> Work[RenderJob, Rendered]:
    # The child lives for one build: entries shared by its feeds may stay, so the cache is a big one.
    entries = EntryCache(FORKED_MAX_BYTES)
    entries.tell_made(wanted)
    return partial(_render, entries, gzip_level)


def _render(entries: EntryCache, gzip_level: int, jobs: Sequence[RenderJob]) -> list[Rendered]:
    return [(as_resource(*job(entries), gzip_level=gzip_level), entries.take_made()) for job in jobs]


def _render_here(entries: EntryCache | None, gzip_level: int, jobs: Sequence[RenderJob],
                 progress: Callable[[int], None]) -> list[Rendered]:
    with ThreadPoolExecutor(max_workers=_HASH_THREADS, thread_name_prefix="feedsvc-gzip") as pool:
        futures = [pool.submit(as_resource, *job(entries), gzip_level=gzip_level) for job in jobs]
        progress(len(futures))
        return [(future.result(), ()) for future in futures]
