"""The read-path harness' HTTP side (bench/read_path.py): a tiny keep-alive load generator,
how the clients' connections spread over the API's processes, and results landing meanwhile."""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
import uuid
from typing import Any

import psycopg


class ResultWriter:
    """Results landing while the boards are read, as during a campaign (``url``: a libpq
    conninfo): every ``1/rate`` s
    one metric row on a succeeded run of each benchmark (each write changes every board's
    ETag, so the next read of each board is a rebuild)."""

    def __init__(self, url: str, rate_per_s: float) -> None:
        self.url, self.rate, self.written = url, rate_per_s, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="result-writer", daemon=True)

    def __enter__(self) -> ResultWriter:
        if self.rate > 0:
            self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(10)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            runs = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT ON (benchmark_id) id FROM run WHERE status = 'succeeded'"
                )
            ]
            while not self.stop.wait(1.0 / self.rate):
                with conn.transaction():
                    for run_id in runs:
                        conn.execute(
                            "INSERT INTO metric (id, run_id, name, value, unit) "
                            "VALUES (%s, %s, %s, 1.0, '1')",
                            (uuid.uuid4(), run_id, f"written_{uuid.uuid4().hex[:12]}"),
                        )
                self.written += 1


def connections_per_process(server: int, port: int) -> list[int]:
    """Established connections on ``port`` held by each of the server's processes (busiest
    first)."""
    import psutil

    counts = []
    for proc in [psutil.Process(server), *psutil.Process(server).children(recursive=True)]:
        try:
            held = [c for c in proc.net_connections("tcp") if c.laddr and c.laddr.port == port]
        except psutil.Error:
            continue
        if proc.pid != server or held:
            counts.append(sum(1 for c in held if c.status == psutil.CONN_ESTABLISHED))
    return sorted((c for c in counts if c), reverse=True)


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the API did not start")


async def request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, headers: dict[str, str]
) -> tuple[int, bytes, dict[str, str]]:
    """One HTTP/1.1 keep-alive GET (a tiny client, so the load generator costs little CPU)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {
        k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
    }
    body = await reader.readexactly(int(fields.get("content-length", "0")))
    return status, body, fields


async def fetch_body(port: int, path: str) -> bytes:
    """The body of one GET (status 200)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    status, body, _ = await request(reader, writer, path, {})
    writer.close()
    assert status == 200, status
    return body


async def board_etag(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    status, _, fields = await request(reader, writer, path, {})
    writer.close()
    assert status == 200, status
    return fields["etag"]


async def load(
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    clients: int,
    total: int,
    server: int | None = None,
) -> dict[str, Any]:
    """``total`` requests from ``clients`` kept-alive connections, each sending its next
    request when its answer arrives; ``server``: also count each API process' connections and
    the CPU its processes spent per request. An ``If-None-Match`` header of ``"{latest}"``
    sends the ETag of the client's last 200, as a browser revalidates its cached copy."""
    latencies: list[float] = []
    sizes: set[int] = set()
    statuses: dict[int, int] = {}
    remaining = [total]

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        latest = headers.get("If-None-Match", "")
        while remaining[0] > 0:
            remaining[0] -= 1
            sent = {k: (latest if v == "{latest}" else v) for k, v in headers.items()}
            t0 = time.perf_counter()
            status, body, fields = await request(
                reader, writer, path.replace("{i}", uuid.uuid4().hex), sent
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            sizes.add(len(body))
            latest = fields.get("etag", latest) if status == 200 else latest
        writer.close()

    async def spread() -> list[int]:
        await asyncio.sleep(0.5)  # every client connected and busy
        return [] if server is None else connections_per_process(server, port)

    cpu_before = server_cpu_s(server) if server is not None else 0.0
    start = time.perf_counter()
    *_, per_process = await asyncio.gather(*(client() for _ in range(clients)), spread())
    wall = time.perf_counter() - start
    cpu = server_cpu_s(server) - cpu_before if server is not None else 0.0
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "statuses": {str(k): v for k, v in statuses.items()},
        "response_bytes": max(sizes),
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(max(latencies), 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        **(
            {
                "connections_per_process": per_process,
                "server_cpu_ms_per_request": round(1000 * cpu / len(latencies), 3),
            }
            if server is not None
            else {}
        ),
    }


def server_cpu_s(server: int) -> float:
    """CPU seconds (user and system) of the server process and its children so far."""
    import psutil

    total = 0.0
    for proc in [psutil.Process(server), *psutil.Process(server).children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total
