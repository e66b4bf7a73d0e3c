"""The heartbeat thread's stall detection counts every pause of the process.

A worker paused between its task's start and the run registering itself with the heartbeat
(after the claim, which is when a test sees the run running), before its heartbeat thread
reached its first wait (a fresh thread, or one still saying the run's message taken in Redis),
or while the thread renewed the lease (a database round trip, long under load), must still see
the missed beats when its soft time limit fires, so that the run is given back as
``worker_stalled`` instead of failing as the model's timeout
(``tests/backend/test_run_attempts_live.py`` pauses a real worker; there these races showed one
time in three, then in loaded suites). Here the clock jumps before the run registers, or while
the thread is held in the Redis call or in the renewal.
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
    with beating.watch(job, since=clock[0]):
        clock[0] += 2 * interval + 10  # the process paused longer than the stall threshold
        let_go.set()
        time.sleep(0.3)  # the thread reaches its first wait
        assert beating.missed_beats(), beating.longest_gap_s()


def test_a_pause_during_a_lease_renewal_counts_as_missed_beats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(heartbeat_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setenv("MLIPM_RUN_LEASE_S", "0.3")  # a beat every 0.1 s of real time
    get_settings.cache_clear()
    in_renewal, let_go = threading.Event(), threading.Event()

    def slow_renewal(job: Any, cancelled: threading.Event) -> None:
        if not in_renewal.is_set():
            in_renewal.set()
            let_go.wait(10)

    monkeypatch.setattr(heartbeat_module.Heartbeat, "_renew", staticmethod(slow_renewal))
    beating = heartbeat_module.Heartbeat()
    job: Any = object()
    try:
        with beating.watch(job, since=clock[0]):
            assert in_renewal.wait(10)
            clock[0] += 30.0  # the process paused, mid-renewal, past the stall threshold
            let_go.set()
            time.sleep(0.3)  # the renewal returns, and the next beats come on time
            assert beating.missed_beats(), beating.longest_gap_s()
    finally:
        get_settings.cache_clear()


def test_a_pause_after_the_claim_before_the_run_registers_counts_as_missed_beats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(heartbeat_module, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(heartbeat_module.queue, "message_taken", lambda run_id: None)
    interval = get_settings().run_lease_s / 3
    beating = heartbeat_module.Heartbeat()
    began = clock[0]  # the task starts, its soft time limit with it, and claims the run
    clock[0] += 2 * interval + 10  # paused before the run registered with the heartbeat
    job: Any = object()
    with beating.watch(job, since=began):
        # the soft limit fires at once, before the thread's first beat
        assert beating.missed_beats(), beating.longest_gap_s()
