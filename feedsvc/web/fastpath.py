"""The hot path: a feed reader's GET or HEAD of a feed, answered without Flask.

Feed readers poll the same few URLs thousands of times a day, and almost every poll is either
a conditional GET that ends in 304 or a plain GET of gzip bytes we already hold. Building a
Flask request and response for each costs ten times the work of the answer itself, so this WSGI
middleware answers exactly those requests from the snapshot: a dictionary lookup, a comparison,
and headers prepared once per snapshot. Anything else (another method, a query it cannot answer
the same way Flask would, a path that is not a snapshot file, an unusual header) goes to the
Flask app unchanged. Tests send the same requests both ways and require identical answers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from feedsvc.model import Resource
from feedsvc.site.filters import mentions_filter
from feedsvc.snapshot import Served, SnapshotStore
from feedsvc.web.hookbudget import has_body
from feedsvc.web.metrics import Metrics

HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; " \
           "frame-ancestors 'none'"
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))
_ETAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')
_ENTITY_HEADERS = {"content-type", "content-length", "content-encoding", "last-modified"}  # not on a 304

log = logging.getLogger("feedsvc")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def http_date(moment: datetime) -> str:
    return formatdate(moment.timestamp(), usegmt=True)


class _Prepared:
    """One resource's two variants, with every header but Date built once."""

    __slots__ = ("resource", "gzip_ok", "identity", "gzipped", "route", "last_modified")

    def __init__(self, resource: Resource, max_age: int) -> None:
        self.resource = resource
        self.gzip_ok = resource.gzip_size < resource.size
        self.last_modified = resource.last_modified.replace(microsecond=0) if resource.last_modified else None
        html = resource.content_type.startswith("text/html")
        self.route = "page" if html or resource.content_type.startswith("text/x-opml") else "feed"
        self.identity = self._headers(resource, resource.etag, False, max_age, html)
        self.gzipped = self._headers(resource, resource.gzip_etag, True, max_age, html)

    @staticmethod
    def _headers(resource: Resource, etag: str, gzip: bool, max_age: int, html: bool
                 ) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
        """(headers of a 200 without Content-Length, headers of a 304, the ETag)."""
        headers = [("Content-Type", resource.content_type), *resource.headers]
        if gzip:
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("ETag", f'"{etag}"'))
        if resource.last_modified is not None:
            headers.append(("Last-Modified", http_date(resource.last_modified)))
        headers.append(("Cache-Control", f"public, max-age={max_age}"))
        headers.append(("Vary", "Accept-Encoding"))
        if html:
            headers.append(("Content-Security-Policy", HTML_CSP))
        not_modified = [(name, value) for name, value in headers if name.lower() not in _ENTITY_HEADERS]
        return headers, not_modified, etag


class FastPath:
    def __init__(self, store: SnapshotStore, app: WSGIApp, max_age: int, metrics: Metrics) -> None:
        self.store = store
        self.app = app
        self.max_age = max_age
        self.metrics = metrics
        # The snapshot and the answers prepared from it, swapped as one reference: a request thread
        # never pairs a new snapshot with the previous one's bytes and ETags.
        self._prepared: tuple[Served | None, dict[str, _Prepared]] = (None, {})
        self._counters: dict[tuple[str, str], Any] = {}
        self._date = (0, "")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            answer = self._answer(environ)
        except Exception:  # Flask answers instead (the same bytes, or its own error); we must hear of it
            log.exception("fast path failed on %s %r; Flask answers instead", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO", "")[:200])
            answer = None
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body, route = answer
        start_response(status, headers)
        self._count(route, status[:3])
        return [body]

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes, str] | None:
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD" or environ.get("SCRIPT_NAME") or has_body(environ):
            return None  # a body (odd on a GET) is the app's to refuse unread (hookbudget.py)
        snapshot = self.store.snapshot
        if snapshot is None:
            return None
        query = environ.get("QUERY_STRING")
        if query and mentions_filter(query):
            return None  # a filtered feed (ondemand.py)
        try:
            path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return None
        prepared = self._prepare(snapshot, path)
        if prepared is None:
            return None
        accept = environ.get("HTTP_ACCEPT_ENCODING", "")
        if ";" in accept or "*" in accept:
            return None  # quality values: Flask's parser decides
        use_gzip = prepared.gzip_ok and "gzip" in (token.strip().lower() for token in accept.split(","))
        headers, not_modified, etag = prepared.gzipped if use_gzip else prepared.identity
        fresh = self._not_modified(environ, etag, prepared.last_modified)
        if fresh is None:
            return None
        date = ("Date", self._http_now())
        if fresh:
            return "304 NOT MODIFIED", [*not_modified, date, *SECURITY_HEADERS], b"", prepared.route
        resource = prepared.resource
        length = resource.gzip_size if use_gzip else resource.size
        body = b""
        if method == "GET":
            try:
                body = resource.gzip_body if use_gzip else resource.body
            except OSError:  # its blob is gone or changed (deploy/blobs.py): Flask answers 503
                return None
        answer = [*headers, ("Content-Length", str(length)), date, *SECURITY_HEADERS]
        return "200 OK", answer, body, prepared.route

    def _prepare(self, snapshot: Served, path: str) -> _Prepared | None:
        held, answers = self._prepared
        if held is not snapshot:  # a new snapshot: headers are built again as paths are asked for
            answers = {}
            self._prepared = (snapshot, answers)
        prepared = answers.get(path)
        if prepared is None:
            resource = snapshot.resources.get(path) or snapshot.aliases.get(path)
            if resource is None:
                return None
            prepared = answers[path] = _Prepared(resource, self.max_age)
        return prepared

    @staticmethod
    def _not_modified(environ: dict[str, Any], etag: str, last_modified: datetime | None) -> bool | None:
        """True: answer 304; False: answer 200; None: let Flask judge this header."""
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            tags = []
            for token in if_none_match.split(","):
                if token.strip() == "*":
                    return True
                found = _ETAG.fullmatch(token)
                if found is None:
                    return None
                tags.append(found.group(1))
            return etag in tags
        since = environ.get("HTTP_IF_MODIFIED_SINCE")
        if since is None or last_modified is None:
            return False if since is None else None
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError, ArithmeticError):  # year 99999999999 overflows
            return None
        if moment.tzinfo is None:
            return None
        return last_modified <= moment

    def _http_now(self) -> str:
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, formatdate(second, usegmt=True))
        return self._date[1]

    def _count(self, route: str, status: str) -> None:
        counter = self._counters.get((route, status))
        if counter is None:
            counter = self._counters[(route, status)] = self.metrics.requests.labels(route, status)
        counter.inc()
