"""A deterministic dashboard database: N approved models x every registered benchmark.

Every number follows a formula (``relative_error``) so tests can predict what a page must show,
independently of the dashboard's own arithmetic. Used by the browser tests (a few models) and by
``bench/dashboard.py`` (200 models x 12 benchmarks).

Runs use each benchmark's standard parameter set (its default board), on five metals; ``s22``
runs on five S22 complexes (references at CCSD(T)/CBS). The last ``N_ALT_PROTOCOL_MODELS``
models also ran ``eos`` with a second parameter set (``ALT_EOS_PARAMS``), and the campaign still
running is one more parameter set of the first benchmark: boards with two protocols.

``phonons`` runs store the benchmark's own series: ASE's EMT phonons of the metal (computed
once per metal by ``workers.benchmarks.phonons``), frequencies and path scaled per model; a
failed phonons run on ``UNSTABLE_PHONONS_MATERIAL`` failed as ``dynamically_unstable`` and
keeps its series, its lowest band dipping to ``SOFT_MODE_THZ`` at X.
"""

from __future__ import annotations

import dataclasses
import functools
import math
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
from shared_kernel.hashing import model_version_hash, params_hash
from workers.benchmarks.phonons import PhononsResult

SEED_SET = "dashboard seed metals"
MATERIALS = ("Cu", "Al", "Ag", "Ni", "Pt")
#: The S22 complexes the ``s22`` benchmark runs on instead of the metals (same indices).
S22_MATERIALS = (
    "Ammonia_dimer",
    "Water_dimer",
    "Formic_acid_dimer",
    "Formamide_dimer",
    "Uracil_dimer_h-bonded",
)
S22_LEVEL = "ccsd(t)/cbs"
#: The last N models also ran eos with these parameters (the standard set otherwise).
N_ALT_PROTOCOL_MODELS = 3
ALT_EOS_PARAMS = {"n_points": 7}
#: Model index -> the board metrics its card says it was fitted to.
FITTED_TO = {3: ["bulk_modulus"]}
OPENNESS = ("OSOD", "OSCD", "CSOD", "CSCD")
TRAINING_SETS = ("MPtrj", "OMat24", "Alexandria")
FAILURE_CLASSES = ("nan_or_inf", "atoms_too_close", "temperature_runaway", "no_convergence")
#: A failed phonons run on this metal failed as dynamically unstable (on the others, with one of
#: ``FAILURE_CLASSES``); with six models, model 2's run on Ag.
UNSTABLE_PHONONS_MATERIAL = "Ag"
UNSTABLE = "dynamically_unstable"
#: The frequency (THz) of the lowest band at X of a dynamically unstable run: imaginary.
SOFT_MODE_THZ = -1.0
ELEMENTS_PER_SET = {
    "MPtrj": {"Cu": 5000, "Al": 12000, "Ag": 800, "Ni": 9000, "Pt": 300, "O": 60000},
    "OMat24": {"Cu": 90000, "Al": 150000, "Ag": 40000, "Ni": 120000, "Pt": 30000},
    "Alexandria": {"Cu": 20000, "Al": 25000, "Ag": 9000, "Ni": 18000, "Pt": 7000, "Fe": 30000},
}


# Every seeded model is an EMT with default params: one version hash.
SEEDED_MODEL_HASH = model_version_hash("emt", {}, None, None)


def model_name(index: int) -> str:
    return f"seed-{index:03d}"


def materials_of(key: str) -> tuple[str, ...]:
    """The materials a benchmark's seeded runs are on: S22 complexes for s22, else metals."""
    return S22_MATERIALS if key == "s22" else MATERIALS


def is_flagged(model: int, material: int) -> bool:
    """A succeeded run raises a quality flag (and is then penalised on the boards)."""
    return (model + material) % 5 == 0


def alt_protocol_models(n_models: int) -> range:
    """Indices of the models that also ran eos with ``ALT_EOS_PARAMS``."""
    return range(max(0, n_models - N_ALT_PROTOCOL_MODELS), n_models)


def alt_relative_error(model: int, material: int, metric: int) -> float:
    """(value - reference) / reference of the second eos protocol: other numbers, no failure."""
    return 0.005 * (1 + (3 * model + material + metric) % 4)


def relative_error(model: int, material: int, metric: int, benchmark: int = 0) -> float:
    """(value - reference) / reference of model ``model`` on a material, metric and benchmark
    (indices; benchmarks in key order): each benchmark ranks the models differently. The
    modulus (12) leaves two models tied on the combined score over today's 13 benchmarks
    (``test_equal_combined_scores_are_ranked_by_model_name``) and no two of the openness-
    filtered models tied on eos (``test_csv_export_follows_the_tables_sort_and_filter``)."""
    sign = 1 if (model + material + metric) % 2 == 0 else -1
    return sign * 0.01 * (1 + (model * (benchmark + 1)) % 12 + material)


