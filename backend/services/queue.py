"""The only way work reaches workers: Celery messages carrying run ids, sent after commit.

Redis here keeps nothing on disk, so a restart loses every queued message. Each enqueue marks
the broker with an epoch key; a worker that finds the epoch changed (or gone) re-enqueues every
unfinished run. Extra messages are harmless: claiming a run is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable

import redis
from sqlalchemy.orm import Session

from backend.db.models import SystemState
from backend.db.session import after_commit, session_scope
from backend.repositories import runs as run_repo
from backend.settings import get_settings

log = logging.getLogger(__name__)
EXECUTE_RUN = "runs.execute"
UNSENT_GRACE_S = 10.0  # a run committed this long ago and still not sent: send it
EPOCH_KEY = "mlipm:broker-epoch"
Dispatch = tuple[uuid.UUID, int, int, str]  # run id, soft and hard time limit (s), family


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
    """Send one message per run, then stamp the runs ``enqueued_at``; call after commit.

    Runs left without the stamp (the broker was unreachable) are sent later by the sweeper.
    """
    from workers.celery_app import celery_app  # the app imports this module's users

    dispatches = list(dispatches)
    if not dispatches:
        return 0
    broker_epoch()
    settings = get_settings()
    for run_id, soft_limit, hard_limit, family in dispatches:
        # the benchmark's own limits, capped by the installation's; the family's queue
        celery_app.send_task(
            EXECUTE_RUN,
            args=[str(run_id)],
            queue=settings.queue_for(family),
            soft_time_limit=min(soft_limit, settings.run_soft_time_limit_s),
            time_limit=min(hard_limit, settings.run_time_limit_s),
        )
    with session_scope() as session:
        run_repo.mark_enqueued(session, [dispatch[0] for dispatch in dispatches])
    return len(dispatches)


def _stranded(session: Session) -> list[Dispatch]:
    """Queued runs whose queue is empty although their message was sent a while ago.

    A worker killed after taking a message but before claiming its run leaves the message in
    the broker's unacknowledged set, whose redelivery depends on the transport's own sweeps.
    An empty queue with such runs means their messages are not waiting there: send them again
    (at worst a duplicate, which the claim makes harmless).
    """
    settings = get_settings()
    grace = max(4 * settings.sweep_interval_s, 2 * settings.run_lease_s)
    stale = run_repo.stale_queued(session, sent_before_s=grace)
    if not stale:
        return []
    client = redis.Redis.from_url(settings.redis_url)
    try:
        empty = {q for q in {settings.queue_for(d[3]) for d in stale} if client.llen(q) == 0}
    finally:
        client.close()
    return [d for d in stale if settings.queue_for(d[3]) in empty]


def enqueue_after_commit(session: Session, run_ids: list[uuid.UUID]) -> None:
    """Send the runs' messages once ``session`` commits; a broker outage only delays them."""
    if not run_ids:
        return
    if session.get(SystemState, EPOCH_KEY) is None:
        # First use of this broker: remember its epoch, so that the sweeper does not take this
        # for a lost broker and send everything twice.
        with contextlib.suppress(redis.RedisError):
            session.add(SystemState(key=EPOCH_KEY, value=broker_epoch()))
    dispatches = run_repo.dispatch_rows(session, run_ids)

    def send() -> None:
        try:
            enqueue(dispatches)
        except Exception:
            log.warning("broker unreachable; the sweeper will send %d run(s)", len(dispatches))

    after_commit(session, send)


def recover_lost_messages(session: Session) -> list[Dispatch]:
    """Dispatches of runs whose message may have been lost (see the module docstring)."""
    epoch = broker_epoch()
    seen = session.get(SystemState, EPOCH_KEY)
    broker_lost_data = seen is None or seen.value != epoch
    dispatches = run_repo.runs_to_requeue(
        session, all_queued=broker_lost_data, unsent_older_than_s=UNSENT_GRACE_S
    )
    if not broker_lost_data:
        dispatches += _stranded(session)
    if broker_lost_data and epoch is not None:
        if seen is None:
            session.add(SystemState(key=EPOCH_KEY, value=epoch))
        else:
            seen.value = epoch
    return dispatches
