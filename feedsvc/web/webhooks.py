"""Who may trigger a refresh: signed webhook requests, in the conventions that senders use.

- GitHub and compatible senders: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
  body with the shared secret as key. Gitea and Forgejo: the same HMAC in `X-Gitea-Signature` /
  `X-Forgejo-Signature`, as bare hex. Bitbucket Cloud: `X-Hub-Signature: sha256=<hex>`.
  GitLab: `X-Gitlab-Token`, the secret itself, compared in constant time.
- Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over
  `id.timestamp.body`, verified by the `standardwebhooks` package. A secret written as
  `whsec_<base64>` is used as those decoded bytes (that scheme's convention), any other as its UTF-8.
  A timestamp more than five minutes away is refused, and an id seen before is not acted on twice.

Everything here is independent of Flask: the web layer passes headers and bytes in and sends
back the status and JSON this returns. The secret never leaves this module.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, overload

from standardwebhooks.webhooks import Webhook

from feedsvc.web.forges import NotAPush, Push, content_paths, push_to, read_push

log = logging.getLogger("feedsvc")

MAX_BODY_BYTES = 1024 * 1024
TOLERANCE = timedelta(minutes=5)
WAIT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    scheme: str  # "github", "standard", or "" when no signature header was sent
    reason: str = ""  # why it was refused; safe to log (never contains the secret)
    delivery: str = ""  # the sender's id for this delivery (webhook-id, X-GitHub-Delivery)
    event: str = ""  # X-GitHub-Event, e.g. "push" or "ping"


class Headers(Protocol):
    """The request headers as `verify` reads them: werkzeug's (case-insensitive) Headers, or a dict."""

    @overload
    def get(self, key: str, /) -> str | None: ...

    @overload
    def get(self, key: str, default: str, /) -> str: ...


SIGNATURE_HEADERS = ("webhook-signature", "webhook-id", "X-Gitlab-Token", "X-Forgejo-Signature",
                     "X-Gitea-Signature", "X-Hub-Signature-256", "X-Hub-Signature")


def has_signature(headers: Headers) -> bool:
    """Whether the request claims any scheme at all: one that does not is refused before its body is read."""
    return any(headers.get(name) is not None for name in SIGNATURE_HEADERS)


def verify(secret: str, headers: Headers, body: bytes, now: datetime) -> Verdict:
    """Check a request's signature in whichever scheme it uses; constant-time comparisons only."""
    if headers.get("webhook-signature") is not None or headers.get("webhook-id") is not None:
        return _verify_standard(secret, headers, body, now)
    if headers.get("X-Gitlab-Token") is not None:
        return _verify_gitlab(secret, headers)
    for header, scheme in (("X-Forgejo-Signature", "forgejo"), ("X-Gitea-Signature", "gitea")):
        if headers.get(header) is not None:
            return _verify_plain_hex(secret, headers, body, header, scheme)
    if headers.get("X-Hub-Signature-256") is not None:
        return _verify_hub(secret, headers, body)
    if headers.get("X-Hub-Signature") is not None:
        return _verify_bitbucket(secret, headers, body)
    return Verdict(False, "", "no signature header (" + ", ".join(SIGNATURE_HEADERS[2:]) + " or webhook-signature)")


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _verify_plain_hex(secret: str, headers: Headers, body: bytes, header: str, scheme: str) -> Verdict:
    """Gitea and Forgejo: the HMAC-SHA256 of the body in hex, without a `sha256=` prefix."""
    given = headers.get(header, "").strip().lower()
    delivery = (headers.get("X-Forgejo-Delivery") or headers.get("X-Gitea-Delivery") or "")[:100]
    if not hmac.compare_digest(_hmac_hex(secret, body).encode(), given.encode("utf-8", "replace")):
        return Verdict(False, scheme, f"{header} does not match the body", delivery)
    return Verdict(True, scheme, "", delivery)


def _verify_gitlab(secret: str, headers: Headers) -> Verdict:
    """GitLab sends the secret itself (no signature over the body): compare it in constant time."""
    given = headers.get("X-Gitlab-Token", "")
    delivery = (headers.get("X-Gitlab-Event-UUID") or headers.get("X-Gitlab-Webhook-UUID") or "")[:100]
    if not hmac.compare_digest(secret.encode(), given.encode("utf-8", "replace")):
        return Verdict(False, "gitlab", "X-Gitlab-Token is not the secret", delivery)
    return Verdict(True, "gitlab", "", delivery)


