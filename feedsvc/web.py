"""The HTTP edge: serve the current snapshot's bytes with correct caching. Nothing is rendered here."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from . import __version__
from .config import Settings
from .model import Resource
from .refresh import SnapshotStore

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; " \
            "frame-ancestors 'none'"


def create_app(settings: Settings, store: SnapshotStore) -> Flask:
    """A passive app: it reads `store` and never starts threads (the process owner does that)."""
    app = Flask(__name__)
    app.config["DEBUG"] = False  # Flask reads FLASK_DEBUG from the environment; production must not heed it
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.extensions["feedsvc.store"] = store
    cache_control_max_age = settings.cache_max_age

    def serve(resource: Resource) -> Response:
        use_gzip = request.accept_encodings.quality("gzip") > 0 and len(resource.gzip_body) < len(resource.body)
        response = Response(resource.gzip_body if use_gzip else resource.body, content_type=resource.content_type)
        if use_gzip:
            response.headers["Content-Encoding"] = "gzip"
        response.set_etag(resource.gzip_etag if use_gzip else resource.etag)
        if resource.last_modified is not None:
            response.last_modified = resource.last_modified
        response.cache_control.public = True
        response.cache_control.max_age = cache_control_max_age
        response.vary.add("Accept-Encoding")
        if resource.content_type.startswith("text/html"):
            response.headers["Content-Security-Policy"] = _HTML_CSP
        return response.make_conditional(request)

    @app.get("/")
    @app.get("/<path:path>")
    def resource(path: str = "") -> Response:
        snapshot = store.snapshot
        if snapshot is None:
            return _plain("feeds are being built; try again shortly\n", 503, {"Retry-After": "2"})
        found = snapshot.resources.get("/" + path)
        if found is None:
            return _plain("not found\n", 404)
        return serve(found)

    @app.get("/status")
    def status() -> Response:
        snapshot = store.snapshot
        scan = store.status
        body: dict[str, object] = {
            "version": __version__,
            "ready": snapshot is not None,
            "degraded": scan.error is not None,
            "last_scan": {
                "at": scan.at.isoformat() if scan.at else None,
                "seconds": round(scan.seconds, 4),
                "trigger": scan.trigger or None,
                "error": scan.error,
            },
        }
        if snapshot is not None:
            site = snapshot.site
            body.update({
                "generation": snapshot.generation,
                "posts": len(site.posts),
                "feeds": sum(1 for path in snapshot.resources if path.endswith((".xml", ".json"))
                             and path != "/feeds.opml"),
                "scopes": {kind: sum(1 for s in site.scopes if s.kind.name.lower() == kind)
                           for kind in ("category", "tag", "author")},
                "files": snapshot.stats.get("files"),
                "errors": sum(1 for p in site.problems if p.severity == "error"),
                "problems": [
                    {"path": p.path, "line": p.line, "severity": p.severity, "message": p.message}
                    for p in site.problems
                ],
            })
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        snapshot = store.snapshot
        if snapshot is None:
            return _plain("starting\n", 503)
        state = "degraded" if store.status.error else "ok"
        return _plain(f"{state} generation={snapshot.generation}\n", 200, {"Cache-Control": "no-store"})

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        response = _plain(f"{error.name.lower()}\n", error.code or 500)
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        app.logger.exception("unhandled error serving %s", request.path)
        return _plain("internal error\n", 500)

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8", headers=headers)
