"""Thin Celery shell around the pure benchmarks: claim, run, record (each step idempotent).

While a run executes, a heartbeat thread renews its lease and watches for cancellation; the
benchmark's observer stops it at its next step when every campaign that asked for it was
cancelled. A worker killed mid-run stops renewing, so the redelivered message reclaims the run.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import platform
import resource
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError

from backend.db.models import RunStatus
from backend.db.session import reset_engine_cache, session_scope
from backend.schemas.results import MetricIn, RunTimings, SeriesIn
from backend.services import runs
from backend.settings import get_settings
from workers.celery_app import celery_app
from workers.errors import BenchmarkError, FailureClass, RunCancelled, UnsupportedElementsError
from workers.execution import Outcome, execute_claimed

log = logging.getLogger(__name__)


@worker_process_init.connect
def _fresh_connections_after_fork(**_: Any) -> None:
    """Pool processes are forked from the worker, whose sweeper holds database connections."""
    reset_engine_cache(close=False)


@celery_app.task(
    name="runs.execute",
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, BrokerError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def execute_run(self: Any, run_id: str) -> str:
    """Execute one run by id; a second delivery of the same message changes nothing."""
    with session_scope() as session:
        job = runs.claim_run(session, uuid.UUID(run_id), worker=_worker_name(self))
    if job is None:
        log.info("run %s is finished or unknown; nothing to do", run_id)
        return "nothing to do"
    if isinstance(job, runs.Busy):
        # Another worker holds a live lease: look again when it would have expired.
        raise self.retry(countdown=job.retry_after_s, max_retries=None)
    outcome, error, timings = _execute(job)
    with session_scope() as session:
        if outcome is not None:
            runs.record_success(
                session,
                job,
                metrics=[MetricIn(**vars_of(m)) for m in outcome.metrics if math.isfinite(m.value)],
                series=[SeriesIn(**vars_of(s)) for s in outcome.series],
                timings=timings,
                provenance={**_provenance(job), **outcome.provenance},
            )
            return "succeeded"
        assert error is not None
        runs.record_failure(
            session, job, timings=timings, provenance=_provenance(job), **_failure(error)
        )
    return "failed"


def _execute(job: runs.ClaimedRun) -> tuple[Outcome | None, BaseException | None, RunTimings]:
    outcome: Outcome | None = None
    error: BaseException | None = None
    with _heartbeat(job) as cancelled, _measured() as timings:

        def observer(stage: str, fraction: float) -> None:
            if cancelled.is_set():
                raise RunCancelled(f"cancelled during {stage} at {100 * fraction:.0f} %")

        try:
            outcome = execute_claimed(job, observer=observer)
        except SoftTimeLimitExceeded:
            error = TimeoutError("soft time limit exceeded")
        except Exception as exc:  # a model raising anything is a recorded failure, not a crash
            error = exc
    return outcome, error, timings.value


@contextmanager
def _heartbeat(job: runs.ClaimedRun) -> Iterator[threading.Event]:
    """Renew the lease every third of its length; set the event when the run is cancelled."""
    cancelled, stop = threading.Event(), threading.Event()
    interval = get_settings().run_lease_s / 3

    def beat() -> None:
        while not stop.wait(interval):
            try:
                with session_scope() as session:
                    owned, all_cancelled = runs.heartbeat(session, job)
            except Exception:  # the database may be restarting: keep trying
                log.warning("heartbeat of run %s failed", job.run_id, exc_info=True)
                continue
            if all_cancelled or not owned:
                cancelled.set()

    thread = threading.Thread(target=beat, name=f"heartbeat-{job.run_id}", daemon=True)
    thread.start()
    try:
        yield cancelled
    finally:
        stop.set()
        thread.join(timeout=5)


def _failure(error: BaseException) -> dict[str, Any]:
    if isinstance(error, TimeoutError):
        return {
            "status": RunStatus.FAILED,
            "failure_class": FailureClass.TIMEOUT.value,
            "message": str(error),
            "series": [],
        }
    if isinstance(error, BenchmarkError):
        status = RunStatus.FAILED
        if isinstance(error, UnsupportedElementsError):
            status = RunStatus.SKIPPED
        elif isinstance(error, RunCancelled):
            status = RunStatus.CANCELLED
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
        # ru_maxrss is the peak of this worker process so far (kB on Linux), not of this run.
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
        "params_hash": job.params_hash,
        "seeds": job.params.get("seeds", job.params.get("seed")),
        "host": socket.gethostname(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": None,  # CPU families; GPU workers record theirs once they exist
        "python": platform.python_version(),
        "attempt": job.attempt,
    }


@functools.cache
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
