"""Weights that upstream packages download at run time, found on local disk instead.

MatterSim, ORB, M3GNet (matgl) and ANI-2x fetch their pretrained weights over the network the
first time they are used. A worker never does: the weights must already be on its disk, given
as one of (first found wins)

1. ``params["weights_path"]``: a file or directory on the worker's disk, put there by an admin
   (only an admin may set this param);
2. the model's uploaded file (``PUT /models/{id}/file``): the weights file itself or, for
   weights made of several files, a tar (plain, gzip, bzip2 or xz) or zip archive of them;
3. the place where the upstream package keeps its own download cache, if a file is there.

An archive is recognised by its content (magic bytes), not its name: the worker's cached copy
of an uploaded file is named by its sha256 and has no extension. It is unpacked once per
content, within ``ArchiveLimits`` (total size, expansion ratio, member count), so a small
archive cannot fill the worker's disk.

When none holds the weights, the adapter fails before loading anything, with a
``BenchmarkSetupError`` that names the exact file(s) to provide and where.

Imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.registry import ModelSpec

WEIGHTS_PARAM = "weights_path"
MIB = 1024 * 1024
_BLOCK = MIB


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Bounds on unpacking one weights archive.

    Parameters
    ----------
    max_bytes
        Most bytes all members may expand to (the settings' MLIPM_MAX_ARCHIVE_EXTRACTED_MB).
    max_ratio
        Most bytes unpacked per byte of archive (MLIPM_MAX_ARCHIVE_RATIO): weights barely
        compress (float arrays, ~1.1x), a zip bomb expands ~1000x.
    max_members
        Most files and directories in the archive (MLIPM_MAX_ARCHIVE_MEMBERS).
    """

    max_bytes: int = 4096 * MIB
    max_ratio: float = 100.0
    max_members: int = 10_000

    def budget(self, archive_bytes: int) -> int:
        """The bytes an archive of ``archive_bytes`` may expand to."""
        return min(self.max_bytes, int(self.max_ratio * max(archive_bytes, 1)))


_limits = ArchiveLimits()


def set_archive_limits(limits: ArchiveLimits) -> None:
    """Use ``limits`` for every archive this process unpacks (the worker sets them from its
    settings; until then the defaults apply)."""
    global _limits
    _limits = limits


def archive_limits() -> ArchiveLimits:
    """The limits this process unpacks archives within."""
    return _limits


def offline() -> None:
    """Forbid the Hugging Face and matgl clients from reaching the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _missing(directory: Path, required: Sequence[str]) -> list[str]:
    """Files of ``required`` absent from ``directory`` (an empty file counts as absent)."""
    return [
        name
        for name in required
        if not (directory / name).is_file() or (directory / name).stat().st_size == 0
    ]


def archive_format(path: Path) -> Literal["zip", "tar"] | None:
    """``"zip"`` or ``"tar"`` (plain, gzip, bzip2, xz) by the file's first bytes; None for
    anything else."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) or head[257:262] == b"ustar":
        return "tar"
    return None


class _Budget:
    """Counts what an extraction writes; refuses past the member count or the byte budget."""

    def __init__(self, archive: Path, limits: ArchiveLimits) -> None:
        self.archive, self.limits = archive, limits
        self.max_bytes = limits.budget(archive.stat().st_size)
        self.members = self.written = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise self._refusal(f"more than {self.limits.max_members} members")

    def declared(self, total: int) -> None:
        if total > self.max_bytes:
            raise self._refusal(f"members declaring {total} bytes")

    def copy(self, source: IO[bytes], target: Path) -> None:
        with target.open("xb") as out:
            while chunk := source.read(_BLOCK):
                self.written += len(chunk)
                if self.written > self.max_bytes:
                    raise self._refusal(f"more than {self.max_bytes} bytes")
                out.write(chunk)

    def _refusal(self, what: str) -> BenchmarkSetupError:
        limits = self.limits
        return BenchmarkSetupError(
            f"{self.archive.name}: the archive holds {what}; an archive may expand to "
            f"{self.max_bytes} bytes (the least of {limits.max_bytes / MIB:g} MiB and "
            f"{limits.max_ratio:g} times its size) in at most {limits.max_members} members "
            "(settings MLIPM_MAX_ARCHIVE_EXTRACTED_MB, MLIPM_MAX_ARCHIVE_RATIO, "
            "MLIPM_MAX_ARCHIVE_MEMBERS). It was not unpacked."
        )


