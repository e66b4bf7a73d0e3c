"""Slow clients against the dashboard's server: do normal visitors still get answers?

Starts ``mlipm dashboard`` (gunicorn, as the demo and docker-compose run it) on a free port,
opens ``--sockets`` connections that send a request head one header line every ``--drip-s``
seconds (never finishing it), then times ``--requests`` ordinary ``GET /`` from another client.
The page is Dash's index, which needs no API call, so only the server is measured.

    python -m bench slow_clients --sockets 64 --out bench/results/slow_clients.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from backend.cli.localservices import free_port


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MLIPM_DASH_PORT": str(port), "MLIPM_API_URL": "http://127.0.0.1:9"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "dashboard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the dashboard did not start within 60 s")


def measure(port: int, sockets: int, drip_s: float, requests: int, timeout_s: float) -> dict:
    slow = []
    for _ in range(sockets):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: slow\r\n")
        slow.append(s)
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(drip_s):
            for s in slow:
                with contextlib.suppress(OSError):
                    s.sendall(b"X-Slow: 1\r\n")

    threading.Thread(target=drip, daemon=True).start()
    time.sleep(drip_s + 1)
    latencies, failures = [], 0
    for _ in range(requests):
        started = time.monotonic()
        try:
            ok = httpx.get(f"http://127.0.0.1:{port}/", timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            ok = False
        latencies.append(time.monotonic() - started)
        failures += not ok
    still_open = 0
    for s in slow:
        try:
            s.sendall(b"X-Slow: 1\r\n")
            still_open += 1
        except OSError:
            pass
    stop.set()
    for s in slow:
        s.close()
    return {
        "slow_sockets": sockets,
        "drip_s": drip_s,
        "requests": requests,
        "failed_or_timed_out": failures,
        "median_s": round(statistics.median(latencies), 4),
        "max_s": round(max(latencies), 4),
        "slow_sockets_still_open": still_open,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=64)
    parser.add_argument("--drip-s", type=float, default=2.0)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--timeout-s", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/slow_clients.json"))
    args = parser.parse_args(argv)
    port = free_port()
    server = _serve(port)
    try:
        baseline = measure(port, 0, args.drip_s, args.requests, args.timeout_s)
        loaded = measure(port, args.sockets, args.drip_s, args.requests, args.timeout_s)
    finally:
        server.terminate()
        server.wait(30)
    result = {"server": "mlipm dashboard (gunicorn)", "baseline": baseline, "slow": loaded}
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
