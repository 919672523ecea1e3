"""When the served commit last changed the site: the time every Last-Modified of a git source comes from.

The answer is a function of the commit alone: the committer time of the newest commit on the
branch's first-parent line that changed anything under the site folder (a merge counts at its own
time, for everything it brought). Two replicas on the same commit therefore agree, however and
whenever they cloned, and whichever intermediate commits they saw.

Why one time for the whole site and not one per feed: an edit can take a post out of a tag (its
front matter changed) without touching any file that tag's feed still shows, so a per-feed time
from the current files alone could stay put while that feed's bytes changed: a stale 304 for a
reader sending only If-Modified-Since. Only the previous version of every edited post could say
which feeds it left. The site's newest change bounds every feed's from above and is the same on
every replica; the ETag stays exact per feed (docs/git.md).

A shallow clone does not hold the history: its oldest commit looks as if it added every file. So
when the answer is such a boundary commit, the history is deepened (a few commits at a time, then
whole) until the answer is a real change; most pushes touch the site, so a depth of 2 is typical.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("feedsvc")

_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_DEEPEN_STEPS = (1, 15, 240)  # then the whole history

Git = Callable[..., str]
"""`git(*args, timeout=...)`: runs git on the bare repository, raises on failure (gitsource.GitSource._git)."""


def site_changed_at(git: Git, repo: Path, commit: str, subdir: str, refspec: str, timeout: float) -> datetime:
    """The committer time of the newest first-parent commit up to `commit` that changed the site folder.

    Deepens a shallow repository through `refspec` until the answer is not a shallow boundary; if the
    remote cannot be reached, the boundary's time is used (and said in the log) until a later fetch.
    """
    for step in (*_DEEPEN_STEPS, 0):
        found, when = _newest_change(git, commit, subdir)
        if found not in _shallow_boundaries(repo):
            return when
        try:
            if step:
                git("fetch", "--quiet", "--no-tags", f"--deepen={step}", "origin", refspec, timeout=timeout)
            else:
                git("fetch", "--quiet", "--no-tags", "--unshallow", "origin", refspec, timeout=timeout)
        except Exception as exc:  # gitsource.GitError, already redacted
            log.warning("git: cannot fetch more history (%s); dating the feeds by commit %s", exc, found[:12])
            return when
    return _newest_change(git, commit, subdir)[1]


def _newest_change(git: Git, commit: str, subdir: str) -> tuple[str, datetime]:
    out = git("log", "-1", "--first-parent", "--format=%H %ct", commit, "--", subdir or ".").split()
    if len(out) != 2:  # the folder is in the tree (checked at checkout), so some commit made it
        out = git("log", "-1", "--format=%H %ct", commit).split()
    return out[0], datetime.fromtimestamp(int(out[1]), UTC)


def _shallow_boundaries(repo: Path) -> set[str]:
    """The commits whose parents this repository does not hold (git's own `shallow` file)."""
    try:
        text = (repo / "shallow").read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line.strip() for line in text.splitlines() if _COMMIT.match(line.strip())}
