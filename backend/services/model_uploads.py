"""Uploading a model's file or its training set: stream the body into the artifact store
within the caller's limits (``uploads.upload_limit``), record it on the model, and discard
it again when recording fails; the file it replaced goes once the transaction commits."""

from __future__ import annotations

import functools
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

from anyio import to_thread
from sqlalchemy.orm import Session

from backend.db.tables import MlipModel, User
from backend.services import models, training_sets, uploads
from backend.settings import get_settings
from shared_kernel import artifacts
from shared_kernel.errors import InvalidInput

T = TypeVar("T")


async def _in_thread(func: Callable[..., T], /, *args: object, **kwargs: object) -> T:
    """``func(*args, **kwargs)`` in a worker thread (database and file work off the loop)."""
    return await to_thread.run_sync(functools.partial(func, *args, **kwargs))


async def upload_model_file(
    session: Session,
    model_id: uuid.UUID,
    body: AsyncIterator[bytes],
    *,
    declared_length: str,
    user: User,
) -> MlipModel:
    """Store ``body`` as the model's file (owner or admin; see ``models.attach_model_file``)."""
    settings = get_settings()
    model = await _in_thread(models.model_for_file_upload, session, model_id, user=user)
    replaced = model.artifact_key
    max_bytes, setting = await _upload_limit(
        session, user, settings.max_model_file_mb, "MLIPM_MAX_MODEL_FILE_MB", replaced
    )
    stored = await _store_body(
        body, declared_length, max_bytes=max_bytes, what="model file", setting=setting
    )
    try:
        model = await _in_thread(
            models.attach_model_file,
            session,
            model_id,
            key=stored.key,
            sha256=stored.sha256,
            user=user,
        )
    except BaseException:
        artifacts.discard(stored)
        raise
    if replaced != stored.key:
        uploads.remove_unrecorded_after_commit(session, [replaced])
    return model


async def upload_training_set(
    session: Session,
    model_id: uuid.UUID,
    body: AsyncIterator[bytes],
    *,
    declared_length: str,
    user: User,
    reader: training_sets.TrainingSetReader,
) -> MlipModel:
    """Store ``body`` as the model's training set and record what ``reader`` reads from it
    (counts, per-element counts, structure hashes); unreadable: 422, nothing kept."""
    settings = get_settings()
    model = await _in_thread(models.model_for_upload, session, model_id, user=user)
    replaced = model.training_set_key
    max_bytes, setting = await _upload_limit(
        session, user, settings.max_training_set_mb, "MLIPM_MAX_TRAINING_SET_MB", replaced
    )
    stored = await _store_body(
        body, declared_length, max_bytes=max_bytes, what="training set", setting=setting
    )
    try:
        summary = await _in_thread(_read_stored, reader, stored)
        model = await _in_thread(
            training_sets.attach_training_set,
            session,
            model_id,
            key=stored.key,
            sha256=stored.sha256,
            summary=summary,
            user=user,
        )
    except BaseException:
        artifacts.discard(stored)
        raise
    if replaced != stored.key:
        uploads.remove_unrecorded_after_commit(session, [replaced])
    return model


async def _upload_limit(
    session: Session, user: User, per_file_mb: float, per_file_setting: str, replaces: str | None
) -> tuple[int, str]:
    """The largest upload ``user`` may send now (per-file limit and storage quota), and the
    setting that limits it (``uploads.upload_limit``)."""
    return await _in_thread(
        uploads.upload_limit,
        session,
        user,
        per_file_bytes=int(per_file_mb * artifacts.MIB),
        per_file_setting=per_file_setting,
        replaces=replaces,
        store_url=get_settings().artifact_url,
    )


def _read_stored(
    reader: training_sets.TrainingSetReader, stored: artifacts.StoredArtifact
) -> training_sets.TrainingSetSummary:
    """Read a stored training set from a temporary local copy (the store may be remote)."""
    with tempfile.TemporaryDirectory(prefix="mlipm-read-") as tmp:
        local = artifacts.local_copy(
            stored.key, stored.sha256, store_url=stored.store_url, cache_dir=Path(tmp)
        )
        return reader(local)


async def _store_body(
    body: AsyncIterator[bytes],
    declared_length: str,
    *,
    max_bytes: int,
    what: str,
    setting: str,
) -> artifacts.StoredArtifact:
    """Stream the body into the artifact store; 413 past ``max_bytes`` (the declared
    Content-Length is checked first), 422 when empty."""
    if declared_length.isdigit() and int(declared_length) > max_bytes:
        raise artifacts.too_large(max_bytes, what=what, setting=setting)
    stored = await artifacts.store_stream(
        body,
        store_url=get_settings().artifact_url,
        max_bytes=max_bytes,
        what=what,
        setting=setting,
    )
    if stored.size_bytes == 0:
        artifacts.discard(stored)
        raise InvalidInput(f"the request body is empty; send the {what}", where="body")
    return stored
