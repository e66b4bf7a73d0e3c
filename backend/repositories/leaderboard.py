"""SQL of leaderboards: the approved models a board covers, change counters, newest result."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from backend.db.tables import LeaderboardVersion, MlipModel, Run, Structure, StructureSet
from backend.domain.statuses import ModelStatus


@dataclass(frozen=True, slots=True)
class BoardFilter:
    """Which models and which inputs a board covers; None means no restriction."""

    training_set: str | None = None
    openness: str | None = None
    family: str | None = None
    element: str | None = None
    structure_set_id: uuid.UUID | None = None
    prototype: str | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: uuid.UUID
    name: str
    version: str
    family: str
    #: reference properties the model's card says it was fitted to
    fitted_to: tuple[str, ...] = ()


def structure_set_id(session: Session, name: str) -> uuid.UUID | None:
    return session.scalar(select(StructureSet.id).where(StructureSet.name == name))


def prototype_stored(session: Session, prototype: str) -> bool:
    """Whether some structure carries the prototype."""
    query = select(Structure.id).where(Structure.prototype == prototype).limit(1)
    return session.scalar(query) is not None


def approved_models(session: Session, where: BoardFilter) -> dict[uuid.UUID, ModelInfo]:
    """Approved models passing the model-level filters (training set, openness, family)."""
    query = select(
        MlipModel.id,
        MlipModel.name,
        MlipModel.version,
        MlipModel.family,
        MlipModel.card["fitted_to"],
    ).where(MlipModel.status == ModelStatus.APPROVED)
    if where.training_set is not None:
        query = query.where(
            MlipModel.card["training_data"].contains([{"name": where.training_set}])
        )
    if where.openness is not None:
        query = query.where(MlipModel.card["openness"].astext == where.openness)
    if where.family is not None:
        query = query.where(MlipModel.family == where.family)
    return {
        row[0]: ModelInfo(row[0], row[1], row[2], row[3], _strings(row[4]))
        for row in session.execute(query)
    }


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def board_versions(session: Session, benchmark_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The change counter of each benchmark (bumped by triggers; migrations/leaderboard_sql.py)."""
    v = LeaderboardVersion
    query = select(v.benchmark_id, v.version).where(v.benchmark_id.in_(benchmark_ids))
    return {row[0]: int(row[1]) for row in session.execute(query)}


#: The newest (or the given) version of each key with its change counter, in one statement.
_COUNTERS = text(
    "SELECT b.key, b.id, v.version FROM ("
    " SELECT DISTINCT ON (key) key, id FROM benchmark"
    " WHERE key = ANY(:keys) AND (CAST(:version AS text) IS NULL OR version = :version)"
    " ORDER BY key, created_at DESC) b"
    " LEFT JOIN leaderboard_version v ON v.benchmark_id = b.id"
)


def counters_by_key(
    conn: Connection, keys: list[str], version: str | None
) -> dict[str, tuple[uuid.UUID, int | None]]:
    """Each stored key's benchmark id (newest version, or ``version``) and change counter,
    read on a bare connection (no ORM): the boards' fast path revalidates with it."""
    rows = conn.execute(_COUNTERS, {"keys": keys, "version": version})
    return {key: (bid, None if n is None else int(n)) for key, bid, n in rows}


#: Every benchmark version with its change counter, newest first within a key (the boards'
#: fast path resolves any request's keys from these few rows).
_ALL_COUNTERS = (
    "SELECT b.key, b.version, b.id, v.version FROM benchmark b"
    " LEFT JOIN leaderboard_version v ON v.benchmark_id = b.id"
    " ORDER BY b.key, b.created_at DESC"
)


async def all_counters(
    conn: psycopg.AsyncConnection[Any],
) -> list[tuple[str, str, uuid.UUID, int | None]]:
    """(key, version, benchmark id, change counter) of every benchmark version, each key's
    newest first, on a bare async connection: one statement for many requests at once
    (``backend/services/board_counters.py``)."""
    cursor = await conn.execute(_ALL_COUNTERS)
    return [(k, v, bid, None if n is None else int(n)) for k, v, bid, n in await cursor.fetchall()]


def newest_result(session: Session, benchmark_ids: list[uuid.UUID]) -> datetime | None:
    value = session.scalar(
        select(func.max(Run.finished_at)).where(Run.benchmark_id.in_(benchmark_ids))
    )
    return value if isinstance(value, datetime) else None
