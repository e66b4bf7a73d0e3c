"""The heartbeat thread of a worker process: leases renewed, cancellations seen, messages said
taken, while the process executes a run (``workers.tasks.runs``)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from backend.db.session import session_scope
from backend.services import queue, runs
from backend.settings import get_settings

log = logging.getLogger(__name__)


class Heartbeat:
    """One thread per worker process renews the lease of the run the process is executing.

    A run registers itself for its duration (``watch``); every third of the lease the thread
    renews it and, once the run lost its lease or every campaign that asked for it was
    cancelled, sets the run's ``cancelled`` event. It also says the message of each run the
    process claims taken (``message_taken``), off the run's path. Started lazily, so a forked
    pool process gets its own thread, and never per run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._current: tuple[runs.ClaimedRun, threading.Event] | None = None
        self._taken: list[str] = []  # runs whose message was taken, to say so (message_taken)
        self._pid: int | None = None
        # Stall detection: when the thread began its current wait, and by how much its wakes
        # came late during the current run (a paused or starved process wakes late).
        self._waiting_since = time.monotonic()
        self._worst_lateness_s = 0.0

    def message_taken(self, run_id: str) -> None:
        """Have the thread remove the run from the waiting messages (``queue.message_taken``)."""
        with self._lock:
            self._start()
            self._taken.append(run_id)
        self._changed.set()

    def _start(self) -> None:
        if self._pid != os.getpid():  # called under the lock
            self._pid = os.getpid()
            self._taken = []  # not the parent's
            threading.Thread(target=self._beat, name="heartbeat", daemon=True).start()

    @contextmanager
    def watch(self, job: runs.ClaimedRun, *, since: float) -> Iterator[threading.Event]:
        """Serve ``job`` until the block ends; ``since`` is when its task began
        (``time.monotonic()``), when its soft time limit started counting: a pause of the
        process between then and here (after the claim, before the run registered itself)
        counts as missed beats too."""
        cancelled = threading.Event()
        with self._lock:
            self._start()
            self._current = (job, cancelled)
            self._waiting_since, self._worst_lateness_s = since, 0.0
        self._changed.set()
        try:
            yield cancelled
        finally:
            with self._lock:
                self._current = None
            self._changed.set()

    def _beat(self) -> None:
        interval = get_settings().run_lease_s / 3
        while True:
            self._changed.wait()
            self._changed.clear()
            with self._lock:
                current, taken, self._taken = self._current, self._taken, []
            for run_id in taken:
                queue.message_taken(run_id)
            if current is None:
                continue
            # Renew every interval while the same run is current; a change wakes us early.
            # Lateness counts from the run's start (``watch``), not from when this thread got
            # here: a process paused before the thread's first wait (a fresh thread, a message
            # said taken first) would otherwise look as if it had never stalled.
            while not self._changed.wait(interval):
                woke = time.monotonic()
                late = woke - self._waiting_since - interval
                self._worst_lateness_s = max(self._worst_lateness_s, late)
                self._renew(*current)
                # A pause during the renewal (a database round trip; longer under load) delays
                # the next beat as much, and the clock restarts after it: count it first, so
                # that a reader sees either the old start or the lateness.
                renewed = time.monotonic()
                self._worst_lateness_s = max(self._worst_lateness_s, renewed - woke)
                self._waiting_since = renewed
                with self._lock:
                    if self._current is not current:
                        break

    def longest_gap_s(self) -> float:
        """The longest a heartbeat of the current run came late so far, in seconds (counting
        a beat that is overdue now)."""
        interval = get_settings().run_lease_s / 3
        overdue = time.monotonic() - self._waiting_since - interval
        return max(self._worst_lateness_s, overdue, 0.0)

    def missed_beats(self) -> bool:
        """Whether the current run's heartbeats came (or are) late by more than half their
        interval (5 s at least, more than a loaded machine delays a sleeping thread): the
        process could not run, so the lease went unrenewed."""
        interval = get_settings().run_lease_s / 3
        return self.longest_gap_s() > max(5.0, interval / 2)

    @staticmethod
    def _renew(job: runs.ClaimedRun, cancelled: threading.Event) -> None:
        try:
            with session_scope() as session:
                owned, all_cancelled = runs.heartbeat(session, job)
        except Exception:  # the database may be restarting: keep trying
            log.warning("heartbeat of run %s failed", job.run_id, exc_info=True)
            return
        if all_cancelled or not owned:
            cancelled.set()


heartbeat = Heartbeat()
