"""The HTTP edge: serve the current snapshot's bytes with correct caching. Nothing is rendered here."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import parse_date

from feedsvc import __version__
from feedsvc.config import Settings
from feedsvc.model import Resource
from feedsvc.render.pages import HTML_TYPE, render_status_page
from feedsvc.snapshot import SnapshotStore
from feedsvc.urls import absolute
from feedsvc.web.fastpath import HTML_CSP, SECURITY_HEADERS, FastPath
from feedsvc.web.hookbudget import BodyRefused, HookBudget, has_body, stop_reading
from feedsvc.web.metrics import Metrics
from feedsvc.web.ondemand import OnDemandFeeds, Refusal, target_for
from feedsvc.web.webhooks import MAX_BODY_BYTES, WebhookReceiver, has_signature

HOOK_PATH = "/hooks/refresh"
_BODY_READ = "feedsvc.body_read"

def create_app(settings: Settings, store: SnapshotStore, webhooks: WebhookReceiver | None = None,
               metrics: Metrics | None = None, ondemand: OnDemandFeeds | None = None,
               hooks: HookBudget | None = None) -> Flask:
    """A passive app: it reads `store` and never starts threads (the process owner does that).

    Without a `webhooks` receiver (no secret configured) the refresh hook answers 404.
    `ondemand` renders archive pages and filtered feeds (by default from `store`'s site).
    `hooks` bounds the threads and time webhook requests may take (hookbudget.py).
    """
    metrics = metrics or Metrics()
    hooks = hooks or HookBudget()
    ondemand = ondemand or OnDemandFeeds(lambda: settings)
    ondemand.observe = lambda kind, outcome: metrics.ondemand.labels(kind, outcome).inc()
    app = Flask(__name__)
    app.config["DEBUG"] = False  # Flask reads FLASK_DEBUG from the environment; production must not heed it
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["feedsvc.store"] = store
    if webhooks is not None:
        app.extensions["feedsvc.web.webhooks"] = webhooks
    cache_control_max_age = settings.cache_max_age

    def serve(resource: Resource) -> Response:
        use_gzip = request.accept_encodings.quality("gzip") > 0 and resource.gzip_size < resource.size
        try:
            body = resource.gzip_body if use_gzip else resource.body
        except OSError:  # its blob is gone or changed (deploy/blobs.py); the next snapshot will do
            return _plain("feeds are being updated; try again shortly\n", 503, {"Retry-After": "2"})
        response = Response(body, content_type=resource.content_type)
        response.headers.extend(resource.headers)
        if use_gzip:
            response.headers["Content-Encoding"] = "gzip"
        response.set_etag(resource.gzip_etag if use_gzip else resource.etag)
        if resource.last_modified is not None:
            response.last_modified = resource.last_modified
        response.cache_control.public = True
        response.cache_control.max_age = cache_control_max_age
        response.vary.add("Accept-Encoding")
        if resource.content_type.startswith("text/html"):
            response.headers["Content-Security-Policy"] = HTML_CSP
        response.make_conditional(_sane_dates(request.environ))  # in place (returns werkzeug's type, not Flask's)
        return response

    @app.get("/")
    @app.get("/<path:path>")
    def resource(path: str = "") -> Response:
        snapshot = store.snapshot
        if snapshot is None:
            return _plain("feeds are being built; try again shortly\n", 503, {"Retry-After": "2"})
        found = snapshot.resources.get("/" + path) or snapshot.aliases.get("/" + path)
        target = target_for("/" + path, request.query_string, found)
        if target is not None:  # an archive page or a filtered feed (ondemand.py)
            answer = target if isinstance(target, Refusal) else ondemand.answer(snapshot, target)
            if isinstance(answer, Refusal):
                retry = {"Retry-After": "2"} if answer.status == 503 else None
                return _plain(answer.message + "\n", answer.status, retry)
            return serve(answer)
        if found is None and "/" + path == HOOK_PATH:
            return _plain("method not allowed\n", 405, {"Allow": "POST"})
        if found is None:
            moved = snapshot.redirects.get("/" + path)  # old feed URLs from the site config (compat.py)
            if moved is None and path and f"/{path}/" in snapshot.resources:  # a scope page without its slash
                moved = absolute(settings.public_url, f"/{path}/")
            if moved is not None:
                return _plain(f"moved to {moved}\n", 301, {"Location": moved})
            return _plain("not found\n", 404)
        return serve(found)

    @app.get("/status")
    def status() -> Response:
        snapshot = store.snapshot
        scan = store.status
        body: dict[str, object] = {
            "version": __version__,
            "ready": snapshot is not None,
            "degraded": scan.error is not None or bool(store.troubles),
            "degraded_reasons": _degraded_reasons(store),
            "last_scan": {
                "at": scan.at.isoformat() if scan.at else None,
                "seconds": round(scan.seconds, 4),
                "trigger": scan.trigger or None,
                "error": scan.error,
            },
        }
        if snapshot is not None:
            body["generation"] = snapshot.generation
            body.update(snapshot.stats)
        body.update(store.details())
        if request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html":  # a browser
            response = Response(render_status_page(body, settings), content_type=HTML_TYPE)
            response.headers["Content-Security-Policy"] = HTML_CSP
        else:
            response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("Accept")
        return response

    @app.post(HOOK_PATH)
    def refresh_hook() -> Response:
        receiver: WebhookReceiver | None = app.extensions.get("feedsvc.web.webhooks")
        if receiver is None:
            return _plain("not found\n", 404)  # no secret configured: the hook does not exist
        if not has_signature(request.headers):  # refused before a byte of the body is read
            metrics.webhooks.labels("unauthorized").inc()
            return _plain("signature missing\n", 401, {"Cache-Control": "no-store"})
        lease = hooks.take()
        if lease is None:  # every hook slot is busy: feed readers keep the other threads
            metrics.webhooks.labels("busy").inc()
            return _plain("too many webhook requests at once; try again shortly\n", 503,
                          {"Retry-After": "5", "Cache-Control": "no-store"})
        try:
            try:
                body = hooks.read_body(request.environ, MAX_BODY_BYTES, lease)
                request.environ[_BODY_READ] = True
            except BodyRefused as refused:
                app.logger.warning("webhook from %s refused: %s", request.remote_addr or "?", refused.reason)
                metrics.webhooks.labels("bad_body").inc()
                # The connection's body is unread or broken: it cannot carry another request.
                return _plain(refused.reason + "\n", refused.status, {"Connection": "close"})
            answer = receiver.handle(request.headers, body, wait=request.args.get("wait") in ("1", "true"),
                                     remote=request.remote_addr or "")
        finally:
            lease.drop()
        metrics.webhooks.labels(answer.outcome).inc()
        response = jsonify(answer.body)
        response.status_code = answer.status
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/metrics")
    def prometheus() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})

    @app.get("/healthz")
    def healthz() -> Response:
        snapshot = store.snapshot
        if snapshot is None:
            return _plain("starting\n", 503)
        reasons = _degraded_reasons(store)
        state = "degraded" if reasons else "ok"
        because = "".join(f"\n{reason}" for reason in reasons)
        return _plain(f"{state} generation={snapshot.generation}{because}\n", 200, {"Cache-Control": "no-store"})

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        response = _plain(f"{error.name.lower()}\n", error.code or 500)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        app.logger.exception("unhandled error serving %s", request.path)
        return _plain("internal error\n", 500)

    @app.after_request
    def security_headers(response: Response) -> Response:
        if has_body(request.environ) and not request.environ.get(_BODY_READ):
            stop_reading(request.environ)  # no thread waits for a body no route wanted
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        metrics.requests.labels(_route(request.endpoint, response), str(response.status_code)).inc()
        return response

    app.wsgi_app = FastPath(store, app.wsgi_app, cache_control_max_age, metrics)  # type: ignore[method-assign]
    return app


def _degraded_reasons(store: SnapshotStore) -> list[str]:
    """Why this process is not working normally (it still serves its last feeds): scan error, full disk..."""
    reasons = [f"{area}: {reason}" for area, reason in sorted(store.troubles.items())]
    return [f"content: {store.status.error}", *reasons] if store.status.error else reasons


def _route(endpoint: str | None, response: Response) -> str:
    """A bounded label: feeds, pages and misses all share one Flask endpoint."""
    if endpoint != "resource":
        return endpoint or "unmatched"
    if response.status_code == 404:
        return "not_found"
    mimetype = response.mimetype or ""
    return "page" if mimetype == "text/html" or mimetype == "text/x-opml" else "feed"


def _sane_dates(environ: dict[str, Any]) -> dict[str, Any]:
    """The request without an If-Modified-Since no calendar holds (year 99999999999): ignored, as an unparsable one is.

    Werkzeug ignores a date it cannot parse but lets the overflow of an absurd year escape as a 500.
    """
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since is None:
        return environ
    try:
        parse_date(since)
    except (ArithmeticError, IndexError, ValueError, TypeError):
        return {name: value for name, value in environ.items() if name != "HTTP_IF_MODIFIED_SINCE"}
    return environ


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8", headers=headers)
