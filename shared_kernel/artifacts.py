"""The content-addressed artifact store: any fsspec store, addressed by ``MLIPM_ARTIFACT_URL``.

A file lives at the store-relative key ``<sha[:2]>/<sha>``; records hold that key, never a host
path, so every process (the API, workers on other hosts) resolves it against its own URL of the
same store: a directory all hosts mount (``file:///data/artifacts``), an object store
(``s3://bucket/artifacts``), or an fsspec chain.

Writing: an upload is streamed into a temporary key under ``.tmp/`` in the store, hashed on the
way, and moved to its key only when complete and within the size limit (an atomic rename on a
local or mounted file system; object stores publish the finished object at once). On any failure
the temporary object is removed, so a reader never sees a partial file and nothing is left
behind; identical content is stored once.

Reading: loaders (torch, ASE) need a local path, so :func:`local_copy` keeps a read-through cache
on the local disk, keyed by sha256 and verified against it: a corrupt or truncated cached file is
fetched again, and a store copy whose content does not match its recorded sha256 is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from anyio import to_thread
from fsspec.core import url_to_fs

from shared_kernel.errors import PayloadTooLarge

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_BLOCK = MIB
#: (size, mtime_ns) of cached files this process has hashed and found correct.
_VERIFIED: dict[Path, tuple[int, int]] = {}


class ArtifactUnavailable(Exception):
    """A stored file cannot be provided: not in the store, unreadable, or not its content."""


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    key: str  # store-relative: what records hold
    sha256: str
    size_bytes: int
    created: bool  # False: an identical file was already stored
    store_url: str


def artifact_key(sha256: str) -> str:
    """The store-relative key of the file with this sha256."""
    return f"{sha256[:2]}/{sha256}"


class ArtifactStore:
    """One fsspec store, opened from its URL; keys are relative to the URL's root."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, root = url_to_fs(url)
        self.root = str(root).rstrip("/")

    def path(self, key: str) -> str:
        """The fsspec path of ``key``; keys are relative and never climb out of the root."""
        parts = key.split("/")
        if key.startswith("/") or not key or any(p in ("", ".", "..") for p in parts):
            raise ArtifactUnavailable(
                f"artifact key {key!r} is not a store-relative key (like 'ab/ab12...'); "
                "upload the file again"
            )
        return f"{self.root}/{key}" if self.root else key

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self.path(key)))

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(key))

    def list_files(self, prefix: str) -> list[tuple[str, float | None]]:
        """(key, modification time in epoch seconds, None if the store gives none) of every
        file under the key ``prefix``."""
        try:
            found = self.fs.find(self.path(prefix), detail=True)
        except FileNotFoundError:
            return []
        start = len(self.root) + 1 if self.root else 0
        return [
            (str(path)[start:], _modified(info))
            for path, info in found.items()
            if info.get("type", "file") == "file"
        ]


def _modified(info: dict[str, Any]) -> float | None:
    """A listed file's modification time: ``mtime`` (local), ``LastModified`` (S3) or
    ``created`` (memory), as epoch seconds."""
    value = info.get("mtime", info.get("LastModified", info.get("created")))
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, int | float) else None


def too_large(
    max_bytes: int, *, what: str = "model file", setting: str = "MLIPM_MAX_MODEL_FILE_MB"
) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the {what} is larger than the limit of {max_bytes / MIB:g} MiB (setting {setting})",
        where="body",
    )


