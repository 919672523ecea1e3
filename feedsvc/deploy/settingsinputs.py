"""What the site's settings were read from, so a restart can tell "the same settings" without reading them.

Reading the settings means importing the dialects, and with them every parser and Markdown engine: most of a
warm-started server's own CPU before its first feed. The state folder keeps one small record: a digest of the
settings' inputs (the `FEEDSVC_*` variables the settings read, the site root's listing with each file's size and
mtime, and every file under the folders settings are read from) and the settings key the published feeds were
built under. Equal inputs mean equal settings; anything else (a file added, touched or gone, a variable set,
another feedsvc version) is a miss, and the caller reads the settings as before. The record is untrusted: a bad
one is a miss too, and the builder's first refresh republishes whatever the settings really make.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from feedsvc.atomicfile import read_private, write_atomically

RECORD = "settings-inputs.json"
#: Folders under the site root that settings are read from (Jekyll's `_data` and `_includes`, Hugo's `config/`).
SETTINGS_FOLDERS = ("_data", "_includes", "config")
MAX_FILES = 5000  # beyond this the inputs are not worth walking at start: no record
RECORD_LIMIT = 64 * 1024


class ReadNames(Mapping[str, str]):
    """The environment as the settings see it, noting every name they look up."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self._environ[name]

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the settings look names up one by one; listing them all would note none")

    def __len__(self) -> int:
        return len(self._environ)


@dataclass(frozen=True, slots=True)
class Remembered:
    """What a matching record says about the published feeds' settings."""

    key: str
    cache_max_age: int


def inputs_digest(environ: Mapping[str, str], root: Path, names: list[str]) -> str | None:
    """The digest of the settings' inputs; None when the root cannot be listed or holds too much to walk."""
    from feedsvc import __version__

    digest = hashlib.sha256(f"{__version__}\0{root.resolve()}\0".encode())
    for name in sorted(names):
        value = environ.get(name)
        digest.update(f"{name}\0{'-' if value is None else '=' + value}\0".encode())
    try:
        lines = _listing(root)
    except (OSError, _TooMany):
        return None
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


class _TooMany(Exception):
    pass


def _listing(root: Path) -> list[str]:
    lines: list[str] = []
    with os.scandir(root) as entries:
        for entry in sorted(entries, key=lambda entry: entry.name):
            lines.append(_line(entry.name, entry.stat()))
    for folder in SETTINGS_FOLDERS:
        top = root / folder
        if not top.is_dir():
            continue
        for here, dirs, files in os.walk(top, followlinks=True):
            dirs.sort()
            for name in sorted(dirs + files):
                path = os.path.join(here, name)
                lines.append(_line(os.path.relpath(path, root), os.stat(path)))
                if len(lines) > MAX_FILES:  # also ends a loop of links
                    raise _TooMany
    return lines


def _line(name: str, info: os.stat_result) -> str:
    if stat.S_ISDIR(info.st_mode):
        return f"{name}/"
    return f"{name} {info.st_size} {info.st_mtime_ns} {info.st_ino}"


def remember(state_dir: Path, environ: Mapping[str, str], root: Path, names: set[str], key: str,
             cache_max_age: int) -> None:
    """Note that these inputs make the settings of `key` (best effort: without a record a start reads them)."""
    digest = inputs_digest(environ, root, sorted(names))
    record = {"inputs": digest, "names": sorted(names), "key": key, "cache_max_age": cache_max_age}
    if digest is None:
        forget(state_dir)
        return
    try:
        write_atomically(state_dir / RECORD, json.dumps(record).encode())
    except OSError:
        pass


def forget(state_dir: Path) -> None:
    """Drop the record: the next start reads the settings."""
    try:
        (state_dir / RECORD).unlink(missing_ok=True)
    except OSError:
        pass


def recall(state_dir: Path, environ: Mapping[str, str], root: Path) -> Remembered | None:
    """The published feeds' settings key and cache lifetime if the inputs are those recorded; else None."""
    try:
        record = json.loads(read_private(state_dir / RECORD, RECORD_LIMIT))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    names, key, max_age, recorded = (record.get(name) for name in ("names", "key", "cache_max_age", "inputs"))
    if not (isinstance(names, list) and all(isinstance(name, str) and name.startswith("FEEDSVC_") for name in names)
            and isinstance(key, str) and isinstance(recorded, str)
            and type(max_age) is int and max_age >= 0):
        return None
    if inputs_digest(environ, root, names) != recorded:
        return None
    return Remembered(key, max_age)
