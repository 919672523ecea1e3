"""The process's log handler, set up by every entry point (`build` and `check` without the server's modules)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping


def configure_logging(environ: Mapping[str, str] | None = None) -> None:
    """One line per event, to stderr, at FEEDSVC_LOG_LEVEL (default INFO)."""
    environ = os.environ if environ is None else environ
    logger = logging.getLogger("feedsvc")
    if any(type(handler) is logging.StreamHandler for handler in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s feedsvc[%(process)d]: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(environ.get("FEEDSVC_LOG_LEVEL", "INFO").upper())
    logger.propagate = False
