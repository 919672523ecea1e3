"""Command line: `serve`, `build` (static output tree) and `check` (list content problems)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.config import ConfigError, Settings, content_dir_from
from feedsvc.deploy.logsetup import configure_logging
from feedsvc.model import Resource
from feedsvc.snapshot import Built, Served, SnapshotStore

if TYPE_CHECKING:
    # `serve` imports the server's modules, `build` and `check` theirs, each where it runs: a one-edit
    # `build --cache` does not pay for the server, and `serve` answers its first feeds without the build's
    from flask import Flask

    from feedsvc.deploy.buildcache import BuildCache
    from feedsvc.deploy.service import Service
    from feedsvc.pipeline.progress import BuildProgress
    from feedsvc.pipeline.refresh import Refresher


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="feedsvc", description="Jekyll-style posts -> RSS, Atom and JSON feeds.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the feeds over HTTP and keep them current")
    serve.add_argument("--content", help="content folder (default: $FEEDSVC_CONTENT_DIR or ./content)")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--server", choices=("granian", "gunicorn"), default=os.environ.get("FEEDSVC_SERVER", "granian"),
                       help="HTTP server (default granian; $FEEDSVC_SERVER)")
    build = commands.add_parser("build", help="write every feed, index.html and feeds.opml to a folder")
    build.add_argument("--content", help="content folder")
    build.add_argument("--out", required=True, help="output folder (replaced whole on success)")
    build.add_argument("--cache", help="folder kept between builds: only what changed is parsed, rendered and "
                                       "written again (created 0700)")
    check = commands.add_parser("check", help="list every content problem; exit 1 if any file is in error")
    check.add_argument("--content", help="content folder")
    args = parser.parse_args(argv)
    configure_logging()
    progress = None
    if args.command in ("build", "check"):
        from feedsvc.pipeline.progress import BuildProgress

        progress = BuildProgress()
    cache = None
    if args.command == "build" and args.cache:
        from feedsvc.deploy.buildcache import BuildCache

        cache = BuildCache.open(Path(args.cache), Path(args.out))
    try:
        return _run(args, progress, cache)
    finally:
        if cache is not None:
            cache.release()


@dataclass(frozen=True, slots=True)
class Offline:
    """What `build` and `check` use of a service: the store their one refresh filled, and its refresher."""

    store: SnapshotStore
    refresher: Refresher
    settings: Settings


def offline(content_dir: str | None, progress: BuildProgress | None,
            seed: Callable[[Refresher], None] | None = None) -> Offline:
    """One refresh of a local folder, as `Service(for_build=True)` does, without importing the server's modules
    (websub, workers, webhooks, the state folder...), which a one-edit `build --cache` would pay for nothing."""
    from feedsvc.pipeline.refresh import Refresher

    environ = dict(os.environ)
    store = SnapshotStore()
    refresher = Refresher(store, content_dir_from(environ, content_dir), environ, progress=progress, for_build=True)
    if seed is not None:
        seed(refresher)
    refresher.refresh("startup")  # raises ConfigError when the settings are unusable
    assert refresher.settings is not None
    return Offline(store, refresher, refresher.settings)


def _run(args: argparse.Namespace, progress: BuildProgress | None, cache: BuildCache | None) -> int:
    seed = cache.seed if cache else None
    service: Service | Offline
    try:
        if args.command != "serve" and not os.environ.get("FEEDSVC_GIT_URL", "").strip():
            service = offline(args.content, progress, seed)
        else:  # serving, or building a clone of a repository (kept in the state folder): the whole service
            from feedsvc.deploy.service import Service

            service = Service(content_dir=args.content, serving=args.command == "serve", progress=progress,
                              for_build=args.command != "serve", seed=seed)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"configuration: {problem}", file=sys.stderr)
        return 2
    if service.store.status.error:
        print(f"error: {service.store.status.error}", file=sys.stderr)
        return 2
    if args.command == "check":
        return _check(service)
    if args.command == "build":
        return _build(service, Path(args.out), progress, cache)
    assert not isinstance(service, Offline)
    if args.server == "gunicorn":
        return _serve_gunicorn(service, args.host, args.port)
    return _serve_granian(service, args.host, args.port)


def _check(service: Service | Offline) -> int:
    snapshot = service.store.snapshot
    assert isinstance(snapshot, Built)  # built in this process: `check` never starts warm
    problems = snapshot.site.problems
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    print(f"{len(snapshot.site.posts)} posts in {len(snapshot.site.scopes)} feed scopes; "
          f"{errors} errors, {len(problems) - errors} warnings", file=sys.stderr)
    return 1 if errors else 0


def output_files(snapshot: Served, settings: Settings | None = None) -> dict[str, bytes]:
    """Relative output path -> bytes: the same tree the HTTP server serves (see `output_resources`)."""
    return {relative: resource.body for relative, resource in output_resources(snapshot, settings).items()}


def output_resources(snapshot: Served, settings: Settings | None = None) -> dict[str, Resource]:
    """Relative output path -> the resource whose bytes go there.

    With `settings`, for a static host: the index then offers no filtered feeds or archive pages,
    which only the server answers.
    """
    from feedsvc.deploy.buildcache import relative_path
    from feedsvc.render.pages import INDEX_PATH, render_index

    files = {relative_path(path): resource for path, resource in snapshot.resources.items()}
    if settings is not None and isinstance(snapshot, Built) and INDEX_PATH in snapshot.resources:
        files["index.html"] = render_index(snapshot.site, settings, custom_feeds=False)
    return files


def _build(service: Service | Offline, out: Path, progress: BuildProgress | None = None,
           cache: BuildCache | None = None) -> int:
    """Write aside, then swap, so a failed build never leaves a half-written tree (deploy/outputtree.py).

    On any failure (disk full, permissions) the previous tree is left as it was, or put back. With
    a cache, files whose bytes did not change are kept as they are, and the cache is saved after.
    """
    from feedsvc.deploy.outputtree import write_tree

    snapshot = service.store.snapshot
    assert isinstance(snapshot, Built)  # built in this process: `build` never starts warm
    out = out.resolve()
    files = output_resources(snapshot, service.refresher.settings or service.settings)
    kept = None
    if cache is not None:
        kept = {relative for relative, resource in files.items() if cache.is_kept(resource.path, resource)}
    try:
        count = write_tree(out, files, progress, kept, cache.written() if cache is not None else None)
    except OSError as exc:
        print(f"build failed: {exc}; {out} is unchanged", file=sys.stderr)
        return 1
    if cache is not None:
        cache.save(service.refresher, {relative: resource.etag for relative, resource in files.items()})
    for problem in snapshot.site.problems:
        print(problem, file=sys.stderr)
    print(f"wrote {count} of {len(files)} files for {len(snapshot.site.posts)} posts to {out}", file=sys.stderr)
    return 0


def _serve_granian(service: Service, host: str, port: int) -> int:
    """granian (Rust HTTP, WSGI): ten times gunicorn's requests per second on the same fast path.

    The service built here is handed to the worker processes through fork; each one starts its
    threads (and takes part in the builder election) in `service.worker_app`, once it exists.
    """
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    from feedsvc.deploy import service as service_module

    service_module.PRELOADED = service
    service.publish_state()
    cpus = os.cpu_count() or 1
    threads = int(os.environ.get("FEEDSVC_THREADS", str(min(8, 2 * cpus + 1))))
    server = Granian(
        "feedsvc.deploy.service:worker_app", factory=True, address=host, port=port, interface=Interfaces.WSGI,
        workers=int(os.environ.get("FEEDSVC_WORKERS", "1")), blocking_threads=threads,
        backlog=2048, http1_settings=HTTP1Settings(header_read_timeout=10_000, max_buffer_size=16384),
        respawn_failed_workers=True, workers_kill_timeout=10,
        log_access=os.environ.get("FEEDSVC_ACCESS_LOG", "") not in ("", "0", "false"),
    )
    print(f"serving {service.content_dir} at http://{host}:{port}/ (granian)", file=sys.stderr)
    server.serve()
    return 0


def _serve_gunicorn(service: Service, host: str, port: int) -> int:
    from gunicorn.app.base import BaseApplication

    from feedsvc.deploy import gunicorn_conf
    from feedsvc.web.metrics import worker_gone

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            # The Procfile's settings, so both ways of serving behave alike; then this process's own
            # address and hooks (the conf's hooks reach for feedsvc.wsgi, which `serve` does not use).
            for name, value in vars(gunicorn_conf).items():
                if name in self.cfg.settings:
                    self.cfg.set(name, value)
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("post_worker_init", lambda worker: service.start_background())
            self.cfg.set("worker_exit", lambda server, worker: service.stop())
            self.cfg.set("child_exit", lambda server, worker: worker_gone(worker.pid))

        # types-gunicorn gives start_response a narrower type than the PEP 3333 one gunicorn passes and Flask needs.
        def load(self) -> Flask:  # type: ignore[override]
            return service.app

    print(f"serving {service.content_dir} at http://{host}:{port}/", file=sys.stderr)
    service.publish_state()
    _Gunicorn().run()
    return 0
