"""Files runs produce (trajectories, optimisation paths): record them, list them, stream them.

The worker writes each file to the artifact store (``workers.tasks.artifacts``) and records
its row here in the transaction that marks the run succeeded. Reads follow the run's own rule
(``GET /runs/{id}``: runs of approved models are public, others are seen only by the model's
owner and admins), and a file is streamed from the store in blocks, never held whole in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.db.tables import RunArtifact
from backend.repositories import run_artifacts as artifact_repo
from backend.repositories import runs as run_repo
from backend.repositories.runs import Viewer
from backend.schemas.run_artifacts import RunArtifactIn, RunArtifactRead
from backend.settings import get_settings
from shared_kernel import artifacts
from shared_kernel.errors import NotFound

#: The artifact ``GET /exports/runs/{id}/trajectory`` returns, in this order of preference.
TRAJECTORY_NAMES = ("trajectory", "nvt_ramp_trajectory", "npt_compression_trajectory", "relaxation")
_EXTENSIONS = {"chemical/x-extxyz": "extxyz"}


@dataclass(frozen=True, slots=True)
class ArtifactStream:
    """An open artifact: its description and its content in blocks."""

    artifact: RunArtifactRead
    chunks: Iterator[bytes]


def artifact_key(run_id: uuid.UUID, attempt: int, name: str, media_type: str) -> str:
    """The store key of a run's file, per attempt: a slower attempt that lost the run can
    never overwrite the file of the attempt whose row was recorded."""
    return f"runs/{run_id}/attempt-{attempt}/{name}.{_EXTENSIONS.get(media_type, 'bin')}"


def record_run_artifacts(session: Session, run_id: uuid.UUID, stored: list[RunArtifactIn]) -> None:
    """One row per (run, name), replacing the row of an earlier attempt (flush, no commit)."""
    artifact_repo.upsert_run_artifacts(session, run_id, [a.model_dump() for a in stored])


def list_run_artifacts(
    session: Session, run_id: uuid.UUID, *, viewer: Viewer, limit: int, offset: int
) -> tuple[list[RunArtifactRead], int]:
    """A page of a run's artifacts by name, and how many it has; NotFound for an unknown run
    or one ``viewer`` may not see."""
    _require_run(session, run_id, viewer)
    rows = artifact_repo.list_run_artifacts(session, run_id, limit=limit, offset=offset)
    return [_read(row) for row in rows], artifact_repo.count_run_artifacts(session, run_id)


def all_run_artifacts(session: Session, run_id: uuid.UUID) -> list[RunArtifactRead]:
    """Every artifact of a run (a run has a handful), for the detail of a run the caller
    has already found visible."""
    rows = artifact_repo.list_run_artifacts(session, run_id, limit=100, offset=0)
    return [_read(row) for row in rows]


def open_run_artifact(
    session: Session, run_id: uuid.UUID, name: str, *, viewer: Viewer
) -> ArtifactStream:
    """The artifact ``name`` of a run, opened in the store.

    Raises NotFound naming what is missing: the run (or one ``viewer`` may not see), the
    artifact, or its file in the store.
    """
    _require_run(session, run_id, viewer)
    row = artifact_repo.get_run_artifact(session, run_id, name)
    if row is None:
        names = [a.name for a in all_run_artifacts(session, run_id)]
        raise NotFound(
            f"run {run_id} has no artifact {name!r}; it has {names or 'none'}", where="name"
        )
    return _open(row)


def open_trajectory(
    session: Session, run_id: uuid.UUID, *, viewer: Viewer
) -> ArtifactStream | None:
    """The run's stored trajectory (see ``TRAJECTORY_NAMES``), or None if it stores none;
    NotFound for an unknown run or one ``viewer`` may not see."""
    _require_run(session, run_id, viewer)
    for name in TRAJECTORY_NAMES:
        row = artifact_repo.get_run_artifact(session, run_id, name)
        if row is not None:
            return _open(row)
    return None


def _open(row: RunArtifact) -> ArtifactStream:
    try:
        chunks = artifacts.open_stream(row.key, store_url=get_settings().artifact_url)
    except artifacts.ArtifactUnavailable as exc:
        raise NotFound(f"the file of artifact {row.name!r} of run {row.run_id}: {exc}") from exc
    return ArtifactStream(_read(row), chunks)


def _require_run(session: Session, run_id: uuid.UUID, viewer: Viewer) -> None:
    if run_repo.get_visible_run(session, run_id, viewer) is None:
        raise NotFound(f"no run with id {run_id}", where="run_id")


def _read(row: RunArtifact) -> RunArtifactRead:
    extension = row.key.rsplit(".", 1)[-1] if "." in row.key else "bin"
    return RunArtifactRead(
        run_id=row.run_id,
        name=row.name,
        media_type=row.media_type,
        filename=f"run-{row.run_id}-{row.name}.{extension}",
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        n_frames=row.n_frames,
        created_at=row.created_at,
    )
