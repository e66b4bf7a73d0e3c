"""Thin Celery shell around the pure benchmarks: claim, run, record (each step idempotent)."""

from __future__ import annotations

import logging
import math
import platform
import resource
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError

from backend.db.models import RunStatus
from backend.db.session import session_scope
from backend.schemas.results import MetricIn, RunTimings, SeriesIn
from backend.services import runs
from workers.celery_app import celery_app
from workers.errors import BenchmarkError, FailureClass, UnsupportedElementsError
from workers.execution import execute_claimed

log = logging.getLogger(__name__)


@celery_app.task(
    name="runs.execute",
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, BrokerError),
    retry_backoff=True,
    max_retries=5,
)
def execute_run(self: Any, run_id: str) -> str:
    """Execute one run by id; a second delivery of the same message changes nothing."""
    with session_scope() as session:
        job = runs.claim_run(session, uuid.UUID(run_id), worker=_worker_name(self))
    if job is None:
        log.info("run %s already claimed or finished; nothing to do", run_id)
        return "skipped"
    with _measured() as timings:
        try:
            outcome = execute_claimed(job)
        except SoftTimeLimitExceeded:
            outcome = None
            error: BaseException | None = TimeoutError("soft time limit exceeded")
        except BenchmarkError as exc:
            outcome, error = None, exc
        except Exception as exc:  # a model raising anything is a recorded failure, not a crash
            outcome, error = None, exc
        else:
            error = None
    provenance = _provenance(job)
    with session_scope() as session:
        if outcome is not None:
            runs.record_success(
                session,
                job,
                metrics=[MetricIn(**vars_of(m)) for m in outcome.metrics if math.isfinite(m.value)],
                series=[SeriesIn(**vars_of(s)) for s in outcome.series],
                timings=timings.value,
                provenance={**provenance, **outcome.provenance},
            )
            return "succeeded"
        assert error is not None
        runs.record_failure(
            session, job, timings=timings.value, provenance=provenance, **_failure(error)
        )
    return "failed"


def _failure(error: BaseException) -> dict[str, Any]:
    if isinstance(error, TimeoutError):
        return {
            "status": RunStatus.FAILED,
            "failure_class": FailureClass.TIMEOUT.value,
            "message": str(error),
            "series": [],
        }
    if isinstance(error, BenchmarkError):
        status = (
            RunStatus.SKIPPED if isinstance(error, UnsupportedElementsError) else RunStatus.FAILED
        )
        return {
            "status": status,
            "failure_class": error.failure_class.value,
            "message": str(error),
            "series": [SeriesIn(**vars_of(s)) for s in error.series],
        }
    return {
        "status": RunStatus.FAILED,
        "failure_class": FailureClass.EXCEPTION.value,
        "message": f"{error.__class__.__name__}: {error}",
        "series": [],
    }


def vars_of(obj: Any) -> dict[str, Any]:
    """Fields of a slots dataclass as a dict (``vars`` does not work on slots)."""
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


class _Timings:
    value: RunTimings


@contextmanager
def _measured() -> Iterator[_Timings]:
    holder = _Timings()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        yield holder
    finally:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        holder.value = RunTimings(
            wall_s=time.perf_counter() - wall0,
            cpu_s=time.process_time() - cpu0,
            peak_memory_mb=peak_kb / 1024,
        )


def _worker_name(task: Any) -> str:
    hostname = getattr(task.request, "hostname", None)
    return str(hostname or socket.gethostname())


def _provenance(job: runs.ClaimedRun) -> dict[str, Any]:
    return {
        "benchmark": {"key": job.benchmark_key, "version": job.benchmark_version},
        "params": job.params,
        "host": socket.gethostname(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "attempt": job.attempt,
    }
