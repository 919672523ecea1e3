"""Where the time goes: cProfile of the cold build, the warm start, the one-edit refresh and `build --cache`.

    python -m bench.profile [--posts 10000] [--top 30]

Writes `bench/results/profile-<case>-<posts>.txt` (top functions by cumulative and by own
time) and `.prof` files (for snakeviz or pstats), and prints the cumulative tops.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from feedsvc import cli
from feedsvc.deploy.service import Service
from feedsvc.pipeline.refresh import Refresher

from .gen_corpus import ensure_corpus
from .inprocess import edit_post, newest_post, started_refresher
from .news_corpus import ensure_news_corpus

RESULTS = Path(__file__).resolve().parent / "results"


def profiled(name: str, posts: int, call: Callable[[], object], top: int, results: Path) -> str:
    """Run `call` under cProfile; write the stats and return the cumulative top as text."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(call)
    seconds = time.perf_counter() - started
    stem = results / f"profile-{name}-{posts}"
    profiler.dump_stats(stem.with_suffix(".prof"))
    text = io.StringIO()
    text.write(f"# {name}, {posts} posts: {seconds:.2f} s under cProfile\n\n## by cumulative time\n")
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("cumulative").print_stats(top)
    cumulative = text.getvalue()
    text.write("\n## by own time\n")
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(top)
    stem.with_suffix(".txt").write_text(text.getvalue(), encoding="utf-8")
    return cumulative


def edited_refresh(refresher: Refresher, content: Path) -> Callable[[], object]:
    post = newest_post(content)
    edit_post(post, "profiled")
    return lambda: refresher.refresh("webhook")  # as a push after the edit: no settle window


def cached_edit_build(content: Path, tmp: Path) -> Callable[[], object]:
    """`feedsvc build --cache` after a one-post edit: a first build fills the cache (not profiled)."""
    command = ["build", "--content", str(content), "--out", str(tmp / "cached-out"), "--cache", str(tmp / "cache")]
    time.sleep(2.5)  # a file changed within 2 s of a build is read again by the next (buildcache.RACY_NS)
    cli.main(command)
    edit_post(newest_post(content), "profiled build")
    return lambda: cli.main(command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", choices=("bench", "news"), default="bench")
    parser.add_argument("--parallel", action="store_true",
                        help="read and render in worker processes as builds do (cProfile then sees only the parent)")
    parser.add_argument("--only", help="comma-separated cases: cold-build, warm-start, one-edit, unchanged, cache-edit")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for name in [n for n in os.environ if n.startswith("FEEDSVC_")]:
        del os.environ[name]
    os.environ["FEEDSVC_LOG_LEVEL"] = "WARNING"
    args.results.mkdir(parents=True, exist_ok=True)
    if not args.parallel:  # one process: what the workers do shows in the profile (the sum of their CPU)
        os.cpu_count = lambda: 1  # type: ignore[assignment]
    corpus, _ = ensure_news_corpus(args.posts) if args.corpus == "news" else ensure_corpus(args.posts, args.seed)
    every = {"cold-build", "warm-start", "one-edit", "unchanged", "cache-edit"}
    only = set(args.only.split(",")) if args.only else every
    if args.corpus == "news":
        args.results = args.results / "news"
        args.results.mkdir(parents=True, exist_ok=True)
    content = corpus / "jekyll"
    tmp = Path(tempfile.mkdtemp(prefix="feedsvc-profile-"))
    try:
        scratch = tmp / "content"
        shutil.copytree(content, scratch)
        cases: list[tuple[str, Callable[[], object]]] = [
            ("cold-build", lambda: cli.main(["build", "--content", str(content), "--out", str(tmp / "out")])),
            ("warm-start", lambda: Service(content_dir=content)),
        ]
        for name, call in cases:
            if name in only:
                print(profiled(name, args.posts, call, args.top, args.results))
        if "cache-edit" in only:
            edited = tmp / "cache-content"
            shutil.copytree(content, edited)
            print(profiled("cache-edit-build", args.posts, cached_edit_build(edited, tmp), args.top, args.results))
        if not only & {"one-edit", "unchanged"}:
            return 0
        refresher = started_refresher(scratch)
        print(profiled("one-edit-refresh", args.posts, edited_refresh(refresher, scratch), args.top, args.results))
        print(profiled("unchanged-rescan", args.posts, lambda: refresher.refresh("profile"), args.top,
                       args.results))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"profiles written to {args.results}/profile-*-{args.posts}.txt and .prof")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
