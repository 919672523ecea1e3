"""Prometheus metrics (`prometheus-client`), summed over every worker process of the deployment.

Each gunicorn worker counts the requests it answers; prometheus-client's multiprocess mode adds
them up from small files in the state folder. That mode is fixed when `prometheus_client` is
first imported, so this module imports it only inside functions, after `enable_multiprocess`.

Useful expressions: the 304 ratio is
`sum(rate(feedsvc_http_requests_total{status="304"}[5m])) / sum(rate(feedsvc_http_requests_total[5m]))`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the refresher and its parsers: not imported by a server answering its first feeds
    from feedsvc.pipeline.refresh import RefreshReport

_ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client's file names per process: `<prefix>_<pid>.db` (one per metric type and gauge mode we use).
_FILES = ("counter", "histogram", "gauge_livemostrecent")
_RESERVED_BYTES = 256 * 1024  # its files start at 64 KiB; ours hold a few dozen series
_TRIGGERS = ("startup", "interval", "webhook", "scheduled publish", "worker", "manual")


def enable_multiprocess(folder: Path) -> str | None:
    """Count across worker processes in `folder` (emptied: counts start at zero with the deployment).

    None when done; else why not (each process then counts alone, and /metrics shows one worker's counts).
    """
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.mkdir(parents=True, mode=0o700)
    except OSError as exc:
        return f"counted per worker until restart: cannot create their folder ({exc.strerror})"
    os.environ[_ENV] = str(folder)
    trouble = reserve_space()
    if trouble is not None:
        os.environ.pop(_ENV, None)
        values: Any = sys.modules.get("prometheus_client.values")
        if values is not None:  # the kind of value was chosen at its import: choose again
            values.ValueClass = values.MutexValue
    return trouble


def reserve_space() -> str | None:
    """Give this process's metric files real disk blocks before prometheus-client maps them.

    It maps sparse files: on a full disk the first write into a page the disk cannot back kills the
    process with SIGBUS (a crash loop of every worker, before any log line). Blocks reserved here cannot
    run out; our label sets are small and bounded, so the files never grow past them. None when done,
    else the reason (the caller then counts in this process alone: `Metrics.count_alone`).
    """
    folder = os.environ.get(_ENV)
    if not folder:
        return None
    for prefix in _FILES:
        path = os.path.join(folder, f"{prefix}_{os.getpid()}.db")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                os.posix_fallocate(fd, 0, _RESERVED_BYTES)
            finally:
                os.close(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(path)
            return f"counted per worker until restart: no room for their files ({exc.strerror})"
    return None


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
    def count_alone(self) -> None:
        """Stop sharing counts through files (see `reserve_space`): new metrics, in this process's memory."""
        from prometheus_client import values

        values.ValueClass = values.MutexValue
        os.environ.pop(_ENV, None)
        self.__init__()  # type: ignore[misc]

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
