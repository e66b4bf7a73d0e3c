"""Write a run's frames (trajectories, optimisation paths) to the artifact store as extended XYZ.

Each ``FrameSet`` of a benchmark's result becomes one file under
``runs/<run_id>/attempt-<n>/<name>.extxyz`` in the store of MLIPM_ARTIFACT_URL, made in
memory and written in place (no reader looks for the file before its row exists), its sha256
and size measured; its row (``run_artifact``) is recorded by the statement that marks the run
succeeded, so a run's artifacts appear with its metrics or not at all. A retried run writes
its own attempt's files and replaces the rows (one per name); an attempt that lost the run
removes its files.

An artifact that cannot be written never costs the run its metrics: the run succeeds, the
artifact has no row, and ``provenance["artifact_errors"]`` holds ``{name: reason}`` (shown
on the run page), because the metrics are the scientific result and the frames a view of it.

A worker killed between writing the files and committing their rows leaves them behind; the
sweeper removes such files (``remove_orphaned_files``) once no row references them and their
attempt is not the one running.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from backend.db.session import session_scope
from backend.repositories import dispatch as dispatch_repo
from backend.schemas.run_artifacts import EXTXYZ_MEDIA_TYPE, RunArtifactIn
from backend.services import run_artifacts
from backend.settings import get_settings
from shared_kernel import artifacts
from workers.benchmarks.base import FrameSet
from workers.tasks import extxyz

log = logging.getLogger(__name__)
_ATTEMPT_FILE = re.compile(r"runs/([0-9a-f-]{36})/attempt-(\d+)/[^/]+")


@dataclass(slots=True)
class StoredFrames:
    """What was written for one run: rows to record, and the reason of each failed file."""

    rows: list[RunArtifactIn] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def provenance(self) -> dict[str, Any]:
        """``{"artifact_errors": {...}}`` when a file could not be written, else nothing."""
        return {"artifact_errors": self.errors} if self.errors else {}


def store_frames(
    run_id: uuid.UUID, attempt: int, frame_sets: Sequence[FrameSet], *, store_url: str | None = None
) -> StoredFrames:
    """Write every non-empty frame set of a run to the store; failures are collected, not raised.

    Written by the calling thread: a writer thread overlapping the result's rows took longer
    (about 1.1 ms waited for 0.4 ms of file calls, handing the GIL to and fro)."""
    url = store_url or get_settings().artifact_url
    stored = StoredFrames()
    for frame_set in frame_sets:
        if not frame_set.frames:
            continue
        key = run_artifacts.artifact_key(run_id, attempt, frame_set.name, EXTXYZ_MEDIA_TYPE)
        with _collected(stored, run_id, frame_set):
            done = artifacts.write_unpublished(_extxyz(frame_set), key, store_url=url)
            stored.rows.append(
                RunArtifactIn(
                    name=frame_set.name,
                    media_type=EXTXYZ_MEDIA_TYPE,
                    key=done.key,
                    sha256=done.sha256,
                    size_bytes=done.size_bytes,
                    n_frames=len(frame_set.frames),
                )
            )
    return stored


@contextmanager
def _collected(stored: StoredFrames, run_id: uuid.UUID, frame_set: FrameSet) -> Iterator[None]:
    """A frame set that cannot be written is recorded on the run (see the module docstring)."""
    try:
        yield
    except Exception as exc:
        log.warning("run %s: artifact %s not stored", run_id, frame_set.name, exc_info=True)
        stored.errors[frame_set.name] = f"{exc.__class__.__name__}: {exc}"[:500]


def discard_frames(stored: StoredFrames) -> None:
    """Remove the files of an attempt that lost its run (its result was refused, so no row
    references them)."""
    store = artifacts.ArtifactStore(get_settings().artifact_url)
    for row in stored.rows:
        store.remove(row.key)


def _extxyz(frame_set: FrameSet) -> bytes:
    # Made in memory and published from there: a temporary directory and a second copy of
    # the file cost more than the extended XYZ itself (about a millisecond of every run).
    return extxyz.text(frame_set.frames).encode()


def remove_orphaned_files(*, grace_s: float, store_url: str | None = None) -> int:
    """Remove the files under ``runs/<run_id>/attempt-<n>/`` older than ``grace_s`` that no
    ``run_artifact`` row references and whose attempt is not running; returns how many.

    The store is listed before the database is read: a file seen in the listing was written
    by an attempt claimed before, which by the read is running (kept), committed (its rows
    reference it: kept) or gone for good.
    """
    store = artifacts.ArtifactStore(store_url or get_settings().artifact_url)
    old_before = time.time() - grace_s
    files: list[tuple[str, uuid.UUID, int]] = []
    for key, modified in store.list_files("runs"):
        match = _ATTEMPT_FILE.fullmatch(key)
        if match and modified is not None and modified < old_before:
            files.append((key, uuid.UUID(match[1]), int(match[2])))
    removed = 0
    for start in range(0, len(files), 1000):
        batch = files[start : start + 1000]
        with session_scope() as session:
            owners = dispatch_repo.file_owners(session, list({f[1] for f in batch}))
        for key, run_id, attempt in batch:
            owner = owners.get(run_id)
            if owner is None or (key not in owner.keys and owner.live_attempt != attempt):
                store.remove(key)
                removed += 1
    return removed
