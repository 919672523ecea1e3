"""A git "forge" for tests: a bare repository that the test pushes to, and a working copy to write posts in.

Real git (Debian's); no network: the bare repository is reached by path, or through `git daemon` on an
ephemeral 127.0.0.1 port (`serve_daemon`).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import free_port

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.org",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str | Path, cwd: Path | None = None, when: int | None = None) -> str:
    env = {**os.environ, **IDENTITY}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    done = subprocess.run(["git", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(map(str, args))}: {done.stderr}")
    return done.stdout


class Forge:
    """`remote` is the bare repository feedsvc fetches from; `work` is where the test writes and pushes."""

    def __init__(self, root: Path, branch: str = "main") -> None:
        self.remote = root / "remote.git"
        self.work = root / "work"
        self.branch = branch
        self.clock = 1_780_000_000
        git("init", "--quiet", "--bare", f"--initial-branch={branch}", self.remote)
        git("init", "--quiet", f"--initial-branch={branch}", self.work)
        git("remote", "add", "origin", self.remote, cwd=self.work)

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or with None, delete) files in the working copy."""
        for relpath, text in files.items():
            path = self.work / relpath
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")

    def commit(self, message: str, files: dict[str, str | None] | None = None, push: bool = True,
               branch: str | None = None) -> str:
        """Commit everything (a fixed, increasing commit time) and push it; returns the commit id."""
        if files:
            self.write(files)
        self.clock += 60
        git("add", "--all", cwd=self.work)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.work, when=self.clock)
        commit = git("rev-parse", "HEAD", cwd=self.work).strip()
        if push:
            self.push(branch)
        return commit

    def push(self, branch: str | None = None, force: bool = False) -> None:
        git("push", "--quiet", *(["--force"] if force else []), "origin", f"HEAD:refs/heads/{branch or self.branch}",
            cwd=self.work)

    def rename(self, old: str, new: str) -> None:
        (self.work / new).parent.mkdir(parents=True, exist_ok=True)
        git("mv", old, new, cwd=self.work)


@contextmanager
def serve_daemon(base: Path) -> Iterator[str]:
    """`git daemon` exporting every repository under `base` on 127.0.0.1; yields the URL prefix."""
    port = free_port()
    process = subprocess.Popen(
        ["git", "daemon", "--verbose", "--reuseaddr", "--export-all", "--listen=127.0.0.1", f"--port={port}",
         f"--base-path={base}", "--informative-errors", str(base)],
        env={**os.environ, **IDENTITY}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # the daemon says so once it listens
        if "Ready to rumble" not in line:
            raise AssertionError(f"git daemon did not start: {line}")
        threading.Thread(target=process.stderr.read, daemon=True).start()  # drain its log, so it never blocks
        yield f"git://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def first_post_forge(root: Path) -> Forge:
    """A forge whose branch holds a site with one post, `First` (the start most git tests share)."""
    from conftest import BASIC_CONFIG, post_text

    forge = Forge(root / "forge")
    forge.commit("start", {"_config.yml": BASIC_CONFIG,
                           "_posts/2026-01-02-first.md": post_text("title: First\ndate: 2026-01-02 10:00:00 +0000")})
    return forge
