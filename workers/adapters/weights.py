"""Weights that upstream packages download at run time, found on local disk instead.

MatterSim, ORB, M3GNet (matgl) and ANI-2x fetch their pretrained weights over the network the
first time they are used. A worker never does: the weights must already be on its disk, given
as one of (first found wins)

1. ``params["weights_path"]``: a file or directory on the worker's disk, put there by an admin;
2. the model's uploaded file (``PUT /models/{id}/file``): the weights file itself or, for
   weights made of several files, a ``.tar``, ``.tar.gz`` or ``.zip`` archive of them;
3. the place where the upstream package keeps its own download cache, if a file is there.

When none holds the weights, the adapter fails before loading anything, with a
``BenchmarkSetupError`` that names the exact file(s) to provide and where.

Imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from workers.adapters.registry import ModelSpec
from workers.errors import BenchmarkSetupError

WEIGHTS_PARAM = "weights_path"
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")


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


def _is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _extract(archive: Path) -> Path:
    """Unpack ``archive`` once into a private directory keyed by its content; no member may
    leave that directory (absolute paths, ``..`` and links are refused)."""
    with archive.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "mlipm-weights" / digest
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=target.parent))
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    if name.startswith("/") or ".." in Path(name).parts:
                        raise BenchmarkSetupError(f"{archive.name}: unsafe member path {name!r}")
                zf.extractall(staging)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(staging, filter="data")  # refuses traversal, links out, devices
    except (tarfile.TarError, zipfile.BadZipFile, OSError, BenchmarkSetupError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, BenchmarkSetupError):
            raise
        raise BenchmarkSetupError(
            f"{archive.name} is not a readable .tar/.tar.gz/.zip archive: {exc}"
        ) from exc
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
        (an archive) are searched first.
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
    candidates: list[tuple[str, Path]] = []
    given = spec.params.get(WEIGHTS_PARAM)
    if given:
        candidates.append((f"params['{WEIGHTS_PARAM}']", Path(str(given))))
    if spec.artifact_path is not None:
        candidates.append(("the uploaded model file", Path(spec.artifact_path)))
    if fallback is not None:
        candidates.append(("the package's download cache", fallback))
    tried = []
    for label, path in candidates:
        if path.is_file() and _is_archive(path):
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
        "worker, or upload a .tar.gz/.zip of it as the model file (PUT /models/{model_id}/file)."
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
    candidates: list[tuple[str, Path]] = []
    given = spec.params.get(WEIGHTS_PARAM)
    if given:
        candidates.append((f"params['{WEIGHTS_PARAM}']", Path(str(given))))
    if spec.artifact_path is not None:
        candidates.append(("the uploaded model file", Path(spec.artifact_path)))
    if fallback is not None:
        candidates.append(("the package's download cache", fallback))
    tried = []
    for label, path in candidates:
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
