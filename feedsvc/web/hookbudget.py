"""How much of a process webhook traffic may take: a few slots, and a body read within a deadline and a size.

Feed readers and webhook senders share the server's request threads. A sender that trickles its body (or
never finishes it) holds a thread for as long as it likes if the body is read on that thread, and a few
dozen such senders starve every feed reader. So a hook request first takes one of a few slots (none free:
503 at once, before a byte of the body is read): webhook traffic never holds more than that many threads.

gunicorn hands us its socket: there the body is read on a helper thread that the request waits for only
until the deadline (then 408, and the socket's reading side is shut so the read ends), and any body the app
refused unread has its reading side shut too (gunicorn would otherwise drain it on the request thread, up to
5 s, before keeping the connection). granian gives the app no socket and returns from a read only with the
whole body; measured, a read left running after its request has answered stalls every other request of
the worker until it ends. So under granian the body is read on the request thread, bounded by the slots,
not by a deadline: a sender that trickles holds its slot until it finishes or goes.
"""

from __future__ import annotations

import socket
import threading
from typing import IO, Any

BODY_SECONDS = 10.0
SLOTS = 2
_CHUNK = 64 * 1024
_AFTER_SHUTDOWN_SECONDS = 2.0


class BodyRefused(Exception):
    """The body was not read: `status` is the answer (400 bad framing, 408 too slow, 413 too large)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Lease:
    """One slot, given back once every holder (the request, the body read) has let go of it."""

    def __init__(self, free: threading.BoundedSemaphore) -> None:
        self._free = free
        self._holders = 1
        self._lock = threading.Lock()

    def hold(self) -> None:
        with self._lock:
            self._holders += 1

    def drop(self) -> None:
        with self._lock:
            self._holders -= 1
            last = self._holders == 0
        if last:
            self._free.release()


class HookBudget:
    """At most `slots` webhook requests in this process at once, each body read within `seconds`."""

    def __init__(self, slots: int = SLOTS, seconds: float = BODY_SECONDS) -> None:
        self._free = threading.BoundedSemaphore(slots)
        self.seconds = seconds

    def take(self) -> Lease | None:
        """A slot, or None when all are taken (never waits)."""
        return Lease(self._free) if self._free.acquire(blocking=False) else None

    def read_body(self, environ: dict[str, Any], limit: int, lease: Lease) -> bytes:
        """The whole body, at most `limit` bytes, read within the deadline; otherwise `BodyRefused`."""
        length = _declared_length(environ)
        if length is not None and length > limit:
            raise BodyRefused(413, f"body of {length} bytes is over the {limit} byte limit")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if (length is None and not chunked) or length == 0:
            return b""
        stream: IO[bytes] = environ["wsgi.input"]
        if _socket(environ) is None:  # granian: nothing can end a read early, so it takes this thread
            try:
                result: bytes | BaseException = _read(stream, length, limit)
            except Exception as exc:  # the server's framing errors have no common type
                result = exc
        else:
            result = self._read_by_deadline(environ, stream, length, limit, lease)
        if isinstance(result, BaseException):
            raise BodyRefused(400, f"malformed body: {type(result).__name__}")
        if len(result) > limit:
            raise BodyRefused(413, f"body over the {limit} byte limit")
        if length is not None and len(result) < length:
            raise BodyRefused(400, f"body ended after {len(result)} of {length} bytes")
        return result

    def _read_by_deadline(self, environ: dict[str, Any], stream: IO[bytes], length: int | None, limit: int,
                          lease: Lease) -> bytes | BaseException:
        """Read on a helper thread; past the deadline, wake it by closing the socket's reading side."""
        outcome: list[bytes | BaseException] = []

        def read() -> None:
            try:
                outcome.append(_read(stream, length, limit))
            except BaseException as exc:  # the server's framing errors have no common type
                outcome.append(exc)
            finally:
                lease.drop()

        lease.hold()
        reader = threading.Thread(target=read, name="feedsvc-hook-body", daemon=True)
        reader.start()
        reader.join(self.seconds)
        if reader.is_alive():
            stop_reading(environ)
            # The read ends now that the socket's reading side is shut; let it, so the server's parser is not
            # still inside it when the server goes on with the connection ("generator already executing").
            reader.join(_AFTER_SHUTDOWN_SECONDS)
            raise BodyRefused(408, f"body not received within {self.seconds:g}s")
        return outcome[0]


def _declared_length(environ: dict[str, Any]) -> int | None:
    value = environ.get("CONTENT_LENGTH") or None
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        raise BodyRefused(400, "Content-Length is not a number") from None
    if length < 0:
        raise BodyRefused(400, "Content-Length is negative")
    return length


def _read(stream: IO[bytes], length: int | None, limit: int) -> bytes:
    """`length` bytes, or (chunked) up to EOF but never more than `limit` + 1."""
    if length is not None:
        return stream.read(length)
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = stream.read(_CHUNK)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def has_body(environ: dict[str, Any]) -> bool:
    return environ.get("CONTENT_LENGTH", "") not in ("", "0") or "HTTP_TRANSFER_ENCODING" in environ


def _socket(environ: dict[str, Any]) -> socket.socket | None:
    sock = environ.get("gunicorn.socket")
    return sock if isinstance(sock, socket.socket) else None


def stop_reading(environ: dict[str, Any]) -> None:
    """Read no more of this connection, where the server lets us reach its socket (gunicorn).

    This ends a read blocked on a client that stopped sending, and spares the thread gunicorn's drain of a
    body nobody read (up to 5 s per request, a trickle's worth), which it does before keeping a connection.
    """
    sock = _socket(environ)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RD)  # the blocked recv returns; the answer can still be written
        except OSError:
            pass
