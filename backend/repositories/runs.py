"""SQL for runs and their results; claiming a run is one conditional UPDATE."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Interval,
    Row,
    String,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from backend.db.tables import (
    Benchmark,
    Campaign,
    CampaignRun,
    Metric,
    MlipModel,
    Reference,
    Run,
    Series,
    Structure,
    StructureSet,
    User,
)
from backend.domain.statuses import CampaignStatus, ModelStatus, Role, RunStatus
from backend.repositories.run_attempts import lost_attempt_archive

RUN_KEY = ("mlip_model_id", "model_hash", "benchmark_id", "structure_id", "params_hash")


def insert_runs(session: Session, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Insert runs that do not exist yet (same model version, benchmark, input, params); return
    the new ids."""
    if not rows:
        return []
    # Rows as parameters (SQLAlchemy's "insertmanyvalues": one statement compiled once, sent
    # in batches), not a VALUES clause built and compiled for every row (0.15 s for 378 runs).
    return list(session.scalars(_INSERT_RUNS, rows))


_INSERT_RUNS = insert(Run).on_conflict_do_nothing(index_elements=list(RUN_KEY)).returning(Run.id)


def find_runs(session: Session, keys: Iterable[tuple[Any, ...]]) -> list[Run]:
    """Runs whose key (``RUN_KEY``) is in ``keys``."""
    keys = list(keys)
    if not keys:
        return []
    columns = tuple_(*(getattr(Run, name) for name in RUN_KEY))
    return list(session.scalars(select(Run).where(columns.in_(keys))))


def get_run(session: Session, run_id: uuid.UUID) -> Run | None:
    return session.get(Run, run_id)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads run data. Runs of approved models are public; a run of a model that is not
    approved (pending, rejected) is seen only by the model's owner and by admins."""

    user_id: uuid.UUID | None = None  # None: anonymous
    is_admin: bool = False

    @classmethod
    def of(cls, user: User | None) -> Viewer:
        if user is None:
            return cls()
        return cls(user_id=user.id, is_admin=user.role == Role.ADMIN)

    def owns(self, owner_id: uuid.UUID | None) -> bool:
        """Whether this reader sees everything of a model owned by ``owner_id``."""
        return self.is_admin or (self.user_id is not None and owner_id == self.user_id)


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """The condition, on ``MlipModel`` joined to the run, under which ``viewer`` sees a run."""
    if viewer.is_admin:
        return true()
    approved = MlipModel.status == ModelStatus.APPROVED
    if viewer.user_id is None:
        return approved
    return or_(approved, MlipModel.owner_id == viewer.user_id)


def get_visible_run(session: Session, run_id: uuid.UUID, viewer: Viewer) -> Run | None:
    """The run if ``viewer`` may see it (see ``Viewer``), else None."""
    query = (
        select(Run)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .where(Run.id == run_id, visible_to(viewer))
    )
    return session.scalars(query).first()


def claim_run(
    session: Session, run_id: uuid.UUID, *, worker: str, lease_s: float
) -> Row[Any] | None:
    """Take a queued run, or a running one whose worker's lease expired, and read its inputs
    (``JOB_COLUMNS``) in the same statement; None when the run is not claimable."""
    params = {"claim_id": run_id, "claim_worker": worker, "lease": timedelta(seconds=lease_s)}
    # Executed as Core (no ORM entities to load): 0.1-0.2 ms less than session.execute.
    return session.connection().execute(_CLAIM, params).first()


def job_row(session: Session, run_id: uuid.UUID) -> Row[Any] | None:
    """The inputs of one run (``JOB_COLUMNS``), without claiming it."""
    source = select(*(getattr(Run, name) for name in _RUN_INPUTS)).where(Run.id == run_id)
    return session.execute(_job_query(source.subquery("run_inputs").c)).first()


# What a worker reads about a claimed run: the run's own columns and its model's, benchmark's
# and structure's, in one round trip (a claim used to cost four).
_RUN_INPUTS = ("id", "attempt", "attempt_base", "params", "params_hash", "mlip_model_id",
               "model_hash", "benchmark_id", "structure_id")  # fmt: skip
_REFERENCE_FIELDS = ("id", "property", "value", "level_of_theory", "dataset", "conditions")
JOB_COLUMNS = ("run_id", "attempt", "attempt_base", "params", "params_hash", "benchmark_key",
               "benchmark_version", "structure_data", "material", "elements", "model_id",
               "model_hash", "model_family", "model_name", "model_version", "model_params",
               "model_status", "version_hash", "packages", "is_trusted", "artifact_key",
               "artifact_sha256", "references", "space_group")  # fmt: skip

