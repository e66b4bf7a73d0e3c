"""Every few seconds one worker of the installation sends again the runs whose message may have
been lost, and now and then removes files of attempts that never committed.

The sweep runs in a thread of its own, so that re-sending thousands of messages never holds up
the worker's consumer, and under a lock in Redis, so that one worker sweeps per interval
whatever the number of workers.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, ClassVar

from celery import bootsteps

from backend.db.session import session_scope
from backend.services import queue
from backend.settings import get_settings
from workers.celery_app import celery_app
from workers.tasks.artifacts import remove_orphaned_files

log = logging.getLogger(__name__)
LOCK_TTL_S = 300.0  # a sweeper that died mid-sweep holds the lock at most this long


def sweep() -> int:
    """Re-enqueue lost runs (see ``backend.services.queue``) unless another worker is
    sweeping or swept less than an interval ago; returns the number of messages sent."""
    settings = get_settings()
    try:
        token = queue.sweep_lock(hold_s=LOCK_TTL_S)
    except Exception:  # broker restarting: the next sweep tries again
        log.warning("sweep lock unavailable", exc_info=True)
        return 0
    if token is None:
        return 0
    started = time.monotonic()
    sent = 0
    try:
        sent = _resend()
        if queue.due("orphan-files", every_s=settings.orphan_sweep_interval_s):
            _remove_orphans(settings.orphan_grace_s)
    except Exception:  # database or broker restarting: the next sweep tries again
        log.warning("sweep failed", exc_info=True)
    finally:
        # Keep the lock for the rest of the interval: the next sweep is an interval later,
        # whichever worker makes it.
        keep_s = 0.9 * settings.sweep_interval_s - (time.monotonic() - started)
        try:
            queue.release_sweep_lock(token, keep_s=keep_s)
        except Exception:
            log.warning("sweep lock not released; it expires by itself", exc_info=True)
    return sent


def _resend() -> int:
    with session_scope() as session:
        found = queue.runs_to_recover(session)
    sent = queue.enqueue(found.front, front=True) + queue.enqueue(found.behind)
    if sent:
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(found.reasons.items()))
        log.warning("re-enqueued %d run(s) whose message may have been lost (%s)", sent, why)
    return sent


def _remove_orphans(grace_s: float) -> None:
    removed = remove_orphaned_files(grace_s=grace_s)
    if removed:
        log.warning("removed %d file(s) of run attempts that never committed", removed)


class Sweeper(bootsteps.StartStopStep):
    """Worker bootstep running ``sweep`` every ``MLIPM_SWEEP_INTERVAL_S`` in its own thread,
    started once the pool's processes are forked."""

    requires: ClassVar[set[str]] = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, worker: Any) -> None:
        self.thread = threading.Thread(target=self.loop, name="sweeper", daemon=True)
        self.thread.start()

    def loop(self) -> None:
        while not self.stopping.wait(get_settings().sweep_interval_s):
            sweep()

    def stop(self, worker: Any) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


# Imported by workers only (the app's `include`), before the worker builds its blueprint.
celery_app.steps["worker"].add(Sweeper)
