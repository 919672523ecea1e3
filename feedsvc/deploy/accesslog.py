"""The access log names the query string: a filtered feed (`/rss.xml?tags=python`) is a different resource.

granian's access line has the path only (its `%(path)s` is WSGI's `PATH_INFO`); gunicorn's default
line has the whole request line and needs nothing. A filter on granian's access logger, installed
in each worker process, appends `?query` to the path it logs, so granian's own format stays as is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

GRANIAN_ACCESS_LOGGER = "granian.access"


class QueryInPath(logging.Filter):
    """Rewrites the record's `path` to `path?query` when there is a query; keeps every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping) and args.get("query_string") and isinstance(args.get("path"), str):
            record.args = {**args, "path": f"{args['path']}?{args['query_string']}"}
        return True


def show_query_strings(logger_name: str = GRANIAN_ACCESS_LOGGER) -> None:
    """Install the filter once in this process (a worker calls it as it starts)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, QueryInPath) for existing in logger.filters):
        logger.addFilter(QueryInPath())
