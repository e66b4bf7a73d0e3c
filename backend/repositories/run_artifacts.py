"""SQL of run artifacts: upsert per (run, name), list, get."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.db.tables import RunArtifact

_UPDATED = ("media_type", "key", "sha256", "size_bytes", "n_frames")


def upsert_run_artifacts(session: Session, run_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """Insert or replace the rows (name, media_type, key, sha256, size_bytes, n_frames)."""
    if not rows:
        return
    statement = insert(RunArtifact).values(
        [{"id": uuid.uuid4(), "run_id": run_id, **row} for row in rows]
    )
    updated = {name: statement.excluded[name] for name in _UPDATED}
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[RunArtifact.run_id, RunArtifact.name],
            set_={**updated, "created_at": func.now()},
        )
    )


def list_run_artifacts(
    session: Session, run_id: uuid.UUID, *, limit: int, offset: int
) -> list[RunArtifact]:
    query = select(RunArtifact).where(RunArtifact.run_id == run_id)
    query = query.order_by(RunArtifact.name).limit(limit).offset(offset)
    return list(session.scalars(query))


def count_run_artifacts(session: Session, run_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(RunArtifact).where(RunArtifact.run_id == run_id)
    return int(session.scalar(query) or 0)


def get_run_artifact(session: Session, run_id: uuid.UUID, name: str) -> RunArtifact | None:
    query = select(RunArtifact).where(RunArtifact.run_id == run_id, RunArtifact.name == name)
    return session.scalars(query).first()
