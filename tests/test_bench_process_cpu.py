"""The campaign harness's CPU per process (bench/process_cpu.py) sees what processes spend.

A stand-in for a worker (a main process with one pool process) burns a known amount of CPU in
the pool process, of which part is declared as the runs' own benchmark CPU: ``worker_pool``
shows the rest, ``worker_main`` almost nothing, a process that idled almost nothing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.process_cpu import ProcessCpu

# The main process starts its pool process and waits; the pool process waits for a line, then
# burns 0.6 s of CPU, says so, and waits for another line.
WORKER = """
import subprocess, sys
pool = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdin=sys.stdin, stdout=sys.stdout)
pool.wait()
"""
POOL = """
import sys, time
print("ready", flush=True)
sys.stdin.readline()
start = time.process_time()
while time.process_time() - start < 0.6:
    pass
print("done", flush=True)
sys.stdin.readline()  # alive until the harness has read it
"""


def test_the_pool_process_cpu_less_the_runs_own_is_what_it_burnt() -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, POOL],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert worker.stdout is not None
        assert worker.stdin is not None
        assert worker.stdout.readline().strip() == "ready"
        cpu = ProcessCpu(workers=[worker.pid], postgres=idle.pid, redis=idle.pid, api=[])
        worker.stdin.write("go\n")
        worker.stdin.flush()
        assert worker.stdout.readline().strip() == "done"
        cpu.stop()
        # two "runs", 0.2 s of benchmark CPU between them: 0.4 s of the 0.6 s is the rest
        per_run = cpu.per_run_ms(2, runs_cpu_s=0.2)
    finally:
        worker.kill()
        idle.kill()
    assert per_run["worker_pool"] == pytest.approx(200, abs=30)
    assert per_run["worker_main"] < 20
    assert per_run["postgres"] < 20
    assert per_run["all"] == pytest.approx(sum(v for k, v in per_run.items() if k != "all"))
