"""The combined leaderboard: several benchmarks in one scale-free score.

For each benchmark, the models with a value of its first headline metric's MAPE against the
chosen level of theory are ranked (1 = smallest error; ties share the smaller rank), and the
rank is normalized to [0, 1] as (rank - 1) / (n_ranked - 1) (0 when only one model is ranked).
A model without a value on a benchmark (no run, no reference compared) counts as the worst, 1,
so leaving a benchmark out never helps. The score is the weighted mean of the normalized
ranks with the caller's weights (default 1 each): 0 means best on every benchmark, 1 worst.
Ranks make the score independent of units and of how hard each benchmark is.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from backend.db.models import Benchmark
from backend.domain.errors import InvalidInput, NotFound
from backend.schemas.leaderboard import (
    CombinedLeaderboardRead,
    CombinedPart,
    CombinedRow,
    LeaderboardRow,
    MetricColumn,
)
from backend.services import leaderboard
from backend.services.leaderboard import BoardQuery

METHOD = (
    "score = sum_b w_b * r_b / sum_b w_b, where r_b = (rank_b - 1) / (n_ranked_b - 1) is the "
    "normalized rank (0 best, 1 worst) of the model's MAPE on benchmark b's first headline "
    "metric against the chosen level of theory; r_b = 1 when the model has no value on b"
)
MAX_BENCHMARKS = 20
SCORE_DIGITS = 12
COMBINED_COLUMNS = ("score", "model_name", "model_version", "family", "n_benchmarks")
PART_FIELDS = ("mape_percent", "rank", "normalized_rank")


def parse_benchmarks(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise InvalidInput("give at least one benchmark key", where="query.benchmarks")
    if len(keys) > MAX_BENCHMARKS:
        raise InvalidInput(f"at most {MAX_BENCHMARKS} benchmarks", where="query.benchmarks")
    if len(set(keys)) != len(keys):
        raise InvalidInput("a benchmark is listed twice", where="query.benchmarks")
    return keys


def parse_weights(text: str | None, keys: list[str]) -> dict[str, float]:
    """``"eos:2,elastic:1"`` -> weights; every key must be a listed benchmark, weights > 0."""
    weights = dict.fromkeys(keys, 1.0)
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition(":")
        key = key.strip()
        if not sep or key not in weights:
            raise InvalidInput(
                f"weight {item.strip()!r} is not 'benchmark:number' for a listed benchmark "
                f"({', '.join(keys)})",
                where="query.weights",
            )
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= 1e6):
            raise InvalidInput(
                f"weight of {key!r} must be a number > 0 and <= 1e6, not {raw.strip()!r}",
                where="query.weights",
            )
        weights[key] = value
    return weights


def resolve_benchmarks(session: Session, benchmarks: str) -> list[Benchmark]:
    """The newest version of each listed benchmark; an unknown key is 422."""
    found = []
    for key in parse_benchmarks(benchmarks):
        try:
            found.append(leaderboard.get_benchmark(session, key, None))
        except NotFound as exc:
            raise InvalidInput(exc.message, where="query.benchmarks") from exc
    return found


def build_combined(
    session: Session,
    *,
    benchmarks: str,
    weights: str | None,
    query: BoardQuery,
    sort: str | None,
    limit: int,
    offset: int,
) -> CombinedLeaderboardRead:
    keys = parse_benchmarks(benchmarks)
    weight = parse_weights(weights, keys)
    where = leaderboard.board_filter(session, query)
    specs = []
    for benchmark in resolve_benchmarks(session, benchmarks):
        columns = [MetricColumn(**m) for m in benchmark.headline_metrics]
        specs.append((benchmark, columns[:1]))
    all_rows = leaderboard.many_board_rows(
        session, specs, query.level_of_theory, where, with_flags=False, with_values=False
    )
    boards = {
        key: (columns[0].name if columns else "", rows)
        for key, (_, columns), rows in zip(keys, specs, all_rows, strict=True)
    }
    updated_at = leaderboard.repo.newest_result(session, [b.id for b, _ in specs])
    sort = sort or "score"
    combined = leaderboard.sort_rows(_combine(boards, weight), sort, _getter(keys))
    return CombinedLeaderboardRead(
        benchmarks=keys,
        weights=weight,
        level_of_theory=query.level_of_theory,
        method=METHOD,
        rows=combined[offset : offset + limit],
        total=len(combined),
        limit=limit,
        offset=offset,
        sort=sort,
        filters=query.filters(),
        updated_at=updated_at,
    )


def _combine(
    boards: dict[str, tuple[str, list[LeaderboardRow]]], weight: dict[str, float]
) -> list[CombinedRow]:
    models: dict[uuid.UUID, LeaderboardRow] = {}
    parts: dict[uuid.UUID, dict[str, CombinedPart]] = {}
    for key, (metric, rows) in boards.items():
        values = {r.model_id: r.metrics[metric].mape_percent if metric else None for r in rows}
        ranked = sorted(v for v in values.values() if v is not None)
        first_rank = {v: i + 1 for i, v in reversed(list(enumerate(ranked)))}
        for row in rows:
            models.setdefault(row.model_id, row)
            model_id, value = row.model_id, values[row.model_id]
            rank = None if value is None else first_rank[value]
            normalized = (
                1.0 if rank is None else (rank - 1) / (len(ranked) - 1) if len(ranked) > 1 else 0.0
            )
            parts.setdefault(model_id, {})[key] = CombinedPart.model_construct(
                metric=metric,
                mape_percent=value,
                rank=rank,
                normalized_rank=normalized,
                weight=weight[key],
            )
    total_weight = sum(weight.values())
    combined = []
    for model_id, row in models.items():
        mine = {
            key: parts[model_id].get(key)
            or CombinedPart.model_construct(
                metric=boards[key][0],
                mape_percent=None,
                rank=None,
                normalized_rank=1.0,
                weight=weight[key],
            )
            for key in boards
        }
        combined.append(
            CombinedRow.model_construct(
                model_id=model_id,
                model_name=row.model_name,
                model_version=row.model_version,
                family=row.family,
                # rounded: equal scores summed in another order must tie (then name order)
                score=round(
                    math.fsum(p.weight * p.normalized_rank for p in mine.values()) / total_weight,
                    SCORE_DIGITS,
                ),
                n_benchmarks=sum(p.rank is not None for p in mine.values()),
                parts=mine,
            )
        )
    return combined


def _getter(keys: list[str]) -> Callable[[str], Callable[[Any], Any]]:
    def getter(column: str) -> Callable[[Any], Any]:
        if column in COMBINED_COLUMNS:
            return lambda row: getattr(row, column)
        parts = column.split(".")
        if len(parts) == 3 and parts[0] == "parts" and parts[1] in keys and parts[2] in PART_FIELDS:
            return lambda row: getattr(row.parts[parts[1]], parts[2])
        allowed = [*COMBINED_COLUMNS, *(f"parts.{k}.{f}" for k in keys for f in PART_FIELDS)]
        raise InvalidInput(
            f"cannot sort on {column!r}; sortable columns: {', '.join(allowed)}", where="query.sort"
        )

    return getter