# The references of the run's material (what its result may be compared with), read with the
# claim: the result then needs no query of its own before its one statement.
_REFERENCE_OBJECT: list[Any] = []
for _name in _REFERENCE_FIELDS:
    _REFERENCE_OBJECT += [literal_column(f"'{_name}'"), getattr(Reference, _name)]
_MATERIAL_REFERENCES = (
    select(
        func.coalesce(
            func.jsonb_agg(func.jsonb_build_object(*_REFERENCE_OBJECT)), func.jsonb_build_array()
        )
    )
    .where(Reference.material == Structure.material)
    .scalar_subquery()
)


def _job_query(run: Any) -> Any:
    return (
        select(
            run.id.label("run_id"),
            run.attempt,
            run.attempt_base,
            run.params,
            run.params_hash,
            Benchmark.key.label("benchmark_key"),
            Benchmark.version.label("benchmark_version"),
            Structure.data.label("structure_data"),
            Structure.material,
            Structure.elements,
            run.mlip_model_id.label("model_id"),
            run.model_hash,
            MlipModel.family.label("model_family"),
            MlipModel.name.label("model_name"),
            MlipModel.version.label("model_version"),
            MlipModel.params.label("model_params"),
            MlipModel.status.label("model_status"),
            MlipModel.version_hash,
            MlipModel.packages,
            MlipModel.is_trusted,
            MlipModel.artifact_key,
            MlipModel.artifact_sha256,
            _MATERIAL_REFERENCES.label("references"),
            Structure.space_group,
        )
        .select_from(run.id.table)
        .join(MlipModel, MlipModel.id == run.mlip_model_id)
        .join(Benchmark, Benchmark.id == run.benchmark_id)
        .join(Structure, Structure.id == run.structure_id)
    )


# Built once: a statement object reused with new parameters skips SQLAlchemy's cache-key walk,
# and its constant text lets psycopg keep it prepared on the server.
_CLAIM = _job_query(
    update(Run)
    .where(
        Run.id == bindparam("claim_id"),
        or_(
            Run.status == RunStatus.QUEUED,
            and_(Run.status == RunStatus.RUNNING, Run.lease_expires_at < func.now()),
        ),
    )
    .values(
        status=RunStatus.RUNNING,
        attempt=Run.attempt + 1,
        worker=bindparam("claim_worker"),
        started_at=func.now(),
        lease_expires_at=func.now() + bindparam("lease", type_=Interval),
    )
    .returning(*(getattr(Run, name) for name in _RUN_INPUTS))
    .cte("claimed")
    .c
).add_cte(lost_attempt_archive(bindparam("claim_id")))


def renew_lease(session: Session, run_id: uuid.UUID, *, attempt: int, lease_s: float) -> bool:
    """Extend the lease of the given attempt; False when that attempt no longer owns the run."""
    stmt = (
        update(Run)
        .where(Run.id == run_id, Run.status == RunStatus.RUNNING, Run.attempt == attempt)
        .values(lease_expires_at=func.now() + timedelta(seconds=lease_s))
        .returning(Run.id)
    )
    return session.execute(stmt).first() is not None


def lease_remaining_s(session: Session, run_id: uuid.UUID) -> float | None:
    """Seconds left on a running run's lease; None when the run is not running."""
    query = select(func.extract("epoch", Run.lease_expires_at - func.now())).where(
        Run.id == run_id, Run.status == RunStatus.RUNNING
    )
    value = session.scalar(query)
    return None if value is None else float(value)


def all_campaigns_cancelled(session: Session, run_id: uuid.UUID) -> bool:
    """True when every campaign that asked for this run was cancelled (and there is one)."""
    statuses = session.scalars(
        select(Campaign.status)
        .join(CampaignRun, CampaignRun.campaign_id == Campaign.id)
        .where(CampaignRun.run_id == run_id)
    ).all()
    return bool(statuses) and all(s == CampaignStatus.CANCELLED for s in statuses)