def _member_path(root: Path, archive: Path, name: str) -> Path:
    """Where member ``name`` goes under ``root``; refuses absolute paths and ``..``."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts or ":" in parts[0]:
        raise BenchmarkSetupError(
            f"{archive.name}: the archive member {name!r} would leave its directory "
            "(absolute path or '..'); it was not unpacked"
        )
    return root.joinpath(*parts)


def _unzip(archive: Path, root: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for _ in infos:
            budget.member()
        budget.declared(sum(info.file_size for info in infos))
        for info in infos:
            target = _member_path(root, archive, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BenchmarkSetupError(f"{archive.name}: links are refused ({info.filename})")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source:
                budget.copy(source, target)


def _untar(archive: Path, root: Path, budget: _Budget) -> None:
    declared = 0
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:  # headers are read one at a time: a bomb stops at the first refusal
            budget.member()
            target = _member_path(root, archive, member.name)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if not member.isfile():
                raise BenchmarkSetupError(
                    f"{archive.name}: only files and directories are allowed ({member.name})"
                )
            declared += member.size
            budget.declared(declared)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tf.extractfile(member)
            assert source is not None  # a regular file
            with source:
                budget.copy(source, target)


def extract_archive(archive: Path, target: Path, *, limits: ArchiveLimits) -> None:
    """Unpack the zip or tar ``archive`` into the new directory ``target``, within ``limits``.

    Nothing leaves ``target``: absolute member paths, ``..``, links and devices are refused.
    On any refusal or error ``target`` is removed.

    Raises
    ------
    BenchmarkSetupError
        If the file is not a readable archive, or breaks a limit or a path rule.
    """
    kind = archive_format(archive)
    budget = _Budget(archive, limits)
    target.mkdir(parents=True)
    try:
        if kind == "zip":
            _unzip(archive, target, budget)
        elif kind == "tar":
            _untar(archive, target, budget)
        else:
            raise BenchmarkSetupError(f"{archive.name} is not a tar or zip archive")
    except BaseException as exc:
        shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, BenchmarkSetupError | KeyboardInterrupt | SystemExit):
            raise
        if isinstance(exc, tarfile.TarError | zipfile.BadZipFile | OSError | EOFError):
            raise BenchmarkSetupError(
                f"{archive.name} is not a readable tar/zip archive: {exc}"
            ) from exc
        raise


def _extract(archive: Path) -> Path:
    """Unpack ``archive`` once into a private directory keyed by its content, within
    ``archive_limits()``; a concurrent process unpacking the same archive is harmless."""
    with archive.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "mlipm-weights" / digest
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # extract_archive creates the staging directory, and removes it on failure
    staging = target.parent / f".{digest}-{uuid.uuid4().hex}"
    extract_archive(archive, staging, limits=archive_limits())
    try:
        staging.rename(target)
    except OSError:  # another process unpacked the same archive first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _find_in(root: Path, required: Sequence[str]) -> Path | None:
    """The directory at or below ``root`` that holds every file of ``required``."""
    if not _missing(root, required):
        return root
    first = required[0]
    for candidate in sorted(root.rglob(Path(first).name)):
        directory = candidate.parent
        for _ in Path(first).parts[:-1]:
            directory = directory.parent
        if not _missing(directory, required):
            return directory
    return None


def _candidates(spec: ModelSpec, fallback: Path | None) -> list[tuple[str, Path]]:
    """Where a model's weights may be, in order, each with how the message names it:
    ``params["weights_path"]``, the uploaded model file, the package's cache (``fallback``)."""
    candidates: list[tuple[str, Path]] = []
    given = spec.params.get(WEIGHTS_PARAM)
    if given:
        candidates.append((f"params['{WEIGHTS_PARAM}']", Path(str(given))))
    if spec.artifact_path is not None:
        candidates.append(("the uploaded model file", Path(spec.artifact_path)))
    if fallback is not None:
        candidates.append(("the package's download cache", fallback))
    return candidates


def locate_directory(
    spec: ModelSpec,
    *,
    required: Sequence[str],
    fallback: Path | None,
    what: str,
    listing: str | None = None,
) -> Path:
    """The directory holding every file of ``required`` (paths relative to it).

    Parameters
    ----------
    spec
        The model; ``params["weights_path"]`` (a directory or archive) and the uploaded file
        (an archive, recognised by its content) are searched first.
    required
        Relative paths of the files that make up the weights.
    fallback
        The upstream package's own location for these files, searched last.
    what
        A few words naming the weights and where they are published, for the error message.
    listing
        A compact spelling of ``required`` for the message (default: the list itself).

    Raises
    ------
    BenchmarkSetupError
        Naming the missing files and where to put them, if no candidate holds them all.
    """
    tried = []
    for label, path in _candidates(spec, fallback):
        if path.is_file() and archive_format(path) is not None:
            found = _find_in(_extract(path), required)
        elif path.is_dir():
            found = _find_in(path, required)
        else:
            found = None
        if found is not None:
            return found
        tried.append(f"{label} {path}")
    raise BenchmarkSetupError(
        f"model {spec.name!r} ({spec.family}): the weights ({what}) are not on this worker's "
        f"disk and are never downloaded here. Provide the files {listing or list(required)} in one "
        f"directory, and either set params['{WEIGHTS_PARAM}'] to that directory on the "
        "worker (admins only), or upload a .tar.gz/.zip of it as the model file "
        "(PUT /models/{model_id}/file)."
        f" Looked in: {'; '.join(tried) or 'nothing (no path given, no file uploaded)'}"
    )


def locate_file(spec: ModelSpec, *, filename: str, fallback: Path | None, what: str) -> Path:
    """The single weights file of ``spec`` (``filename`` is its published name).

    Searched in ``params["weights_path"]`` (the file, or a directory holding ``filename``),
    then the uploaded model file, then ``fallback`` (the package's cache directory).

    Raises
    ------
    BenchmarkSetupError
        Naming ``filename`` and where to put it, if it is nowhere.
    """
    tried = []
    for label, path in _candidates(spec, fallback):
        if path.is_dir():
            path = path / filename
        if path.is_file() and path.stat().st_size > 0:
            return path
        tried.append(f"{label} {path}")
    raise BenchmarkSetupError(
        f"model {spec.name!r} ({spec.family}): the weights file {filename} ({what}) is not on "
        "this worker's disk and is never downloaded here. Provide it: upload it as the model "
        f"file (PUT /models/{{model_id}}/file), or put it on the worker and set "
        f"params['{WEIGHTS_PARAM}'] to its path. Looked in: "
        f"{'; '.join(tried) or 'nothing (no path given, no file uploaded)'}"
    )
