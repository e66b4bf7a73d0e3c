"""Run a claimed run's pure benchmark with its model: shared by the worker and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ase.calculators.calculator import Calculator

from backend.settings import get_settings
from shared_kernel import artifacts
from shared_kernel.failures import BenchmarkError, BenchmarkFailed, BenchmarkSetupError
from workers.adapters.registry import ModelSpec, check_elements, get_adapter, make_calculator
from workers.adapters.weights import ArchiveLimits, set_archive_limits
from workers.atoms_json import atoms_from_json
from workers.benchmarks.base import (
    FrameSet,
    MetricValue,
    Observer,
    ProjectionData,
    SeriesData,
    get_benchmark,
)

_CALCULATORS: dict[tuple[str, ...], Calculator] = {}


class RunJob(Protocol):
    """What a worker reads about a claimed run (backend.services.runs.ClaimedRun)."""

    @property
    def benchmark_key(self) -> str: ...

    @property
    def benchmark_version(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def structure_data(self) -> str: ...

    @property
    def elements(self) -> list[str]: ...

    @property
    def model_family(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @property
    def model_version(self) -> str: ...

    @property
    def model_params(self) -> dict[str, Any]: ...

    @property
    def artifact_key(self) -> str | None: ...

    @property
    def artifact_sha256(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    metrics: tuple[MetricValue, ...]
    series: tuple[SeriesData, ...]
    provenance: dict[str, Any] = field(default_factory=dict)
    projections: tuple[ProjectionData, ...] = ()
    frames: tuple[FrameSet, ...] = ()  # stored as artifacts of the run (extended XYZ)


def apply_archive_limits() -> None:
    """Unpack weights archives within this installation's limits (settings, MiB to bytes)."""
    settings = get_settings()
    set_archive_limits(
        ArchiveLimits(
            max_bytes=int(settings.max_archive_extracted_mb * 1024 * 1024),
            max_ratio=settings.max_archive_ratio,
            max_members=settings.max_archive_members,
        )
    )


def cached_calculator(spec: ModelSpec) -> Calculator:
    """One calculator per model per worker process: models are loaded once, not per run."""
    # The file's path names its sha256: a model whose file was replaced is loaded again.
    key = (*spec.cache_key, str(spec.artifact_path or ""))
    calc = _CALCULATORS.get(key)
    if calc is None:
        apply_archive_limits()  # a model file may be a weights archive: unpack it in bounds
        calc = _CALCULATORS[key] = make_calculator(spec)
    return calc


def forget_calculator(spec: ModelSpec) -> None:
    """Drop the cached calculator of ``spec``; the next run builds a fresh one."""
    _CALCULATORS.pop((*spec.cache_key, str(spec.artifact_path or "")), None)


def model_file(job: RunJob) -> Path | None:
    """A local, sha256-verified copy of the run's model file, from this host's artifact cache.

    The record holds a key in the artifact store; this process resolves it against its own
    MLIPM_ARTIFACT_URL and caches the file under MLIPM_ARTIFACT_CACHE_DIR, so the adapters get
    a local path wherever the worker runs.

    Raises
    ------
    BenchmarkSetupError
        If the store has no such file (or another content); the message names key and store.
    """
    if job.artifact_key is None:
        return None
    settings = get_settings()
    if job.artifact_sha256 is None:
        raise BenchmarkSetupError(
            f"model {job.model_name!r}: artifact {job.artifact_key} has no recorded sha256, "
            "so its content cannot be verified; upload the file again"
        )
    try:
        return artifacts.local_copy(
            job.artifact_key,
            job.artifact_sha256,
            store_url=settings.artifact_url,
            cache_dir=settings.artifact_cache_dir,
        )
    except artifacts.ArtifactUnavailable as exc:
        raise BenchmarkSetupError(f"model {job.model_name!r}: {exc}") from exc


def execute_claimed(job: RunJob, *, observer: Observer | None = None) -> Outcome:
    """Build the inputs of ``job``, run its benchmark and return metrics and series.

    Raises
    ------
    UnsupportedElementsError
        When the model does not cover the structure's elements (the run is skipped).
    BenchmarkSetupError, BenchmarkFailed
        Classified failures, recorded with their class.
    """
    spec = ModelSpec(
        family=job.model_family,
        name=job.model_name,
        version=job.model_version,
        params=job.model_params,
        artifact_path=model_file(job),
    )
    check_elements(spec, job.elements)
    benchmark = get_benchmark(job.benchmark_key)
    if benchmark.version != job.benchmark_version:
        raise BenchmarkSetupError(
            f"run asks for {job.benchmark_key} {job.benchmark_version} but this worker "
            f"implements version {benchmark.version}"
        )
    try:
        params = benchmark.make_params(job.params)
    except (TypeError, ValueError) as exc:
        raise BenchmarkSetupError(f"invalid parameters for {job.benchmark_key}: {exc}") from exc
    try:
        result = benchmark.func(
            atoms_from_json(job.structure_data), cached_calculator(spec), params, observer=observer
        )
    except BenchmarkError:
        raise  # a classified failure between calculator calls: the calculator is sound
    except BaseException:
        # Interrupted inside a calculation (a soft time limit, an adapter's own error): its
        # state, such as a half-built neighbour list, must not reach the next run.
        forget_calculator(spec)
        raise
    metrics = result.metrics()
    if not metrics:
        raise BenchmarkFailed(f"{job.benchmark_key} returned no metrics")
    extra = getattr(result, "provenance", None)  # e.g. the hardware a speed run measured
    projections = getattr(result, "projections", None)  # e.g. a landscape's plane and maps
    frames = getattr(result, "frames", None)  # e.g. an MD benchmark's subsampled trajectory
    return Outcome(
        metrics=metrics,
        series=result.series(),
        provenance={
            "packages": get_adapter(spec.family).package_versions(),
            **(extra() if callable(extra) else {}),
        },
        projections=projections() if callable(projections) else (),
        frames=frames() if callable(frames) else (),
    )
