"""A deterministic dashboard database: N approved models x every registered benchmark.

Every number follows a formula (``relative_error``) so tests can predict what a page must show,
independently of the dashboard's own arithmetic. Used by the browser tests (a few models) and by
``bench/dashboard.py`` (200 models x 12 benchmarks).

Runs use each benchmark's standard parameter set (its default board), on five metals; ``s22``
runs on five S22 complexes (references at CCSD(T)/CBS). The last ``N_ALT_PROTOCOL_MODELS``
models also ran ``eos`` with a second parameter set (``ALT_EOS_PARAMS``), and the campaign still
running is one more parameter set of the first benchmark: boards with two protocols.

Its formulas are in ``seed_formulas.py``, the series its runs store in ``seed_series.py``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.bootstrap import ELEMENTAL_CRYSTALS, S22
from backend.db.base import utcnow
from backend.db.tables import (
    Benchmark,
    Campaign,
    CampaignRun,
    Metric,
    MlipModel,
    Reference,
    Run,
    Series,
)
from backend.domain.statuses import CampaignStatus, ModelStatus, RunStatus
from backend.repositories import references as ref_repo
from backend.services import catalog
from shared_kernel.hashing import params_hash
from tests.frontend.seed_formulas import (
    ALT_EOS_PARAMS,
    ELEMENTS_PER_SET,
    FAILURE_CLASSES,
    FITTED_TO,
    MATERIALS,
    OPENNESS,
    S22_LEVEL,
    S22_MATERIALS,
    SEED_SET,
    SEEDED_MODEL_HASH,
    TRAINING_SETS,
    UNSTABLE,
    alt_protocol_models,
    alt_relative_error,
    is_failed,
    is_flagged,
    is_unstable,
    materials_of,
    model_name,
    relative_error,
    speed_us,
)
from tests.frontend.seed_series import phonon_series, series_rows


@dataclass
class Seeded:
    model_ids: list[uuid.UUID]
    run_ids: dict[tuple[int, str, str], uuid.UUID] = field(default_factory=dict)
    #: benchmark key -> the hash of its standard parameter set (the seeded runs')
    standard_hashes: dict[str, str] = field(default_factory=dict)
    alt_eos_hash: str = ""
    campaign_id: uuid.UUID | None = None
    running_campaign_id: uuid.UUID | None = None


def _structures(session: Session) -> dict[str, Any]:
    """Seed metals and the seeded S22 complexes by material."""
    s22 = ref_repo.get_structure_set_by_name(session, S22)
    assert s22 is not None, "bootstrap the database first"
    complexes = {
        s.material: s
        for s in ref_repo.list_structures(session, s22.id)
        if s.material in S22_MATERIALS
    }
    assert set(complexes) == set(S22_MATERIALS), sorted(complexes)
    return {**_metals(session), **complexes}


def _metals(session: Session) -> dict[str, Any]:
    existing = ref_repo.get_structure_set_by_name(session, SEED_SET)
    if existing is None:
        elemental = ref_repo.get_structure_set_by_name(session, ELEMENTAL_CRYSTALS)
        assert elemental is not None, "bootstrap the database first"
        picked = [
            s for s in ref_repo.list_structures(session, elemental.id) if s.material in MATERIALS
        ]
        catalog.load_structure_set(
            session,
            name=SEED_SET,
            description="dashboard tests",
            source="tests",
            structures=[
                catalog.StructureIn(s.label, s.material, s.formula, s.elements, s.n_atoms, s.data)
                for s in picked
            ],
        )
        existing = ref_repo.get_structure_set_by_name(session, SEED_SET)
    assert existing is not None
    return {s.material: s for s in ref_repo.list_structures(session, existing.id)}


def _card(index: int) -> dict[str, Any]:
    training = TRAINING_SETS[index % len(TRAINING_SETS)]
    fitted = {"fitted_to": FITTED_TO[index]} if index in FITTED_TO else {}
    return {
        **fitted,
        "name": model_name(index),
        "version": "1",
        "family": "emt",
        "authors": ["A. Seed", "B. Seed"],
        "license": "MIT",
        "openness": OPENNESS[index % len(OPENNESS)],
        "n_parameters": 100_000 * (1 + index),
        "description": f"Synthetic model {index} of the dashboard tests.",
        "training_data": [
            {
                "name": training,
                "level_of_theory": "PBE",
                "element_counts": ELEMENTS_PER_SET[training],
            }
        ],
    }


def _value(ref: Reference | None, model: int, material: int, metric: int, bench: int) -> float:
    if ref is not None:
        return ref.value * (1 + relative_error(model, material, metric, bench))
    return 1.0 + 0.1 * model + 0.05 * material + 0.01 * metric


def seed_dashboard(session: Session, n_models: int, *, running_campaign: bool = True) -> Seeded:
    """Add ``n_models`` approved models with one run per (benchmark, material); not committed."""
    structures = _structures(session)
    benchmarks = list(session.scalars(select(Benchmark).order_by(Benchmark.key)))
    refs = {
        (r.material, r.property): r
        for r in session.scalars(
            select(Reference).where(
                (Reference.level_of_theory == "experiment")
                | (Reference.material.in_(S22_MATERIALS) & (Reference.level_of_theory == S22_LEVEL))
            )
        )
    }
    models = _models(n_models)
    session.execute(insert(MlipModel), models)
    seeded = Seeded(
        model_ids=[m["id"] for m in models],
        standard_hashes={
            b.key: params_hash(b.key, b.version, dict(b.default_params)) for b in benchmarks
        },
    )
    now = utcnow()
    runs: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    series: list[dict[str, Any]] = []
    for i, model in enumerate(models):
        for b, bench in enumerate(benchmarks):
            for j, material in enumerate(materials_of(bench.key)):
                structure = structures[material]
                run_id = uuid.uuid4()
                seeded.run_ids[(i, bench.key, material)] = run_id
                failed = is_failed(i, j, b)
                unstable = is_unstable(bench.key, i, j, b)
                runs.append(
                    {
                        **_run_outcome(i, j, now, failed=failed, unstable=unstable),
                        "id": run_id,
                        "mlip_model_id": model["id"],
                        "model_hash": SEEDED_MODEL_HASH,
                        "benchmark_id": bench.id,
                        "structure_id": structure.id,
                        "params": dict(bench.default_params),
                        "params_hash": seeded.standard_hashes[bench.key],
                    }
                )
                if unstable:  # its DOS and bands are kept
                    series += phonon_series(run_id, i, j, unstable=True)
                if failed:
                    continue
                for k, headline in enumerate(bench.headline_metrics):
                    name = headline["name"]
                    ref = refs.get((material, name))
                    value = speed_us(i) if name == "time_per_atom_step" else _value(ref, i, j, k, b)
                    metrics.append(_metric(run_id, name, headline["unit"], value, ref))
                if is_flagged(i, j):
                    metrics.append(_metric(run_id, "flag_window_sensitive", "1", 1.0, None))
                series += series_rows(bench.key, run_id, i, j)
    eos = next((b for b in benchmarks if b.key == "eos"), None)
    if eos is not None:
        seeded.alt_eos_hash = _alt_eos_runs(session, eos, models, structures, refs, runs, metrics)
    for chunk in range(0, len(runs), 2000):
        session.execute(insert(Run), runs[chunk : chunk + 2000])
    for chunk in range(0, len(metrics), 5000):
        session.execute(insert(Metric), metrics[chunk : chunk + 5000])
    for chunk in range(0, len(series), 2000):
        session.execute(insert(Series), series[chunk : chunk + 2000])
    seeded.campaign_id = _campaign(
        session,
        "seeded: every model on every benchmark",
        [r["id"] for r in runs],
        CampaignStatus.FINISHED,
    )
    if running_campaign:
        seeded.running_campaign_id = _running_campaign(
            session, models[0]["id"], benchmarks, structures
        )
    session.flush()
    return seeded


def _models(n_models: int) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4(),
            "name": model_name(i),
            "version": "1",
            "family": "emt",
            "params": {},
            "card": _card(i),
            "status": ModelStatus.APPROVED,
            "elements": None,
            "version_hash": SEEDED_MODEL_HASH,
            "training_element_counts": ELEMENTS_PER_SET[TRAINING_SETS[i % len(TRAINING_SETS)]],
        }
        for i in range(n_models)
    ]


def _run_outcome(
    model: int, material: int, now: datetime, *, failed: bool, unstable: bool
) -> dict[str, Any]:
    """Status, failure, worker, timings and provenance of a seeded run."""
    failure = UNSTABLE if unstable else FAILURE_CLASSES[(model + material) % 4]
    return {
        "status": RunStatus.FAILED if failed else RunStatus.SUCCEEDED,
        "attempt": 1,
        "failure_class": failure if failed else None,
        "failure_message": "seeded failure" if failed else None,
        "worker": "seed@host",
        "started_at": now - timedelta(seconds=30),
        "finished_at": now - timedelta(seconds=model + material),
        "wall_s": 1.0 + model + 0.1 * material,
        "cpu_s": 1.0 + model,
        "peak_memory_mb": 200.0 + model,
        "provenance": {"seeded": True, "versions": {"ase": "3.x"}},
    }


def _metric(
    run_id: uuid.UUID, name: str, unit: str, value: float, ref: Reference | None
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "run_id": run_id,
        "name": name,
        "value": value,
        "unit": unit,
        "reference_id": ref.id if ref else None,
        "error": value - ref.value if ref else None,
    }


def _alt_eos_runs(
    session: Session,
    eos: Benchmark,
    models: list[dict[str, Any]],
    structures: dict[str, Any],
    refs: dict[tuple[str, str], Reference],
    runs: list[dict[str, Any]],
    metrics: list[dict[str, Any]],
) -> str:
    """Runs of the ``alt_protocol_models`` on eos with ``ALT_EOS_PARAMS`` (all succeeded, none
    flagged), added to ``runs`` and ``metrics``; the parameter set's hash."""
    params = {**eos.default_params, **ALT_EOS_PARAMS}
    digest = params_hash(eos.key, eos.version, params)
    for i in alt_protocol_models(len(models)):
        model = models[i]
        for j, material in enumerate(MATERIALS):
            run_id = uuid.uuid4()
            runs.append(
                {
                    "id": run_id,
                    "mlip_model_id": model["id"],
                    "model_hash": SEEDED_MODEL_HASH,
                    "benchmark_id": eos.id,
                    "structure_id": structures[material].id,
                    "params": params,
                    "params_hash": digest,
                    "status": RunStatus.SUCCEEDED,
                    "attempt": 1,
                    "worker": "seed@host",
                    "finished_at": utcnow(),
                    "provenance": {"seeded": True},
                }
            )
            for k, headline in enumerate(eos.headline_metrics):
                ref = refs.get((material, headline["name"]))
                value = (
                    ref.value * (1 + alt_relative_error(i, j, k))
                    if ref
                    else 2.0 + 0.1 * i + 0.05 * j
                )
                metrics.append(_metric(run_id, headline["name"], headline["unit"], value, ref))
    return digest


