"""The only way work reaches workers: Celery messages carrying run ids, sent after commit.

Redis here keeps nothing on disk, so a restart loses every queued message. Each enqueue marks
the broker with an epoch key; a worker that finds the epoch changed (or gone) re-enqueues every
unfinished run. Extra messages are harmless: claiming a run is idempotent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import redis
from sqlalchemy.orm import Session

from backend.db.models import SystemState
from backend.repositories import runs as run_repo
from backend.settings import get_settings

EXECUTE_RUN = "runs.execute"
EPOCH_KEY = "mlipm:broker-epoch"
Dispatch = tuple[uuid.UUID, int, int]  # run id, soft and hard time limit (s)


def broker_epoch(*, create: bool = True) -> str | None:
    """The broker's current epoch, created if missing (and ``create``)."""
    client = redis.Redis.from_url(get_settings().redis_url)
    try:
        if create:
            client.set(EPOCH_KEY, uuid.uuid4().hex, nx=True)
        value = client.get(EPOCH_KEY)
    finally:
        client.close()
    return value.decode() if isinstance(value, bytes) else value


def enqueue(dispatches: Iterable[Dispatch]) -> int:
    """Send one message per run; call only after the runs are committed."""
    dispatches = list(dispatches)
    if not dispatches:
        return 0
    from workers.celery_app import celery_app  # the app imports this module's users

    broker_epoch()
    queue = get_settings().celery_queue
    for run_id, soft_limit, hard_limit in dispatches:
        celery_app.send_task(
            EXECUTE_RUN,
            args=[str(run_id)],
            queue=queue,
            soft_time_limit=soft_limit,
            time_limit=hard_limit,
        )
    return len(dispatches)


def enqueue_runs(session: Session, run_ids: list[uuid.UUID]) -> list[Dispatch]:
    """Mark runs enqueued and return their dispatches, to send once the session commits."""
    if run_ids and session.get(SystemState, EPOCH_KEY) is None:
        # First use of this broker: remember its epoch, so that the sweeper does not take this
        # for a lost broker and send everything twice.
        session.add(SystemState(key=EPOCH_KEY, value=broker_epoch()))
    run_repo.mark_enqueued(session, run_ids)
    return run_repo.dispatch_rows(session, run_ids)


def recover_lost_messages(session: Session) -> list[Dispatch]:
    """Dispatches of runs whose message may have been lost (see the module docstring)."""
    epoch = broker_epoch()
    seen = session.get(SystemState, EPOCH_KEY)
    broker_lost_data = seen is None or seen.value != epoch
    dispatches = run_repo.runs_to_requeue(session, all_queued=broker_lost_data)
    if broker_lost_data and epoch is not None:
        if seen is None:
            session.add(SystemState(key=EPOCH_KEY, value=epoch))
        else:
            seen.value = epoch
    return dispatches
