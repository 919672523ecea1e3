"""Wires one running feedsvc: settings, snapshot store, refresher, Flask app and scheduler."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from .config import Settings, content_dir_from
from .refresh import Refresher, SnapshotStore
from .scheduling import RefreshScheduler
from .web import create_app


class Service:
    def __init__(self, environ: Mapping[str, str] | None = None, content_dir: str | Path | None = None) -> None:
        environ = dict(os.environ if environ is None else environ)
        self.store = SnapshotStore()
        self.refresher = Refresher(self.store, content_dir_from(environ, content_dir), environ)
        self.refresher.refresh("startup")  # raises ConfigError when the settings are unusable
        assert self.refresher.settings is not None
        self.settings: Settings = self.refresher.settings
        self.app: Flask = create_app(self.settings, self.store)
        self.scheduler: RefreshScheduler | None = None

    def start_background(self) -> None:
        """Start the scheduler in this process; call once, after any fork."""
        if self.scheduler is None:
            self.scheduler = RefreshScheduler(self.refresher, self.settings.rescan_seconds)
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None


def configure_logging(environ: Mapping[str, str] | None = None) -> None:
    """One line per event, to stderr, at FEEDSVC_LOG_LEVEL (default INFO)."""
    environ = os.environ if environ is None else environ
    logger = logging.getLogger("feedsvc")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s feedsvc: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(environ.get("FEEDSVC_LOG_LEVEL", "INFO").upper())
    logger.propagate = False
