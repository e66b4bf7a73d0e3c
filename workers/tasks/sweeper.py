"""Each worker re-enqueues, every few seconds, runs whose message may have been lost."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from celery import bootsteps

from backend.db.session import session_scope
from backend.services import queue
from backend.settings import get_settings
from workers.celery_app import celery_app

log = logging.getLogger(__name__)


def sweep() -> int:
    """Re-enqueue lost runs (dead worker's expired lease, or a broker that lost its data)."""
    try:
        with session_scope() as session:
            dispatches = queue.recover_lost_messages(session)
        sent = queue.enqueue(dispatches)
    except Exception:  # database or broker restarting: the next sweep tries again
        log.warning("sweep failed", exc_info=True)
        return 0
    if sent:
        log.warning("re-enqueued %d run(s) whose message may have been lost", sent)
    return sent


class Sweeper(bootsteps.StartStopStep):
    """Worker bootstep running ``sweep`` on the worker's timer."""

    requires: ClassVar[set[str]] = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        self.tref = worker.timer.call_repeatedly(get_settings().sweep_interval_s, sweep)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()


# Imported by workers only (the app's `include`), before the worker builds its blueprint.
celery_app.steps["worker"].add(Sweeper)
