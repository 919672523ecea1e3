"""A Jekyll site's `_data` folder as Liquid's `site.data`: YAML, JSON, CSV and TSV files, folders nested.

Read at the config edge (config.load_settings), like `_config.yml`, and carried in the settings as
JSON, so a change to a data file re-renders the posts whose Liquid reads it. `data_signature` is the
cheap evidence the refresher compares to notice such a change. The files are untrusted: symlinks
are not followed, sizes are capped, YAML is read safely, and a file that cannot be read is an error
naming it (Jekyll stops the build there too).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

DATA_FOLDER = "_data"
MAX_DATA_FILE_BYTES = 5 * 1024 * 1024
MAX_DATA_BYTES = 20 * 1024 * 1024
_SUFFIXES = (".yml", ".yaml", ".json", ".csv", ".tsv")
_UNSAFE = re.compile(r"[^\w\s-]+")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DataFileError(ValueError):
    """A data file that cannot be read; the message names it."""


def data_key(filename: str) -> str:
    """The key a file or folder is known by in `site.data`: its name without extension, as Jekyll
    sanitises it (characters other than word characters, spaces and `-` removed, spaces to `_`)."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return re.sub(r"\s+", "_", _UNSAFE.sub("", stem).strip())


def read_data_folder(root: Path) -> dict[str, Any]:
    """`site.data` for the site at `root` (empty without a `_data` folder); raises DataFileError."""
    folder = root / DATA_FOLDER
    if not folder.is_dir() or folder.is_symlink():
        return {}
    budget = [MAX_DATA_BYTES]
    return _read_folder(folder, DATA_FOLDER, budget)


def data_signature(root: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Every entry of the `_data` tree with its size, mtime and ctime: equal unless something changed."""
    return tree_signature(root / DATA_FOLDER)


def tree_signature(folder: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Every entry of a folder's tree (hidden folders left out) with its size, mtime and ctime."""
    found: list[tuple[str, int, int, int]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in [".", *filenames]:
            try:
                stat = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            found.append((os.path.join(dirpath, name), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
    return tuple(sorted(found))


def _read_folder(folder: Path, shown: str, budget: list[int]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith((".", "_")) or entry.is_symlink():
            continue
        where = f"{shown}/{entry.name}"
        if entry.is_dir():
            data[data_key(entry.name)] = _read_folder(Path(entry.path), where, budget)
        elif entry.is_file() and entry.name.lower().endswith(_SUFFIXES):
            data[data_key(entry.name)] = _read_file(Path(entry.path), where, budget)
    return data


def _read_file(path: Path, shown: str, budget: list[int]) -> Any:
    size = path.stat().st_size
    if size > MAX_DATA_FILE_BYTES or size > budget[0]:
        raise DataFileError(f"{shown}: {size:,} bytes, over the limit for data files")
    budget[0] -= size
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{shown}: not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise DataFileError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix in (".csv", ".tsv"):
            rows = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ",")
            return [dict(row) for row in rows]
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (libyaml's when present)
    except (ValueError, yaml.YAMLError, csv.Error, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise DataFileError(f"{shown}{where}: cannot be read: {getattr(exc, 'problem', None) or exc}") from None
