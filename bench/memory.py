"""What a warm-started builder holds, step by step, and how it grows with posts.

    python -m bench.memory [--sizes 1000,10000] [--corpus bench|news]

For each size: a state folder is made once by a cold build in a child process (as `feedsvc serve`
leaves it), then a fresh child warm-starts from it as the builder does (the published feeds, the
post cache, the first refresh, then every file's bytes read as a sweep of every feed would) and
reports its resident memory after each step (VmRSS, and of it RssAnon: the heap; RssFile: mapped
files, shared) and its peak (VmHWM), in MB. The HTTP worker adds the server's own few MB to the last figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .gen_corpus import ensure_corpus
from .news_corpus import ensure_news_corpus

REPO = Path(__file__).resolve().parent.parent

_PREPARE = """
import sys
from pathlib import Path
from feedsvc.config import settings_key
from feedsvc.deploy.statefolder import StateFolder
from feedsvc.pipeline.postcache import PostCache
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore
content, state = Path(sys.argv[1]), Path(sys.argv[2])
refresher = Refresher(SnapshotStore(), content, {"FEEDSVC_STATE_DIR": str(state)})
refresher.refresh("startup")
StateFolder(state).write_snapshot(refresher.store.snapshot, settings_key(refresher.settings))
PostCache(state / "posts").save(refresher.export())
"""

_MEASURE = """
import json, sys, time
from pathlib import Path
def memory():
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return tuple(round(int(fields[name].split()[0]) / 1024, 1) for name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"))
steps = [("interpreter", *memory(), 0.0)]
started = time.perf_counter()
from feedsvc.config import load_settings, settings_key
from feedsvc.deploy.statefolder import StateFolder
from feedsvc.pipeline.postcache import PostCache
from feedsvc.pipeline.refresh import Refresher
from feedsvc.snapshot import SnapshotStore
import feedsvc.web.app, feedsvc.render.xmlfeed  # what a serving process imports
steps.append(("imports", *memory(), time.perf_counter() - started))
content, state = Path(sys.argv[1]), Path(sys.argv[2])
environ = {"FEEDSVC_STATE_DIR": str(state)}
started = time.perf_counter()
store = SnapshotStore()
store.snapshot = StateFolder(state).read_snapshot(None, settings_key(load_settings(environ, content)))
assert store.snapshot is not None, "the state folder was not written under these settings"
steps.append(("published feeds loaded", *memory(), time.perf_counter() - started))
started = time.perf_counter()
seed = PostCache(state / "posts").load()
assert seed is not None, "no post cache"
steps.append(("post cache loaded", *memory(), time.perf_counter() - started))
started = time.perf_counter()
refresher = Refresher(store, content, environ)
refresher.seed(seed, store.snapshot.resources)
del seed
refresher.refresh("startup")
steps.append(("first refresh (site built)", *memory(), time.perf_counter() - started))
started = time.perf_counter()
for resource in store.snapshot.resources.values():  # a sweep of every feed: bytes read from the blobs
    resource.gzip_body
steps.append(("every file sent once", *memory(), time.perf_counter() - started))
print(json.dumps(steps))
"""


def _child(code: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update({"PYTHONPATH": str(REPO), "FEEDSVC_LOG_LEVEL": "WARNING"})
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=REPO, check=True,
                          capture_output=True, text=True)
    return done.stdout


def measure(content: Path, state: Path) -> list[list[object]]:
    if not (state / "manifest.json").exists():
        started = time.perf_counter()
        _child(_PREPARE, str(content), str(state))
        print(f"  state folder built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return json.loads(_child(_MEASURE, str(content), str(state)).splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--corpus", choices=("bench", "news"), default="bench")
    parser.add_argument("--runs", type=int, default=1, help="warm starts per size (the state folder is kept)")
    parser.add_argument("--state", type=Path, help="where the state folders are kept (default: a temporary folder)")
    args = parser.parse_args(argv)
    root = args.state or Path(tempfile.mkdtemp(prefix="feedsvc-memory-"))
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    print(f"load average at start: {' / '.join(f'{n:.1f}' for n in os.getloadavg())}")
    for size in (int(n) for n in args.sizes.split(",")):
        corpus = (ensure_news_corpus(size) if args.corpus == "news" else ensure_corpus(size))[0] / "jekyll"
        for run in range(args.runs):
            steps = measure(corpus, root / f"{args.corpus}-{size}")
            print(f"{args.corpus}, {size:,} posts, run {run + 1}:")
            for name, rss, hwm, anon, file, seconds in steps:
                print(f"  {name:28} RSS {rss:7.1f} MB (anon {anon:7.1f}, file {file:5.1f})  peak {hwm:7.1f} MB"
                      f"  {seconds:6.2f} s")
    print(f"load average at end: {' / '.join(f'{n:.1f}' for n in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
