"""A git repository as the content source: clone it into the state folder, serve a checkout, move it atomically.

Real git, through the `git` command (where from: gitconfig.py; when the site last changed: githistory.py;
flushing and deleting checkouts: gitdisk.py). Chosen over the bindings on evidence: libgit2 (pygit2) talks SSH
through libssh2, so `GIT_SSH_COMMAND` and `~/.ssh/config` deploy-key setups do not apply, it runs no
credential helpers, and it has no partial clone; dulwich is pure Python (a 10,000-file checkout is
slow) with partial support for helpers and shallow updates. The `git` command honours every way a
user already authenticates (deploy keys via `GIT_SSH_COMMAND`, credential helpers, a token in the URL)
and is Debian's own. Its plumbing output (`-z`) is stable to parse.

Layout under `<state>/git/` (private to this deployment):
- `repo.git`: a bare repository, fetched shallow (depth 1) from the remote, force pushes included;
- `trees/<commit>`: one complete checkout per served commit, written under a temporary name and
  renamed when complete; the current and the previous one are kept;
- `current`: a symlink to `trees/<commit>`, replaced by a rename: a scan resolves it once and then
  walks one complete tree, so no reader ever sees a half-updated folder;
- `status.json`: the commit served, when it was fetched, the last fetch error (redacted), for every
  worker's `/status`.

The URL is never written to disk nor put on a command line (where `ps` shows it): it reaches git
through `GIT_CONFIG_*` environment variables. Everything shown or logged goes through `redact`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from feedsvc.deploy.gitconfig import GitConfig, redact
from feedsvc.deploy.gitdisk import delete_all, sync_folder, sync_tree
from feedsvc.deploy.githistory import site_changed_at

log = logging.getLogger("feedsvc")

FETCH_TIMEOUT_SECONDS = 300.0
LOCAL_TIMEOUT_SECONDS = 300.0
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_KEPT_TREES = 2
_MAX_PATCHED = 2000  # changed paths up to which a checkout links the previous one's files


class GitError(Exception):
    """A git operation failed; the message is already redacted."""


@dataclass(frozen=True, slots=True)
class Update:
    """What one fetch did to the served checkout."""

    commit: str  # served now
    previous: str | None  # served before (None: the first checkout)
    changed: frozenset[str] | None  # paths relative to the site folder that differ; None: unknown

    @property
    def moved(self) -> bool:
        return self.commit != self.previous


def utc_now() -> datetime:
    return datetime.now(UTC)


class GitSource:
    """The builder's handle on the repository; any process may read `status()` and `served_commit()`."""

    def __init__(self, config: GitConfig, folder: Path, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.folder = folder
        self.repo = folder / "repo.git"
        self.trees = folder / "trees"
        self.current = folder / "current"
        self.status_file = folder / "status.json"
        self.clock = clock
        self._env = _git_environment(dict(os.environ if environ is None else environ), config.url)
        self._lock = threading.Lock()
        self._wanted: str | None = None
        self._branch = config.branch
        self._dated: tuple[str, datetime] | None = None  # (commit, when it last changed the site)

    def __repr__(self) -> str:
        return f"GitSource({self.config!r}, {self.folder})"

    @property
    def branch(self) -> str:
        """The branch served: configured, else the remote's default one (known once fetched)."""
        return self._branch or str(self.status().get("branch") or "")

    @property
    def content_dir(self) -> Path:
        """The site folder as the refresher sees it: stable across updates (through `current`)."""
        return self.current / self.config.subdir if self.config.subdir else self.current

    # -- reading (any process) --------------------------------------------------------

    def served_commit(self) -> str | None:
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        name = PurePosixPath(target).name
        return name if _COMMIT.match(name) else None

    def status(self) -> dict[str, Any]:
        """For /status: the repository (redacted), branch, commit served, when fetched, the last error."""
        recorded: dict[str, Any] = {}
        try:
            data = json.loads(self.status_file.read_bytes())
            if isinstance(data, dict):
                recorded = data
        except (OSError, ValueError):
            pass
        return {
            "url": self.config.shown_url,
            "branch": self._branch or _text(recorded.get("branch")),
            "subdir": self.config.subdir,
            "commit": self.served_commit(),
            "fetched_at": _text(recorded.get("fetched_at")),
            "last_error": redact(_text(recorded.get("last_error")) or "", self.config.url) or None,
            "last_error_at": _text(recorded.get("last_error_at")),
        }

    def site_changed_at(self) -> datetime | None:
        """When the served commit last changed the site (githistory.py): every Last-Modified comes from it.

        The same on every replica serving this commit; None if git cannot say (the file times are used then).
        """
        commit = self.served_commit()
        if commit is None:
            return None
        with self._lock:
            if self._dated is None or self._dated[0] != commit:
                branch = self.branch
                tracking = f"refs/remotes/origin/{branch}"
                try:  # the branch's history, unless a push's commit ahead of it (fetched by id) is served
                    on_branch = bool(branch) and self._git("rev-parse", "--verify", tracking).strip() == commit
                except GitError:
                    on_branch = False
                refspec = f"+refs/heads/{branch}:{tracking}" if on_branch else commit
                try:
                    with self._folder_lock():
                        when = site_changed_at(self._git, self.repo, commit, self.config.subdir, refspec,
                                               FETCH_TIMEOUT_SECONDS)
                except GitError as exc:
                    log.error("git: cannot date commit %s: %s", commit[:12], exc)
                    return None
                self._dated = (commit, when)
            return self._dated[1]

    # -- changing (the builder) ---------------------------------------------------------

    def want(self, commit: str) -> None:
        """A push named this commit: the next update serves it even if the branch ref lags behind."""
        commit = commit.strip().lower()
        if _COMMIT.match(commit):
            with self._lock:
                self._wanted = commit

    def start(self) -> Update | None:
        """At startup: fetch and check out; without the network, serve the last checkout if there is one.

        Raises GitError only when there is nothing at all to serve.
        """
        update = self.update()
        if self.served_commit() is None:
            raise GitError(self.status()["last_error"] or "no checkout of the repository")
        return update

    def update(self) -> Update | None:
        """Fetch the branch and move the served checkout to its head; None when the fetch failed.

        A failure keeps the last good checkout served and is recorded (redacted) for /status and the log.
        """
        with self._lock, self._folder_lock():
            wanted, self._wanted = self._wanted, None
            try:
                update = self._update(wanted)
            except GitError as exc:
                log.error("git: fetching %s failed: %s; still serving %s", self.config.shown_url, exc,
                          (self.served_commit() or "nothing")[:12])
                self._record(error=str(exc))
                return None
            self._record(error=None)
            if update.moved:
                log.info("git: serving %s (was %s), %s", update.commit[:12], (update.previous or "nothing")[:12],
                         "changed files unknown" if update.changed is None else f"{len(update.changed)} files changed")
            return update

    @contextlib.contextmanager
    def _folder_lock(self) -> Iterator[None]:
        """Worker processes started without a common parent each start a source: one updates at a time."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.folder, 0o700)
        fd = os.open(self.folder / ".lock", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _update(self, wanted: str | None) -> Update:
        if not (self.repo / "HEAD").exists():
            shutil.rmtree(self.repo, ignore_errors=True)
            self._git("init", "--quiet", "--bare", str(self.repo), bare=False)
        if not self._branch:
            self._branch = self._default_branch()
        branch = self._branch
        tracking = f"refs/remotes/origin/{branch}"
        self._git("fetch", "--quiet", "--no-tags", "--depth=1", "origin", f"+refs/heads/{branch}:{tracking}",
                  timeout=FETCH_TIMEOUT_SECONDS)
        head = self._git("rev-parse", "--verify", "--quiet", f"{tracking}^{{commit}}").strip()
        previous = self.served_commit()
        target = head
        if wanted is not None and wanted != head and head == previous:
            # The push's webhook came before the ref we fetch from moved (a lagging mirror): ask for the commit.
            try:
                self._git("fetch", "--quiet", "--no-tags", "--depth=1", "origin", wanted,
                          timeout=FETCH_TIMEOUT_SECONDS)
                target = self._git("rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}").strip()
            except GitError as exc:
                log.warning("git: the pushed commit %s is not on %s yet and cannot be fetched by id (%s); "
                            "serving %s", wanted[:12], branch, exc, head[:12])
        if target == previous and self._tree_path(target).is_dir():
            return Update(target, previous, frozenset())
        self._checkout(target, previous)
        self._git("update-ref", "refs/feedsvc/served", target)  # keeps its objects from `git gc`
        self._prune_trees(keep={target, previous})
        return Update(target, previous, self._changed(previous, target))

    def _default_branch(self) -> str:
        """The remote's HEAD (`ls-remote --symref`); the last known one when the remote cannot say."""
        try:
            listing = self._git("ls-remote", "--symref", "origin", "HEAD", timeout=FETCH_TIMEOUT_SECONDS)
        except GitError:
            recorded = self.status().get("branch")
            if recorded:
                return str(recorded)
            raise
        for line in listing.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line[len("ref: refs/heads/"):-len("\tHEAD")]
        raise GitError("the remote names no default branch; set FEEDSVC_GIT_BRANCH")

    def _tree_path(self, commit: str) -> Path:
        return self.trees / commit

    def _checkout(self, commit: str, previous: str | None = None) -> None:
        """Write the commit's files into a new folder, then point `current` at it with one rename."""
        self.trees.mkdir(exist_ok=True, mode=0o700)
        final = self._tree_path(commit)
        if not final.is_dir():
            partial = self.trees / f".partial-{commit}-{uuid.uuid4().hex[:8]}"
            index = self.folder / f".index-{uuid.uuid4().hex[:8]}"
            try:
                self._git("read-tree", commit, index=index)
                if previous is None or not self._write_changes(previous, commit, partial, index):
                    shutil.rmtree(partial, ignore_errors=True)
                    partial.mkdir(mode=0o755)
                    self._git("--work-tree", str(partial), "checkout-index", "--all", "--force", index=index)
                self._check_subdir(partial)
                sync_tree(partial)  # on disk before anything names it: a power loss never serves a truncated tree
                os.rename(partial, final)
                sync_folder(self.trees)
            finally:
                index.unlink(missing_ok=True)
                shutil.rmtree(partial, ignore_errors=True)
        else:
            self._check_subdir(final)
        link = self.folder / f".current-{uuid.uuid4().hex[:8]}"
        os.symlink(f"trees/{commit}", link)
        os.replace(link, self.current)
        sync_folder(self.folder)

    def _write_changes(self, old: str, new: str, partial: Path, index: Path) -> bool:
        """The new tree as hard links to the previous one's files, with only the files the commits' diff
        names written anew: a one-post push writes one file, not 10,000. Checkouts are never written
        to once complete, so sharing their files is safe. False (nothing usable made) to write it whole."""
        base = self._tree_path(old)
        if not base.is_dir():
            return False
        try:
            out = self._git("diff-tree", "-r", "-z", "--no-commit-id", "--name-status", "--no-renames", old, new)
        except GitError:
            return False
        fields = out.split("\0")
        changes = list(zip(fields[0:-1:2], fields[1::2], strict=False))
        if len(changes) > _MAX_PATCHED:
            return False
        linked = subprocess.run(["cp", "-a", "--link", "--no-target-directory", str(base), str(partial)],
                                capture_output=True, stdin=subprocess.DEVNULL, check=False)
        if linked.returncode != 0:
            return False
        written = []
        try:
            for status, path in changes:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(partial / path)  # a link shared with the previous tree: never written through
                if status != "D":
                    written.append(path)
            if written:
                self._git("--work-tree", str(partial), "checkout-index", "--force", "--", *written, index=index)
        except (OSError, GitError) as exc:
            log.warning("git: patching the previous checkout failed (%s); writing every file", exc)
            return False
        return True

    def _check_subdir(self, tree: Path) -> None:
        """The site folder must be a real folder inside the checkout (a symlink in the repo could point anywhere)."""
        site = tree / self.config.subdir if self.config.subdir else tree
        real_tree = tree.resolve()
        real_site = site.resolve()
        if not real_site.is_dir() or (real_site != real_tree and real_tree not in real_site.parents):
            raise GitError(f"FEEDSVC_GIT_SUBDIR {self.config.subdir!r} is not a folder inside the repository")

    def _changed(self, old: str | None, new: str) -> frozenset[str] | None:
        """The site's files that differ between two commits (renames give both names); None when unknown."""
        if old is None:
            return None
        try:
            out = self._git("diff-tree", "-r", "-z", "--no-commit-id", "--name-status", "-M", old, new)
        except GitError:  # e.g. the old commit's objects are gone: compare every file instead
            return None
        fields = out.split("\0")
        paths: set[str] = set()
        i = 0
        while i < len(fields) and fields[i]:
            status = fields[i]
            names = 2 if status[:1] in ("R", "C") else 1
            paths.update(fields[i + 1:i + 1 + names])
            i += 1 + names
        prefix = self.config.subdir + "/" if self.config.subdir else ""
        return frozenset(path[len(prefix):] for path in paths if path.startswith(prefix))

    def _prune_trees(self, keep: set[str | None]) -> None:
        """Keep the served and the previous checkout; set the others aside at once and delete them in the
        background (10,000 files take seconds to unlink on a busy disk: not on the way to the new feeds)."""
        try:
            entries = list(os.scandir(self.trees))
        except OSError:
            return
        complete = sorted((e for e in entries if _COMMIT.match(e.name)), key=lambda e: e.stat().st_mtime,
                          reverse=True)
        kept = {name for name in keep if name}
        doomed: list[str] = []
        for entry in complete:
            if entry.name in kept:
                continue
            if len(kept) < _KEPT_TREES:
                kept.add(entry.name)
                continue
            aside = self.trees / f".old-{entry.name}-{uuid.uuid4().hex[:8]}"
            with contextlib.suppress(OSError):
                os.rename(entry.path, aside)
                doomed.append(str(aside))
        doomed.extend(e.path for e in entries if e.name.startswith((".partial-", ".old-")))  # a crash's leftovers
        if doomed:
            threading.Thread(target=delete_all, args=(doomed,), name="feedsvc-git-prune", daemon=True).start()

    def _record(self, error: str | None) -> None:
        """Write status.json atomically; a fetch that worked clears the error and stamps the time."""
        now = self.clock().isoformat()
        previous = self.status()
        data = {
            "branch": self._branch or previous.get("branch"),
            "commit": self.served_commit(),
            "fetched_at": previous.get("fetched_at") if error else now,
            "last_error": redact(error, self.config.url) if error else None,
            "last_error_at": now if error else None,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = self.folder / f".status-{uuid.uuid4().hex[:8]}.tmp"
            temporary.write_text(json.dumps(data))
            os.replace(temporary, self.status_file)
        except OSError as exc:
            log.warning("git: cannot record the fetch status: %s", exc)

    def _git(self, *args: str, bare: bool = True, index: Path | None = None,
             timeout: float = LOCAL_TIMEOUT_SECONDS) -> str:
        command = ["git"] + (["--git-dir", str(self.repo)] if bare else []) + list(args)
        env = self._env if index is None else {**self._env, "GIT_INDEX_FILE": str(index)}
        try:
            done = subprocess.run(command, env=env, capture_output=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} took more than {timeout:g}s") from None
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            shown = "; ".join(line for line in message if line.strip())[-500:] or f"exit status {done.returncode}"
            raise GitError(redact(f"git {args[0]}: {shown}", self.config.url))
        return done.stdout.decode("utf-8", "surrogateescape")


def _git_environment(environ: dict[str, str], url: str) -> dict[str, str]:
    """The caller's environment (credential helpers, GIT_SSH_COMMAND, proxies) plus the remote's URL as config.

    Git never prompts (a service has no one to answer); the URL travels as `GIT_CONFIG_*`, which only
    this user can read, instead of on the command line or in a file.
    """
    env = {k: v for k, v in environ.items() if not k.startswith("FEEDSVC_")}
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    env["GIT_CONFIG_COUNT"] = str(count + 1)
    env[f"GIT_CONFIG_KEY_{count}"] = "remote.origin.url"
    env[f"GIT_CONFIG_VALUE_{count}"] = url
    env["GIT_TERMINAL_PROMPT"] = "0"
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    env.setdefault("LC_ALL", "C")
    return env


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
