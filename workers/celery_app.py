"""The Celery application: configuration only (no ASE, no science), so the API can import it."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger

from backend.settings import get_settings
from shared_kernel.queues import PRIORITY_SEP, PRIORITY_STEPS


def make_celery() -> Celery:
    settings = get_settings()
    app = Celery(
        "mlipm",
        broker=settings.redis_url,
        include=["workers.tasks.runs", "workers.tasks.sweeper", "workers.tasks.representations"],
    )
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.celery_queue,
        task_soft_time_limit=settings.run_soft_time_limit_s,
        task_time_limit=settings.run_time_limit_s,
        broker_transport_options={
            # A message not acked within this time is redelivered: it must exceed the hard
            # limit.
            "visibility_timeout": max(
                settings.broker_visibility_timeout_s, settings.run_time_limit_s + 60
            ),
            # One list per priority and queue, popped in this order: runs the sweeper
            # recovers (priority 0) go ahead of the launched ones (backend.services.queue).
            "priority_steps": list(PRIORITY_STEPS),
            "sep": PRIORITY_SEP,
        },
        broker_connection_retry_on_startup=True,
        # No monitoring events unless someone listens: Flower switches workers' task events on
        # at run time (its --enable_events, the default). Each event is a Redis publish, three
        # per task, which a campaign of short runs pays for nothing (docs/performance.md).
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


@after_setup_logger.connect
def _per_task_lines(**_: Any) -> None:
    """Celery's INFO lines for each task (the worker's "received", the pool process's
    "succeeded in ...") only with MLIPM_WORKER_LOG_TASKS: a run's outcome, times and worker
    are in the database, and the two lines took 0.2-0.3 ms of every run. Set before the pool
    forks, so its processes build their tracers without them; warnings and errors stay."""
    if not get_settings().worker_log_tasks:
        for name in PER_TASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


PER_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


celery_app = make_celery()
