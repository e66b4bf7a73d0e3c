"""Run state transitions: claim, then record a result or a failure, each in one transaction."""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.db.base import utcnow
from backend.db.tables import Metric, Reference, Run, User
from backend.domain.phases import SpaceGroupReader, describes, phase_of
from backend.domain.statuses import RunStatus
from backend.repositories import campaigns as campaign_repo
from backend.repositories import models as model_repo
from backend.repositories import projections as projection_repo
from backend.repositories import references as ref_repo
from backend.repositories import run_attempts as attempt_repo
from backend.repositories import run_results as result_repo
from backend.repositories import runs as run_repo
from backend.repositories.runs import Viewer
from backend.schemas.results import MetricIn, ProjectionIn, RunTimings, SeriesIn
from backend.schemas.run_artifacts import RunArtifactIn
from backend.schemas.runs import (
    MetricRead,
    MetricWithReference,
    RunAttemptRead,
    RunDetail,
    RunRead,
    RunSummary,
    SeriesRead,
)
from backend.services import run_artifacts
from backend.settings import get_settings
from shared_kernel.errors import NotFound
from shared_kernel.hashing import params_hash

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
    artifact_key: str | None  # in the artifact store; the worker fetches a verified copy
    artifact_sha256: str | None
    # The model version the run belongs to, and what the worker checks before running it.
    model_id: uuid.UUID | None = None
    model_hash: str = ""  # the version hash the run was created for (part of its key)
    version_hash: str = ""  # the model record's hash now
    model_status: str = "approved"
    packages: dict[str, str] | None = None  # pinned on the version by its first worker
    attempt_base: int = 0  # attempts before the last rerun
    # The references of the run's material, read with the claim (None: not read).
    references: tuple[ReferenceCandidate, ...] | None = None
    # The input's space group stored with it (0: not a crystal; None: not stored).
    space_group: int | None = None


@dataclass(frozen=True, slots=True)
class ReferenceCandidate:
    """A reference a run's metric may be compared with (see ``choose_references``)."""

    id: uuid.UUID
    property: str
    value: float
    level_of_theory: str
    dataset: str
    conditions: dict[str, Any]


@dataclass(frozen=True)
class Busy:
    """Another live worker holds the run; look again after ``retry_after_s``."""

    retry_after_s: float


def claim_run(session: Session, run_id: uuid.UUID, *, worker: str) -> ClaimedRun | Busy | None:
    """Take a queued run (or one whose worker died); None when it is finished or unknown."""
    row = run_repo.claim_run(session, run_id, worker=worker, lease_s=get_settings().run_lease_s)
    if row is None:
        remaining = run_repo.lease_remaining_s(session, run_id)
        return None if remaining is None else Busy(max(remaining, 0.0) + 1.0)
    return _job(row)


def job_of(session: Session, run_id: uuid.UUID) -> ClaimedRun:
    """The inputs of a run, without claiming it (to reproduce it elsewhere)."""
    row = run_repo.job_row(session, run_id)
    if row is None:
        raise NotFound(f"no run with id {run_id}")
    return _job(row)


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
            artifact_key=record.artifact_key,
            artifact_sha256=record.artifact_sha256,
            model_id=record.id,
            model_hash=record.version_hash,
            version_hash=record.version_hash,
            model_status=record.status.value,
        )
        for s in structures
    ]