class _Upload:
    """One upload into the store: write chunks, then publish under the content key or abort."""

    def __init__(self, store: ArtifactStore, *, max_bytes: int, what: str, setting: str) -> None:
        self.store, self.max_bytes, self.what, self.setting = store, max_bytes, what, setting
        self.tmp_key = f".tmp/upload-{uuid.uuid4().hex}"
        self.digest, self.size = hashlib.sha256(), 0
        store.fs.makedirs(store.path(".tmp"), exist_ok=True)
        self.out: Any = store.fs.open(store.path(self.tmp_key), "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes, what=self.what, setting=self.setting)
        self.digest.update(chunk)
        self.out.write(chunk)

    def finish(self) -> StoredArtifact:
        self.out.flush()
        with contextlib.suppress(AttributeError, io.UnsupportedOperation):
            os.fsync(self.out.fileno())  # local files: durable before the rename
        self.out.close()
        sha256 = self.digest.hexdigest()
        key = artifact_key(sha256)
        created = not self.store.exists(key)
        if created:
            target = self.store.path(key)
            self.store.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.store.fs.mv(self.store.path(self.tmp_key), target)
        return StoredArtifact(key, sha256, self.size, created, self.store.url)

    def publish(self, key: str) -> StoredArtifact:
        """Move the finished file to ``key``, replacing what is there (run artifacts)."""
        self.out.flush()
        with contextlib.suppress(AttributeError, io.UnsupportedOperation):
            os.fsync(self.out.fileno())
        self.out.close()
        target = self.store.path(key)
        self.store.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        self.store.fs.mv(self.store.path(self.tmp_key), target)
        return StoredArtifact(key, self.digest.hexdigest(), self.size, True, self.store.url)

    def abort(self) -> None:
        """Remove the temporary object (whatever happened); the final key is untouched."""
        with contextlib.suppress(Exception):
            self.out.close()
        self.store.remove(self.tmp_key)


async def store_stream(
    chunks: AsyncIterator[bytes],
    *,
    store_url: str,
    max_bytes: int,
    what: str = "model file",
    setting: str = "MLIPM_MAX_MODEL_FILE_MB",
) -> StoredArtifact:
    """Stream ``chunks`` into the store at ``store_url``; PayloadTooLarge past ``max_bytes``."""
    store = await to_thread.run_sync(ArtifactStore, store_url)
    upload = await to_thread.run_sync(
        lambda: _Upload(store, max_bytes=max_bytes, what=what, setting=setting)
    )
    try:
        async for chunk in chunks:
            await to_thread.run_sync(upload.write, chunk)
        return await to_thread.run_sync(upload.finish)
    finally:
        await to_thread.run_sync(upload.abort)


def store_file(
    path: Path, *, store_url: str, max_bytes: int = 1 << 62, what: str = "file"
) -> StoredArtifact:
    """Copy a local file into the store (admin tools, tests); same guarantees as an upload."""
    store = ArtifactStore(store_url)
    upload = _Upload(store, max_bytes=max_bytes, what=what, setting="-")
    try:
        with path.open("rb") as source:
            for chunk in iter(lambda: source.read(_BLOCK), b""):
                upload.write(chunk)
        return upload.finish()
    finally:
        upload.abort()


def put_file(path: Path, key: str, *, store_url: str) -> StoredArtifact:
    """Copy a local file into the store under the given ``key`` (not its content key),
    replacing an earlier file there: written to a temporary key, hashed on the way, then
    moved (readers see the old file or the new one, never part of one). For files the
    platform writes itself, such as a run's trajectory."""
    with path.open("rb") as source:
        return put_bytes(iter(lambda: source.read(_BLOCK), b""), key, store_url=store_url)


def put_bytes(chunks: Iterable[bytes], key: str, *, store_url: str) -> StoredArtifact:
    """``put_file`` for content made in memory (no file of its own to copy from)."""
    store = ArtifactStore(store_url)
    store.path(key)  # a bad key fails before anything is written
    upload = _Upload(store, max_bytes=1 << 62, what="file", setting="-")
    try:
        for chunk in chunks:
            upload.write(chunk)
        return upload.publish(key)
    finally:
        upload.abort()


def write_unpublished(content: bytes, key: str, *, store_url: str) -> StoredArtifact:
    """Write ``content`` under a ``key`` that no record references yet and no one else writes
    (a run attempt's own file, whose row is committed after this returns): in place, without
    the temporary copy and rename of ``put_bytes`` (a third of its time), since no reader
    looks for the key before its record exists; durable (fsync) before it returns. A write
    cut short leaves a file no record references, which its owner's sweep removes."""
    store = ArtifactStore(store_url)
    target = store.path(key)
    store.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    with store.fs.open(target, "wb") as out:
        out.write(content)
        out.flush()
        with contextlib.suppress(AttributeError, io.UnsupportedOperation):
            os.fsync(out.fileno())  # local files: durable before the record
    sha256 = hashlib.sha256(content).hexdigest()
    return StoredArtifact(key, sha256, len(content), True, store_url)


def open_stream(key: str, *, store_url: str) -> Iterator[bytes]:
    """The content of ``key`` in blocks; the file is opened now, so a missing one raises here.

    Raises
    ------
    ArtifactUnavailable
        If the store has no such key or cannot be read; the message names key and store.
    """
    store = ArtifactStore(store_url)
    try:
        source = store.fs.open(store.path(key), "rb")
    except FileNotFoundError:
        raise ArtifactUnavailable(
            f"artifact {key} is not in the artifact store {store.url} (MLIPM_ARTIFACT_URL)"
        ) from None
    except OSError as exc:
        raise ArtifactUnavailable(
            f"artifact {key} could not be read from the artifact store {store.url}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from exc
    return _closing_blocks(source)


def _closing_blocks(source: Any) -> Iterator[bytes]:
    with source:
        yield from _blocks(source)


def discard(stored: StoredArtifact) -> None:
    """Remove a file this request created (when the database write after it failed)."""
    if stored.created:
        ArtifactStore(stored.store_url).remove(stored.key)


def local_copy(key: str, sha256: str, *, store_url: str, cache_dir: Path) -> Path:
    """A local file holding the artifact ``key``, verified against ``sha256``.

    Served from ``cache_dir`` when the cached copy has the right content (hashed once per
    process while its size and mtime stay the same), fetched from the store otherwise.

    Raises
    ------
    ArtifactUnavailable
        If the store has no such key, cannot be read, or holds other content; the message
        names the key and the store URL.
    """
    target = cache_dir / sha256[:2] / sha256
    if _cached_and_valid(target, sha256):
        return target
    store = ArtifactStore(store_url)
    tmp_dir = cache_dir / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="fetch-")
    tmp = Path(tmp_name)
    try:
        digest = _fetch(store, key, fd)
        if digest != sha256:
            raise ArtifactUnavailable(
                f"the store's copy of artifact {key} at {store_url} has sha256 {digest}, not "
                f"the recorded {sha256}: it is corrupt; upload the file again"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)  # atomic: concurrent workers on this host see all or nothing
        stat = target.stat()
        _VERIFIED[target] = (stat.st_size, stat.st_mtime_ns)
        return target
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fetch(store: ArtifactStore, key: str, fd: int) -> str:
    """Copy ``key`` from the store into the open file ``fd``; returns the content's sha256."""
    digest = hashlib.sha256()
    try:
        with store.fs.open(store.path(key), "rb") as source, os.fdopen(fd, "wb") as out:
            for chunk in _blocks(source):
                digest.update(chunk)
                out.write(chunk)
    except FileNotFoundError:
        raise ArtifactUnavailable(
            f"artifact {key} is not in the artifact store {store.url} (MLIPM_ARTIFACT_URL); "
            "this host must reach the store the API uploads to"
        ) from None
    except OSError as exc:
        raise ArtifactUnavailable(
            f"artifact {key} could not be read from the artifact store {store.url}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from exc
    return digest.hexdigest()


def _blocks(source: Any) -> Iterable[bytes]:
    while chunk := source.read(_BLOCK):
        yield chunk


def _cached_and_valid(path: Path, sha256: str) -> bool:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    if _VERIFIED.get(path) == (stat.st_size, stat.st_mtime_ns):
        return True
    digest = hashlib.sha256()
    with path.open("rb") as cached:
        for chunk in _blocks(cached):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        log.warning("cached artifact %s does not match its sha256; fetching it again", path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _VERIFIED.pop(path, None)
        return False
    _VERIFIED[path] = (stat.st_size, stat.st_mtime_ns)
    return True
