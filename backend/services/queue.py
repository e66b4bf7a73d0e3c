"""The only way the web tier hands work to workers: Celery messages carrying run ids."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from backend.settings import get_settings
from workers.celery_app import celery_app

EXECUTE_RUN = "runs.execute"


def enqueue_runs(run_ids: Iterable[uuid.UUID]) -> None:
    """Send one message per run; call only after the runs are committed."""
    queue = get_settings().celery_queue
    for run_id in run_ids:
        celery_app.send_task(EXECUTE_RUN, args=[str(run_id)], queue=queue)
