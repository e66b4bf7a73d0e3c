"""The combined leaderboard: several benchmarks in one scale-free score.

Each benchmark's standard board ranks the models (backend/domain/ranking.py: penalised score
on the board's materials). Among the models scored on *every* benchmark combined, each
benchmark's ranks are recomputed (1 = smallest score; ties share the smaller rank) and
normalized to [0, 1] as (rank - 1) / (n_ranked - 1) (0 when only one model is ranked). The
score is the weighted mean of the normalized ranks with the caller's weights (default 1
each): 0 means best on every benchmark, 1 worst. A model missing a benchmark gets no score
and is listed after the ranked ones with the benchmarks it misses, so no model is ranked
above another on benchmarks it never ran.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from backend.db.tables import Benchmark
from backend.schemas.leaderboard import (
    CombinedLeaderboardRead,
    CombinedPart,
    CombinedRow,
    LeaderboardRow,
)
from backend.services import leaderboard
from backend.services.leaderboard import BoardQuery
from shared_kernel.errors import Inconsistent, InvalidInput, NotFound, NotStored

METHOD = (
    "score = sum_b w_b * r_b / sum_b w_b over the benchmarks b combined, where r_b = "
    "(rank_b - 1) / (n_ranked - 1) is the normalized rank (0 best, 1 worst) of the model's "
    "score on b's standard board among the models scored on every benchmark combined; "
    "models missing a benchmark are not ranked (docs/metrics.md)"
)
MAX_BENCHMARKS = 20
SCORE_DIGITS = 12
COMBINED_COLUMNS = ("rank", "score", "model_name", "model_version", "family", "n_benchmarks")
PART_FIELDS = ("score", "rank", "normalized_rank")
#: What a combined board's ``sort`` looks like (the OpenAPI pattern); a part must also be of a
#: listed benchmark.
SORT_PATTERN = (
    rf"^-?(?:{'|'.join(COMBINED_COLUMNS)}|parts\.[a-z0-9_]+\.(?:{'|'.join(PART_FIELDS)}))$"
)


_KEY = "[ ]*[a-z0-9_]+[ ]*"
#: Up to ``MAX_BENCHMARKS`` comma-separated keys (the OpenAPI pattern of ``benchmarks``).
BENCHMARKS_PATTERN = rf"^{_KEY}(?:,{_KEY}){{0,{MAX_BENCHMARKS - 1}}}$"
#: A weight: a number > 0 and <= 1e6, in plain decimal notation.
_WEIGHT = r"(?:0*[1-9][0-9]{0,5}(?:\.[0-9]*)?|0*\.0{0,11}[1-9][0-9]*|0*1000000(?:\.0*)?)"
_ITEM = rf"{_KEY}:[ ]*{_WEIGHT}[ ]*"
#: Comma-separated ``key:weight`` (the OpenAPI pattern of ``weights``).
WEIGHTS_PATTERN = rf"^{_ITEM}(?:,{_ITEM})*$"


def parse_benchmarks(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise InvalidInput("give at least one benchmark key", where="query.benchmarks")
    if len(keys) > MAX_BENCHMARKS:
        raise InvalidInput(f"at most {MAX_BENCHMARKS} benchmarks", where="query.benchmarks")
    if len(set(keys)) != len(keys):
        raise Inconsistent("a benchmark is listed twice", where="query.benchmarks")
    return keys


def parse_weights(text: str | None, keys: list[str]) -> dict[str, float]:
    """``"eos:2,elastic:1"`` -> weights; every key must be a listed benchmark, weights > 0."""
    weights = dict.fromkeys(keys, 1.0)
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition(":")
        key = key.strip()
        if sep and key not in weights:
            raise NotStored(
                f"weight for {key!r}, which is not a listed benchmark ({', '.join(keys)})",
                where="query.weights",
            )
        if not sep:
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
            raise NotStored(exc.message, where="query.benchmarks") from exc
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
    resolved = resolve_benchmarks(session, benchmarks)
    boards: dict[str, tuple[str, list[LeaderboardRow]]] = {}
    for key, benchmark in zip(keys, resolved, strict=True):
        spec, data = leaderboard.default_board(session, benchmark, query, where)
        boards[key] = (spec.metric if spec else "", data.rows)
    updated_at = leaderboard.repo.newest_result(session, [b.id for b in resolved])
    sort = sort or "rank"
    combined = leaderboard.sort_rows(_combine(boards, weight), sort, _getter(keys))
    return CombinedLeaderboardRead(
        benchmarks=keys,
        weights=weight,
        level_of_theory=query.level_of_theory or "per benchmark",
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
    scores: dict[uuid.UUID, dict[str, float]] = {}
    for key, (_, rows) in boards.items():
        for row in rows:
            models.setdefault(row.model_id, row)
            if row.score is not None:
                scores.setdefault(row.model_id, {})[key] = row.score
    complete = [m for m in models if len(scores.get(m, {})) == len(boards)]
    ranks: dict[str, dict[uuid.UUID, int]] = {}
    for key in boards:
        values = sorted(round(scores[m][key], SCORE_DIGITS) for m in complete)
        first = {v: i + 1 for i, v in reversed(list(enumerate(values)))}
        ranks[key] = {m: first[round(scores[m][key], SCORE_DIGITS)] for m in complete}
    total_weight = sum(weight.values())
    n_ranked = len(complete)
    combined = []
    for model_id, row in models.items():
        mine = scores.get(model_id, {})
        parts = {}
        for key, (metric, _) in boards.items():
            rank = ranks[key].get(model_id)
            parts[key] = CombinedPart.model_construct(
                metric=metric,
                score=mine.get(key),
                rank=rank,
                normalized_rank=(
                    None if rank is None else (rank - 1) / (n_ranked - 1) if n_ranked > 1 else 0.0
                ),
                weight=weight[key],
            )
        ranked = model_id in ranks[next(iter(boards))] if boards else False
        score = (
            # rounded: equal scores summed in another order must tie (then name order)
            round(
                math.fsum(p.weight * (p.normalized_rank or 0.0) for p in parts.values())
                / total_weight,
                SCORE_DIGITS,
            )
            if ranked
            else None
        )
        combined.append(
            CombinedRow.model_construct(
                model_id=model_id,
                model_name=row.model_name,
                model_version=row.model_version,
                family=row.family,
                score=score,
                rank=None,
                n_benchmarks=len(mine),
                scored_on=[k for k in boards if k in mine],
                missing=[k for k in boards if k not in mine],
                parts=parts,
            )
        )
    ranked_scores = sorted(r.score for r in combined if r.score is not None)
    first_place = {v: i + 1 for i, v in reversed(list(enumerate(ranked_scores)))}
    for r in combined:
        if r.score is not None:
            r.rank = first_place[r.score]
    return combined


def _getter(keys: list[str]) -> Callable[[str], Callable[[Any], Any]]:
    def getter(column: str) -> Callable[[Any], Any]:
        if column in COMBINED_COLUMNS:
            return lambda row: getattr(row, column)
        parts = column.split(".")
        if len(parts) == 3 and parts[0] == "parts" and parts[1] in keys and parts[2] in PART_FIELDS:
            return lambda row: getattr(row.parts[parts[1]], parts[2])
        allowed = [*COMBINED_COLUMNS, *(f"parts.{k}.{f}" for k in keys for f in PART_FIELDS)]
        raise leaderboard.sort_error(column, allowed, SORT_PATTERN)

    return getter
