"""Uploading a structure file into a set: spool the body to a private temporary file within
``MLIPM_MAX_STRUCTURE_FILE_MB``, parse it (bounded), store every structure or none, and
remove the temporary file whatever happens."""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from anyio import to_thread
from sqlalchemy.orm import Session

from backend.db.tables import User
from backend.schemas.structures import StructureUploadRead
from backend.services import structures
from backend.settings import get_settings
from shared_kernel.artifacts import MIB
from shared_kernel.errors import InvalidInput, PayloadTooLarge


async def upload_structures(
    session: Session,
    set_id: uuid.UUID,
    body: AsyncIterator[bytes],
    *,
    declared_length: str,
    user: User,
    parser: structures.StructureParser,
    fmt: str | None,
    filename: str | None,
) -> StructureUploadRead:
    """Add the structures of one file to a set (``structures.add_structures``)."""
    settings = get_settings()
    await to_thread.run_sync(
        functools.partial(structures.set_for_upload, session, set_id, user=user)
    )
    path = await _spool(body, declared_length, max_bytes=int(settings.max_structure_file_mb * MIB))
    try:
        limits = structures.UploadLimits(
            max_atoms=settings.max_structure_atoms,
            max_structures=settings.max_structures_per_upload,
        )
        parsed = await to_thread.run_sync(parser, path, fmt, filename, limits)
        return await to_thread.run_sync(
            functools.partial(structures.add_structures, session, set_id, parsed, user=user)
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def _spool(body: AsyncIterator[bytes], declared_length: str, *, max_bytes: int) -> Path:
    """Stream the body into a private temporary file; 413 past ``max_bytes``, 422 if empty."""
    too_large = PayloadTooLarge(
        f"the structure file is larger than the limit of {max_bytes / MIB:g} MiB "
        "(setting MLIPM_MAX_STRUCTURE_FILE_MB)",
        where="body",
    )
    if declared_length.isdigit() and int(declared_length) > max_bytes:
        raise too_large
    fd, name = tempfile.mkstemp(prefix="mlipm-structures-")
    path, size = Path(name), 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in body:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                await to_thread.run_sync(out.write, chunk)
        if size == 0:
            raise InvalidInput("the request body is empty; send the structure file", where="body")
    except BaseException:
        path.unlink()
        raise
    return path