def reference_candidates(
    session: Session, material: str, properties: list[str], levels: Iterable[str]
) -> list[Row[Any]]:
    """(id, property, value, level_of_theory, dataset, conditions) of a material's references
    to these properties at these levels of theory (what a result writer compares its metrics
    with, when their phase is the structure's)."""
    params = {"ref_material": material, "ref_properties": properties, "ref_levels": list(levels)}
    return list(session.execute(_REFERENCE_CANDIDATES, params))


_REFERENCE_CANDIDATES = select(
    Reference.id,
    Reference.property,
    Reference.value,
    Reference.level_of_theory,
    Reference.dataset,
    Reference.conditions,
).where(
    Reference.material == bindparam("ref_material"),
    Reference.property == any_(bindparam("ref_properties", type_=ARRAY(String))),
    Reference.level_of_theory == any_(bindparam("ref_levels", type_=ARRAY(String))),
)


def metrics_of(session: Session, run_id: uuid.UUID) -> list[Metric]:
    return list(session.scalars(select(Metric).where(Metric.run_id == run_id)))


def series_of(session: Session, run_id: uuid.UUID) -> list[Series]:
    return list(session.scalars(select(Series).where(Series.run_id == run_id)))


def _filtered(query: Any, filters: dict[str, Any]) -> Any:
    """``query`` (already joined with Benchmark, Structure, StructureSet) narrowed by filters."""
    for key, column in (("run_id", Run.id), ("model_id", Run.mlip_model_id),
                        ("benchmark", Benchmark.key), ("status", Run.status),
                        ("structure_set", StructureSet.name)):  # fmt: skip
        if filters.get(key) is not None:
            query = query.where(column == filters[key])
    if filters.get("element") is not None:
        query = query.where(Structure.elements.contains([filters["element"]]))
    if filters.get("campaign_id") is not None:
        query = query.join(CampaignRun, CampaignRun.run_id == Run.id).where(
            CampaignRun.campaign_id == filters["campaign_id"]
        )
    return query


def list_runs(
    session: Session,
    *,
    filters: dict[str, Any],
    viewer: Viewer,
    limit: int,
    offset: int,
) -> list[tuple[Run, MlipModel, Benchmark, Structure, StructureSet]]:
    """Runs ``viewer`` may see with their model, benchmark, structure and set, newest
    finished first.

    ``filters`` keys (each optional): run_id, model_id, benchmark (key), status, campaign_id,
    structure_set (name), element.
    """
    query = (
        select(Run, MlipModel, Benchmark, Structure, StructureSet)
        .join(MlipModel, MlipModel.id == Run.mlip_model_id)
        .join(Benchmark, Benchmark.id == Run.benchmark_id)
        .join(Structure, Structure.id == Run.structure_id)
        .join(StructureSet, StructureSet.id == Structure.structure_set_id)
        .where(visible_to(viewer))
    )
    query = _filtered(query, filters)
    query = query.order_by(Run.finished_at.desc().nulls_last(), Run.id).limit(limit).offset(offset)
    return [tuple(row) for row in session.execute(query)]


def count_runs(session: Session, *, filters: dict[str, Any], viewer: Viewer) -> int:
    """How many runs ``list_runs`` would return over every page."""
    query = (
        select(func.count(Run.id))
        .select_from(Run)
        .join(Benchmark, Benchmark.id == Run.benchmark_id)
        .join(Structure, Structure.id == Run.structure_id)
        .join(StructureSet, StructureSet.id == Structure.structure_set_id)
    )
    if not viewer.is_admin:
        query = query.join(MlipModel, MlipModel.id == Run.mlip_model_id).where(visible_to(viewer))
    return int(session.scalar(_filtered(query, filters)) or 0)


def metrics_with_references(
    session: Session, run_ids: list[uuid.UUID]
) -> list[tuple[Metric, Reference | None]]:
    """The metrics of ``run_ids`` with the reference each was compared with (if any)."""
    if not run_ids:
        return []
    query = (
        select(Metric, Reference)
        .outerjoin(Reference, Reference.id == Metric.reference_id)
        .where(Metric.run_id.in_(run_ids))
        .order_by(Metric.run_id, Metric.name)
    )
    return [(metric, ref) for metric, ref in session.execute(query)]


def series_named(session: Session, run_ids: list[uuid.UUID], names: list[str]) -> list[Series]:
    """The series called one of ``names`` of the runs ``run_ids``."""
    if not run_ids or not names:
        return []
    query = select(Series).where(Series.run_id.in_(run_ids), Series.name.in_(names))
    return list(session.scalars(query.order_by(Series.run_id, Series.name)))
