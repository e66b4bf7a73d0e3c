"""Query parameters several route modules share: the board filters, paging."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query

from backend.schemas.common import MAX_OFFSET, MAX_PAGE_LIMIT, ElementSymbol
from backend.services.leaderboard import BoardQuery


def board_query(
    level_of_theory: str | None = Query(
        None,
        max_length=50,
        description="references of this level; default the benchmark's own (experiment; "
        "ccsd(t)/cbs for s22)",
        examples=["experiment", "ccsd(t)/cbs"],
    ),
    training_set: str | None = Query(
        None,
        max_length=200,
        description="models whose card lists this training set (exact name)",
        examples=["MPtrj"],
    ),
    openness: Literal["OSOD", "OSCD", "CSOD", "CSCD"] | None = Query(
        None, description="models with this openness code on their card"
    ),
    family: str | None = Query(None, max_length=50, description="adapter family", examples=["emt"]),
    element: ElementSymbol | None = Query(
        None,
        description="only runs on structures containing this element",
        examples=["Cu"],
    ),
    structure_set: str | None = Query(
        None,
        max_length=200,
        description="only runs on this structure set (by name)",
        examples=["elemental crystals"],
    ),
    prototype: str | None = Query(
        None,
        max_length=50,
        description="only runs on structures of this crystal prototype (GET /prototypes)",
        examples=["rocksalt", "zincblende", "fcc"],
    ),
) -> BoardQuery:
    """The filters shared by every board and export."""
    return BoardQuery(
        level_of_theory=level_of_theory,
        training_set=training_set,
        openness=openness,
        family=family,
        element=element,
        structure_set=structure_set,
        prototype=prototype,
    )


BoardQueryDep = Annotated[BoardQuery, Depends(board_query)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows skipped")]
