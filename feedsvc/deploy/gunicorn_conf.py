"""gunicorn settings, for `feedsvc serve --server gunicorn` and `gunicorn --config python:feedsvc.deploy.gunicorn_conf
feedsvc.wsgi:app` (the default server is granian, see cli.py).

The app is loaded once in the master (`preload_app`): one initial build, shared by every
worker through fork. Then each worker elects itself builder or follower (workers.py): one
builder per deployment runs the scheduler and the rebuilds, and every worker serves the newest
snapshot. Threads serve concurrent readers; rendering never happens on the request path, so a
request is a dictionary lookup and a write. FEEDSVC_WORKERS sets the number of processes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker


class _ExitedWorker(Protocol):
    """A worker gunicorn has reaped: its `pid` is the process id by then ("[booting]" only before fork)."""

    pid: int

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("FEEDSVC_WORKERS", "1"))
preload_app = True
worker_class = "gthread"
threads = int(os.environ.get("FEEDSVC_THREADS", "16"))
keepalive = 5
timeout = 30
graceful_timeout = 10
accesslog = "-" if os.environ.get("FEEDSVC_ACCESS_LOG", "") not in ("", "0", "false") else None
errorlog = "-"
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
control_socket_disable = True  # gunicorn 27's admin socket: one fixed path per user would clash


def post_worker_init(worker: Worker) -> None:
    """Threads do not survive fork: start them in the worker, after the app is loaded."""
    from feedsvc import wsgi

    wsgi.service.start_background()


def worker_exit(server: Arbiter, worker: Worker) -> None:
    from feedsvc import wsgi

    wsgi.service.stop()


def child_exit(server: Arbiter, worker: _ExitedWorker) -> None:
    from feedsvc.web.metrics import worker_gone

    worker_gone(worker.pid)
