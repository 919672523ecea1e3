"""The refresh's first step: the settings to refresh under, reloaded only when a file they come from changed.

`_config.yml`, and the `_data` and `_includes` folders Liquid reads, are checked on every refresh by their
signatures; a change reloads the settings, a broken config keeps the last good ones (and says so in
/status), and posts the changed settings shaped are forgotten or marked to be read again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from feedsvc.config import CONFIG_FILE, ConfigError, Settings, config_path, load_settings
from feedsvc.content.datafiles import data_signature
from feedsvc.content.includes import includes_signature
from feedsvc.content.scanning import FileSignature, signature_of
from feedsvc.model import Post, Problem
from feedsvc.pipeline.postcache import in_other_flavours
from feedsvc.pipeline.refreshmemory import FORCED, RefreshMemory

log = logging.getLogger("feedsvc")


def current_settings(memory: RefreshMemory, content_dir: Path, environ: Mapping[str, str]) -> tuple[Settings, bool]:
    """The settings to refresh under, and whether they changed; posts they shaped are forgotten."""
    previous_fingerprint = memory.settings.fingerprint if memory.settings else memory.seeded_fingerprint
    seeded = memory.settings is None and memory.seeded_fingerprint is not None
    changed = _load_settings(memory, content_dir, environ)
    settings = memory.settings
    assert settings is not None
    if seeded and settings.fingerprint == previous_fingerprint and not memory.config_errors:
        # New to this process, not to its posts (a warm start): whatever else they shape is in the
        # render keys, so only the feeds they change are rendered, and published.
        changed = False
    if seeded and settings.fingerprint == previous_fingerprint:  # a cache's bodies in another flavour
        for relpath in in_other_flavours(memory.parsed, settings.markdown):
            memory.inventory[relpath] = FORCED
        for relpath in in_other_flavours(memory.last_good, settings.markdown):
            del memory.last_good[relpath]
    if settings.fingerprint != previous_fingerprint:  # posts themselves depend on these settings
        memory.parsed.clear()
        memory.last_good.clear()
        memory.inventory = {}
    elif memory.liquid_fingerprint not in (None, settings.liquid_fingerprint):
        # Only posts rendered with Liquid see the rest of _config.yml (`site.*`): read those again.
        for relpath, known in memory.parsed.items():
            if isinstance(known, Post) and known.liquid and relpath in memory.inventory:
                memory.inventory[relpath] = FORCED
    memory.liquid_fingerprint = settings.liquid_fingerprint
    return settings, changed


def _load_settings(memory: RefreshMemory, content_dir: Path, environ: Mapping[str, str]) -> bool:
    """Reload settings when `_config.yml`, a `_data` or an `_includes` file changed; a broken config keeps
    the last good one."""
    try:
        signature: FileSignature | None = signature_of(os.stat(config_path(content_dir)))
    except OSError:
        signature = None
    data = data_signature(content_dir) + includes_signature(content_dir)
    if memory.settings is not None and signature == memory.config_signature and data == memory.data_signature:
        return False
    memory.data_signature = data
    try:
        settings = load_settings(environ, content_dir)
    except ConfigError as exc:
        if memory.settings is None:
            raise
        log.error("%s; keeping the previous settings", exc)
        memory.config_signature = signature
        memory.config_errors = tuple(
            Problem(CONFIG_FILE, f"{problem}; keeping the previous settings") for problem in exc.problems)
        return True  # nothing to re-parse, but /status must show the problem
    memory.config_signature = signature
    changed = memory.settings is None or memory.settings != settings or bool(memory.config_errors)
    memory.settings = settings
    memory.config_errors = ()
    return changed
