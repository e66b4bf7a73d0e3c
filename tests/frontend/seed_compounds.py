"""Compound runs for the dashboard seed (the element page's choice of structures): eos runs of
the seeded models on Sol58 binary compounds, added after ``seed.seed_dashboard``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.db.base import utcnow
from backend.db.tables import Benchmark, Metric, Reference, Run
from backend.domain.statuses import RunStatus
from backend.repositories import references as ref_repo
from tests.frontend.seed import Seeded, _metric
from tests.frontend.seed_formulas import SEEDED_MODEL_HASH

# --- compound runs (the element page's choice of structures) ---------------------------------
# Called by the browser tests' fixture after ``seed_dashboard`` (not by bench/dashboard.py).

#: Model index -> the binary compounds (Sol58) it also ran eos on, standard protocol: GaAs
#: (zincblende), whose elements no seeded metal has, and NiAl (B2), whose elements both are seed
#: metals. No rocksalt compound: the leaderboard tests expect no run on a rocksalt structure.
COMPOUND_RUNS: dict[int, tuple[str, ...]] = {1: ("GaAs", "NiAl")}
#: (value - reference) / reference of every eos metric of a compound run (all succeeded, none
#: flagged); a metric without a reference has the value 1.
COMPOUND_RELATIVE_ERROR = {"GaAs": -0.2, "NiAl": 0.1}


def compound_value(material: str, reference: float | None) -> float:
    """The seeded value of a compound run's metric with this reference value."""
    if reference is None:
        return 1.0
    return reference * (1 + COMPOUND_RELATIVE_ERROR[material])


def seed_compound_runs(session: Session, seeded: Seeded) -> list[uuid.UUID]:
    """The ``COMPOUND_RUNS``: succeeded eos runs of the seeded models on binary compounds, each
    metric off its experimental reference by ``COMPOUND_RELATIVE_ERROR``, in no campaign, added
    to ``seeded.run_ids``; their ids. Not committed."""
    from backend.bootstrap import COMPOUNDS

    eos = session.scalar(select(Benchmark).where(Benchmark.key == "eos"))
    compounds = ref_repo.get_structure_set_by_name(session, COMPOUNDS)
    assert eos is not None, "bootstrap the database first"
    assert compounds is not None, "bootstrap the database first"
    wanted = {m for materials in COMPOUND_RUNS.values() for m in materials}
    structures = {
        s.material: s
        for s in ref_repo.list_structures(session, compounds.id)
        if s.material in wanted
    }
    refs = {
        (r.material, r.property): r
        for r in session.scalars(
            select(Reference).where(
                Reference.material.in_(wanted) & (Reference.level_of_theory == "experiment")
            )
        )
    }
    runs: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    for index, materials in COMPOUND_RUNS.items():
        for material in materials:
            run_id = uuid.uuid4()
            seeded.run_ids[(index, "eos", material)] = run_id
            runs.append(
                {
                    "id": run_id,
                    "mlip_model_id": seeded.model_ids[index],
                    "model_hash": SEEDED_MODEL_HASH,
                    "benchmark_id": eos.id,
                    "structure_id": structures[material].id,
                    "params": dict(eos.default_params),
                    "params_hash": seeded.standard_hashes["eos"],
                    "status": RunStatus.SUCCEEDED,
                    "attempt": 1,
                    "worker": "seed@host",
                    "finished_at": utcnow(),
                    "provenance": {"seeded": True},
                }
            )
            for headline in eos.headline_metrics:
                ref = refs.get((material, headline["name"]))
                value = compound_value(material, ref.value if ref else None)
                metrics.append(_metric(run_id, headline["name"], headline["unit"], value, ref))
    session.execute(insert(Run), runs)
    session.execute(insert(Metric), metrics)
    session.flush()
    return [r["id"] for r in runs]
