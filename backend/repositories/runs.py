"""SQL for runs and their results; claiming a run is one conditional UPDATE."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Interval,
    Row,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy import (
    column as typed_column,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.orm import Session

from backend.db.tables import (
    Benchmark,
    Campaign,
    CampaignRun,
    Metric,
    MlipModel,
    Reference,
    Run,
    RunArtifact,
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
    return session.execute(_CLAIM, params).first()


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


def finish_run(
    session: Session,
    run_id: uuid.UUID,
    *,
    attempt: int,
    status: RunStatus,
    finished_at: datetime,
    metrics: list[dict[str, Any]] | None = None,
    series: list[dict[str, Any]] | None = None,
    artifacts: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> bool:
    """Record the end of the given attempt with its metric, series and artifact rows, in one
    statement; False (and nothing written) when that attempt no longer owns the run.

    ``metrics`` rows carry name, value, unit, reference_id, error, rel_error; ``series`` rows
    name, x, y, x_label, x_unit, y_label, y_unit; ``artifacts`` rows name, media_type, key,
    sha256, size_bytes, n_frames. Metric and series rows already stored are kept (a
    redelivered result changes nothing); an artifact row replaces an earlier attempt's of its
    name.
    """
    params: dict[str, Any] = {"finish_id": run_id, "finish_attempt": attempt}
    params.update({f"set_{name}": value for name, value in fields.items()})
    params.update(set_status=status, set_finished_at=finished_at)
    if metrics:
        params.update(
            {f"metric_{name}": [row[name] for row in metrics] for name, _ in _METRIC_ARRAYS}
        )
    if series:
        params["series_rows"] = [{name: row[name] for name in _SERIES_COLUMNS} for row in series]
    if artifacts:
        params["artifact_rows"] = [
            {name: row[name] for name in _ARTIFACT_COLUMNS} for row in artifacts
        ]
    statement = _finish_statement(
        tuple(sorted(fields)), bool(metrics), bool(series), bool(artifacts)
    )
    return bool(session.execute(statement, params).scalar())


_METRIC_ARRAYS = (("name", String), ("value", Float), ("unit", String),
                  ("reference_id", Uuid), ("error", Float), ("rel_error", Float))  # fmt: skip
_SERIES_COLUMNS = ("name", "x", "y", "x_label", "x_unit", "y_label", "y_unit")
_ARTIFACT_COLUMNS = ("name", "media_type", "key", "sha256", "size_bytes", "n_frames")


@functools.cache
def _finish_statement(
    fields: tuple[str, ...], with_metrics: bool, with_series: bool, with_artifacts: bool
) -> Any:
    # One statement object per shape (see _CLAIM): the run's UPDATE and the inserts that
    # depend on it, which write nothing when the UPDATE matched no row.
    finished = (
        update(Run)
        .where(
            Run.id == bindparam("finish_id"),
            Run.status == RunStatus.RUNNING,
            Run.attempt == bindparam("finish_attempt"),
        )
        .values({name: bindparam(f"set_{name}") for name in ("status", "finished_at", *fields)})
        .returning(Run.id)
        .cte("finished")
    )
    query = select(func.count()).select_from(finished)
    if with_metrics:
        query = query.add_cte(_insert_metrics_from(finished))
    if with_series:
        query = query.add_cte(_insert_series_from(finished))
    if with_artifacts:
        query = query.add_cte(_upsert_artifacts_from(finished))
    return query


def _insert_metrics_from(finished: Any) -> Any:
    # One multi-row INSERT (one array per column, unnested), so the statement-level triggers
    # on metric fire once per run, not once per row as with executemany.
    arrays = [bindparam(f"metric_{name}", type_=ARRAY(kind)) for name, kind in _METRIC_ARRAYS]
    unnested = (
        func.unnest(*arrays).table_valued(*(name for name, _ in _METRIC_ARRAYS)).render_derived()
    )
    # The references were read with the claim: one deleted since (an admin may delete a
    # reference no metric was scored against) leaves its metric uncompared, not the result
    # refused by the foreign key.
    compared = Reference.id.is_not(None)
    values = select(
        func.gen_random_uuid(),
        finished.c.id,
        unnested.c.name,
        unnested.c.value,
        unnested.c.unit,
        Reference.id,
        case((compared, unnested.c.error)),
        case((compared, unnested.c.rel_error)),
    ).select_from(
        finished.join(unnested, true()).outerjoin(
            Reference, Reference.id == unnested.c.reference_id
        )
    )
    columns = ["id", "run_id", *(name for name, _ in _METRIC_ARRAYS)]
    return insert(Metric).from_select(columns, values).on_conflict_do_nothing().cte("metrics")


def _insert_series_from(finished: Any) -> Any:
    # Curves travel as one JSON document expanded by the server (arrays of floats included).
    records = (
        func.jsonb_to_recordset(bindparam("series_rows", type_=JSONB))
        .table_valued(
            typed_column("name", String),
            typed_column("x", ARRAY(Float)),
            typed_column("y", ARRAY(Float)),
            typed_column("x_label", String),
            typed_column("x_unit", String),
            typed_column("y_label", String),
            typed_column("y_unit", String),
        )
        .render_derived(with_types=True)
    )
    values = select(
        func.gen_random_uuid(), finished.c.id, *(records.c[name] for name in _SERIES_COLUMNS)
    ).select_from(finished.join(records, true()))
    columns = ["id", "run_id", *_SERIES_COLUMNS]
    return insert(Series).from_select(columns, values).on_conflict_do_nothing().cte("series")


def _upsert_artifacts_from(finished: Any) -> Any:
    # The files a run wrote (one row per name): a retried run's row replaces its earlier
    # attempt's, whose file is no longer referenced (the sweeper removes it).
    records = (
        func.jsonb_to_recordset(bindparam("artifact_rows", type_=JSONB))
        .table_valued(
            typed_column("name", String),
            typed_column("media_type", String),
            typed_column("key", String),
            typed_column("sha256", String),
            typed_column("size_bytes", BigInteger),
            typed_column("n_frames", Integer),
        )
        .render_derived(with_types=True)
    )
    values = select(
        func.gen_random_uuid(), finished.c.id, *(records.c[name] for name in _ARTIFACT_COLUMNS)
    ).select_from(finished.join(records, true()))
    statement = insert(RunArtifact).from_select(["id", "run_id", *_ARTIFACT_COLUMNS], values)
    replaced = {name: statement.excluded[name] for name in _ARTIFACT_COLUMNS[1:]}
    return statement.on_conflict_do_update(
        index_elements=[RunArtifact.run_id, RunArtifact.name],
        set_={**replaced, "created_at": func.now()},
    ).cte("artifacts")


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
