"""CPU time of each process of a campaign's stack, read from the kernel before and after.

With two workers on two cores, every millisecond of CPU that the worker's main process,
Postgres, Redis or the API spends on a run is taken from the runs' own compute, so the
campaign harness reports where it goes per executed run: the Celery worker's main processes
(consuming, acking, handing messages to the pool), its pool processes less the runs' own
benchmark CPU (what the platform adds inside the process that runs them), Postgres (every
process of the private cluster), Redis and the API. A process that ends in between (a killed
worker, a closed connection) is not counted: the figures are for runs without faults.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import psutil


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return float(times.user + times.system)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def postmaster_pid(data_dir: Path) -> int:
    """The pid of a cluster's postmaster, from its ``postmaster.pid``."""
    return int((data_dir / "postmaster.pid").read_text().split()[0])


class ProcessCpu:
    """CPU seconds per process, by class, between ``__init__`` and ``stop``."""

    def __init__(
        self, *, workers: Iterable[int], postgres: int, redis: int, api: Iterable[int]
    ) -> None:
        self.pids = {"worker_main": list(workers), "postgres": [postgres], "redis": [redis]}
        self.pids["api"] = list(api)
        self.before = self._read()
        self.after: dict[tuple[str, int, float], float] = {}

    def stop(self) -> None:
        """Read the processes again: the end of what ``per_run_ms`` counts."""
        self.after = self._read()

    def _read(self) -> dict[tuple[str, int, float], float]:
        """CPU of every process, keyed by (class, pid, creation time) so a reused pid is new."""
        found: dict[tuple[str, int, float], float] = {}
        for kind, pids in self.pids.items():
            for pid in pids:
                for index, process in enumerate(_tree(pid)):
                    name = "worker_pool" if kind == "worker_main" and index > 0 else kind
                    try:
                        key = (name, process.pid, process.create_time())
                    except psutil.NoSuchProcess:
                        continue
                    found[key] = _cpu(process)
        return found

    def per_run_ms(self, runs: int, runs_cpu_s: float) -> dict[str, float]:
        """ms of CPU per run by class; ``worker_pool`` less ``runs_cpu_s`` (the benchmarks')."""
        spent: dict[str, float] = {}
        for key, cpu in self.after.items():
            spent[key[0]] = spent.get(key[0], 0.0) + cpu - self.before.get(key, 0.0)
        spent["worker_pool"] = spent.get("worker_pool", 0.0) - runs_cpu_s
        n = max(runs, 1)
        figures = {kind: round(1000 * s / n, 2) for kind, s in sorted(spent.items())}
        figures["all"] = round(sum(figures.values()), 2)
        return figures
