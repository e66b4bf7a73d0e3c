"""A run's attempts: whether a claimed run may run here, and giving an attempt back.

The worker asks ``refusal`` after its claim (model version not approved, changed since the run
was created, attempts used up) and pins its adapter's package versions on the version
(``pin_packages``); an attempt whose worker stalled goes back to the queue (``release_attempt``),
and the worker's main process records a hard time limit kill (``hard_time_limit_killed``).
Earlier attempts are kept in ``run_attempt``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.domain.statuses import ModelStatus, RunStatus
from backend.repositories import models as model_repo
from backend.repositories import run_attempts as attempt_repo
from backend.repositories import runs as run_repo
from backend.services import queue
from backend.services.runs import ClaimedRun
from backend.settings import get_settings
from shared_kernel.failures import FailureClass


@dataclass(frozen=True)
class Refusal:
    """Why a claimed run must not execute: a failure class (``shared_kernel.failures.FailureClass``)
    and a message."""

    failure_class: str
    message: str


def may_run(job: ClaimedRun) -> bool:
    """Whether ``refusal`` has nothing to say, decided without the database."""
    return (
        job.model_status == ModelStatus.APPROVED
        and job.version_hash == job.model_hash
        and job.attempt - job.attempt_base <= get_settings().run_max_attempts
    )


def refusal(session: Session, job: ClaimedRun) -> Refusal | None:
    """Why the worker must not run ``job``: its model version is not approved, its inputs no
    longer hash to the version the run was created for, or it used up its attempts."""
    if job.model_status != ModelStatus.APPROVED:
        return Refusal(
            FailureClass.MODEL_NOT_APPROVED.value,
            f"model {job.model_name!r} version {job.model_version!r} is {job.model_status}: "
            "only approved versions run (an admin may rerun the run after approving it)",
        )
    if job.version_hash != job.model_hash:
        return Refusal(
            FailureClass.MODEL_CHANGED.value,
            f"model {job.model_name!r} version {job.model_version!r} no longer has the inputs "
            f"the run was created for (version hash {job.model_hash[:12]}, now "
            f"{job.version_hash[:12]}); a changed model is a new version, evaluated afresh",
        )
    attempts = job.attempt - job.attempt_base
    if attempts > get_settings().run_max_attempts:
        lost = FailureClass.WORKER_LOST.value
        cause = attempt_repo.last_retried_class(session, job.run_id) or lost
        if cause not in (lost, FailureClass.WORKER_STALLED.value):
            cause = lost  # e.g. a hard time limit kill, whose own cap ends it first
        reason = (
            "its worker stalled (missed heartbeats)"
            if cause == FailureClass.WORKER_STALLED.value
            else "its worker died or lost it (killed, out of memory, or cut off)"
        )
        return Refusal(
            cause,
            f"not tried again: each of the {attempts - 1} earlier attempts ended because "
            f"{reason} (MLIPM_RUN_MAX_ATTEMPTS={get_settings().run_max_attempts})",
        )
    return None


def pin_packages(session: Session, job: ClaimedRun, packages: dict[str, str]) -> dict[str, str]:
    """The package versions of ``job``'s model version: the pinned ones, or ``packages``
    (this worker's), pinned now if none were."""
    if job.packages is not None or job.model_id is None:
        return job.packages if job.packages is not None else packages
    return model_repo.pin_packages(session, job.model_id, packages) or packages


def release_attempt(session: Session, job: ClaimedRun, *, failure_class: str, message: str) -> bool:
    """Give the run back to the queue for another attempt (its worker stalled); the attempt
    stays in the history. False when this attempt no longer owns the run: when another attempt
    took it over on the expired lease, the history's ``worker_lost`` for this attempt becomes
    the cause given here."""
    released = attempt_repo.release(
        session, job.run_id, attempt=job.attempt, failure_class=failure_class, message=message
    )
    if released:
        queue.enqueue_after_commit(session, [job.run_id])
    else:
        attempt_repo.restate_lost(
            session, job.run_id, attempt=job.attempt, failure_class=failure_class, message=message
        )
    return released


def hard_time_limit_killed(session: Session, run_id: uuid.UUID, *, limit_s: float) -> str | None:
    """Record that the hard time limit killed the run's current attempt: the attempt goes to
    the history and the run back to the queue, or fails as ``timeout`` once it was killed
    ``MLIPM_RUN_MAX_HARD_KILLS`` times. Returns "requeued", "failed", or None when the run was
    not running."""
    run = run_repo.get_run(session, run_id)
    if run is None or run.status != RunStatus.RUNNING:
        return None
    message = f"killed by the hard time limit ({limit_s:g} s): the model ignored the soft limit"
    if not attempt_repo.release(
        session,
        run_id,
        attempt=run.attempt,
        failure_class=FailureClass.TIMEOUT.value,
        message=message,
    ):
        return None
    kills = attempt_repo.count_retried(session, run_id, failure_class=FailureClass.TIMEOUT.value)
    if kills < get_settings().run_max_hard_kills:
        queue.enqueue_after_commit(session, [run_id])
        return "requeued"
    attempt_repo.fail_queued(
        session,
        run_id,
        failure_class=FailureClass.TIMEOUT.value,
        message=f"{message}; killed {kills} times, not tried again",
    )
    return "failed"