def is_failed(model: int, material: int, benchmark: int) -> bool:
    return (model + 2 * material + benchmark) % 13 == 0


def speed_us(model: int) -> float:
    """Time per atom-step of model ``model`` in µs: grows with the index, so index 0 is fastest."""
    return 2.0 * (1 + model) ** 1.3


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


def is_unstable(key: str, model: int, material: int, benchmark: int) -> bool:
    """A failed run that failed as dynamically unstable (and keeps its phonon series)."""
    on = MATERIALS[material] == UNSTABLE_PHONONS_MATERIAL
    return key == "phonons" and on and is_failed(model, material, benchmark)


@functools.cache
def emt_phonons(metal: str) -> PhononsResult:
    """The phonons benchmark's result for ASE's EMT on the metal's primitive cell (the seeded
    structure), at its standard parameters."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from workers.benchmarks.phonons import PhononsParams, run_phonons

    return run_phonons(bulk(metal), EMT(), PhononsParams())


def phonon_result(model: int, material: int, *, unstable: bool = False) -> PhononsResult:
    """EMT's phonons of a seeded metal with frequencies scaled by ``1 + relative_error(model,
    material, 0)`` and path distances by ``1 + relative_error(model, material, 1)`` (each model
    its own lattice); ``unstable``: the lowest band is pulled below zero around the path's
    first X, to ``SOFT_MODE_THZ`` at X."""
    base = emt_phonons(MATERIALS[material])
    nu = 1 + relative_error(model, material, 0)
    q = 1 + relative_error(model, material, 1)
    x = tuple(v * q for v in base.band_x)
    bands = [tuple(f * nu for f in band) for band in base.bands_thz]
    if unstable:
        at_x = next(p * q for name, p in base.special_points if name == "X")
        k = min(range(len(x)), key=lambda i: abs(x[i] - at_x))
        depth = bands[0][k] - SOFT_MODE_THZ
        bands[0] = tuple(
            f - depth * math.exp(-(((v - at_x) / (0.08 * x[-1])) ** 2))
            for v, f in zip(x, bands[0], strict=True)
        )
    return dataclasses.replace(
        base,
        band_x=x,
        bands_thz=tuple(bands),
        dos=(tuple(v * nu for v in base.dos[0]), tuple(g / nu for g in base.dos[1])),
        special_points=tuple((name, p * q) for name, p in base.special_points),
    )


def _row(
    run_id: uuid.UUID,
    name: str,
    x: list[float],
    y: list[float],
    xl: str,
    xu: str,
    yl: str,
    yu: str,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "name": name,
        "x": x,
        "y": y,
        "x_label": xl,
        "x_unit": xu,
        "y_label": yl,
        "y_unit": yu,
    }


def phonon_series(
    run_id: uuid.UUID, model: int, material: int, *, unstable: bool = False
) -> list[dict[str, Any]]:
    """The series rows the phonons benchmark stores, of ``phonon_result``."""
    return [
        _row(run_id, s.name, list(s.x), list(s.y), s.x_label, s.x_unit, s.y_label, s.y_unit)
        for s in phonon_result(model, material, unstable=unstable).series()
    ]


def _series(key: str, run_id: uuid.UUID, model: int, material: int) -> list[dict[str, Any]]:
    def row(
        name: str, x: list[float], y: list[float], xl: str, xu: str, yl: str, yu: str
    ) -> dict[str, Any]:
        return _row(run_id, name, x, y, xl, xu, yl, yu)

    shift = 1 + relative_error(model, material, 0)
    if key == "eos":
        v = [10.0 + 0.5 * k for k in range(11)]
        e = [0.02 * (x - 12.5 * shift) ** 2 - 3.5 for x in v]
        return [row("energy_volume", v, e, "volume", "Å³/atom", "energy", "eV/atom")]
    if key == "diatomics":
        r = [1.2 + 0.1 * k for k in range(30)]
        e = [4 * 0.4 * shift * ((2.3 / x) ** 12 - (2.3 / x) ** 6) for x in r]
        return [row("energy_distance", r, e, "distance", "Å", "energy", "eV")]
    if key == "md_stability":
        t = [0.5 * k for k in range(21)]
        alive = [max(0.0, 1 - 0.02 * (model % 5) * k) for k in range(21)]
        return [row("nvt_ramp_survival", t, alive, "time", "ps", "fraction alive", "1")]
    if key == "phonons":
        return phonon_series(run_id, model, material)
    if key == "speed":
        n = [16.0, 32.0, 64.0, 128.0]
        return [
            row(
                "time_per_atom_step",
                n,
                [speed_us(model) * (x / 16) ** 0.05 for x in n],
                "atoms",
                "1",
                "time",
                "µs/(atom step)",
            )
        ]
    return []


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
                series += _series(bench.key, run_id, i, j)
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
