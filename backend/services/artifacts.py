"""The content-addressed artifact store on local disk: ``<artifact_dir>/<sha[:2]>/<sha>``.

An upload is streamed into a temporary file in the store's own ``.tmp`` folder (same file
system), hashed on the way, and moved into place with an atomic rename only when complete and
within the size limit; on any failure the temporary file is removed, so a reader never sees a
partial file and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from anyio import to_thread

from backend.domain.errors import PayloadTooLarge

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    path: Path
    sha256: str
    size_bytes: int
    created: bool  # False: an identical file was already stored


def artifact_path(root: Path, sha256: str) -> Path:
    """Where the file with this sha256 lives in the store."""
    return root / sha256[:2] / sha256


def too_large(
    max_bytes: int, *, what: str = "model file", setting: str = "MLIPM_MAX_MODEL_FILE_MB"
) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the {what} is larger than the limit of {max_bytes / MIB:g} MiB (setting {setting})",
        where="body",
    )


async def store_stream(
    chunks: AsyncIterator[bytes],
    *,
    root: Path,
    max_bytes: int,
    what: str = "model file",
    setting: str = "MLIPM_MAX_MODEL_FILE_MB",
) -> StoredArtifact:
    """Stream ``chunks`` into the store; raises PayloadTooLarge past ``max_bytes``."""
    tmp_dir = root / ".tmp"
    await to_thread.run_sync(lambda: tmp_dir.mkdir(parents=True, exist_ok=True))
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    tmp = Path(tmp_name)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(max_bytes, what=what, setting=setting)
                digest.update(chunk)
                await to_thread.run_sync(out.write, chunk)
            await to_thread.run_sync(out.flush)
            await to_thread.run_sync(os.fsync, out.fileno())
        sha256 = digest.hexdigest()
        target = artifact_path(root, sha256)
        created = await to_thread.run_sync(_move_into_place, tmp, target)
        return StoredArtifact(target, sha256, size, created)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _move_into_place(tmp: Path, target: Path) -> bool:
    if target.is_file():  # same content already stored: keep the existing file
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)  # atomic on one file system
    return True


def discard(stored: StoredArtifact) -> None:
    """Remove a file this request created (when the database write after it failed)."""
    if stored.created:
        with contextlib.suppress(FileNotFoundError):
            stored.path.unlink()