def _verify_bitbucket(secret: str, headers: Headers, body: bytes) -> Verdict:
    """Bitbucket Cloud: `X-Hub-Signature: sha256=<hex>` (the SHA-1 form of older senders is not accepted)."""
    given = headers.get("X-Hub-Signature", "").strip().lower()
    delivery = headers.get("X-Request-UUID", "")[:100]
    if not hmac.compare_digest(("sha256=" + _hmac_hex(secret, body)).encode(), given.encode("utf-8", "replace")):
        return Verdict(False, "bitbucket", "X-Hub-Signature is not sha256=<HMAC of the body>", delivery)
    return Verdict(True, "bitbucket", "", delivery)


def _verify_hub(secret: str, headers: Headers, body: bytes) -> Verdict:
    given = headers.get("X-Hub-Signature-256", "").strip()
    delivery = headers.get("X-GitHub-Delivery", "")[:100]
    event = headers.get("X-GitHub-Event", "")[:100]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace")):
        return Verdict(False, "github", "X-Hub-Signature-256 does not match the body", delivery, event)
    return Verdict(True, "github", "", delivery, event)


def _verify_standard(secret: str, headers: Headers, body: bytes, now: datetime) -> Verdict:
    message_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not message_id or not stamp or not headers.get("webhook-signature"):
        return Verdict(False, "standard", "webhook-id, webhook-timestamp and webhook-signature are all required")
    try:
        sent = datetime.fromtimestamp(int(stamp), UTC)
    except (ValueError, OverflowError, OSError):
        return Verdict(False, "standard", "webhook-timestamp is not a Unix time in seconds", message_id[:100])
    if abs(now - sent) > TOLERANCE:
        return Verdict(False, "standard", f"webhook-timestamp is {abs(now - sent).total_seconds():.0f}s away "
                                          "from now (more than 5 minutes): refused as a possible replay",
                       message_id[:100])
    key: str | bytes = secret if secret.startswith("whsec_") else secret.encode()
    try:
        Webhook(key).verify(body, {name: headers.get(name, "") for name in
                                   ("webhook-id", "webhook-timestamp", "webhook-signature")}, json_parse=False)
    except Exception:  # the package raises several types for malformed input; all mean "not verified"
        return Verdict(False, "standard", "webhook-signature does not match (or is malformed)", message_id[:100])
    return Verdict(True, "standard", "", message_id[:200])


class SeenIds(Protocol):
    def first_time(self, message_id: str, now: float) -> bool: ...