def _job(row: Any) -> ClaimedRun:
    """A claimed run from a row of ``run_repo.JOB_COLUMNS``."""
    fields = {name: getattr(row, name) for name in run_repo.JOB_COLUMNS}
    # Only an admin's trust mark lets an adapter unpickle the model's file beyond weights.
    if fields.pop("is_trusted"):
        fields["model_params"] = {**fields["model_params"], "trusted": True}
    fields["model_status"] = str(fields["model_status"])
    fields["references"] = tuple(
        ReferenceCandidate(**{**ref, "id": uuid.UUID(ref["id"]), "value": float(ref["value"])})
        for ref in fields["references"]
    )
    return ClaimedRun(**fields)


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
    projections: list[ProjectionIn] | None = None,
    artifacts: list[RunArtifactIn] | None = None,
    read_space_group: SpaceGroupReader | None = None,
) -> bool:
    """Mark the run succeeded with its metrics, series, artifacts (the rows of files it wrote
    to the store) and projections (landscape planes and maps); False if this attempt lost the
    run.

    A metric is compared with a reference of the run's material only if the reference is of
    the phase of the run's structure, which ``read_space_group`` reads from the structure
    data (``workers.phases.space_group_of_data``); without it nothing is compared.
    """
    references = _compared_references(
        session, job, [m.name for m in metrics if m.compare_to_reference], read_space_group
    )
    rows = []
    for metric in metrics:
        ref = references.get(metric.name) if metric.compare_to_reference else None
        rows.append(
            {
                "name": metric.name,
                "value": metric.value,
                "unit": metric.unit,
                "reference_id": ref.id if ref is not None else None,
                **signed_and_relative_error(metric.value, ref.value if ref is not None else None),
            }
        )
    # One statement: finish the run, insert its metrics, series and artifact rows (only if this
    # attempt still owns the run).
    if not result_repo.finish_run(
        session,
        job.run_id,
        attempt=job.attempt,
        status=RunStatus.SUCCEEDED,
        finished_at=utcnow(),
        metrics=rows,
        series=_finite_series(series),
        artifacts=[a.model_dump() for a in artifacts or []],
        provenance=provenance,
        **timings.model_dump(),
    ):
        return False
    projection_repo.insert_projections(
        session, [{**p.model_dump(), "run_id": job.run_id} for p in projections or []]
    )
    return True


def signed_and_relative_error(value: float, reference: float | None) -> dict[str, float | None]:
    """``error`` = value - reference (in the unit) and ``rel_error`` = error / |reference|.

    Both are None without a reference; ``rel_error`` is None for a zero reference, whose
    relative error is undefined. The sign of ``rel_error`` is that of the error (a negative
    reference, e.g. an S22 interaction energy, does not flip it).
    """
    if reference is None:
        return {"error": None, "rel_error": None}
    error = value - reference
    return {"error": error, "rel_error": error / abs(reference) if reference != 0 else None}


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
    return result_repo.finish_run(
        session,
        job.run_id,
        attempt=job.attempt,
        status=status,
        finished_at=utcnow(),
        series=_finite_series(series),
        failure_class=failure_class,
        # Postgres text cannot hold NUL, which a model's own error message may carry.
        failure_message=message.replace("\x00", "\\x00")[:4000],
        provenance=provenance,
        **(timings.model_dump() if timings else {}),
    )


#: In-process readers (the CLI) see every run.
TRUSTED = Viewer(is_admin=True)


def viewer_of(user: User | None) -> Viewer:
    """Who ``user`` (None: anonymous) is as a reader of runs (see ``Viewer``)."""
    return Viewer.of(user)


# A host path: absolute (/data/...), home-relative (~/...) or under a dot directory
# (.mlipm/...), or a non-HTTP URL (file://, s3://: where the artifact store is).
_HOST_PATH = re.compile(
    r"\b(?!https?://)[a-z][\w+.-]*://\S+"
    r"|(?<![\w/.~:-])(?:~|\.{1,2}|\.[\w-]+)?/[^\s'\"`,;()\[\]<>]*"
)
#: First segments of the API's own paths, which messages name as hints (PUT /models/...).
_API_ROOTS = frozenset({"models", "runs", "campaigns", "metrics", "exports", "landscapes",
                        "leaderboards", "structure-sets", "structures", "references",
                        "benchmarks", "tokens", "users"})  # fmt: skip


