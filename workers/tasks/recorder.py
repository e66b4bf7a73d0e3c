"""A run's result written while Celery hands its pool process the next message.

With ``acks_late`` and prefetch 1, between two runs the pool process reports the task's end to
the worker's main process, which acknowledges the message in Redis, fetches the next one and
hands it over through a pipe (about 2 ms a run, all of it waiting for the pool process). A
pool process therefore returns from a run's task once its outcome is known, and this module's
thread writes the result (frames, the result statement) meanwhile, so that the hop and the
write overlap instead of following each other (docs/performance.md).

At most one write is in flight per process: the next task waits for it after its claim and
before its run starts (:meth:`Recorder.wait`), a new write waits for the one before, and the
process waits for it before it exits (``worker_process_shutdown``). Only the pool processes of
a worker defer (``worker_process_init``); a task called in-process writes before it returns.

What the earlier ack costs: a process killed after the ack and before the write committed
leaves its run ``running`` on a lease nobody renews, and the sweeper sends the run again once
the lease expired, as for a result the database forgot after an asynchronous commit
(``use_worker_session_options``): nothing is lost or recorded twice, the run is computed
again. A database that refuses connections is tried again for at most a lease (Celery's retry
of the task did the same, computing the run again); after that the run is left to the sweeper.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.exc import OperationalError

from backend.settings import get_settings

log = logging.getLogger(__name__)
LEFT_TO_THE_SWEEPER = "left to the sweeper (database unreachable)"


class Recorder:
    """Writes of this process's results, one at a time, off the task's path when ``defer``."""

    def __init__(self) -> None:
        self.defer = False
        self._lock = threading.Lock()
        self._executor: tuple[int, ThreadPoolExecutor] | None = None
        self._pending: Future[str] | None = None

    def record(self, write: Callable[[], str], *, what: str) -> str:
        """Run ``write`` (which records one run's outcome and says what became of it) now, or
        in this process's recorder thread when deferring; returns its outcome, or
        ``"recording"`` when deferred. ``what`` names the run in logs."""
        if not self.defer:
            return write()
        self.wait()
        with self._lock:
            self._pending = self._thread().submit(_retried, write, what)
        return "recording"

    def wait(self) -> str | None:
        """Wait for the write in flight, if any; its outcome (None when there was none, or
        when it raised: logged, and its run left to the sweeper once its lease expires).

        An exception raised in this thread while it waits (the task's soft time limit)
        propagates, and the write stays in flight for the next wait."""
        with self._lock:
            pending = self._pending
        if pending is None:
            return None
        futures.wait([pending])
        with self._lock:
            if self._pending is pending:
                self._pending = None
        return None if pending.exception() is not None else pending.result()

    def _thread(self) -> ThreadPoolExecutor:
        """The recorder thread of this process (a forked process starts its own)."""
        if self._executor is None or self._executor[0] != os.getpid():
            self._executor = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="recorder"))
        return self._executor[1]


def _retried(write: Callable[[], str], what: str) -> str:
    """``write``, tried again with a growing pause while the database is unreachable, for at
    most a lease (``MLIPM_RUN_LEASE_S``); any other error is logged and left to the sweeper."""
    give_up = time.monotonic() + get_settings().run_lease_s
    pause = 0.5
    while True:
        try:
            return write()
        except OperationalError:
            if time.monotonic() + pause > give_up:
                log.exception("%s: result not recorded; %s", what, LEFT_TO_THE_SWEEPER)
                return LEFT_TO_THE_SWEEPER
            log.warning("%s: database unreachable, recording again in %.1f s", what, pause)
            time.sleep(pause)
            pause = min(2 * pause, 10.0)
        except Exception:
            log.exception("%s: result not recorded", what)
            raise


recorder = Recorder()
