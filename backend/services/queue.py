"""The only way work reaches workers: Celery messages carrying run ids, sent after commit.

Every message is recorded in Redis before it is sent: the sorted set ``waiting`` maps a run id
to the time of its latest send, and the worker's claim removes it (``message_taken``). So a
run in ``waiting`` has a message in the broker (queued, or taken by a worker), and the sweeper
(``runs_to_recover``, one worker at a time under ``sweep_lock``) sends again only:

- queued runs that are not waiting, once quiet for ``UNSENT_GRACE_S`` (the broker was down, or
  the process that committed them died before sending);
- runs of a dead worker (running on an expired lease) with no message sent since their claim;
- waiting runs whose message left the queue without being claimed (a worker killed after
  taking it): taken more than a grace period ago and still unclaimed, or their queue empty;
- after a Redis restart (the broker keeps nothing on disk; its epoch key changes), every
  queued run, since the restart lost ``waiting`` and the messages alike.

Recovered runs are sent at the front (Redis priority 0, which workers pop first), ahead of
campaign launches (``NORMAL_PRIORITY``); only the queued runs re-sent after a Redis restart
take their place behind, so that the next dead worker's runs do not wait for them. Extra
messages stay harmless: claiming a run is idempotent.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.db.session import after_commit
from backend.db.tables import SystemState
from backend.repositories import dispatch as dispatch_repo
from backend.repositories.dispatch import Candidate, Dispatch
from backend.settings import get_settings
from shared_kernel.queues import FRONT_PRIORITY, NORMAL_PRIORITY, PRIORITY_SEP, PRIORITY_STEPS

__all__ = ["Dispatch", "enqueue", "enqueue_after_commit", "message_taken", "runs_to_recover"]

log = logging.getLogger(__name__)
EXECUTE_RUN = "runs.execute"
SUMMARIZE_REPRESENTATIONS = "representations.summarize"
UNSENT_GRACE_S = 10.0  # a queued run this long without a message in the broker: send it
EPOCH_KEY = "mlipm:broker-epoch"
MAX_RESENDS = 5000  # per sweep; the rest are found again by the next one
BROKER_LOST = "broker lost its data"
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  if tonumber(ARGV[2]) > 0 then return redis.call('pexpire', KEYS[1], ARGV[2]) end
  return redis.call('del', KEYS[1])
end
return 0
"""
_CLIENTS: dict[tuple[int, str], redis.Redis] = {}


def _broker() -> redis.Redis:
    """This process's Redis client (a forked process makes its own)."""
    ident = (os.getpid(), get_settings().redis_url)
    client = _CLIENTS.get(ident)
    if client is None:
        client = _CLIENTS[ident] = redis.Redis.from_url(ident[1], socket_timeout=30)
    return client


def key(name: str) -> str:
    """A Redis key of this installation (named after its database, so that installations and
    test sessions sharing a Redis keep apart)."""
    return f"mlipm:{make_url(get_settings().database_url).database}:{name}"


def broker_epoch(*, create: bool = True) -> str | None:
    """The broker's current epoch, created if missing (and ``create``)."""
    client = _broker()
    if create:
        client.set(EPOCH_KEY, uuid.uuid4().hex, nx=True)
    value = client.get(EPOCH_KEY)
    return value.decode() if isinstance(value, bytes) else value


def enqueue(dispatches: Iterable[Dispatch], *, front: bool = False) -> int:
    """Record the runs as waiting, then send one message per run; call after commit.

    ``front``: recovered runs, sent ahead of every message already waiting in their queue.
    """
    from workers.celery_app import celery_app  # the app imports this module's users

    dispatches = list(dispatches)
    if not dispatches:
        return 0
    broker_epoch()
    client = _broker()
    # Marked before the first send: a long launch never looks unsent to the sweeper.
    client.zadd(key("waiting"), {str(d[0]): time.time() for d in dispatches})
    settings = get_settings()
    sent = 0
    try:
        for run_id, soft_limit, hard_limit, family in dispatches:
            # the benchmark's own limits, capped by the installation's; the family's queue
            celery_app.send_task(
                EXECUTE_RUN,
                args=[str(run_id)],
                queue=settings.queue_for(family),
                priority=FRONT_PRIORITY if front else NORMAL_PRIORITY,
                soft_time_limit=min(soft_limit, settings.run_soft_time_limit_s),
                time_limit=min(hard_limit, settings.run_time_limit_s),
            )
            sent += 1
    except Exception:
        # Not waiting after all: the sweeper sends them once they are quiet (UNSENT_GRACE_S).
        with contextlib.suppress(redis.RedisError):
            client.zrem(key("waiting"), *(str(d[0]) for d in dispatches[sent:]))
        raise
    finally:
        with contextlib.suppress(redis.RedisError):
            client.incrby(key("messages-sent"), sent)
    return sent


