"""Background refreshing: a periodic rescan, and a one-off run when a future post comes due.

The only APScheduler import. Started by the process owner (CLI `serve`, gunicorn's
`post_worker_init`), never by `create_app`, so tests and the debug reloader get a passive app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from feedsvc.pipeline.refresh import Refresher, RefreshReport
from feedsvc.snapshot import Built

log = logging.getLogger("feedsvc")

RESCAN_JOB = "rescan"
PUBLISH_JOB = "scheduled-publish"
SETTLE_JOB = "settle"


class RefreshScheduler:
    def __init__(self, refresher: Refresher, request: Callable[[str], object], interval_seconds: float) -> None:
        """`request` queues a refresh (see triggers.RefreshQueue): jobs never refresh on their own thread."""
        self.refresher = refresher
        self.request = request
        self.interval_seconds = interval_seconds
        # One run at a time per job; a missed run is folded into the next rather than queued up.
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def start(self) -> None:
        self.scheduler.add_job(self.request, "interval", seconds=self.interval_seconds,
                               args=["interval"], id=RESCAN_JOB, replace_existing=True)
        self.refresher.listeners.append(self._plan_publish)
        self.refresher.follow_up = self._plan_settle
        snapshot = self.refresher.store.snapshot
        if isinstance(snapshot, Built):  # after a warm start the first refresh plans it
            self._plan_publish(None, snapshot)
        self.scheduler.start()
        log.info("scheduler started: rescan every %gs", self.interval_seconds)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._plan_publish in self.refresher.listeners:
            self.refresher.listeners.remove(self._plan_publish)
        if self.refresher.follow_up == self._plan_settle:
            self.refresher.follow_up = None

    def _plan_settle(self, when: datetime) -> None:
        """Files were still being written: look again once they have been still for the settle window."""
        self.scheduler.add_job(self.request, "date", run_date=when, args=["settle"],
                               id=SETTLE_JOB, replace_existing=True)

    def describe(self) -> dict[str, Any]:
        """The next runs, for /status."""
        def next_run(job_id: str) -> str | None:
            job = self.scheduler.get_job(job_id)
            return job.next_run_time.isoformat() if job is not None and job.next_run_time else None

        return {"interval_seconds": self.interval_seconds, "next_rescan": next_run(RESCAN_JOB),
                "next_scheduled_publish": next_run(PUBLISH_JOB)}

    def _plan_publish(self, report: RefreshReport | None, snapshot: Built) -> None:
        """Make a future post appear at its moment, without waiting for the next rescan."""
        when = snapshot.site.next_publish_at
        if when is None:
            if self.scheduler.get_job(PUBLISH_JOB):
                self.scheduler.remove_job(PUBLISH_JOB)
            return
        self.scheduler.add_job(self.request, "date", run_date=when, args=["scheduled publish"],
                               id=PUBLISH_JOB, replace_existing=True)
