"""The state folder: the files through which the worker processes of one deployment share their work.

This is the one description of its layout; the modules named here point back to it. The folder
is FEEDSVC_STATE_DIR, else `<state home>/<hash of the content folder and the FEEDSVC_* settings
that hold no secret>` (`config.state_dir_from`). The election and the protocol (who writes what, and when) are in
workers.py. "Builder" is the elected worker, or the process that builds before it forks its
workers (`Service.publish_state`).

- `builder.lock`: empty; the builder holds an exclusive `flock` on it (workers.py).
- `manifest.json`: the published snapshot, written by the builder (`StateFolder.write_snapshot`):
  `format`, `key` (the `config.settings_key` it was built under), `generation`, `writer` (pid),
  `stats` (what /status shows), `resources` (URL path -> `type`, `etag`, `gzip_sha256`, `size`,
  `modified`, `headers`), `aliases` (old path -> path) and `redirects` (old path -> URL). Replaced
  by an atomic rename once every blob it names exists.
- `blobs/<etag>.gz`: one resource's bytes, gzip as served, written once (content addressed) by the
  builder. Kept while the newest manifest or the one before names it, and `BLOB_GRACE_SECONDS` more
  (a request may be reading it: serving processes read blobs when sent, blobs.py); a blob whose
  SHA-256 differs from the manifest's `gzip_sha256` is never served. A builder writes only blobs it wrote itself or
  checked against that hash as it warm-started (and are still there), never trusting one it merely finds.
- `status.json`: the builder's `details` (scheduler, last refresh, WebSub) and its last `scan`.
- `requests/<id>.json`: a follower's request, `{"trigger": ...}` (a refresh) or `{"render": key}`
  (an archive page or filtered feed, web/ondemand.py); the builder deletes it as it takes it.
- `results/<id>.json`: the builder's answer, a refresh summary (pipeline/triggers.py `summarize`) or
  a rendered resource (`answer_to_json`); the asker deletes a render's, the builder any after 120 s.
- `posts/`: the builder's post cache (pipeline/postcache.py). `posts/index.json` names, per post
  file, its signature and the file holding what it parsed to (with that file's SHA-256, checked as
  it is read), the files of last good versions of files now in error, and per rendered path its
  render key and ETag, under an identity (cache
  format, feedsvc version, `Post`'s shape) and the settings fingerprints. Each `posts/<hash>.json.z`
  (one `Post` or `Problem` as zlib-compressed JSON, pipeline/postcodec.py; never a pickle) is
  written once; the index is replaced last. A body kept as Markdown names its flavour by a key the
  index's `flavours` maps to the Markdown options (pipeline/flavourcodec.py).
- `webhook-ids/<sha256 of a delivery id>`: empty files, one per webhook delivery any worker took
  (web/webhooks.py `SeenInFolder`), so a replay is refused; pruned after twice the signature tolerance.
- `metrics/`: prometheus-client's multiprocess files (web/metrics.py), emptied as a serving `Service` starts.
- `.<name>.<pid>.<thread id>.tmp`: a write in progress (atomicfile.py), beside the file it replaces;
  a newly elected builder removes leftovers from the top folder, `blobs/`, `requests/` and `results/`.

The folder is private to the service (deploy/privatefolder.py): by default under
`$STATE_DIRECTORY`, `$XDG_STATE_HOME/feedsvc` or `~/.local/state/feedsvc` (`config.default_state_home`),
never the shared temp dir; it is refused if it is a link, belongs to another user, or others can
write to it or to a folder above it. Folders are created 0700 and files 0600; files are read and
written without following links (atomicfile.py). What is read back is still checked: the manifest
field by field, each blob against the hash in the manifest, the post cache as plain JSON.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from feedsvc.atomicfile import read_private, write_atomically
from feedsvc.deploy.blobs import Blob, read_checked
from feedsvc.deploy.privatefolder import claim_folder, subfolder
from feedsvc.model import Resource, ScanStatus
from feedsvc.snapshot import Served
from feedsvc.web.ondemand import Answer, Refusal

log = logging.getLogger("feedsvc")

MANIFEST_FORMAT = 2
# A follower reads a new manifest within 0.1 s (workers.py), a request reads its blob within a millisecond
# of picking its snapshot: a minute is many times both, even on a loaded machine.
BLOB_GRACE_SECONDS = 60.0
MAX_JSON_BYTES = 256 * 1024 * 1024  # a manifest of 100,000 feeds is ~40 MB
_ETAG = re.compile(r"[0-9a-f]{16,64}")  # names a blob file: never a path


STATE_FOLDER = "state folder"  # the area its troubles are reported under (SnapshotStore.trouble)


def cannot_write(exc: OSError) -> str:
    """A trouble's reason, without the folder's path (/healthz is public)."""
    return f"cannot write ({exc.strerror or exc}); serving the last feeds from memory"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object written by `write_atomically`, or None if absent, unreadable or reached through a link."""
    try:
        data = json.loads(read_private(path, MAX_JSON_BYTES))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class StateFolder:
    """The files of the state folder, and how to write and read a snapshot through them."""

    def __init__(self, root: Path) -> None:
        """Refuses (privatefolder.UnsafeFolder) a folder that someone else could write to."""
        self.root = root = claim_folder(root)
        self.blobs = subfolder(root, "blobs")
        self.requests = subfolder(root, "requests")
        self.results = subfolder(root, "results")
        self.manifest = root / "manifest.json"
        self.status = root / "status.json"
        self.lock = root / "builder.lock"
        self._written: dict[str, str] = {}  # etag -> sha256 of the gzip blob this process wrote
        self._last: set[str] | None = None  # etags of the last manifest written
        self._before_last: set[str] = set()  # and of the one before it
        self._retired: dict[str, float] = {}  # etag -> when no manifest kept naming it (time.monotonic)
        # etag -> (sha256, size) of blobs whose bytes the first `read_snapshot` checked against the
        # manifest: a warm-started builder need not write them again (2,000 feeds: ~60 MB) if still there.
        self._checked: dict[str, tuple[str, int]] = {}

    # -- the builder's side ----------------------------------------------------------

    def write_snapshot(self, snapshot: Served, key: str = "") -> None:
        """Write the blobs this snapshot needs, then the manifest; drop blobs no manifest names any more."""
        entries: dict[str, dict[str, Any]] = {}
        for path, resource in snapshot.resources.items():
            digest = self._written.get(resource.etag) or self._still_there(resource.etag)
            if digest is None:  # a blob this process did not write (or check) is never trusted
                digest = self._write_blob(resource)
            entries[path] = {
                "type": resource.content_type,
                "etag": resource.etag,
                "gzip_sha256": digest,
                "size": resource.size,
                "modified": resource.last_modified.isoformat() if resource.last_modified else None,
                "headers": [list(pair) for pair in resource.headers],
            }
        aliases = {alias: resource.path for alias, resource in snapshot.aliases.items()}
        manifest = {"format": MANIFEST_FORMAT, "key": key, "generation": snapshot.generation,
                    "writer": os.getpid(), "stats": dict(snapshot.stats), "resources": entries,
                    "aliases": aliases, "redirects": dict(snapshot.redirects)}
        first, previous = self._last is None, {}
        if first:  # what the manifest we replace names: a follower may still be loading it
            previous = read_json(self.manifest) or {}
            self._last = {entry["etag"] for entry in previous.get("resources", {}).values()}
        # A warm start's generation published again unchanged: rewritten, followers would reload it for nothing.
        if not (first and _same_but_writer(previous, json.loads(json.dumps(manifest)))):
            write_atomically(self.manifest, json.dumps(manifest).encode())
        self._collect_garbage({entry["etag"] for entry in entries.values()}, sweep=first)

    def _write_blob(self, resource: Resource) -> str:
        """Its SHA-256, once its blob holds its bytes; one this process serves from here is checked, not copied."""
        path, blob = self.blobs / f"{resource.etag}.gz", resource.gzip
        if isinstance(blob, Blob) and blob.path == str(path):
            read_checked(blob.path, blob.sha256, blob.length)  # the file itself, not bytes held
            digest = blob.sha256
        else:
            gzip_body = resource.gzip_body
            digest = hashlib.sha256(gzip_body).hexdigest()
            write_atomically(path, gzip_body)
        self._written[resource.etag] = digest
        return digest

    def _still_there(self, etag: str) -> str | None:
        """The digest of a blob this process checked as it loaded, if the file is still there."""
        checked = self._checked.pop(etag, None)
        if checked is None:
            return None
        try:
            status = os.lstat(self.blobs / f"{etag}.gz")
        except OSError:
            return None
        if not stat.S_ISREG(status.st_mode) or status.st_size != checked[1]:
            return None
        self._written[etag] = checked[0]
        return checked[0]

    def adopt(self, snapshot: Served, key: str) -> bool:
        """Take over what our parent process (`feedsvc serve`, before it started the server) wrote for
        this very snapshot, instead of writing it all again; False if the folder holds anything else."""
        manifest = read_json(self.manifest)
        if not manifest or manifest.get("format") != MANIFEST_FORMAT or manifest.get("key") != key \
                or manifest.get("generation") != snapshot.generation or manifest.get("writer") != os.getppid():
            return False
        entries = manifest.get("resources", {})
        if any(entries.get(path, {}).get("etag") != resource.etag for path, resource in snapshot.resources.items()):
            return False
        self._written = {entry["etag"]: entry["gzip_sha256"] for entry in entries.values()}
        self._last = set(self._written)
        return True

    def _collect_garbage(self, current: set[str], sweep: bool) -> None:
        """Keep the blobs of this manifest and the one before, and any other for `BLOB_GRACE_SECONDS` after
        the last manifest naming it was replaced: a request may still read it (blobs.py). `sweep` the
        folder once per builder."""
        last = self._last or set()
        now = time.monotonic()
        if sweep:
            doomed = {entry.name.removesuffix(".gz") for entry in os.scandir(self.blobs)
                      if not entry.name.startswith(".")} - current - last
            self._retired = dict.fromkeys(doomed, now - BLOB_GRACE_SECONDS)
        else:
            for etag in self._before_last - last - current:
                self._retired.setdefault(etag, now)
        for etag in current | last:
            self._retired.pop(etag, None)
        for etag, since in list(self._retired.items()):
            if now - since >= BLOB_GRACE_SECONDS:
                with contextlib.suppress(OSError):
                    os.unlink(self.blobs / f"{etag}.gz")
                self._written.pop(etag, None)
                del self._retired[etag]
        self._before_last, self._last = last, current

    def write_status(self, details: Mapping[str, Any], scan: ScanStatus) -> None:
        body = {"details": details, "scan": {"at": scan.at.isoformat() if scan.at else None,
                                             "seconds": scan.seconds, "trigger": scan.trigger, "error": scan.error}}
        write_atomically(self.status, json.dumps(body, default=str).encode())

    def clear_leftovers(self) -> None:
        """Temporary files of a builder that was killed mid-write."""
        for folder in (self.root, self.blobs, self.requests, self.results):
            for entry in os.scandir(folder):
                if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    # -- a follower's side -------------------------------------------------------------

    def read_snapshot(self, current: Served | None, key: str | None = None) -> Served | None:
        """The published snapshot, reusing `current`'s bytes where the ETag is unchanged; None if unusable.

        With `key`, only a snapshot written under those settings (see `config.settings_key`) will do.
        """
        manifest = read_json(self.manifest)
        if not manifest or manifest.get("format") != MANIFEST_FORMAT:
            return None
        if key is not None and manifest.get("key") != key:
            return None
        try:
            checked: dict[str, tuple[str, int]] = {}
            snapshot = self._snapshot_from(manifest, current, checked)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # untrusted input: it can only fail to load
            log.error("state folder: %s is malformed (%s: %s); not served", self.manifest, type(exc).__name__, exc)
            return None
        if current is None and snapshot is not None:  # a first load (a warm start): the one worth remembering
            self._checked = checked
        return snapshot

    def _snapshot_from(self, manifest: dict[str, Any], current: Served | None,
                       checked: dict[str, tuple[str, int]]) -> Served | None:
        known: dict[str, Resource] = {}
        if current is not None:
            known = {r.etag: r for r in current.resources.values()}
        resources: dict[str, Resource] = {}
        for path, entry in manifest["resources"].items():
            modified = datetime.fromisoformat(entry["modified"]) if entry["modified"] else None
            headers = tuple((str(name), str(value)) for name, value in entry.get("headers", ()))
            resource = known.get(entry["etag"])
            if resource is None:
                resource = self._load_blob(path, entry, modified)
                if resource is None:
                    return None
                checked[resource.etag] = (entry["gzip_sha256"], resource.gzip_size)
                known[resource.etag] = resource
            if (resource.path, resource.last_modified, resource.content_type, resource.headers) != \
                    (path, modified, entry["type"], headers):
                resource = replace(resource, path=path, last_modified=modified, content_type=entry["type"],
                                   headers=headers)
            resources[path] = resource
        aliases = {alias: resources[target] for alias, target in manifest.get("aliases", {}).items()
                   if target in resources}
        return Served(resources=MappingProxyType(resources), generation=manifest["generation"],
                      stats=MappingProxyType(manifest.get("stats", {})), aliases=MappingProxyType(aliases),
                      redirects=MappingProxyType(manifest.get("redirects", {})))

    def _load_blob(self, path: str, entry: Mapping[str, Any], modified: datetime | None) -> Resource | None:
        if not isinstance(entry["etag"], str) or not _ETAG.fullmatch(entry["etag"]):
            raise ValueError(f"{entry['etag']!r} is not an ETag")
        try:
            gzip_body = read_private(self.blobs / f"{entry['etag']}.gz")
        except OSError:
            return None  # collected under our feet: the next manifest will do
        if hashlib.sha256(gzip_body).hexdigest() != entry["gzip_sha256"]:
            log.error("state folder: blob %s for %s does not match its hash; not served", entry["etag"], path)
            return None
        # Not held: read (and checked again) when sent (blobs.py).
        blob = Blob(str(self.blobs / f"{entry['etag']}.gz"), entry["gzip_sha256"], len(gzip_body))
        return Resource(path=path, content_type=entry["type"], gzip=blob, size=entry["size"],
                        etag=entry["etag"], last_modified=modified,
                        headers=tuple((str(name), str(value)) for name, value in entry.get("headers", ())))

    def read_status(self) -> tuple[ScanStatus, dict[str, Any]] | None:
        body = read_json(self.status)
        if not body:
            return None
        try:
            scan = body.get("scan", {})
            at = datetime.fromisoformat(scan["at"]) if scan.get("at") else None
            error = scan.get("error")
            return ScanStatus(at, float(scan.get("seconds", 0.0)), str(scan.get("trigger", "")),
                              None if error is None else str(error)), dict(body.get("details", {}))
        except (TypeError, ValueError, AttributeError):
            return None



