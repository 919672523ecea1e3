"""Push webhooks that publish: each forge's signature and payload, end to end against `git daemon`.

The payloads are written here after each sender's documented shape (only the fields a push carries
that matter, plus some of the usual others), not copied from their documentation.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import post_text
from gitforge import Forge, first_post_forge, git, serve_daemon

from feedsvc.deploy.service import Service
from feedsvc.web.forges import NotAPush, Push, read_push
from feedsvc.web.webhooks import has_signature, verify

SECRET = "a shared webhook secret"
Sign = Callable[[str, str, str], tuple[dict[str, str], bytes]]  # (ref, before, after) -> headers, body


def _hmac(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def github(ref: str, before: str, after: str, event: str = "push", forced: bool = False) -> tuple[dict, bytes]:
    body = json.dumps({
        "ref": ref, "before": before, "after": after, "created": False, "deleted": after == "0" * 40,
        "forced": forced, "base_ref": None, "compare": "https://github.com/o/site/compare/x...y",
        "commits": [{"id": after, "message": "a post", "distinct": True}], "head_commit": {"id": after},
        "repository": {"full_name": "o/site", "default_branch": "main"}, "pusher": {"name": "o"},
    }).encode()
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "X-Hub-Signature-256": "sha256=" + _hmac(body), "Content-Type": "application/json"}, body


def gitea_like(name: str) -> Callable[..., tuple[dict, bytes]]:
    def send(ref: str, before: str, after: str, event: str = "push") -> tuple[dict, bytes]:
        body = json.dumps({
            "ref": ref, "before": before, "after": after, "compare_url": "",
            "commits": [{"id": after, "message": "a post\n"}], "total_commits": 1,
            "head_commit": {"id": after}, "repository": {"full_name": "o/site", "default_branch": "main"},
            "pusher": {"login": "o"}, "sender": {"login": "o"},
        }).encode()
        title = name.capitalize()
        return {f"X-{title}-Event": event, f"X-{title}-Delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473",
                f"X-{title}-Signature": _hmac(body), "Content-Type": "application/json"}, body
    return send


def gitlab(ref: str, before: str, after: str, event: str = "Push Hook") -> tuple[dict, bytes]:
    body = json.dumps({
        "object_kind": "tag_push" if ref.startswith("refs/tags/") else "push", "event_name": "push",
        "before": before, "after": after, "ref": ref, "ref_protected": True, "checkout_sha": after,
        "user_username": "o", "project_id": 15, "project": {"path_with_namespace": "o/site",
                                                             "default_branch": "main"},
        "commits": [{"id": after, "message": "a post"}], "total_commits_count": 1,
    }).encode()
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": SECRET, "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8",
            "Content-Type": "application/json"}, body


def bitbucket(ref: str, before: str, after: str, event: str = "repo:push", forced: bool = False
              ) -> tuple[dict, bytes]:
    kind = "tag" if ref.startswith("refs/tags/") else "branch"
    name = ref.split("/", 2)[2]
    body = json.dumps({
        "actor": {"display_name": "O"}, "repository": {"full_name": "o/site", "type": "repository"},
        "push": {"changes": [{
            "new": {"type": kind, "name": name, "target": {"type": "commit", "hash": after}},
            "old": {"type": kind, "name": name, "target": {"type": "commit", "hash": before}},
            "created": False, "closed": False, "forced": forced, "truncated": False,
            "commits": [{"hash": after, "type": "commit"}],
        }]},
    }).encode()
    return {"X-Event-Key": event, "X-Request-UUID": "afe8b3b4-0c6e-4a5e-8f0e", "X-Hook-UUID": "cb2f",
            "X-Hub-Signature": "sha256=" + _hmac(body), "Content-Type": "application/json"}, body


SENDERS: dict[str, Callable[..., tuple[dict, bytes]]] = {
    "github": github, "gitea": gitea_like("gitea"), "forgejo": gitea_like("forgejo"), "gitlab": gitlab,
    "bitbucket": bitbucket,
}
A, B = "a" * 40, "b" * 40


@pytest.mark.parametrize("sender", SENDERS)
def test_each_sender_signature_is_checked(sender: str) -> None:
    headers, body = SENDERS[sender]("refs/heads/main", A, B)
    assert verify(SECRET, headers, body, now=None).ok  # type: ignore[arg-type]  # no clock for these schemes
    assert not verify("another secret", headers, body, now=None).ok  # type: ignore[arg-type]
    if sender != "gitlab":  # GitLab signs nothing: its token is the secret itself
        assert not verify(SECRET, headers, body + b" ", now=None).ok  # type: ignore[arg-type]
    assert has_signature(headers)
    assert not has_signature({"X-GitHub-Event": "push", "Content-Type": "application/json"})


def test_bitbucket_sha1_signatures_are_not_accepted() -> None:
    headers, body = bitbucket("refs/heads/main", A, B)
    headers["X-Hub-Signature"] = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert not verify(SECRET, headers, body, now=None).ok  # type: ignore[arg-type]


@pytest.mark.parametrize("sender", SENDERS)
def test_each_sender_push_is_read(sender: str) -> None:
    headers, body = SENDERS[sender]("refs/heads/main", A, B)
    assert read_push(headers, body) == (Push(sender, "refs/heads/main", B),)
    headers, body = SENDERS[sender]("refs/tags/v1", A, B, **({"event": "Tag Push Hook"} if sender == "gitlab" else {}))
    (tag,) = read_push(headers, body)  # type: ignore[misc]
    assert tag.ref == "refs/tags/v1" and tag.branch is None


def test_deletions_forced_pushes_and_other_events() -> None:
    headers, body = github("refs/heads/main", A, "0" * 40)
    assert read_push(headers, body) == (Push("github", "refs/heads/main", None),)
    headers, body = github("refs/heads/main", A, B, forced=True)
    assert read_push(headers, body) == (Push("github", "refs/heads/main", B, forced=True),)
    headers, body = bitbucket("refs/heads/main", A, B, forced=True)
    assert read_push(headers, body) == (Push("bitbucket", "refs/heads/main", B, forced=True),)
    assert read_push(*github("refs/heads/main", A, B, event="ping")) == NotAPush("github", "ping", ping=True)
    assert read_push(*gitlab("refs/heads/main", A, B, event="Merge Request Hook")) == \
        NotAPush("gitlab", "Merge Request Hook")
    with pytest.raises(ValueError):
        read_push({"X-GitHub-Event": "push"}, b"[1, 2]")


# -- end to end: git daemon on 127.0.0.1, a Service fetching from it, webhooks posted by the test ----------


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    return first_post_forge(tmp_path)


@pytest.fixture
def service(forge: Forge, tmp_path: Path) -> Iterator[Service]:
    with serve_daemon(forge.remote.parent) as base:
        service = Service({"FEEDSVC_GIT_URL": f"{base}/remote.git", "FEEDSVC_STATE_DIR": str(tmp_path / "state"),
                           "FEEDSVC_WEBHOOK_SECRET": SECRET, "FEEDSVC_RESCAN_SECONDS": "3600"})
        service.queue.start()
        try:
            yield service
        finally:
            service.queue.stop()


def _post(service: Service, headers: dict[str, str], body: bytes, wait: bool = True) -> tuple[int, dict]:
    response = service.app.test_client().post("/hooks/refresh" + ("?wait=1" if wait else ""), data=body,
                                              headers=headers)
    return response.status_code, response.get_json() or {}


def _titles(service: Service) -> str:
    return service.app.test_client().get("/rss.xml").get_data(as_text=True)


@pytest.mark.parametrize("sender", SENDERS)
def test_a_push_publishes_and_the_answer_names_the_commit(sender: str, forge: Forge, service: Service) -> None:
    before = git("rev-parse", "HEAD", cwd=forge.work).strip()
    after = forge.commit("a post", {"_posts/2026-05-01-pushed.md": post_text("title: Pushed\ndate: 2026-05-01")})
    status, answer = _post(service, *SENDERS[sender]("refs/heads/main", before, after))
    assert status == 200 and answer["status"] == "done", answer
    assert answer["commit"] == after and answer["pushed"] == after
    assert answer["added"] == ["_posts/2026-05-01-pushed.md"] and answer["updated"] == []
    assert "<title>Pushed</title>" in _titles(service)


@pytest.mark.parametrize("sender", SENDERS)
def test_other_branches_and_tags_are_ignored(sender: str, forge: Forge, service: Service) -> None:
    served = git("rev-parse", "HEAD", cwd=forge.work).strip()
    other = forge.commit("elsewhere", {"_posts/2026-05-02-draft.md": post_text("title: Draft\ndate: 2026-05-02")},
                         branch="drafts")
    status, answer = _post(service, *SENDERS[sender]("refs/heads/drafts", served, other))
    assert status == 200 and answer["status"] == "ignored" and "drafts" in answer["reason"]
    git("tag", "v1", cwd=forge.work)
    git("push", "--quiet", "origin", "v1", cwd=forge.work)
    tag_event = {"event": "Tag Push Hook"} if sender == "gitlab" else {}
    status, answer = _post(service, *SENDERS[sender]("refs/tags/v1", "0" * 40, other, **tag_event))
    assert status == 200 and answer["status"] == "ignored"
    assert "Draft" not in _titles(service)
    assert service.git is not None and service.git.served_commit() == served


def test_a_force_push_publishes_the_rewritten_branch(forge: Forge, service: Service) -> None:
    first = git("rev-parse", "HEAD", cwd=forge.work).strip()
    mistake = forge.commit("mistake", {"_posts/2026-05-03-oops.md": post_text("title: Oops\ndate: 2026-05-03")})
    assert _post(service, *github("refs/heads/main", first, mistake))[1]["commit"] == mistake
    assert "<title>Oops</title>" in _titles(service)
    git("reset", "--quiet", "--hard", first, cwd=forge.work)
    fixed = forge.commit("fixed", {"_posts/2026-05-03-fine.md": post_text("title: Fine\ndate: 2026-05-03")},
                         push=False)
    forge.push(force=True)
    status, answer = _post(service, *github("refs/heads/main", mistake, fixed, forced=True))
    assert status == 200 and answer["commit"] == fixed
    assert answer["removed"] == ["_posts/2026-05-03-oops.md"] and answer["added"] == ["_posts/2026-05-03-fine.md"]
    feed = _titles(service)
    assert "<title>Fine</title>" in feed and "Oops" not in feed


def test_a_bad_signature_changes_nothing(forge: Forge, service: Service) -> None:
    before = git("rev-parse", "HEAD", cwd=forge.work).strip()
    after = forge.commit("a post", {"_posts/2026-05-04-x.md": post_text("title: Sneaky\ndate: 2026-05-04")})
    headers, body = github("refs/heads/main", before, after)
    headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    assert _post(service, headers, body)[0] == 401
    assert service.git is not None and service.git.served_commit() == before


class _Untouchable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        raise AssertionError("the body of an unsigned request was read")


def test_an_unsigned_request_is_refused_before_its_body_is_read(service: Service) -> None:
    response = service.app.test_client().post(
        "/hooks/refresh?wait=1", headers={"X-GitHub-Event": "push", "Content-Length": "100"},
        environ_overrides={"wsgi.input": _Untouchable()})
    assert response.status_code == 401
