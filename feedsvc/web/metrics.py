"""Prometheus metrics (`prometheus-client`), summed over every worker process of the deployment.

Each gunicorn worker counts the requests it answers; prometheus-client's multiprocess mode adds
them up from small files in the state folder. That mode is fixed when `prometheus_client` is
first imported, so this module imports it only inside functions, after `enable_multiprocess`.

Useful expressions: the 304 ratio is
`sum(rate(feedsvc_http_requests_total{status="304"}[5m])) / sum(rate(feedsvc_http_requests_total[5m]))`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from feedsvc.pipeline.refresh import RefreshReport

_ENV = "PROMETHEUS_MULTIPROC_DIR"
_TRIGGERS = ("startup", "interval", "webhook", "scheduled publish", "worker", "manual")


def enable_multiprocess(folder: Path) -> None:
    """Count across worker processes in `folder` (emptied: counts start at zero with the deployment)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    os.environ[_ENV] = str(folder)


def worker_gone(pid: int) -> None:
    """gunicorn's child_exit: drop the live gauges of a worker that exited."""
    if os.environ.get(_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _ExceptionCounter(logging.Handler):
    """Counts every exception logged with its traceback anywhere in feedsvc (`log.exception`)."""

    def __init__(self, counter: Any) -> None:
        super().__init__(logging.ERROR)
        self.counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.counter.labels(record.module).inc()


def count_logged_exceptions(counter: Any) -> None:
    """One counting handler per process on the `feedsvc` logger (Flask's app logger is a child of it)."""
    logger = logging.getLogger("feedsvc")
    for handler in [h for h in logger.handlers if isinstance(h, _ExceptionCounter)]:
        logger.removeHandler(handler)
    logger.addHandler(_ExceptionCounter(counter))


def trigger_kind(trigger: str) -> str:
    """A bounded label from 'webhook x12, interval' and the like."""
    return next((kind for kind in _TRIGGERS if trigger.startswith(kind)), "other")


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter("feedsvc_http_requests", "HTTP requests answered, by route and status",
                                ["route", "status"], registry=registry)
        self.rescans = Counter("feedsvc_rescans", "Refreshes run, by what triggered them and how they ended",
                               ["trigger", "outcome"], registry=registry)
        self.rescan_seconds = Histogram("feedsvc_rescan_duration_seconds", "Time one refresh took",
                                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
                                        registry=registry)
        self.posts = Gauge("feedsvc_posts", "Posts served", registry=registry, multiprocess_mode="livemostrecent")
        self.feeds = Gauge("feedsvc_feeds", "Feeds served (every scope and format)", registry=registry,
                           multiprocess_mode="livemostrecent")
        self.content_errors = Gauge("feedsvc_content_errors", "Content files in error", registry=registry,
                                    multiprocess_mode="livemostrecent")
        self.webhooks = Counter("feedsvc_webhooks", "Webhook requests, by outcome", ["outcome"], registry=registry)
        self.ondemand = Counter("feedsvc_ondemand", "Archive pages and filtered feeds asked for, by kind and "
                                "outcome (rendered, cached, from_builder, refused)", ["kind", "outcome"],
                                registry=registry)
        self.exceptions = Counter("feedsvc_exceptions", "Exceptions caught, logged with their traceback and "
                                  "survived, by the module that caught them", ["module"], registry=registry)
        count_logged_exceptions(self.exceptions)
        self.websub_pings = Counter("feedsvc_websub_pings", "WebSub publish pings, by outcome", ["outcome"],
                                    registry=registry)

    def refreshed(self, report: RefreshReport, stats: Mapping[str, object] | None) -> None:
        outcome = "failed" if report.error else ("published" if report.published else "unchanged")
        self.rescans.labels(trigger_kind(report.trigger), outcome).inc()
        self.rescan_seconds.observe(report.seconds)
        if stats:
            self.posts.set(float(stats.get("posts", 0)))  # type: ignore[arg-type]
            self.feeds.set(float(stats.get("feeds", 0)))  # type: ignore[arg-type]
            self.content_errors.set(float(stats.get("errors", 0)))  # type: ignore[arg-type]

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        registry = self.registry
        if os.environ.get(_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