class SeenInMemory:
    """Ids seen by this process, forgotten once their timestamps could no longer pass anyway."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, message_id: str, now: float) -> bool:
        horizon = now - 2 * TOLERANCE.total_seconds()
        with self._lock:
            if len(self._seen) > 1000:
                self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
            if message_id in self._seen and self._seen[message_id] >= horizon:
                return False
            self._seen[message_id] = now
            return True


class SeenInFolder:
    """Ids seen by any worker of the deployment: an exclusive create is atomic across processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._last_prune = 0.0

    def first_time(self, message_id: str, now: float) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._prune(now)
        name = hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
        try:
            fd = os.open(self.folder / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def _prune(self, now: float) -> None:
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        horizon = now - 2 * TOLERANCE.total_seconds()
        for entry in os.scandir(self.folder):
            try:
                if entry.stat().st_mtime < horizon:
                    os.unlink(entry.path)
            except OSError:
                pass  # another worker pruned it first


class PushTarget(Protocol):
    """The git source (deploy/gitsource.py), as a push webhook sees it."""

    @property
    def branch(self) -> str: ...

    def want(self, commit: str) -> None: ...

    def served_commit(self) -> str | None: ...


class Refreshes(Protocol):
    """Asks for a refresh and reads its outcome; in this process or in the deployment's builder."""

    def request(self, trigger: str, commit: str | None = None, named: frozenset[str] | None = None) -> str:
        """`commit`: the pushed commit, for a builder in another process to fetch by id. `named`: the content
        files the push says it changed, a hint: they are looked at first, and a full walk follows soon after."""
        ...

    def outcome(self, refresh_id: str, timeout: float) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    outcome: str  # for metrics: accepted, done, duplicate, ping, unauthorized


class WebhookReceiver:
    """Turns a verified request into at most one refresh request; everything else changes nothing."""

    def __init__(self, secret: str, refreshes: Refreshes, seen: SeenIds,
                 clock: Callable[[], float] = time.time, source: PushTarget | None = None) -> None:
        """With a git `source`, only a forge's push to its branch publishes (forges.py); without one,
        any verified request rescans the folder: first only the files a forge's push names, if it names
        them (`named_by`), then all of them."""
        if not secret:
            raise ValueError("a webhook receiver needs a secret")
        self._secret = secret
        self.source = source
        self.refreshes = refreshes
        self.seen = seen
        self.clock = clock

    def __repr__(self) -> str:
        return "WebhookReceiver(secret=<hidden>)"

    def handle(self, headers: Headers, body: bytes, wait: bool, remote: str = "") -> Answer:
        now = self.clock()
        verdict = verify(self._secret, headers, body, datetime.fromtimestamp(now, UTC))
        if not verdict.ok:
            log.warning("webhook from %s refused: %s", remote or "?", verdict.reason)
            return Answer(401, {"error": "signature missing or invalid"}, "unauthorized")
        if verdict.scheme == "standard" and not self.seen.first_time(verdict.delivery, now):
            log.info("webhook %s from %s already handled; ignored", verdict.delivery, remote or "?")
            return Answer(200, {"status": "duplicate", "id": verdict.delivery}, "duplicate")
        if verdict.event == "ping":
            return Answer(200, {"status": "pong"}, "ping")
        push: Push | None = None
        named: frozenset[str] | None = None
        if self.source is not None and verdict.scheme != "standard":
            decided = self._push(headers, body, remote)
            if isinstance(decided, Answer):
                return decided
            push = decided
        elif verdict.scheme != "standard":
            named = named_by(headers, body)
        if named is None:
            refresh_id = self.refreshes.request("webhook", commit=push.commit if push is not None else None)
        else:
            refresh_id = self.refreshes.request("webhook", named=named)
        log.info("webhook (%s%s) from %s: refresh %s requested", verdict.scheme,
                 f" {verdict.event}" if verdict.event else "", remote or "?", refresh_id)
        if not wait:
            return Answer(202, {"status": "queued", "refresh": refresh_id,
                                **({"pushed": push.commit} if push is not None else {})}, "accepted")
        outcome = self.refreshes.outcome(refresh_id, WAIT_SECONDS)
        if outcome is None:
            return Answer(202, {"status": "queued", "refresh": refresh_id,
                                "note": f"not finished within {WAIT_SECONDS:g}s"}, "accepted")
        served = {"commit": self.source.served_commit()} if self.source is not None else {}
        if push is not None:
            served["pushed"] = push.commit
        return Answer(200, {"status": "done", **outcome, **served}, "done")

    def _push(self, headers: Headers, body: bytes, remote: str) -> Push | Answer:
        """The push to publish, or the answer for a request that publishes nothing."""
        assert self.source is not None
        try:
            reported = read_push(headers, body)
        except ValueError as exc:
            log.warning("webhook from %s: not a push payload: %s", remote or "?", exc)
            return Answer(400, {"error": f"not a push payload: {exc}"}, "invalid")
        if isinstance(reported, NotAPush):
            if reported.ping:
                return Answer(200, {"status": "pong"}, "ping")
            what = f"{reported.sender} event {reported.event!r}" if reported.sender \
                else "a request naming no forge event"
            return Answer(200, {"status": "ignored", "reason": f"{what} is not a push"}, "ignored")
        branch = self.source.branch
        push = push_to(reported, branch)
        if push is None:
            refs = ", ".join(p.ref for p in reported)
            return Answer(200, {"status": "ignored", "reason": f"a push to {refs}, not to branch {branch}"},
                          "ignored")
        if push.commit is None:
            return Answer(200, {"status": "ignored", "reason": f"branch {branch} was deleted; still serving "
                                                              f"{self.source.served_commit()}"}, "ignored")
        self.source.want(push.commit)
        log.info("webhook: %s push to %s: %s%s", push.sender, branch, push.commit[:12],
                 " (forced)" if push.forced else "")
        return push


def named_by(headers: Headers, body: bytes) -> frozenset[str] | None:
    """The files a forge's push to a plain folder source says it changed, as paths in that folder (taken as
    the repository's root); None when the request is no such push or does not say (forges.py)."""
    try:
        reported = read_push(headers, body)
    except ValueError:
        return None  # any verified request still rescans the folder, as it always has
    if isinstance(reported, NotAPush) or len(reported) != 1 or reported[0].paths is None:
        return None
    return content_paths(reported[0].paths, "")
