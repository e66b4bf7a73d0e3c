"""The heartbeat thread's stall detection counts from the run's start.

A worker paused before its heartbeat thread reached its first wait (a fresh thread, or one
still saying the run's message taken in Redis) must still see the missed beats when its soft
time limit fires, so that the run is given back as ``worker_stalled`` instead of failing as the
model's timeout (``tests/backend/test_run_attempts_live.py`` pauses a real worker; there the
race showed one time in three). Here the thread is held in the Redis call while the clock
jumps past the pause.
"""

from __future__ import annotations

import threading
import time
import types
from typing import Any

import pytest

from backend.settings import get_settings
from workers.tasks import heartbeat as heartbeat_module


def test_a_pause_before_the_threads_first_wait_counts_as_missed_beats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(heartbeat_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    in_redis, let_go = threading.Event(), threading.Event()

    def slow_message_taken(run_id: str) -> None:
        in_redis.set()
        let_go.wait(10)

    monkeypatch.setattr(heartbeat_module.queue, "message_taken", slow_message_taken)
    interval = get_settings().run_lease_s / 3
    beating = heartbeat_module.Heartbeat()
    beating.message_taken("a run")
    assert in_redis.wait(10)
    job: Any = object()
    with beating.watch(job):
        clock[0] += 2 * interval + 10  # the process paused longer than the stall threshold
        let_go.set()
        time.sleep(0.3)  # the thread reaches its first wait
        assert beating.missed_beats(), beating.longest_gap_s()
