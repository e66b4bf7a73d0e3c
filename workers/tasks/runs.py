"""Thin Celery shell around the pure benchmarks: claim, run, record (each step idempotent).

While a run executes, a heartbeat thread renews its lease and watches for cancellation; the
benchmark's observer stops it at its next step when every campaign that asked for it was
cancelled. A worker killed mid-run stops renewing, so the redelivered message reclaims the run.
"""

from __future__ import annotations

import functools
import importlib
import logging
import math
import os
import platform
import resource
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_init, worker_process_init, worker_process_shutdown
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import Engine, event
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, configure_mappers

from backend.db.session import reset_engine_cache, session_scope
from backend.domain.statuses import RunStatus
from backend.schemas.results import MetricIn, ProjectionIn, RunTimings, SeriesIn
from backend.services import run_attempts, runs
from backend.settings import get_settings
from shared_kernel.failures import (
    BenchmarkError,
    FailureClass,
    RunCancelled,
    UnsupportedElementsError,
)
from workers.adapters.registry import get_adapter
from workers.adapters.registry import load_all as load_adapters
from workers.benchmarks.base import load_all
from workers.celery_app import celery_app
from workers.execution import Outcome, execute_claimed
from workers.phases import space_group_of_data
from workers.tasks.artifacts import StoredFrames, discard_frames, store_frames
from workers.tasks.heartbeat import heartbeat as _heartbeat
from workers.tasks.recorder import recorder
from workers.tasks.representations import after_run_succeeded

log = logging.getLogger(__name__)
RECORDING_SWITCH_INTERVAL_S = 0.0005


@worker_process_init.connect
def _fresh_connections_after_fork(**_: Any) -> None:
    """Pool processes are forked from the worker, whose sweeper holds database connections;
    they write each result while Celery hands them the next message (``recorder``)."""
    reset_engine_cache(close=False)
    recorder.defer = True
    # While the recorder's thread renders frames (pure Python), the task's thread gets the GIL
    # back within 0.5 ms instead of 5 (the claim, Celery's hand-over); a lone thread (a run's
    # benchmark) is never asked to switch, so the interval costs it nothing.
    sys.setswitchinterval(RECORDING_SWITCH_INTERVAL_S)
    _warm_up()


@worker_process_shutdown.connect
def _last_result(**_: Any) -> None:
    """A pool process exits once its last result is written."""
    recorder.wait()


def _warm_up() -> None:
    """Connect, and compile the claim, before the first message: the process's first run
    would otherwise wait 0.1-0.2 s for them (the statement claims nothing: no such run).

    Not the result's statement: run with no rows, it would have the server plan the
    statements of the leaderboard's trigger functions for empty transition tables, and
    PL/pgSQL keeps those plans for the connection (every result then took 3 ms more)."""
    try:
        with statement_scope() as session:
            runs.claim_run(session, uuid.uuid4(), worker=f"warm-up#{incarnation()}")
    except Exception:  # the database may be down: the first run connects then
        log.warning("could not warm up the database connection", exc_info=True)


@worker_init.connect
def _import_the_benchmarks(**_: Any) -> None:
    """Import the benchmark suite (scipy and all) and the adapters once, before the pool forks.

    Imported on a run's first use instead, the imports counted against that run's soft time
    limit; on a loaded machine the limit could fire in the middle of an import and leave a
    half-initialised module behind, failing every later run of the process (NameError).
    """
    load_all()
    # The adapters too (their modules and plugins' entry points: 25-80 ms), and the versions
    # of each family's packages that every run compares with its model's pinned ones (the
    # registry keeps them: read here, before the fork, not by each pool process).
    for family in load_adapters():
        _package_versions(family)
    # The database layer's first use too: psycopg's import and the ORM's mapper configuration
    # (0.1-0.15 s) took the main process's first sweep and each pool process's first claim.
    importlib.import_module("psycopg")
    configure_mappers()


