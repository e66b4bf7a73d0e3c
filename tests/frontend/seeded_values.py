"""What the dashboard must show for the seeded database, computed from ``seed_formulas.py``.

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

from backend.db.tables import Benchmark, Reference
from backend.domain.ranking import RANK_SPECS
from tests.frontend.seed_compounds import COMPOUND_RUNS, compound_value
from tests.frontend.seed_formulas import (
    OPENNESS,
    S22_LEVEL,
    TRAINING_SETS,
    is_failed,
    is_flagged,
    materials_of,
    model_name,
    relative_error,
    speed_us,
)

TIME_METRIC = "time_per_atom_step"


@dataclass(frozen=True)
class SeedInputs:
    """Benchmarks in key order as (key, headline metric names), and the references the seed
    scores against (experiment; CCSD(T)/CBS for the S22 complexes) by (material, property)."""

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
                    select(Reference).where(
                        (Reference.level_of_theory == "experiment")
                        | (
                            Reference.material.in_(materials_of("s22"))
                            & (Reference.level_of_theory == S22_LEVEL)
                        )
                    )
                )
            }
    finally:
        engine.dispose()
    return SeedInputs(benchmarks, references)


def abs_error(inputs: SeedInputs, model: int, key: str, metric: str, material: str) -> float | None:
    """|value - reference| of one seeded metric (None: failed run or no reference)."""
    b, j = inputs.key_index(key), materials_of(key).index(material)
    k = dict(inputs.benchmarks)[key].index(metric)
    reference = inputs.references.get((material, metric))
    if is_failed(model, j, b) or reference is None or metric == TIME_METRIC:
        return None
    return abs(reference * relative_error(model, j, k, b))


def value_of(inputs: SeedInputs, model: int, key: str, metric: str, material: str) -> float | None:
    """The seeded value of one metric (None: the run failed)."""
    b, j = inputs.key_index(key), materials_of(key).index(material)
    k = dict(inputs.benchmarks)[key].index(metric)
    if is_failed(model, j, b):
        return None
    if metric == TIME_METRIC:
        return speed_us(model)
    reference = inputs.references.get((material, metric))
    if reference is not None:
        return reference * (1 + relative_error(model, j, k, b))
    return 1.0 + 0.1 * model + 0.05 * j + 0.01 * k


def _loss(inputs: SeedInputs, model: int, key: str, material: str) -> float | None:
    """The loss of the benchmark's rank metric on one material (docs/metrics.md), for a scored
    run only: None when the run failed, raised a flag or has no reference to compare with."""
    spec = RANK_SPECS[key]
    j = materials_of(key).index(material)
    value = value_of(inputs, model, key, spec.metric, material)
    if value is None or is_flagged(model, j):
        return None
    if spec.loss == "value":
        return -value if spec.higher_is_better else value
    reference = inputs.references.get((material, spec.metric))
    if reference is None:
        return None
    error = value - reference
    return abs(error) if spec.loss == "abs_error" else 100 * abs(error) / abs(reference)


def _compound_losses(inputs: SeedInputs, key: str, model: int) -> dict[str, float]:
    """The losses of the model's runs on binary compounds (``COMPOUND_RUNS``: eos runs, all
    scored), by material."""
    if key != "eos":
        return {}
    spec = RANK_SPECS[key]
    losses = {}
    for material in COMPOUND_RUNS.get(model, ()):
        reference = inputs.references.get((material, spec.metric))
        if reference is not None:
            error = compound_value(material, reference) - reference
            relative = 100 * abs(error) / abs(reference)
            losses[material] = abs(error) if spec.loss == "abs_error" else relative
    return losses


def board_scores(inputs: SeedInputs, key: str, n_models: int) -> list[float | None]:
    """Each model's score on the benchmark's standard board: the mean over the materials any
    model scored of its loss, a material it did not score counted with the worst loss scored
    there; None for a model that scored nothing. The compound runs (scored by one model only)
    add the same loss to every model's sum, so they move the eos scores, not the ranks."""
    losses = [
        {j: x for j in materials_of(key) if (x := _loss(inputs, m, key, j)) is not None}
        | _compound_losses(inputs, key, m)
        for m in range(n_models)
    ]
    materials = sorted({j for per in losses for j in per})
    worst = {j: max(per[j] for per in losses if j in per) for j in materials}
    return [
        sum(per.get(j, worst[j]) for j in materials) / len(materials) if per else None
        for per in losses
    ]


