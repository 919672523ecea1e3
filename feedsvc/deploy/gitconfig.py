"""Where a git source's content comes from (`FEEDSVC_GIT_*`), and how its secrets are kept out of sight.

The URL may carry a token (`https://x-access-token:TOKEN@…`): `redact` takes it out of anything
shown or logged, and `GitConfig`'s repr never shows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

_HTTP_USERINFO = re.compile(r"(?i)\b(https?|ftps?)://[^/@\s]*@")
_ANY_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/:@\s]*):[^/@\s]*@")


def redact(text: str, url: str = "") -> str:
    """`text` without credentials: no `user:pass@` (or token) in any URL, nor the given URL's secrets anywhere."""
    if url:
        for secret in _secrets_of(url):
            text = text.replace(secret, "***")
    text = _HTTP_USERINFO.sub(lambda m: f"{m.group(1)}://***@", text)
    return _ANY_PASSWORD.sub(lambda m: f"{m.group(1)}:***@", text)


def _secrets_of(url: str) -> list[str]:
    """The userinfo of an http(s) URL and the password of any other; longest first, so replacements nest."""
    match = re.match(r"(?i)^([a-z][a-z0-9+.-]*)://([^/@]*)@", url)
    if not match:
        return []
    scheme, userinfo = match.group(1).lower(), match.group(2)
    if scheme.startswith(("http", "ftp")):
        parts = [userinfo, *userinfo.split(":", 1)]
    else:
        parts = userinfo.split(":", 1)[1:]
    return sorted({part for part in parts if len(part) >= 3}, key=len, reverse=True)


@dataclass(frozen=True, slots=True)
class GitConfig:
    """Where the content comes from: `FEEDSVC_GIT_URL`, `FEEDSVC_GIT_BRANCH`, `FEEDSVC_GIT_SUBDIR`."""

    url: str
    branch: str = ""  # "": the remote's default branch
    subdir: str = ""  # "" or a relative POSIX path inside the repository

    def __repr__(self) -> str:
        return f"GitConfig(url={redact(self.url, self.url)!r}, branch={self.branch!r}, subdir={self.subdir!r})"

    @property
    def shown_url(self) -> str:
        return redact(self.url, self.url)


def git_config_from(environ: Mapping[str, str]) -> GitConfig | None:
    """None when no repository is configured; raises ValueError naming every unusable value."""
    url = environ.get("FEEDSVC_GIT_URL", "").strip()
    if not url:
        return None
    problems = []
    if url.startswith("-") or any(c.isspace() or ord(c) < 32 for c in url):
        problems.append("FEEDSVC_GIT_URL: not a repository URL or path")
    branch = environ.get("FEEDSVC_GIT_BRANCH", "").strip().removeprefix("refs/heads/")
    if branch and not _is_branch_name(branch):
        problems.append(f"FEEDSVC_GIT_BRANCH: not a branch name: {branch!r}")
    subdir = environ.get("FEEDSVC_GIT_SUBDIR", "").strip().strip("/")
    if subdir:
        parts = PurePosixPath(subdir).parts
        if any(part in ("..", ".") or part.startswith(".git") for part in parts) or "\\" in subdir:
            problems.append(f"FEEDSVC_GIT_SUBDIR: must be a folder inside the repository, got {subdir!r}")
        subdir = "/".join(parts)
    if problems:
        raise ValueError("; ".join(redact(p, url) for p in problems))
    return GitConfig(url, branch, subdir)


def _is_branch_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9._/+-]+", name)) and not name.startswith(("-", "/", ".")) \
        and ".." not in name and not name.endswith((".lock", "/", ".")) and "//" not in name
