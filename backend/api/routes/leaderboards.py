from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from backend.api.board_bodies import BODIES
from backend.api.deps import SessionDep
from backend.api.query import BoardQueryDep, Limit, Offset
from backend.schemas.leaderboard import CombinedLeaderboardRead, LeaderboardRead
from backend.services import combined_leaderboard, leaderboard

router = APIRouter(prefix="/leaderboards", tags=["leaderboards"])

_CONDITIONAL: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match ETag is still the board's."},
}


@router.get(
    "",
    operation_id="leaderboards-read_combined_leaderboard",
    response_model=CombinedLeaderboardRead,
    responses=_CONDITIONAL,
)
def read_combined_leaderboard(
    request: Request,
    session: SessionDep,
    query: BoardQueryDep,
    benchmarks: str = Query(
        max_length=1000,
        pattern=combined_leaderboard.BENCHMARKS_PATTERN,
        description="comma-separated benchmark keys (newest version of each)",
        examples=["eos,elastic"],
    ),
    weights: str | None = Query(
        None,
        max_length=2000,
        pattern=combined_leaderboard.WEIGHTS_PATTERN,
        description="comma-separated key:weight (> 0), default 1 each",
        examples=["eos:2,elastic:1"],
    ),
    sort: str | None = Query(
        None,
        max_length=200,
        description="column, '-' first for descending (default: score); parts.<key>.* "
        "of a listed benchmark",
        # documented, and checked by the service, which names the columns there are
        json_schema_extra={"pattern": combined_leaderboard.SORT_PATTERN},
        examples=["score", "-n_benchmarks", "parts.eos.rank"],
    ),
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    """Approved models ranked over several benchmarks by a weighted mean of normalized ranks.

    Each benchmark's standard board ranks the models (docs/metrics.md); the rank is scaled to
    [0, 1] (0 best) and the score is the weighted mean over the benchmarks, so it does not
    depend on units or scales. Only models scored on every benchmark listed are ranked; the
    others are listed after them with the benchmarks they miss. Sends an ETag;
    ``If-None-Match`` with it gives 304.
    """
    ids = [b.id for b in combined_leaderboard.resolve_benchmarks(session, benchmarks)]
    etag = leaderboard.board_etag(session, ids, _request_key(request))
    if etag is not None and (early := _answer_from_etag(request, etag)) is not None:
        return early
    board = combined_leaderboard.build_combined(
        session,
        benchmarks=benchmarks,
        weights=weights,
        query=query,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return conditional_json(request, board, board.updated_at, etag=etag)


@router.get(
    "/{benchmark}",
    operation_id="leaderboards-read_leaderboard",
    response_model=LeaderboardRead,
    responses=_CONDITIONAL,
)
def read_leaderboard(
    benchmark: str,
    request: Request,
    session: SessionDep,
    query: BoardQueryDep,
    version: str | None = Query(
        None, max_length=20, description="protocol version; the newest if omitted"
    ),
    params_hash: str | None = Query(
        None,
        min_length=6,
        max_length=64,
        pattern="^[0-9a-f]+$",
        description="the parameter set (full hash or a unique prefix; see the body's "
        "protocols); default the benchmark's standard parameter set",
    ),
    sort: str | None = Query(
        None,
        max_length=200,
        description="column, '-' first for descending: rank, score, n_scored, model_name, "
        "failure_rate, n_flagged, metrics.<metric>.mae|mape_percent|n|mean|n_values, ... "
        "(default: rank, docs/metrics.md); a metric column must be one of this board's",
        # documented, and checked by the service, which names the columns there are
        json_schema_extra={"pattern": leaderboard.SORT_PATTERN},
        examples=[
            "rank",
            "metrics.bulk_modulus.mape_percent",
            "-failure_rate",
            "metrics.energy_drift_abs.mean",
        ],
    ),
    limit: Limit = 100,
    offset: Offset = 0,
    include_entries: bool = Query(
        False, description="add the per-material numbers of the models on this page"
    ),
) -> Response:
    """Approved models on one protocol of a benchmark, ranked with coverage and intervals.

    A board is one parameter set (``params_hash``; the standard one by default): other sets
    are listed in ``protocols`` and never averaged in. Rows are ranked by the benchmark's
    rank metric with failed, flagged and missing materials penalised, with 95 % bootstrap
    intervals and tiers of tied models (docs/metrics.md). Filters, sorting on any column
    and pagination (``total`` counts every matching row).
    Sends an ETag and Last-Modified; ``If-None-Match`` with the ETag gives 304.
    """
    benchmark_id = leaderboard.get_benchmark(session, benchmark, version).id
    etag = leaderboard.board_etag(session, [benchmark_id], _request_key(request))
    if etag is not None and (early := _answer_from_etag(request, etag)) is not None:
        return early
    board = leaderboard.build_leaderboard(
        session,
        benchmark,
        version=version,
        params_hash=params_hash,
        query=query,
        sort=sort,
        limit=limit,
        offset=offset,
        include_entries=include_entries,
    )
    return conditional_json(request, board, board.updated_at, etag=etag)


def conditional_json(
    request: Request, body: BaseModel, updated_at: datetime | None, *, etag: str | None = None
) -> Response:
    """The body with a strong ETag (given, or of its bytes); 304 when the client has it."""
    content = body.model_dump_json().encode()
    given = etag
    etag = etag or f'"{hashlib.sha256(content).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if updated_at is not None:
        headers["Last-Modified"] = format_datetime(updated_at.astimezone(UTC), usegmt=True)
    if given is not None:
        BODIES.put(etag, content, headers)
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


def _request_key(request: Request) -> list[tuple[str, str]]:
    """What a board depends on besides the data: its path and query (in any order)."""
    return [("", request.url.path), *request.query_params.multi_items()]


def _matches(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return etag in tags or "*" in tags


def _answer_from_etag(request: Request, etag: str) -> Response | None:
    """304 when the client has the board, its stored body when this process has it."""
    if _matches(request, etag):
        # answered from the change counters alone: the board is not built
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    stored = BODIES.get(etag)
    if stored is None:
        return None
    content, headers = stored
    return Response(content, media_type="application/json", headers=headers)
