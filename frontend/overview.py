"""The all-benchmark leaderboard from the API's per-benchmark boards and combined score (pure).

One row per model version; per benchmark headline metric the MAE against the chosen reference
(or, where a metric has no reference, the mean value); failure rates and flag counts summed over
benchmarks; the combined score is the API's (weighted mean of normalized ranks, 0 = best).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from backend.schemas.leaderboard import (
    CombinedLeaderboardRead,
    LeaderboardRead,
    LeaderboardRow,
    MetricSummary,
)
from backend.schemas.models import ModelRead

SPEED_BENCHMARK = "speed"
SPEED_METRIC = "time_per_atom_step"


def parse_weights(text: str | None) -> dict[str, float]:
    """``"eos:1,elastic:2"`` -> ``{"eos": 1.0, "elastic": 2.0}``; bad parts are ignored."""
    weights: dict[str, float] = {}
    for part in (text or "").split(","):
        key, _, value = part.partition(":")
        try:
            number = float(value)
        except ValueError:
            continue
        if key.strip() and math.isfinite(number) and number >= 0:
            weights[key.strip()] = number
    return weights


def format_weights(weights: Mapping[str, float | None]) -> str:
    """The inverse of ``parse_weights``, keys sorted, so equal views share one URL."""
    return ",".join(f"{k}:{v:g}" for k, v in sorted(weights.items()) if v is not None)


@dataclass(frozen=True)
class Column:
    """A headline metric column of the overview table."""

    benchmark: str
    metric: str
    label: str
    unit: str
    compared: bool  # True: the cell is the MAE vs the reference; False: the mean value

    @property
    def id(self) -> str:
        return f"{self.benchmark}__{self.metric}"

    @property
    def title(self) -> str:
        what = "MAE" if self.compared else "mean"
        unit = f" ({self.unit})" if self.unit and self.unit != "1" else ""
        return f"{self.label} {what}{unit}"


@dataclass
class View:
    """What the overview page shows: table records and columns."""

    columns: list[Column]
    records: list[dict[str, Any]]
    scored_benchmarks: list[str]


def training_sets(model: ModelRead) -> list[str]:
    """Names of the training sets on the model's card."""
    return [str(t["name"]) for t in model.card.get("training_data") or [] if t.get("name")]


def _cell(summary: MetricSummary | None, compared: bool) -> float | None:
    """The MAE against the reference (compared columns), else the mean value."""
    if summary is None:
        return None
    return summary.mae if compared else summary.mean


def build_view(
    boards: Mapping[str, LeaderboardRead],
    models: Mapping[str, ModelRead],
    combined: CombinedLeaderboardRead | None,
) -> View:
    """One record per model version over every (already filtered) board, ranked by the API's
    combined score (0 = best on every weighted benchmark, 1 = worst).

    Only the boards' rows are needed (their per-metric summaries), not per-material entries:
    a column is compared with the reference when any model has a value with one.
    """
    columns = [
        Column(
            key,
            col.name,
            col.label,
            col.unit,
            any((m := r.metrics.get(col.name)) is not None and m.n > 0 for r in b.rows),
        )
        for key, b in boards.items()
        for col in b.columns
    ]
    records: dict[str, dict[str, Any]] = {}
    for key, board in boards.items():
        for row in board.rows:
            record = records.setdefault(str(row.model_id), _base_record(models, row))
            for counter in ("n_runs", "n_succeeded", "n_failed", "n_flagged"):
                record[counter] += getattr(row, counter)
            for column in (c for c in columns if c.benchmark == key):
                record[column.id] = _cell(row.metrics.get(column.metric), column.compared)
    scores = {str(r.model_id): r for r in combined.rows} if combined else {}
    for model_id, record in records.items():
        done = record["n_succeeded"] + record["n_failed"]
        record["failure_rate"] = record["n_failed"] / done if done else None
        combined_row = scores.get(model_id)
        record["score"] = combined_row.score if combined_row and combined_row.n_benchmarks else None
        record["n_scored"] = combined_row.n_benchmarks if combined_row else 0
    ordered = sorted(records.values(), key=_rank_key)
    for rank, record in enumerate(ordered, start=1):
        record["rank"] = rank
    scored = [k for k, w in (combined.weights.items() if combined else []) if w > 0]
    return View(columns=columns, records=ordered, scored_benchmarks=scored)


def _base_record(models: Mapping[str, ModelRead], row: LeaderboardRow) -> dict[str, Any]:
    model = models.get(str(row.model_id))
    card = model.card if model else {}
    return {
        "model_id": str(row.model_id),
        "model": row.model_name,
        "model_link": f"[{row.model_name}](/models/{row.model_id})",
        "version": row.model_version,
        "family": row.family,
        "openness": card.get("openness") or "n/a",
        "training_set": ", ".join(training_sets(model)) if model else "",
        "n_runs": 0,
        "n_succeeded": 0,
        "n_failed": 0,
        "n_flagged": 0,
    }


def _rank_key(record: dict[str, Any]) -> tuple[bool, float, str]:
    score = record["score"]
    return (score is None, score if score is not None else 0.0, record["model"])


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For each (cost, error) point: True if no other point is at least as good in both and
    better in one (both minimised)."""
    return [
        not any(
            (c2 <= c and e2 <= e) and (c2 < c or e2 < e)
            for j, (c2, e2) in enumerate(points)
            if j != i
        )
        for i, (c, e) in enumerate(points)
    ]


def speed_cost(board: LeaderboardRead | None) -> dict[str, float]:
    """Mean time per atom-step per model id, from the ``speed`` board's rows."""
    if board is None:
        return {}
    costs = {}
    for row in board.rows:
        summary = row.metrics.get(SPEED_METRIC)
        if summary is not None and summary.mean is not None and math.isfinite(summary.mean):
            costs[str(row.model_id)] = summary.mean
    return costs


def element_options(boards: Iterable[LeaderboardRead]) -> list[str]:
    """Every element of a structure run on any board, sorted."""
    return sorted({symbol for board in boards for symbol in board.elements})
