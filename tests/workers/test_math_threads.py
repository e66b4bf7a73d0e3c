"""Worker processes run one math thread each: numba's pool (UMAP, PHATE in the landscape
benchmark) would otherwise be as large as the machine and, through the OpenMP runtime it
shares with torch, make every later torch kernel of the process spin on a barrier."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from backend.cli.main import MATH_THREADS, one_math_thread_per_process

NUMBA_THREADS = "import numba; print(numba.config.NUMBA_NUM_THREADS)"


def test_the_worker_sets_one_math_thread_unless_the_environment_chose() -> None:
    environ = {"OMP_NUM_THREADS": "4"}
    one_math_thread_per_process(environ)
    assert environ == {"OMP_NUM_THREADS": "4", **dict.fromkeys(MATH_THREADS[1:], "1")}


def _numba_threads(environ: dict[str, str]) -> int:
    out = subprocess.run(
        [sys.executable, "-c", NUMBA_THREADS], env=environ, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="a one-core machine has one thread anyway")
def test_a_worker_process_starts_numba_with_one_thread() -> None:
    pytest.importorskip("numba")
    bare = {k: v for k, v in os.environ.items() if k not in MATH_THREADS}
    assert _numba_threads(bare) == os.cpu_count()  # the default the worker must not keep
    worker = dict(bare)
    one_math_thread_per_process(worker)
    assert _numba_threads(worker) == 1