def _campaign(
    session: Session, name: str, run_ids: list[uuid.UUID], status: CampaignStatus
) -> uuid.UUID:
    campaign_id = uuid.uuid4()
    session.execute(
        insert(Campaign).values(
            id=campaign_id,
            name=name,
            status=status,
            n_reused=0,
            spec={"models": [], "benchmarks": [], "structure_sets": [SEED_SET]},
        )
    )
    if run_ids:
        session.execute(
            insert(CampaignRun), [{"campaign_id": campaign_id, "run_id": r} for r in run_ids]
        )
    return campaign_id


def _running_campaign(
    session: Session, model_id: uuid.UUID, benchmarks: list[Benchmark], structures: dict[str, Any]
) -> uuid.UUID:
    """A campaign still going: queued runs (no worker takes them), one failed, one succeeded;
    all of one parameter set of the first benchmark that is not its standard one."""
    first = benchmarks[0]
    params = {**first.default_params, "max_steps": 50}
    digest = params_hash(first.key, first.version, params)
    rows = []
    for n, material in enumerate(MATERIALS):
        rows.append(
            {
                "id": uuid.uuid4(),
                "mlip_model_id": model_id,
                "model_hash": SEEDED_MODEL_HASH,
                "benchmark_id": first.id,
                "structure_id": structures[material].id,
                "params": params,
                "params_hash": digest,
                "status": (RunStatus.FAILED, RunStatus.SUCCEEDED)[n] if n < 2 else RunStatus.QUEUED,
                "attempt": 1 if n < 2 else 0,
                "failure_class": "temperature_runaway" if n == 0 else None,
                "failure_message": "T exceeded 5000 K at step 1200" if n == 0 else None,
                "finished_at": utcnow() if n < 2 else None,
                "provenance": {},
            }
        )
    session.execute(insert(Run), rows)
    return _campaign(
        session,
        "monitor: a campaign still running",
        [r["id"] for r in rows],
        CampaignStatus.RUNNING,
    )
