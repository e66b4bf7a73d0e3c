"""How ``mlipm api`` serves the app: uvicorn with deadlines on reading requests from clients.

uvicorn bounds only the idle time between requests on a kept-alive connection
(``timeout_keep_alive``), and that timer stops at a request's first byte: a client that opens
a connection and sends its request head or body a byte at a time holds the socket for as long
as it likes. :class:`ReadTimeoutH11Protocol` adds the two missing deadlines.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
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


def serve(
    app: str,
    *,
    host: str,
    port: int,
    limits: ServerLimits,
    workers: int = 1,
    access_log: bool = False,
) -> None:
    """Serve the ASGI app ``app`` (an import string) with uvicorn under ``limits``.

    ``workers`` > 1: that many processes, each with its own listening socket on the same port
    (``SO_REUSEPORT``), so the kernel spreads new connections across them by a hash of each
    connection's addresses instead of letting the least busy process accept them all (with
    one shared socket, 20 kept-alive clients landed 15/5 on two processes and 19/1/0/0 on
    four: docs/performance.md, Read path). This process supervises them: a process that dies
    is started again; SIGINT or SIGTERM stops them all. Each runs the upload parsers'
    forkserver. ``access_log``: uvicorn's line per request (off: about 0.3 ms of CPU each).
    """
    if workers <= 1:
        _serve_one(app, host, port, limits, access_log, reuse_port=False)
        return
    _refuse_if_taken(host, port)
    context = multiprocessing.get_context("spawn")

    def start() -> multiprocessing.process.BaseProcess:
        args = (app, host, port, limits, access_log, True)
        child = context.Process(target=_serve_one, args=args, name="mlipm-api", daemon=False)
        child.start()
        return child

    children = [start() for _ in range(workers)]
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    restarts: list[float] = []
    try:
        while not stopping.wait(0.5):
            for i, child in enumerate(children):
                if child.is_alive():
                    continue
                log.warning("API process %s exited (%s)", child.pid, child.exitcode)
                restarts = [t for t in restarts if time.monotonic() - t < 60] + [time.monotonic()]
                if len(restarts) > 2 * workers:
                    raise SystemExit("API processes keep exiting: see the log above")
                children[i] = start()
    finally:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join(15)
            if child.is_alive():
                child.kill()


def _refuse_if_taken(host: str, port: int) -> None:
    """Fail at once when something already listens on the port: the processes' own sockets
    share it, so another server that also set SO_REUSEPORT would otherwise share it too."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a listener still refuses
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise SystemExit(f"cannot serve the API on {host}:{port}: {exc.strerror}") from exc
    finally:
        probe.close()


def _serve_one(
    app: str, host: str, port: int, limits: ServerLimits, access_log: bool, reuse_port: bool
) -> None:
    import uvicorn

    from backend.api.deps import warm_up_parsers

    # Before this process listens, not beside it: the warm-up keeps both cores busy for 1-5 s,
    # which the first visitors after a restart paid (a model page 2.1 s instead of 1.2 s);
    # so the API answers once it is ready, and then at full speed.
    warm_up_parsers()
    options = {**uvicorn_options(limits), "access_log": access_log}
    if not reuse_port:
        uvicorn.run(app, host=host, port=port, **options)
        return
    _stop_with_supervisor()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    config = uvicorn.Config(app, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def _stop_with_supervisor() -> None:
    """On Linux, have the kernel send this process SIGTERM when its supervisor dies, even by
    SIGKILL, so no API process outlives it holding the port."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # it died before the call
        raise SystemExit(0)