def _same_but_writer(manifest: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    return {**manifest, "writer": None} == {**other, "writer": None}


def signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def ask(state: StateFolder, request: Mapping[str, Any]) -> str:
    """Drop a request for the builder; its id names the result it will write."""
    request_id = uuid.uuid4().hex
    write_atomically(state.requests / f"{request_id}.json", json.dumps(request).encode())
    return request_id


def await_result(state: StateFolder, request_id: str, timeout: float, interval: float
                 ) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    path = state.results / f"{request_id}.json"
    while True:
        found = read_json(path)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def answer_to_json(answer: Answer) -> dict[str, Any]:
    if isinstance(answer, Refusal):
        return {"status": answer.status, "message": answer.message}
    return {"status": 200, "path": answer.path, "type": answer.content_type, "etag": answer.etag,
            "size": answer.size, "modified": answer.last_modified.isoformat() if answer.last_modified else None,
            "headers": [list(pair) for pair in answer.headers], "gzip": base64.b64encode(answer.gzip_body).decode()}


def answer_from_json(data: Mapping[str, Any]) -> Answer:
    try:
        if data["status"] != 200:
            return Refusal(int(data["status"]), str(data["message"]))
        return Resource(path=data["path"], content_type=data["type"], gzip=base64.b64decode(data["gzip"]),
                        size=data["size"], etag=data["etag"],
                        last_modified=datetime.fromisoformat(data["modified"]) if data["modified"] else None,
                        headers=tuple((str(name), str(value)) for name, value in data["headers"]))
    except (KeyError, TypeError, ValueError):
        return Refusal(503, "the builder's answer was unreadable; try again shortly")
