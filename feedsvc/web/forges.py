"""What a forge's push webhook says: which sender, which event, which branch moved to which commit.

Pure: headers and bytes in, a `Push` (or the reason to ignore the request) out. Signatures are
checked before this runs (webhooks.py); nothing here trusts the body beyond reading these fields.

- GitHub (`X-GitHub-Event: push`), Gitea and Forgejo (`X-Gitea-Event` / `X-Forgejo-Event: push`):
  `ref`, `before`, `after`, and GitHub's `forced` / `deleted` / `created`; `commits[].added/modified/removed`.
- GitLab (`X-Gitlab-Event: Push Hook`; `Tag Push Hook` is a tag): `ref`, `before`, `after`, `commits[]`
  (with `total_commits_count`).
- Bitbucket Cloud (`X-Event-Key: repo:push`): `push.changes[]`, each with `new` / `old` ({type, name,
  target.hash}) and `forced`, one per ref the push moved; no file names.

The files a push names (`Push.paths`) are a hint, never the only check: senders cut their commit lists
short (GitLab at 20 commits; GitHub caps its list too), so a list of 20 or more, a forced or new branch,
and any name that is not a plain relative path make the whole hint unknown (None).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feedsvc.web.webhooks import Headers

_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_ZERO = re.compile(r"^0+$")
_LISTED_COMMITS = 20  # GitLab's most (and the Events API's): a list this long may have been cut short
MAX_PATHS = 5000  # more names than this: looking at every file costs about the same


@dataclass(frozen=True, slots=True)
class Push:
    """A branch or tag moved. `commit` is None when the ref was deleted."""

    sender: str
    ref: str  # full ref name: refs/heads/<branch> or refs/tags/<tag>
    commit: str | None
    forced: bool = False
    paths: frozenset[str] | None = None  # repository paths its commits added, modified or removed; None: unknown

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else None


@dataclass(frozen=True, slots=True)
class NotAPush:
    """A verified request that is no push: `ping` is answered, anything else ignored."""

    sender: str
    event: str
    ping: bool = False


def sender_of(headers: Headers) -> tuple[str, str]:
    """(sender, event) from the event headers; ("", "") when no forge names itself."""
    for header, sender in (("X-Forgejo-Event", "forgejo"), ("X-Gitea-Event", "gitea"),
                           ("X-Gitlab-Event", "gitlab"), ("X-Event-Key", "bitbucket"),
                           ("X-GitHub-Event", "github")):
        value = headers.get(header)
        if value:
            return sender, value.strip()[:100]
    return "", ""


def read_push(headers: Headers, body: bytes) -> tuple[Push, ...] | NotAPush:
    """The refs this request reports moved, or why it is no push; raises ValueError on a push body without them."""
    sender, event = sender_of(headers)
    if sender in ("github", "gitea", "forgejo"):
        if event == "ping":
            return NotAPush(sender, event, ping=True)
        if event != "push":
            return NotAPush(sender, event)
        return (_github_like(sender, _object(body)),)
    if sender == "gitlab":
        if event not in ("Push Hook", "Tag Push Hook"):
            return NotAPush(sender, event)
        return (_github_like(sender, _object(body)),)
    if sender == "bitbucket":
        if event != "repo:push":
            return NotAPush(sender, event)
        return _bitbucket(_object(body))
    return NotAPush(sender, event)


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    return data


def _github_like(sender: str, data: Mapping[str, Any]) -> Push:
    ref = data.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/"):
        raise ValueError("a push without `ref`")
    after = data.get("after")
    commit = after.lower() if isinstance(after, str) and _COMMIT.match(after.lower()) else None
    if commit is not None and _ZERO.match(commit):
        commit = None
    if data.get("deleted") is True:
        commit = None
    forced = data.get("forced") is True
    paths = None if forced or commit is None or data.get("created") is True else _commit_paths(data)
    return Push(sender, ref, commit, forced=forced, paths=paths)


def _commit_paths(data: Mapping[str, Any]) -> frozenset[str] | None:
    """Every file the listed commits touched, or None unless the list is provably whole and every name plain."""
    commits = data.get("commits")
    if not isinstance(commits, list) or not commits or len(commits) >= _LISTED_COMMITS:
        return None
    total = data.get("total_commits_count", data.get("total_commits"))  # GitLab's, Gitea's
    if total is not None and (not isinstance(total, int) or total != len(commits)):
        return None
    found: set[str] = set()
    for commit in commits:
        if not isinstance(commit, Mapping):
            return None
        for key in ("added", "modified", "removed"):
            names = commit.get(key)
            if not isinstance(names, list) or not all(isinstance(name, str) and plain_path(name) for name in names):
                return None
            found.update(names)
            if len(found) > MAX_PATHS:
                return None
    return frozenset(found)


def plain_path(name: str) -> bool:
    """A relative "/"-separated path of real names: no "", ".", "..", absolute form, NUL or unencodable text."""
    if not name or "\0" in name or "\\" in name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _bitbucket(data: Mapping[str, Any]) -> tuple[Push, ...]:
    push = data.get("push")
    changes = push.get("changes") if isinstance(push, Mapping) else None
    if not isinstance(changes, list) or not changes:
        raise ValueError("a push without `push.changes`")
    found: list[Push] = []
    for change in changes:
        if not isinstance(change, Mapping):
            continue
        new, old = change.get("new"), change.get("old")
        side = new if isinstance(new, Mapping) else old if isinstance(old, Mapping) else None
        if side is None or not isinstance(side.get("name"), str):
            continue
        kind = "refs/tags/" if side.get("type") in ("tag", "annotated_tag") else "refs/heads/"
        target = new.get("target") if isinstance(new, Mapping) else None
        hash_ = target.get("hash") if isinstance(target, Mapping) else None
        commit = hash_.lower() if isinstance(hash_, str) and _COMMIT.match(hash_.lower()) else None
        found.append(Push("bitbucket", kind + side["name"], commit, forced=change.get("forced") is True))
    if not found:
        raise ValueError("a push whose changes name no branch or tag")
    return tuple(found)


def paths_from(value: object) -> frozenset[str] | None:
    """Named paths read back from another worker's request (untrusted): None unless every one is plain."""
    if not isinstance(value, list) or len(value) > MAX_PATHS:
        return None
    if not all(isinstance(name, str) and plain_path(name) for name in value):
        return None
    return frozenset(value)


def content_paths(paths: frozenset[str], subdir: str) -> frozenset[str]:
    """The repository paths below `subdir` (the site's folder in the repository, "" for its root), relative to it."""
    if not subdir:
        return paths
    prefix = subdir.strip("/") + "/"
    return frozenset(path.removeprefix(prefix) for path in paths if path.startswith(prefix))


def push_to(pushes: tuple[Push, ...], branch: str) -> Push | None:
    """The last update of `branch` among the refs one request reports."""
    return next((push for push in reversed(pushes) if push.branch == branch), None)
