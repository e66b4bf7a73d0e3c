"""Run state transitions: claim, then record a result or a failure, each in one transaction."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.db.base import utcnow
from backend.db.models import Reference, Run, RunStatus
from backend.domain.errors import NotFound
from backend.repositories import benchmarks as benchmark_repo
from backend.repositories import models as model_repo
from backend.repositories import references as ref_repo
from backend.repositories import runs as run_repo
from backend.schemas.results import MetricIn, RunTimings, SeriesIn
from backend.schemas.runs import RunDetail
from backend.settings import get_settings
from workers.hashing import params_hash

# When a material has references at several levels of theory, metrics are compared with the
# first one found in this order.
REFERENCE_PREFERENCE = ("experiment", "ccsd(t)/cbs")


@dataclass(frozen=True)
class ClaimedRun:
    """Everything a worker needs to execute a run, read in the claiming transaction."""

    run_id: uuid.UUID
    attempt: int
    benchmark_key: str
    benchmark_version: str
    params: dict[str, Any]
    params_hash: str
    structure_data: str
    material: str
    elements: list[str]
    model_family: str
    model_name: str
    model_version: str
    model_params: dict[str, Any]
    artifact_path: str | None


@dataclass(frozen=True)
class Busy:
    """Another live worker holds the run; look again after ``retry_after_s``."""

    retry_after_s: float


def claim_run(session: Session, run_id: uuid.UUID, *, worker: str) -> ClaimedRun | Busy | None:
    """Take a queued run (or one whose worker died); None when it is finished or unknown."""
    run = run_repo.claim_run(session, run_id, worker=worker, lease_s=get_settings().run_lease_s)
    if run is None:
        remaining = run_repo.lease_remaining_s(session, run_id)
        return None if remaining is None else Busy(max(remaining, 0.0) + 1.0)
    return _job(session, run)


def job_of(session: Session, run_id: uuid.UUID) -> ClaimedRun:
    """The inputs of a run, without claiming it (to reproduce it elsewhere)."""
    run = run_repo.get_run(session, run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    return _job(session, run)


def local_jobs(
    session: Session,
    *,
    model: str,
    benchmark: str,
    version: str,
    structure_set: str,
    labels: list[str] | None,
    params: dict[str, Any],
) -> list[ClaimedRun]:
    """Jobs for running a benchmark outside the queue (CLI); nothing is stored."""
    record = model_repo.get_model_by_name(session, model)
    if record is None:
        raise NotFound(f"no model named {model!r}")
    stored_set = ref_repo.get_structure_set_by_name(session, structure_set)
    if stored_set is None:
        raise NotFound(f"no structure set named {structure_set!r}")
    structures = [
        s
        for s in ref_repo.list_structures(session, stored_set.id)
        if not labels or s.label in labels
    ]
    return [
        ClaimedRun(
            run_id=uuid.uuid4(),
            attempt=0,
            benchmark_key=benchmark,
            benchmark_version=version,
            params=params,
            params_hash=params_hash(benchmark, version, params),
            structure_data=s.data,
            material=s.material,
            elements=s.elements,
            model_family=record.family,
            model_name=record.name,
            model_version=record.version,
            model_params=record.params,
            artifact_path=record.artifact_path,
        )
        for s in structures
    ]


def _job(session: Session, run: Run) -> ClaimedRun:
    model = model_repo.get_model(session, run.mlip_model_id)
    benchmark = benchmark_repo.get_benchmark_by_id(session, run.benchmark_id)
    structure = ref_repo.get_structure(session, run.structure_id)
    if model is None or benchmark is None or structure is None:  # pragma: no cover - FKs
        raise RuntimeError(f"run {run.id} references a missing row")
    return ClaimedRun(
        run_id=run.id,
        attempt=run.attempt,
        benchmark_key=benchmark.key,
        benchmark_version=benchmark.version,
        params=run.params,
        params_hash=run.params_hash,
        structure_data=structure.data,
        material=structure.material,
        elements=structure.elements,
        model_family=model.family,
        model_name=model.name,
        model_version=model.version,
        # Only an admin's trust mark lets an adapter unpickle the model's file beyond weights.
        model_params={**model.params, "trusted": True} if model.is_trusted else model.params,
        artifact_path=model.artifact_path,
    )


def heartbeat(session: Session, job: ClaimedRun) -> tuple[bool, bool]:
    """Renew the run's lease; returns (still owned, cancelled by every campaign)."""
    owned = run_repo.renew_lease(
        session, job.run_id, attempt=job.attempt, lease_s=get_settings().run_lease_s
    )
    return owned, run_repo.all_campaigns_cancelled(session, job.run_id)


def record_success(
    session: Session,
    job: ClaimedRun,
    *,
    metrics: list[MetricIn],
    series: list[SeriesIn],
    timings: RunTimings,
    provenance: dict[str, Any],
) -> bool:
    """Mark the run succeeded with its metrics and series; False if this attempt lost the run."""
    if not run_repo.finish_run(
        session,
        job.run_id,
        attempt=job.attempt,
        status=RunStatus.SUCCEEDED,
        finished_at=utcnow(),
        provenance=provenance,
        **timings.model_dump(),
    ):
        return False
    references = _references(session, job.material, [m.name for m in metrics])
    rows = []
    for metric in metrics:
        ref = references.get(metric.name) if metric.compare_to_reference else None
        rows.append(
            {
                "run_id": job.run_id,
                "name": metric.name,
                "value": metric.value,
                "unit": metric.unit,
                "reference_id": ref.id if ref is not None else None,
                "error": metric.value - ref.value if ref is not None else None,
            }
        )
    run_repo.insert_metrics(session, rows)
    _insert_series(session, job.run_id, series)
    return True


def record_failure(
    session: Session,
    job: ClaimedRun,
    *,
    status: RunStatus,
    failure_class: str,
    message: str,
    series: list[SeriesIn],
    timings: RunTimings | None,
    provenance: dict[str, Any],
) -> bool:
    """Mark the run failed (or skipped) with its reason; False if this attempt lost the run."""
    done = run_repo.finish_run(
        session,
        job.run_id,
        attempt=job.attempt,
        status=status,
        finished_at=utcnow(),
        failure_class=failure_class,
        failure_message=message[:4000],
        provenance=provenance,
        **(timings.model_dump() if timings else {}),
    )
    if done:
        _insert_series(session, job.run_id, series)
    return done


def read_run(session: Session, run_id: uuid.UUID) -> RunDetail:
    run = run_repo.get_run(session, run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    return RunDetail.model_validate(
        {
            **{c.key: getattr(run, c.key) for c in Run.__table__.columns},
            "metrics": run_repo.metrics_of(session, run_id),
            "series": run_repo.series_of(session, run_id),
        }
    )


def _references(session: Session, material: str, names: list[str]) -> dict[str, Reference]:
    found: dict[str, Reference] = {}
    for level in REFERENCE_PREFERENCE:
        for ref in ref_repo.references_for(session, [material], names, level):
            found.setdefault(ref.property, ref)
    return found


def _insert_series(session: Session, run_id: uuid.UUID, series: list[SeriesIn]) -> None:
    rows = [
        {**s.model_dump(), "run_id": run_id}
        for s in series
        if all(math.isfinite(v) for v in (*s.x, *s.y))
    ]
    run_repo.insert_series(session, rows)
