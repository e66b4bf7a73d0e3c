"""The all-benchmark leaderboard from the API's per-benchmark boards and combined score (pure).

One row per model version. Per benchmark, the model's rank and score on that benchmark's
standard board (its default protocol, ranked as docs/metrics.md says); run counts and flags
summed over those boards; the combined score and rank are the API's (weighted mean of
normalized ranks, 0 = best), for models scored on every benchmark combined only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from backend.schemas.leaderboard import (
    CombinedLeaderboardRead,
    CombinedRow,
    LeaderboardRead,
    LeaderboardRow,
)
from backend.schemas.models import ModelRead

SPEED_BENCHMARK = "speed"
SPEED_METRIC = "time_per_atom_step"
#: The level-of-theory choice meaning "each benchmark's own" (s22: CCSD(T)/CBS, else
#: experiment): the API's default, so no level is sent.
STANDARD_LEVEL = "standard"


def requested_level(lot: str | None) -> str | None:
    """The level of theory to ask the API for; None: each benchmark's own."""
    return None if not lot or lot == STANDARD_LEVEL else lot


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


def default_weights(boards: Mapping[str, LeaderboardRead]) -> dict[str, float]:
    """The weights a view without any in its URL starts from: 1 on the benchmarks of the
    largest block of the models x benchmarks table in which every model is scored on every
    benchmark (most models x benchmarks, at least two models), 0 on the others.

    All ones ranks only the models scored on every benchmark, which after a partial campaign
    (the demo: only the cheap baselines run MD, only MLIPs S22) can be none. The candidates
    are each model's scored set and each pair's intersection; ties go to more benchmarks,
    then to the first in board order. With fewer than two models scored anywhere, all ones.
    """
    keys = list(boards)
    scored: dict[Any, set[str]] = {}
    for key, board in boards.items():
        for row in board.rows:
            if row.score is not None:
                scored.setdefault(row.model_id, set()).add(key)
    sets = list({frozenset(s) for s in scored.values()})
    candidates = {a & b for a in sets for b in sets} - {frozenset()}
    best: tuple[tuple[int, int, tuple[int, ...]], frozenset[str]] | None = None
    for chosen in candidates:
        n_models = sum(chosen <= s for s in scored.values())
        if n_models < 2:
            continue
        order = tuple(-keys.index(k) for k in sorted(chosen, key=keys.index))
        merit = (n_models * len(chosen), len(chosen), order)
        if best is None or merit > best[0]:
            best = (merit, chosen)
    if best is None:
        return dict.fromkeys(keys, 1.0)
    return {k: 1.0 if k in best[1] else 0.0 for k in keys}


@dataclass(frozen=True)
class Column:
    """A benchmark's pair of columns on the overview: rank and score on its standard board."""

    benchmark: str
    metric: str  # the rank metric
    unit: str  # the unit of the score

    @property
    def rank_id(self) -> str:
        return f"{self.benchmark}__rank"

    @property
    def score_id(self) -> str:
        return f"{self.benchmark}__score"

    @property
    def score_title(self) -> str:
        unit = f" ({self.unit})" if self.unit and self.unit != "1" else ""
        return f"score{unit}"


@dataclass
class View:
    """What the overview page shows: table records and columns."""

    columns: list[Column]
    records: list[dict[str, Any]]
    scored_benchmarks: list[str]
    method: str = ""


def training_sets(model: ModelRead) -> list[str]:
    """Names of the training sets on the model's card."""
    return [str(t["name"]) for t in model.card.get("training_data") or [] if t.get("name")]


def _column(key: str, board: LeaderboardRead) -> Column:
    ranking = board.ranking
    return Column(key, ranking.metric if ranking else "", ranking.unit if ranking else "")


def build_view(
    boards: Mapping[str, LeaderboardRead],
    models: Mapping[str, ModelRead],
    combined: CombinedLeaderboardRead | None,
) -> View:
    """One record per model version over every (already filtered) standard board, in the
    order of the API's combined ranking (ranked models first, by rank; then the others).

    Only the boards' rows are needed (their ranks and scores), not per-material entries.
    """
    columns = [_column(key, board) for key, board in boards.items()]
    records: dict[str, dict[str, Any]] = {}
    finished: dict[str, set[str]] = {}  # model id -> boards on which a run of it finished
    for column, board in zip(columns, boards.values(), strict=True):
        for row in board.rows:
            record = records.setdefault(str(row.model_id), _base_record(models, row))
            if row.n_succeeded + row.n_failed:
                finished.setdefault(str(row.model_id), set()).add(column.benchmark)
            for counter in ("n_runs", "n_succeeded", "n_failed", "n_flagged"):
                record[counter] += getattr(row, counter)
            record[column.rank_id] = row.rank
            record[column.score_id] = row.score
    combined_rows = {str(r.model_id): r for r in combined.rows} if combined else {}
    for model_id, record in records.items():
        done = record["n_succeeded"] + record["n_failed"]
        record["failure_rate"] = record["n_failed"] / done if done else None
        _combine(record, combined_rows.get(model_id), columns, finished.get(model_id, set()))
    place = {model_id: i for i, model_id in enumerate(combined_rows)}
    ordered = sorted(
        records.values(), key=lambda r: (place.get(r["model_id"], len(place)), r["model"])
    )
    scored = [k for k, w in (combined.weights.items() if combined else []) if w > 0]
    return View(
        columns=columns,
        records=ordered,
        scored_benchmarks=scored,
        method=combined.method if combined else "",
    )


def _combine(
    record: dict[str, Any], row: CombinedRow | None, columns: list[Column], finished: set[str]
) -> None:
    """The combined rank and score, or why the model is not ranked: a benchmark it never
    finished a run of, or one whose every result was flagged or failed (nothing scored)."""
    if row is None:
        record["rank"] = record["score"] = None
        record["n_benchmarks"] = sum(record.get(c.score_id) is not None for c in columns)
        record["missing"] = "not ranked: no benchmark weighted"
        return
    record["rank"] = row.rank
    record["score"] = row.score
    record["n_benchmarks"] = row.n_benchmarks
    if row.score is not None:
        record["missing"] = ""
    elif row.missing:
        unscored = [k for k in row.missing if k in finished]
        never = [k for k in row.missing if k not in finished]
        why = [f"missing {', '.join(never)}"] if never else []
        if unscored:
            why.append(f"nothing scored on {', '.join(unscored)} (every result flagged or failed)")
        record["missing"] = "not ranked: " + "; ".join(why)
    else:
        record["missing"] = "not ranked"


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