def ranks(scores: list[float | None]) -> list[int | None]:
    """1 + the number of strictly smaller scores (ties share the smaller rank); None unscored."""
    rounded = [None if s is None else round(s, 12) for s in scores]
    present = [s for s in rounded if s is not None]
    return [None if s is None else 1 + sum(o < s for o in present) for s in rounded]


def combined_scores(inputs: SeedInputs, n_models: int) -> list[tuple[float | None, int]]:
    """(score, benchmarks scored) per model with every weight 1: among the models scored on
    every benchmark, the mean over the benchmarks of the normalized rank (rank - 1) /
    (n_ranked - 1) of their standard-board scores; None for the others (the method the API
    documents)."""
    boards = [board_scores(inputs, key, n_models) for key, _ in inputs.benchmarks]
    complete = [m for m in range(n_models) if all(b[m] is not None for b in boards)]
    normalized: dict[int, list[float]] = {m: [] for m in complete}
    for scores in boards:
        places = ranks([scores[m] for m in complete])
        for m, rank in zip(complete, places, strict=True):
            assert rank is not None
            normalized[m].append((rank - 1) / (len(complete) - 1) if len(complete) > 1 else 0.0)
    return [
        (
            sum(normalized[m]) / len(normalized[m]) if m in normalized else None,
            sum(b[m] is not None for b in boards),
        )
        for m in range(n_models)
    ]


def run_counts(inputs: SeedInputs, model: int) -> dict[str, float]:
    """Runs, failed runs, failure rate (failed / finished) and flagged runs of a model on the
    standard boards (every benchmark x material; a succeeded run is flagged where
    ``is_flagged``), and its runs on binary compounds (``COMPOUND_RUNS``: succeeded, none
    flagged). The campaign still running is of another parameter set: not counted."""
    cells = [(b, j) for b in range(len(inputs.benchmarks)) for j in range(5)]
    runs = len(cells) + len(COMPOUND_RUNS.get(model, ()))
    failed = sum(is_failed(model, j, b) for b, j in cells)
    flagged = sum(not is_failed(model, j, b) and is_flagged(model, j) for b, j in cells)
    return {
        "n_runs": runs,
        "n_failed": failed,
        "failure_rate": failed / runs,
        "n_flagged": flagged,
    }


def expected_rows(inputs: SeedInputs, n_models: int) -> list[dict[str, Any]]:
    """Every seeded model's row of the leaderboard table, by column id, in the default order
    (combined rank, then model name)."""
    combined = combined_scores(inputs, n_models)
    places = ranks([score for score, _ in combined])
    per_benchmark: list[dict[str, Any]] = [{} for _ in range(n_models)]
    for key, _ in inputs.benchmarks:
        scores = board_scores(inputs, key, n_models)
        for m, (score, rank) in enumerate(zip(scores, ranks(scores), strict=True)):
            per_benchmark[m][f"{key}__rank"] = rank
            per_benchmark[m][f"{key}__score"] = score
    rows: list[dict[str, Any]] = [
        {
            "rank": places[m],
            "model_link": model_name(m),
            "version": "1",
            "family": "emt",
            "openness": OPENNESS[m % len(OPENNESS)],
            "training_set": TRAINING_SETS[m % len(TRAINING_SETS)],
            "score": combined[m][0],
            "missing": "",
            "n_benchmarks": combined[m][1],
            **run_counts(inputs, m),
            **per_benchmark[m],
        }
        for m in range(n_models)
    ]
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["model_link"]))
    return rows