def message_taken(run_id: str | uuid.UUID) -> None:
    """A worker took the run's message (and tried to claim it): it no longer waits."""
    try:
        _broker().zrem(key("waiting"), str(run_id))
    except redis.RedisError:  # a stale entry only delays recovery (see runs_to_recover)
        log.warning("could not mark run %s taken", run_id, exc_info=True)


def enqueue_after_commit(session: Session, run_ids: list[uuid.UUID]) -> None:
    """Send the runs' messages once ``session`` commits; a broker outage only delays them."""
    if not run_ids:
        return
    if session.get(SystemState, EPOCH_KEY) is None:
        # First use of this broker: remember its epoch, so that the sweeper does not take this
        # for a lost broker and send everything twice.
        with contextlib.suppress(redis.RedisError):
            session.add(SystemState(key=EPOCH_KEY, value=broker_epoch()))
    dispatches = dispatch_repo.dispatch_rows(session, run_ids)
    # In the runs' own transaction: the sweeper leaves them alone while they are being sent.
    dispatch_repo.mark_enqueued(session, list(run_ids))

    def send() -> None:
        try:
            enqueue(dispatches)
        except Exception:
            log.warning("broker unreachable; the sweeper will send %d run(s)", len(dispatches))

    after_commit(session, send)


def enqueue_representation_summary(*, debounce_s: float = 0.0) -> bool:
    """Send one ``representations.summarize`` message to the default queue; True when sent.

    With ``debounce_s``: only when none was sent in the last ``debounce_s`` seconds (one Redis
    ``SET NX`` for the installation), and delayed by as long, so that the runs of a campaign
    finishing meanwhile are in that one summary instead of each asking for its own.
    """
    from workers.celery_app import celery_app  # the app imports this module's users

    if debounce_s > 0 and not due("representation-summary", every_s=debounce_s):
        return False
    celery_app.send_task(
        SUMMARIZE_REPRESENTATIONS,
        queue=get_settings().celery_queue,
        countdown=debounce_s if debounce_s > 0 else None,
    )
    return True


def sweep_lock(*, hold_s: float) -> str | None:
    """Take the installation's sweep lock for at most ``hold_s``; None when another holds it."""
    token = uuid.uuid4().hex
    taken = _broker().set(key("sweep-lock"), token, nx=True, px=max(1, int(hold_s * 1000)))
    return token if taken else None


def release_sweep_lock(token: str, *, keep_s: float = 0.0) -> None:
    """Release our lock, or keep it ``keep_s`` longer (no other sweep starts before then)."""
    _broker().eval(_RELEASE, 1, key("sweep-lock"), token, int(keep_s * 1000))


