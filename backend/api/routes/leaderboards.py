from __future__ import annotations

from fastapi import APIRouter, Query

from backend.api.deps import SessionDep
from backend.schemas.leaderboard import LeaderboardRead
from backend.services import leaderboard

router = APIRouter(prefix="/leaderboards", tags=["leaderboards"])


@router.get("/{benchmark}", operation_id="leaderboards-read_leaderboard")
def read_leaderboard(
    benchmark: str,
    session: SessionDep,
    version: str | None = Query(None, description="protocol version; the newest if omitted"),
    level_of_theory: str = Query("experiment", examples=["experiment", "ccsd(t)/cbs"]),
) -> LeaderboardRead:
    """Approved models on one benchmark version, with errors against one level of theory."""
    return leaderboard.build_leaderboard(
        session, benchmark, version=version, level_of_theory=level_of_theory
    )
