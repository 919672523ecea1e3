"""What a builder refreshes and answers with beyond the published feeds, built together and once.

A warm start serves the published bytes before any of this exists (deploy/service.py): these parts import
the parsers, renderers and the queue, so the service builds them after the fork, in the builder, or when a
request Flask answers first needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.config import Settings, webhook_secret
from feedsvc.deploy.privatefolder import subfolder
from feedsvc.deploy.websub import HubPinger
from feedsvc.deploy.workers import Delegate
from feedsvc.pipeline.refresh import Refresher, RefreshReport
from feedsvc.pipeline.triggers import RefreshQueue
from feedsvc.web.metrics import Metrics
from feedsvc.web.ondemand import OnDemandFeeds
from feedsvc.web.webhooks import SeenInFolder, WebhookReceiver

if TYPE_CHECKING:
    from feedsvc.deploy.gitsource import GitSource


@dataclass(frozen=True, slots=True)
class BuilderParts:
    """The refresh queue (and its delegate for followers), the webhook receiver if a secret is set, the
    on-demand renderer and the WebSub pinger."""

    queue: RefreshQueue
    refreshes: Delegate
    webhooks: WebhookReceiver | None
    ondemand: OnDemandFeeds
    pinger: HubPinger


def builder_parts(refresher: Refresher, settings: Callable[[], Settings], metrics: Metrics,
                  environ: Mapping[str, str], state_dir: Path, git: GitSource | None,
                  on_report: list[Callable[[RefreshReport], None]],
                  before_run: list[Callable[[str], None]]) -> BuilderParts:
    """The parts around `refresher`; `settings` gives the settings before the refresher has read its own."""
    queue = RefreshQueue(refresher)
    queue.on_report.extend(on_report)
    queue.before_run.extend(before_run)
    refreshes = Delegate(queue)
    secret = webhook_secret(environ)
    seen = SeenInFolder(subfolder(state_dir, "webhook-ids")) if secret else None
    return BuilderParts(
        queue=queue,
        refreshes=refreshes,
        webhooks=WebhookReceiver(secret, refreshes, seen, source=git) if secret and seen else None,
        # One entry cache for the refresher and the feeds rendered on request: archive pages and filtered
        # feeds show the entries the subscription feeds built (render/entrycache.py).
        ondemand=OnDemandFeeds(lambda: refresher.settings or settings(), entries=refresher.entries),
        pinger=HubPinger(lambda: refresher.settings or settings(),
                         on_outcome=lambda outcome: metrics.websub_pings.labels(outcome).inc()),
    )
