"""What a site with hostile posts costs to build: issue 12's 60 posts, 10 of them hostile.

    python -m bench.hostile [--tables 5] [--lists 5] [--good 50]

Writes the site (tests/hostile_posts.py makes it) to a temporary folder, runs `feedsvc build` on it
in a child process and prints the wall time, the peak RSS of the largest process and what the build
said about the hostile posts.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile_posts import hostile_site  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", type=int, default=50)
    parser.add_argument("--tables", type=int, default=5)
    parser.add_argument("--lists", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="feedsvc-hostile-") as temp:
        content, out = Path(temp) / "content", Path(temp) / "out"
        hostile = hostile_site(content, good=args.good, tables=args.tables, lists=args.lists)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "feedsvc", "build", "--content", str(content), "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"posts: {args.good} good + {len(hostile)} hostile; exit {done.returncode}")
        print(f"build: {seconds:.1f} s, peak RSS {peak_mb:,.0f} MB (largest process)")
        said = [line for line in (done.stdout + done.stderr).splitlines() if "hostile" in line]
        print("\n".join(said[:20]) or "(nothing said about the hostile posts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
