"""The scheduler wiring: periodic rescans, and a one-off refresh when a future post comes due."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from conftest import post_text

from feedsvc.content.scanning import SETTLE_SECONDS
from feedsvc.pipeline.refresh import Refresher
from feedsvc.pipeline.scheduling import PUBLISH_JOB, RESCAN_JOB, RefreshScheduler
from feedsvc.pipeline.triggers import RefreshQueue
from feedsvc.snapshot import SnapshotStore


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_publish_job_is_planned_for_the_next_future_post(site_dir, make_refresher, clock):
    clock.now = datetime.now(UTC).replace(microsecond=0)  # the scheduler itself runs on real time
    due = clock.now + timedelta(days=3)
    root = site_dir({
        "_posts/2026-01-01-now.md": post_text("title: Now"),
        "_posts/2030-01-01-due.md": post_text(f'title: Due\ndate: "{due:%Y-%m-%d %H:%M:%S} +0000"'),
    })
    refresher = make_refresher(root)
    refresher.refresh()
    scheduler = RefreshScheduler(refresher, refresher.refresh, 3600)
    scheduler.start()
    try:
        jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
        assert set(jobs) == {RESCAN_JOB, PUBLISH_JOB}
        assert jobs[PUBLISH_JOB].next_run_time == due
        # Once nothing is pending, the publish job goes away (a removal counts once its folder is still).
        (root / "_posts/2030-01-01-due.md").unlink()
        clock.now += timedelta(seconds=SETTLE_SECONDS + 1)
        refresher.refresh("webhook")  # nothing held back, however long the test took to get here
        assert scheduler.scheduler.get_job(PUBLISH_JOB) is None
    finally:
        scheduler.shutdown()


def test_a_future_post_appears_at_its_moment_without_a_rescan(site_dir):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    root = site_dir({
        "_posts/2026-01-01-now.md": post_text("title: Now"),
        "_posts/2026-06-04-due.md": post_text(f'title: Due\ndate: "{due:%Y-%m-%d %H:%M:%S} +0000"'),
    })
    store = SnapshotStore()
    refresher = Refresher(store, root, {})
    refresher.refresh("startup")
    assert [p.title for p in store.snapshot.site.posts] == ["Now"]
    queue = RefreshQueue(refresher)
    queue.start()
    scheduler = RefreshScheduler(refresher, queue.request, 3600)  # the interval job will not run in this test
    scheduler.start()
    try:
        assert _wait_for(lambda: [p.title for p in store.snapshot.site.posts] == ["Due", "Now"], 6)
        assert store.status.trigger == "scheduled publish"
        assert scheduler.describe()["next_scheduled_publish"] is None
    finally:
        scheduler.shutdown()
        queue.stop()


def test_interval_job_rescans_the_folder(site_dir):
    root = site_dir({"_posts/2026-01-01-now.md": post_text("title: Now")})
    store = SnapshotStore()
    refresher = Refresher(store, root, {})
    refresher.refresh("startup")
    queue = RefreshQueue(refresher)
    queue.start()
    scheduler = RefreshScheduler(refresher, queue.request, 0.2)
    scheduler.start()
    try:
        (root / "_posts/2026-01-02-new.md").write_text(post_text("title: New"))
        assert _wait_for(lambda: len(store.snapshot.site.posts) == 2, 10)  # interval, then the settle follow-up
        # The interval rescan found it; a file that new is read by the follow-up once it has settled,
        # which only a refresh that saw the file can have planned (both may join one coalesced run).
        assert {part.split(" x")[0] for part in store.status.trigger.split(", ")} <= {"interval", "settle"}
        assert scheduler.describe()["next_rescan"] is not None
    finally:
        scheduler.shutdown()
        queue.stop()
