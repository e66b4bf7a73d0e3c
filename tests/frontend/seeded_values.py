"""What the dashboard must show for the seeded database, computed from ``seed.py``'s formulas.

The inputs are the ones ``seed_dashboard`` itself read (the benchmark rows in key order with
their headline metrics, and the experiment references); every number is then derived from
``relative_error``, ``is_failed`` and ``speed_us`` without going through the API or the
dashboard, so a test compares the page with an independent computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend.db.models import Benchmark, Reference
from tests.frontend.seed import (
    MATERIALS,
    OPENNESS,
    TRAINING_SETS,
    is_failed,
    model_name,
    relative_error,
    speed_us,
)

TIME_METRIC = "time_per_atom_step"


@dataclass(frozen=True)
class SeedInputs:
    """Benchmarks in key order as (key, headline metric names), and experiment references
    by (material, property)."""

    benchmarks: list[tuple[str, list[str]]]
    references: dict[tuple[str, str], float]

    def key_index(self, key: str) -> int:
        return [k for k, _ in self.benchmarks].index(key)


def read_seed_inputs(database_url: str) -> SeedInputs:
    """The benchmark rows and references, read as ``seed_dashboard`` reads them."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            benchmarks = [
                (b.key, [m["name"] for m in b.headline_metrics])
                for b in session.scalars(select(Benchmark).order_by(Benchmark.key))
            ]
            references = {
                (r.material, r.property): r.value
                for r in session.scalars(
                    select(Reference).where(Reference.level_of_theory == "experiment")
                )
            }
    finally:
        engine.dispose()
    return SeedInputs(benchmarks, references)


def abs_error(inputs: SeedInputs, model: int, key: str, metric: str, material: str) -> float | None:
    """|value - reference| of one seeded metric (None: failed run or no reference)."""
    b, j = inputs.key_index(key), MATERIALS.index(material)
    k = dict(inputs.benchmarks)[key].index(metric)
    reference = inputs.references.get((material, metric))
    if is_failed(model, j, b) or reference is None or metric == TIME_METRIC:
        return None
    return abs(reference * relative_error(model, j, k, b))


def _value(inputs: SeedInputs, model: int, key: str, metric: str, material: str) -> float | None:
    b, j = inputs.key_index(key), MATERIALS.index(material)
    k = dict(inputs.benchmarks)[key].index(metric)
    if is_failed(model, j, b):
        return None
    if metric == TIME_METRIC:
        return speed_us(model)
    reference = inputs.references.get((material, metric))
    if reference is not None:
        return reference * (1 + relative_error(model, j, k, b))
    return 1.0 + 0.1 * model + 0.05 * j + 0.01 * k


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def metric_cells(inputs: SeedInputs, n_models: int) -> list[dict[str, float | None]]:
    """Per model: the MAE against experiment of each benchmark headline metric (column id
    ``<benchmark>__<metric>``), or the mean value where no run of any model has a reference."""
    cells: list[dict[str, float | None]] = [{} for _ in range(n_models)]
    for key, metrics in inputs.benchmarks:
        for metric in metrics:
            errors = [
                [e for j in MATERIALS if (e := abs_error(inputs, m, key, metric, j)) is not None]
                for m in range(n_models)
            ]
            compared = any(errors)
            for m in range(n_models):
                values = [
                    v for j in MATERIALS if (v := _value(inputs, m, key, metric, j)) is not None
                ]
                cells[m][f"{key}__{metric}"] = _mean(errors[m]) if compared else _mean(values)
    return cells


def _mape(inputs: SeedInputs, model: int, key: str) -> float | None:
    """Mean |relative error| in % of a benchmark's first headline metric (None: no reference)."""
    metric = inputs.benchmarks[inputs.key_index(key)][1][0]
    rel = [
        e / abs(inputs.references[(j, metric)])
        for j in MATERIALS
        if (e := abs_error(inputs, model, key, metric, j)) is not None
    ]
    return 100 * sum(rel) / len(rel) if rel else None


def combined_scores(inputs: SeedInputs, n_models: int) -> list[tuple[float, int]]:
    """(score, benchmarks scored) per model with every weight 1: the mean over benchmarks of the
    normalized rank (rank - 1) / (n_ranked - 1) of the MAPE, ties sharing the smaller rank,
    1 where a model has no MAPE (the method the API documents)."""
    normalized: list[list[float]] = [[] for _ in range(n_models)]
    for key, _ in inputs.benchmarks:
        mapes = [_mape(inputs, m, key) for m in range(n_models)]
        ranked = sorted(round(v, 9) for v in mapes if v is not None)
        for m, value in enumerate(mapes):
            if value is None:
                normalized[m].append(1.0)
            else:
                rank = ranked.index(round(value, 9))
                normalized[m].append(rank / (len(ranked) - 1) if len(ranked) > 1 else 0.0)
    n_scored = [
        sum(_mape(inputs, m, key) is not None for key, _ in inputs.benchmarks)
        for m in range(n_models)
    ]
    return [(sum(r) / len(r), n) for r, n in zip(normalized, n_scored, strict=True)]


def run_counts(inputs: SeedInputs, model: int) -> dict[str, float]:
    """Runs, failed runs, failure rate (failed / finished) and flagged runs of a model.

    The seeded campaign runs every benchmark x material (a succeeded run is flagged where
    (model + material) % 5 == 0); model 0 also has the campaign still running: one run per
    material, the first failed, the second succeeded, the rest queued (no metrics, no flags).
    """
    cells = [(b, j) for b in range(len(inputs.benchmarks)) for j in range(len(MATERIALS))]
    runs, failed = len(cells), sum(is_failed(model, j, b) for b, j in cells)
    finished = runs
    if model == 0:
        runs, failed, finished = runs + len(MATERIALS), failed + 1, finished + 2
    flagged = sum(not is_failed(model, j, b) and (model + j) % 5 == 0 for b, j in cells)
    return {
        "n_runs": runs,
        "n_failed": failed,
        "failure_rate": failed / finished,
        "n_flagged": flagged,
    }


def expected_rows(inputs: SeedInputs, n_models: int) -> list[dict[str, Any]]:
    """Every seeded model's row of the leaderboard table, by column id, in the default order
    (combined score, then model name)."""
    cells = metric_cells(inputs, n_models)
    scores = combined_scores(inputs, n_models)
    rows: list[dict[str, Any]] = [
        {
            "model_link": model_name(m),
            "version": "1",
            "family": "emt",
            "openness": OPENNESS[m % len(OPENNESS)],
            "training_set": TRAINING_SETS[m % len(TRAINING_SETS)],
            "score": scores[m][0],
            "n_scored": scores[m][1],
            **run_counts(inputs, m),
            **cells[m],
        }
        for m in range(n_models)
    ]
    rows.sort(key=lambda r: (round(r["score"], 9), r["model_link"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows
