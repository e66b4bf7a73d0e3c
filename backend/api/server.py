"""How ``mlipm api`` serves the app: uvicorn with deadlines on reading requests from clients.

uvicorn bounds only the idle time between requests on a kept-alive connection
(``timeout_keep_alive``), and that timer stops at a request's first byte: a client that opens
a connection and sends its request head or body a byte at a time holds the socket for as long
as it likes. :class:`ReadTimeoutH11Protocol` adds the two missing deadlines.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nrequest timeout\n"
)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What bounds a client's hold on the API server (seconds, bytes, connections)."""

    #: a connection's whole request head (request line and headers) must arrive within this,
    #: counted from the connection's opening or from the previous response: slow headers
    header_timeout_s: float = 10.0
    #: the longest pause between two chunks of a request body: a stalled upload (large
    #: model files may take long, but must keep moving)
    body_timeout_s: float = 30.0
    #: idle time allowed between requests on a kept-alive connection (uvicorn's own)
    keep_alive_s: int = 5
    #: connections plus requests in progress beyond which uvicorn answers 503 at once
    limit_concurrency: int = 1000
    #: bytes of an unfinished request head held before uvicorn answers 400 (h11's buffer)
    max_head_bytes: int = 16 * 1024


DEFAULT_LIMITS = ServerLimits()


class ReadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on the request head and on body pauses.

    A connection that misses its head deadline gets a 408 and is closed; one whose body stalls
    is closed (the route sees a disconnect). While uvicorn has paused reading because the app
    has not consumed the body yet, the client is not the slow one and no deadline runs.
    """

    header_timeout_s = DEFAULT_LIMITS.header_timeout_s
    body_timeout_s = DEFAULT_LIMITS.body_timeout_s

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._reading: str | None = None  # "head", "body" or None (nothing expected)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._track_reading()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track_reading()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_read_timer()
        super().connection_lost(exc)

    def _track_reading(self) -> None:
        if self.transport.is_closing():
            self._stop_read_timer()
        elif self.conn.their_state is h11.IDLE:
            if self._reading != "head":  # one deadline for the whole head, never extended
                self._start_read_timer("head", self.header_timeout_s)
        elif self.conn.their_state is h11.SEND_BODY:
            self._start_read_timer("body", self.body_timeout_s)  # restarts at every chunk
        else:
            self._stop_read_timer()

    def _start_read_timer(self, reading: str, delay_s: float) -> None:
        self._stop_read_timer()
        self._reading = reading
        self._read_timer = self.loop.call_later(delay_s, self._read_timed_out)

    def _stop_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer, self._reading = None, None

    def _read_timed_out(self) -> None:
        reading, self._read_timer = self._reading, None
        if self.transport.is_closing():
            return
        if reading == "body" and self.flow.read_paused:  # the app is behind, not the client
            self._start_read_timer("body", self.body_timeout_s)
            return
        log.info("closing a connection from %s: request %s too slow", self.client, reading)
        if reading == "head" and self.conn.our_state is h11.IDLE:
            self.transport.write(_REQUEST_TIMEOUT)
        self._reading = None
        self.transport.close()


def protocol_with(limits: ServerLimits) -> type[ReadTimeoutH11Protocol]:
    """The protocol class with ``limits``' read deadlines."""
    return type(
        "ReadTimeoutH11Protocol",
        (ReadTimeoutH11Protocol,),
        {"header_timeout_s": limits.header_timeout_s, "body_timeout_s": limits.body_timeout_s},
    )


def uvicorn_options(limits: ServerLimits) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` that apply ``limits``."""
    return {
        "http": protocol_with(limits),
        "timeout_keep_alive": limits.keep_alive_s,
        "limit_concurrency": limits.limit_concurrency,
        "h11_max_incomplete_event_size": limits.max_head_bytes,
    }


def serve(app: str, *, host: str, port: int, limits: ServerLimits) -> None:
    """Serve the ASGI app ``app`` (an import string) with uvicorn under ``limits``; the upload
    parsers' forkserver starts alongside, in this process, where uvicorn runs the app."""
    import uvicorn

    from backend.api.deps import warm_up_parsers

    threading.Thread(target=warm_up_parsers, name="parser-warm-up", daemon=True).start()

    uvicorn.run(app, host=host, port=port, **uvicorn_options(limits))
