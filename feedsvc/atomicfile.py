"""Replacing a file so that a reader sees the old bytes or the new, never a half-written file.

Used by the state folder (deploy/statefolder.py) and the post cache (pipeline/postcache.py);
a module of its own so the pipeline need not import the deploy layer for it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside `path` under a name no other process or thread uses, then rename over it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
