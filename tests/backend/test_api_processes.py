"""`mlipm api --workers N`: N processes, each with its own socket on one port (SO_REUSEPORT).

- both processes answer: over many fresh connections, each process serves some;
- a process that dies is started again, and the port keeps answering;
- a second server on a port in use is refused at once, not silently sharing it;
- SIGTERM to the supervisor stops every process, and so does its death by SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from backend.cli.localservices import free_port
from tests.live import _spawn, _stop, wait_until


def _api_processes(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The supervisor's API processes (not multiprocessing's resource tracker)."""
    found = []
    for child in psutil.Process(proc.pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {"MLIPM_API_PORT": str(port)}
    proc = _spawn(["-m", "backend.cli", "api", "--workers", "2"], tmp_path / "api.log", env)

    def up() -> bool:
        assert proc.poll() is None, (tmp_path / "api.log").read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 90, "the API to answer")
        wait_until(lambda: len(_api_processes(proc)) == 2, 30, "two API processes")
        yield proc, port
    finally:
        _stop(proc)


def _served_by(proc: subprocess.Popen[bytes], port: int, n: int) -> set[int]:
    """Which API processes held the connection of each of ``n`` fresh requests."""
    pids = set()
    for _ in range(n):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/health").status_code == 200
            for child in _api_processes(proc):
                held = child.net_connections("tcp")
                if any(c.laddr.port == port and c.status == "ESTABLISHED" for c in held):
                    pids.add(child.pid)
    return pids


def test_two_processes_share_the_port_and_a_dead_one_is_replaced(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served
    first = {p.pid for p in _api_processes(proc)}
    # a fresh connection lands on either socket (a hash of its ports): 40 reach both
    assert _served_by(proc, port, 40) == first
    victim = next(iter(first))
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: (
            len(_api_processes(proc)) == 2 and victim not in {p.pid for p in _api_processes(proc)}
        ),
        60,
        "a new API process",
    )
    wait_until(lambda: len(_served_by(proc, port, 40)) == 2, 60, "both processes answering")


def test_a_port_in_use_is_refused_and_sigterm_stops_every_process(
    served: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    proc, port = served
    env = {"MLIPM_API_PORT": str(port)}
    second = _spawn(["-m", "backend.cli", "api", "--workers", "2"], tmp_path / "second.log", env)
    assert second.wait(timeout=60) != 0
    assert "Address already in use" in (tmp_path / "second.log").read_text()
    children = _api_processes(proc)
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []


def test_the_processes_do_not_outlive_a_killed_supervisor(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, _ = served
    children = _api_processes(proc)
    proc.kill()
    proc.wait(timeout=10)
    _gone, alive = psutil.wait_procs(children, timeout=20)
    assert alive == []