def due(name: str, *, every_s: float) -> bool:
    """True at most once per ``every_s`` for the whole installation (slow chores)."""
    return bool(_broker().set(key(f"due:{name}"), "1", nx=True, px=max(1, int(every_s * 1000))))


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a sweep found: the runs to send again at the front (work interrupted or lost one
    by one) and behind the queue (every queued run after the broker lost its data), and why."""

    front: list[Dispatch]
    behind: list[Dispatch]
    reasons: dict[str, int]

    @property
    def dispatches(self) -> list[Dispatch]:
        return self.front + self.behind


def runs_to_recover(session: Session) -> Recovery:
    """The runs whose message may be lost (see the module docstring); they are marked sent in
    ``session``, and once it commits must be sent: ``enqueue(found.front, front=True)`` and
    ``enqueue(found.behind)``."""
    settings = get_settings()
    client = _broker()
    epoch = broker_epoch()
    seen = session.get(SystemState, EPOCH_KEY)
    broker_lost_data = seen is None or seen.value != epoch
    if broker_lost_data and epoch is not None:
        if seen is None:
            session.add(SystemState(key=EPOCH_KEY, value=epoch))
        else:
            seen.value = epoch
    # Queues first, the database next, what workers hold last: a message taken from a queue
    # read empty is then either claimed (its run no candidate) or seen held by a worker.
    empty = _empty_queues(client, {settings.celery_queue, *settings.family_queues.values()})
    quiet_s = 0.0 if broker_lost_data else UNSENT_GRACE_S
    candidates = dispatch_repo.recovery_candidates(session, queued_quiet_s=quiet_s)
    grace = max(4 * settings.sweep_interval_s, 2 * settings.run_lease_s)
    broker = _BrokerView(
        empty=empty,
        sent_at=_scores(client, [c.dispatch[0] for c in candidates]),
        taken=_taken(client) if candidates else {},
        stale_before=time.time() - grace,
    )
    found = Recovery([], [], {})
    for candidate in candidates:
        reason = _lost_because(candidate, broker, broker_lost_data=broker_lost_data)
        if reason is not None and len(found.front) + len(found.behind) < MAX_RESENDS:
            found.reasons[reason] = found.reasons.get(reason, 0) + 1
            behind = reason == BROKER_LOST
            (found.behind if behind else found.front).append(candidate.dispatch)
    dispatch_repo.mark_enqueued(session, [d[0] for d in found.dispatches])
    return found


@dataclass(frozen=True, slots=True)
class _BrokerView:
    empty: set[str]  # queues with no message waiting
    sent_at: dict[str, float]  # waiting run id -> time of its latest send
    taken: dict[str, float]  # run id -> when a worker took the latest message it holds
    stale_before: float  # a send or a take before this is old


def _lost_because(
    candidate: Candidate, broker: _BrokerView, *, broker_lost_data: bool
) -> str | None:
    run_id = str(candidate.dispatch[0])
    last_sent = broker.sent_at.get(run_id)
    if last_sent is None:
        if candidate.dead:
            return "dead worker"
        return BROKER_LOST if broker_lost_data else "never sent"
    if candidate.dead and candidate.claimed_at is not None and last_sent < candidate.claimed_at:
        return "dead worker"  # the mark is of a message its claim consumed
    if broker_lost_data or last_sent >= broker.stale_before:
        return None  # sent since the broker came back, or lately
    taken_at = broker.taken.get(run_id)
    if taken_at is not None and taken_at >= last_sent:
        # its latest message is with a worker: one that died if it held it this long
        return "taken, never claimed" if taken_at < broker.stale_before else None
    if get_settings().queue_for(candidate.dispatch[3]) in broker.empty:
        return "message gone"  # not in its (empty) queue either
    return None


def _scores(client: redis.Redis, run_ids: list[uuid.UUID]) -> dict[str, float]:
    """The time of each run's latest send, for the runs recorded as waiting."""
    scores: dict[str, float] = {}
    for start in range(0, len(run_ids), 1000):
        chunk = [str(r) for r in run_ids[start : start + 1000]]
        for run_id, score in zip(chunk, client.zmscore(key("waiting"), chunk), strict=True):
            if score is not None:
                scores[run_id] = float(score)
    return scores


def waiting_messages(client: redis.Redis, queue: str) -> int:
    """Messages waiting in ``queue``, over its priority lists."""
    names = [queue, *(f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS if p)]
    return sum(int(client.llen(name)) for name in names)


def _empty_queues(client: redis.Redis, queues: set[str]) -> set[str]:
    return {q for q in queues if waiting_messages(client, q) == 0}


def _taken(client: redis.Redis) -> dict[str, float]:
    """Run ids of the messages workers took and have not acknowledged, with the time each
    was taken (kombu's Redis transport keeps them in ``unacked``: the messages in flight)."""
    tags: list[Any] = client.zrange("unacked_index", 0, -1, withscores=True)
    if not tags:
        return {}
    bodies: list[Any] = client.hmget("unacked", [tag for tag, _ in tags])
    taken: dict[str, float] = {}
    for (_, at), raw in zip(tags, bodies, strict=True):
        run_id = _run_of(raw)
        if run_id is not None:
            taken[run_id] = max(taken.get(run_id, 0.0), float(at))
    return taken


def _run_of(raw: bytes | str | None) -> str | None:
    """The run id of a stored ``runs.execute`` message, or None for anything else."""
    try:
        message = json.loads(raw or b"null")[0]
        if message["headers"]["task"] != EXECUTE_RUN:
            return None
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        return str(json.loads(body)[0][0])
    except (ValueError, TypeError, KeyError, IndexError):
        return None