def redact_paths(message: str) -> str:
    """``message`` with the worker's host paths and store URLs replaced by ``<path>``."""

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("/") and text[1:].split("/", 1)[0] in _API_ROOTS:
            return text
        return "<path>" if "/" in text.rstrip("/.") or text == "/" else text

    return _HOST_PATH.sub(replace, message)


def shown_message(message: str | None, *, viewer: Viewer, owner_id: uuid.UUID | None) -> str | None:
    """A failure message as ``viewer`` may read it: whole for the model's owner and admins,
    without host paths for anyone else.

    Redacted on read, not when stored: the owner and admins need the paths to fix a setup
    (an admin-set weights_path, the artifact cache), the stored text stays what the worker
    saw, and messages written before this rule are covered too.
    """
    if message is None or viewer.owns(owner_id):
        return message
    return redact_paths(message)


def read_run(session: Session, run_id: uuid.UUID, *, viewer: Viewer = TRUSTED) -> RunDetail:
    """A run with its names, every metric (with its reference) and every series; NotFound for
    an unknown run or one ``viewer`` may not see."""
    found = list_runs(
        session, filters={"run_id": run_id}, viewer=viewer, limit=1, offset=0, with_metrics=True
    )
    if not found:
        raise NotFound(f"no run with id {run_id}")
    model = model_repo.get_model(session, found[0].mlip_model_id)
    owner_id = None if model is None else model.owner_id
    series = run_repo.series_of(session, run_id)
    files = run_artifacts.all_run_artifacts(session, run_id)
    attempts = [
        RunAttemptRead.model_validate(a).model_copy(
            update={
                "failure_message": shown_message(
                    a.failure_message, viewer=viewer, owner_id=owner_id
                )
            }
        )
        for a in attempt_repo.history(session, run_id)
    ]
    return RunDetail.model_validate(
        {**found[0].model_dump(), "series": series, "artifacts": files, "attempts": attempts}
    )


def _compared_references(
    session: Session,
    job: ClaimedRun,
    names: list[str],
    read_space_group: SpaceGroupReader | None,
) -> dict[str, Any]:
    if not names or read_space_group is None:
        return {}
    found: tuple[Any, ...] | None = job.references  # read with the claim (None: not read)
    if found is None:
        found = tuple(
            run_repo.reference_candidates(session, job.material, names, REFERENCE_PREFERENCE)
        )
    refs = [r for r in found if r.property in names and r.level_of_theory in REFERENCE_PREFERENCE]
    # The space group is read only when there is something to compare (spglib on the input).
    return choose_references(refs, read_space_group(job.structure_data)) if refs else {}


def compared_references(
    session: Session, material: str, names: list[str], *, space_group: int | None
) -> dict[str, Any]:
    """Per metric name, the reference a metric of ``material`` on a structure of
    ``space_group`` (None: not a crystal) is compared with."""
    refs = run_repo.reference_candidates(session, material, names, REFERENCE_PREFERENCE)
    return choose_references(refs, space_group)


def choose_references(refs: Iterable[Any], space_group: int | None) -> dict[str, Any]:
    """Per property, the one of ``refs`` of the structure's phase (``describes``) at the
    preferred level of theory, then the first by dataset name (a deterministic choice)."""
    usable = [r for r in refs if describes(phase_of(r.conditions), space_group)]
    usable.sort(key=lambda r: (REFERENCE_PREFERENCE.index(r.level_of_theory), r.dataset))
    found: dict[str, Any] = {}
    for ref in usable:
        found.setdefault(ref.property, ref)
    return found


def _finite_series(series: list[SeriesIn]) -> list[dict[str, Any]]:
    return [s.model_dump() for s in series if all(math.isfinite(v) for v in (*s.x, *s.y))]