@worker_init.connect
def _worker_session_options(**_: Any) -> None:
    use_worker_session_options()


def use_worker_session_options() -> None:
    """New database connections of this process get the workers' session options.

    ``synchronous_commit=off`` (unless MLIPM_WORKER_SYNCHRONOUS_COMMIT): workers'
    transactions (claims, results, heartbeats, sweeps) do not wait for the WAL flush. Safe
    because every one of them is redone when lost: a claim or result that a Postgres crash
    forgets leaves its run queued or running with a lease that expires, and the sweeper sends
    it again. The crash loses whole transactions only (never part of a result).

    ``random_page_cost=1.1`` (the usual setting for data in memory or on SSDs; Postgres'
    default 4 prices a spinning disk's seek): a result's trigger statements look up a few runs
    by key, and with the default the planner hashed whole small tables instead (every run of
    a young installation at each result; the change counters' bumps 0.19 -> 0.11 ms on the
    server, docs/performance.md; the summary statements that gained most went with 0021).
    """
    if not event.contains(Engine, "do_connect", _session_options):
        event.listen(Engine, "do_connect", _session_options)


def _session_options(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
    # libpq startup options: no extra round trip, and they apply to the whole session.
    options = "-c random_page_cost=1.1"
    if not get_settings().worker_synchronous_commit:
        options += " -c synchronous_commit=off"
    cparams["options"] = f"{cparams.get('options', '')} {options}".strip()


class RunTask(celery_app.Task):
    """The run task's class: a hard time limit kill (handled by the worker's main process,
    whose pool child was killed mid-run) is recorded on the run at once."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if isinstance(exc, TimeLimitExceeded) and args:
            _hard_time_limit(str(args[0]), exc)


def _hard_time_limit(run_id: str, exc: TimeLimitExceeded) -> None:
    """The attempt goes to the history; the run is queued again, or fails as ``timeout``
    after MLIPM_RUN_MAX_HARD_KILLS kills (``run_attempts.hard_time_limit_killed``)."""
    limit = float(exc.args[0]) if exc.args else float("nan")
    try:
        with session_scope() as session:
            outcome = run_attempts.hard_time_limit_killed(session, uuid.UUID(run_id), limit_s=limit)
    except Exception:  # the lease expires and the sweeper sends the run again
        log.warning("run %s: hard time limit kill not recorded", run_id, exc_info=True)
        return
    log.warning("run %s killed by the hard time limit (%g s): %s", run_id, limit, outcome)


@celery_app.task(
    name="runs.execute",
    base=RunTask,
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, BrokerError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def execute_run(self: Any, run_id: str) -> str:
    """Execute one run by id; a second delivery of the same message changes nothing."""
    began = time.monotonic()  # with the task's soft time limit
    with statement_scope() as session:
        job = runs.claim_run(session, uuid.UUID(run_id), worker=_worker_name(self))
    # Said by the heartbeat thread, while the run executes (a Redis round trip less before it).
    _heartbeat.message_taken(run_id)
    recorder.wait()  # the previous run's result, written while this message came
    if job is None:
        log.info("run %s is finished or unknown; nothing to do", run_id)
        return "nothing to do"
    if isinstance(job, runs.Busy):
        # Another worker holds a live lease: look again when it would have expired.
        raise self.retry(countdown=job.retry_after_s, max_retries=None)
    refused = _refused(job)
    if refused is not None:
        return refused
    outcome, error, timings = _execute(job, began)
    if error is not None and _stalled_timeout(job, error, timings):
        return "released (worker stalled)"
    return recorder.record(
        functools.partial(_record_storable, job, outcome, error, timings),
        what=f"run {job.run_id} attempt {job.attempt}",
    )


def _record_storable(
    job: runs.ClaimedRun,
    outcome: Outcome | None,
    error: BaseException | None,
    timings: RunTimings,
) -> str:
    """Write the frames, then the result with their rows (or the failure)."""
    stored = store_frames(job.run_id, job.attempt, outcome.frames if outcome else ())
    try:
        return _record(job, outcome, error, timings, stored)
    except (DataError, IntegrityError) as exc:
        # The result itself cannot be stored (e.g. JSON Postgres refuses): a retry would fail
        # the same way, so the run fails once, with the reason, instead of being retried until
        # its lease runs out and it is declared lost.
        log.exception("run %s attempt %d: result could not be stored", job.run_id, job.attempt)
        discard_frames(stored)  # no row references them
        return _record(job, None, UnstorableResult(exc), timings, StoredFrames())


class UnstorableResult(BenchmarkError):
    """The database refused a run's result (its rows were rolled back): ``exception``."""

    def __init__(self, error: DataError | IntegrityError) -> None:
        first = str(error.orig or error).strip().splitlines()[0]
        super().__init__(f"the result could not be stored ({type(error.orig).__name__}: {first})")


def _record(
    job: runs.ClaimedRun,
    outcome: Outcome | None,
    error: BaseException | None,
    timings: RunTimings,
    stored: StoredFrames,
) -> str:
    """Write the attempt's result (or failure), with its ``stored`` frames' rows, and say
    what became of the run."""
    # One statement (committing on its own) unless projections come with the result.
    several = outcome is not None and bool(outcome.projections)
    with session_scope() if several else statement_scope() as session:
        if outcome is not None:
            metrics = [MetricIn(**vars_of(m)) for m in outcome.metrics if math.isfinite(m.value)]
            series = [SeriesIn(**vars_of(s)) for s in outcome.series]
            projections = [ProjectionIn(**vars_of(p)) for p in outcome.projections]
            read_space_group = _space_group_reader(job)
            if job.references:
                read_space_group(job.structure_data)  # kept: record_success reads it
            recorded = runs.record_success(
                session,
                job,
                metrics=metrics,
                series=series,
                timings=timings,
                provenance={**_provenance(job), **outcome.provenance, **stored.provenance},
                projections=projections,
                artifacts=stored.rows,
                read_space_group=read_space_group,
            )
            if not recorded:
                discard_frames(stored)
                return _stale(job)
        else:
            assert error is not None
            failure = _failure(error)
            if not runs.record_failure(
                session, job, timings=timings, provenance=_provenance(job), **failure
            ):
                return _stale(job)
    if outcome is None:
        return str(failure["status"])
    after_run_succeeded(job.benchmark_key)  # committed: a summary reads it
    return "succeeded"


def _space_group_reader(job: runs.ClaimedRun) -> Callable[[str], int | None]:
    """The input's space group as stored with it (read at its upload), else read here."""
    if job.space_group is None:  # stored before structures carried it (migration 0020)
        return space_group_of_data
    stored = job.space_group or None  # 0: not a periodic crystal
    return lambda _data: stored


def _stale(job: runs.ClaimedRun) -> str:
    """This attempt lost its run (its lease expired and another attempt took it): nothing of
    it was written."""
    log.warning("run %s attempt %d: result refused (stale attempt)", job.run_id, job.attempt)
    return "refused (stale attempt)"


def _refused(job: runs.ClaimedRun) -> str | None:
    """Fail the run without running it when it must not run here (see ``run_attempts.refusal``,
    ``_environment_refusal``); None when it may run."""
    mine = _package_versions(job.model_family)
    if run_attempts.may_run(job) and (mine is None or job.packages == mine):
        return None  # the common case: no database round trip
    with statement_scope() as session:
        refusal = run_attempts.refusal(session, job)
        if refusal is None and mine is not None:
            refusal = _environment_refusal(session, job, mine)
        if refusal is None:
            return None
        log.warning("run %s refused: %s: %s", job.run_id, refusal.failure_class, refusal.message)
        recorded = runs.record_failure(
            session,
            job,
            status=RunStatus.FAILED,
            failure_class=refusal.failure_class,
            message=refusal.message,
            series=[],
            timings=None,
            provenance=_provenance(job),
        )
    return f"refused ({refusal.failure_class})" if recorded else _stale(job)


def _environment_refusal(
    session: Session, job: runs.ClaimedRun, mine: dict[str, str]
) -> run_attempts.Refusal | None:
    """A refusal when this worker's adapter packages (``mine``) differ from those pinned on
    the model version (pinning ``mine`` if none were): a result belongs to one environment."""
    pinned = run_attempts.pin_packages(session, job, mine)
    differ = sorted(name for name in {*mine, *pinned} if mine.get(name) != pinned.get(name))
    if not differ:
        return None
    changes = ", ".join(f"{n} {pinned.get(n, 'absent')} -> {mine.get(n, 'absent')}" for n in differ)
    return run_attempts.Refusal(
        FailureClass.ENVIRONMENT_MISMATCH.value,
        f"this worker's packages differ from those pinned on model {job.model_name!r} version "
        f"{job.model_version!r} ({changes}); run it on a worker with the pinned versions, or "
        "create a new model version for the new packages",
    )


def _package_versions(family: str) -> dict[str, str] | None:
    """The installed versions of the family's packages (read once per process by the
    registry); None for a family this worker does not know (its run fails as a setup error)."""
    try:
        return get_adapter(family).package_versions()
    except BenchmarkError:
        return None


def _stalled_timeout(job: runs.ClaimedRun, error: BaseException, timings: RunTimings) -> bool:
    """A soft time limit that fired because this worker was stalled (its heartbeats were
    missed, e.g. the process was paused), not because the model was slow: give the run back
    to the queue for another attempt, as ``worker_stalled``. True when released."""
    if not isinstance(error, TimeoutError) or not _heartbeat.missed_beats():
        return False
    message = (
        f"soft time limit reached after {timings.wall_s:.1f} s wall, {timings.cpu_s:.1f} s "
        f"cpu, with heartbeats missed for {_heartbeat.longest_gap_s():.1f} s: the worker "
        "stalled, so the run is tried again"
    )
    with session_scope() as session:
        released = run_attempts.release_attempt(
            session, job, failure_class=FailureClass.WORKER_STALLED.value, message=message
        )
    if released:
        log.warning("run %s attempt %d released: %s", job.run_id, job.attempt, message)
    return released


@contextmanager
def statement_scope() -> Iterator[Session]:
    """A session whose statements each commit on their own, for writes made of one statement
    (the claim; a result or failure, whose run update and rows are one statement): atomic
    without the BEGIN and COMMIT round trips (the reads before them need no transaction)."""
    with session_scope() as session:
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


def _execute(
    job: runs.ClaimedRun, began: float
) -> tuple[Outcome | None, BaseException | None, RunTimings]:
    outcome: Outcome | None = None
    error: BaseException | None = None
    with _heartbeat.watch(job, since=began) as cancelled, _measured() as timings:

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
    """The worker's node name and this process's incarnation (names repeat across restarts)."""
    hostname = getattr(task.request, "hostname", None)
    return f"{hostname or socket.gethostname()}#{incarnation()}"


_INCARNATION: tuple[int, str] | None = None


def incarnation() -> str:
    """A unique id of this worker process (a forked pool child gets its own)."""
    global _INCARNATION
    if _INCARNATION is None or _INCARNATION[0] != os.getpid():
        _INCARNATION = (os.getpid(), f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
    return _INCARNATION[1]


def _provenance(job: runs.ClaimedRun) -> dict[str, Any]:
    return {
        "benchmark": {"key": job.benchmark_key, "version": job.benchmark_version},
        "params": job.params,
        "params_hash": job.params_hash,
        "seeds": job.params.get("seeds", job.params.get("seed")),
        "host": socket.gethostname(),
        "worker_incarnation": incarnation(),
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