def list_runs(
    session: Session,
    *,
    filters: dict[str, Any],
    viewer: Viewer,
    limit: int,
    offset: int,
    with_metrics: bool = False,
    series_names: list[str] | None = None,
) -> list[RunSummary]:
    """Runs matching ``filters`` (see ``run_repo.list_runs``) that ``viewer`` may see, with
    model/benchmark/input names; with their metrics (and references) and the series named
    ``series_names`` if asked. Failure messages are shown as ``shown_message`` says."""
    rows = run_repo.list_runs(session, filters=filters, viewer=viewer, limit=limit, offset=offset)
    ids = [row[0].id for row in rows]
    metrics: dict[uuid.UUID, list[MetricWithReference]] = defaultdict(list)
    if with_metrics:
        for metric, ref in run_repo.metrics_with_references(session, ids):
            metrics[metric.run_id].append(_metric_with_reference(metric, ref))
    series: dict[uuid.UUID, list[SeriesRead]] = defaultdict(list)
    for item in run_repo.series_named(session, ids, series_names or []):
        series[item.run_id].append(SeriesRead.model_validate(item))
    return [
        RunSummary.model_validate(
            {
                **{c.key: getattr(run, c.key) for c in Run.__table__.columns},
                "failure_message": shown_message(
                    run.failure_message, viewer=viewer, owner_id=model.owner_id
                ),
                "model_name": model.name,
                "model_version": model.version,
                "benchmark_key": benchmark.key,
                "benchmark_version": benchmark.version,
                "material": structure.material,
                "formula": structure.formula,
                "elements": structure.elements,
                "n_atoms": structure.n_atoms,
                "structure_set": structure_set.name,
                "metrics": metrics[run.id] if with_metrics else None,
                "series": series[run.id] if series_names else None,
            }
        )
        for run, model, benchmark, structure, structure_set in rows
    ]


def _metric_with_reference(metric: Metric, ref: Reference | None) -> MetricWithReference:
    return MetricWithReference(
        name=metric.name,
        value=metric.value,
        unit=metric.unit,
        reference_id=metric.reference_id,
        error=metric.error,
        rel_error=metric.rel_error,
        reference_value=ref.value if ref else None,
        reference_unit=ref.unit if ref else None,
        reference_level_of_theory=ref.level_of_theory if ref else None,
        reference_source=ref.source if ref else None,
    )


def count_runs(session: Session, *, filters: dict[str, Any], viewer: Viewer) -> int:
    """How many runs ``viewer`` may see match ``filters`` over every page."""
    return run_repo.count_runs(session, filters=filters, viewer=viewer)


def list_campaign_runs(
    session: Session,
    campaign_id: uuid.UUID,
    *,
    viewer: Viewer,
    status: RunStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[RunRead], int]:
    """One page of the campaign's runs that ``viewer`` may see, and how many there are;
    NotFound for an unknown campaign."""
    if campaign_repo.get_campaign(session, campaign_id) is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    filters = {"campaign_id": campaign_id, "status": status}
    items = list_runs(session, filters=filters, viewer=viewer, limit=limit, offset=offset)
    return [RunRead.model_validate(i.model_dump()) for i in items], count_runs(
        session, filters=filters, viewer=viewer
    )


def _require_run(session: Session, run_id: uuid.UUID, viewer: Viewer) -> None:
    if run_repo.get_visible_run(session, run_id, viewer) is None:
        raise NotFound(f"no run with id {run_id}")


def run_metrics(session: Session, run_id: uuid.UUID, *, viewer: Viewer) -> list[MetricRead]:
    """The metrics of one run; NotFound for an unknown run or one ``viewer`` may not see."""
    _require_run(session, run_id, viewer)
    return [MetricRead.model_validate(m) for m in run_repo.metrics_of(session, run_id)]


def run_series(session: Session, run_id: uuid.UUID, *, viewer: Viewer) -> list[SeriesRead]:
    """The series (curves) of one run; NotFound for an unknown run or one ``viewer`` may not
    see."""
    _require_run(session, run_id, viewer)
    return [SeriesRead.model_validate(s) for s in run_repo.series_of(session, run_id)]
