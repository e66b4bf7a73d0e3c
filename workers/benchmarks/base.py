"""Benchmark protocol, registry and the typed pieces every result is made of.

A benchmark is a pure function ``(atoms, calc, params, *, observer=None) -> result``. It never
touches the database or the queue; the task layer turns its result into metric and series rows.

The observer (as in ASE's ``irun``) is called at each step of a long benchmark with the stage
and the fraction done; it may raise ``RunCancelled`` to stop the benchmark cleanly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ase import Atoms


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One scalar outcome of a run.

    ``name`` doubles as the reference property it is compared with (if any).
    """

    name: str
    value: float
    unit: str
    compare_to_reference: bool = False


@dataclass(frozen=True, slots=True)
class SeriesData:
    """A curve produced by a run (E(V) points, a dimer curve, an MD trace)."""

    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    x_label: str
    x_unit: str
    y_label: str
    y_unit: str


@dataclass(frozen=True, slots=True)
class ProjectionData:
    """A stored projection of a run (an energy plane, a 2-D map of configurations).

    ``kind`` is ``"plane"`` or ``"map"``; ``settings`` hold what produced it (descriptor,
    projection method and parameters); ``data`` the JSON-able arrays the views draw from.
    Results that have projections expose them through a ``projections()`` method.
    """

    name: str
    kind: str
    method: str
    settings: Mapping[str, Any]
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FrameSet:
    """Structures a run keeps for download (a subsampled trajectory, an optimisation path).

    Each frame is an ASE ``Atoms`` with a ``SinglePointCalculator`` holding the energy (eV),
    forces (eV/Å) and stress (eV/Å³) the model gave for it, when it gave them. The number of
    frames is bounded (``workers.benchmarks._frames.MAX_FRAMES``). Results that keep frames
    expose them through a ``frames()`` method; the worker stores each set as extended XYZ.
    """

    name: str
    frames: tuple[Atoms, ...]
    description: str = ""


def finite(*metrics: MetricValue) -> tuple[MetricValue, ...]:
    """The metrics whose value is finite: an undefined number (NaN, inf) is omitted, not stored.

    Every ``metrics()`` of a result returns through this, so that a metric row is either a
    real number or absent. Metric names starting with ``flag_`` are quality flags: 1.0 when
    the condition that makes a result doubtful holds, 0.0 otherwise.
    """
    return tuple(m for m in metrics if math.isfinite(m.value))


class BenchmarkResult(Protocol):
    """What every benchmark result can be turned into."""

    def metrics(self) -> tuple[MetricValue, ...]: ...

    def series(self) -> tuple[SeriesData, ...]: ...


class Observer(Protocol):
    """Called by a benchmark as it progresses; may raise ``shared_kernel.failures.RunCancelled``."""

    def __call__(self, stage: str, fraction: float) -> None: ...


def notify(observer: Observer | None, stage: str, fraction: float) -> None:
    """Call ``observer`` if there is one (benchmarks call this at each step)."""
    if observer is not None:
        observer(stage, fraction)


P = TypeVar("P")
R = TypeVar("R", bound=BenchmarkResult)
BenchmarkFunc = Callable[..., BenchmarkResult]  # (atoms, calc, params, *, observer=None)


@dataclass(frozen=True, slots=True)
class Headline:
    """A metric a leaderboard shows for this benchmark, compared with a reference."""

    name: str
    label: str
    unit: str


@dataclass(frozen=True, slots=True)
class BenchmarkSpec:
    """A registered benchmark protocol: key, version, params type and the pure function."""

    key: str
    version: str
    params_type: type
    func: BenchmarkFunc
    description: str
    headline: tuple[Headline, ...] = ()
    soft_time_limit_s: int = 600
    time_limit_s: int = 660

    def default_params(self) -> dict[str, Any]:
        """Defaults of the params dataclass as plain JSON values."""
        return _jsonable(dataclasses.asdict(self.params_type()))

    def make_params(self, overrides: Mapping[str, Any] | None = None) -> Any:
        """Build the params object from defaults plus ``overrides``; unknown names raise."""
        fields = {f.name for f in dataclasses.fields(self.params_type)}
        unknown = set(overrides or {}) - fields
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {sorted(unknown)} for benchmark {self.key!r}; "
                f"known: {sorted(fields)}"
            )
        return self.params_type(**dict(overrides or {}))


BENCHMARKS: dict[str, BenchmarkSpec] = {}


def register_benchmark(
    key: str,
    *,
    version: str,
    params: type,
    description: str,
    headline: tuple[Headline, ...] = (),
    soft_time_limit_s: int = 600,
    time_limit_s: int | None = None,
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Register ``func`` as benchmark ``key`` at protocol ``version``."""

    def add(func: Callable[..., R]) -> Callable[..., R]:
        if key in BENCHMARKS:
            raise ValueError(f"benchmark {key!r} registered twice")
        BENCHMARKS[key] = BenchmarkSpec(
            key,
            version,
            params,
            func,
            description,
            headline,
            soft_time_limit_s,
            time_limit_s or soft_time_limit_s + 60,
        )
        return func

    return add


def get_benchmark(key: str) -> BenchmarkSpec:
    """Return the registered benchmark ``key`` (importing the suite on first use)."""
    load_all()
    try:
        return BENCHMARKS[key]
    except KeyError:
        raise KeyError(f"no benchmark {key!r}; known: {sorted(BENCHMARKS)}") from None


def load_all() -> dict[str, BenchmarkSpec]:
    """Import every benchmark module of this package so that it registers itself."""
    import importlib
    import pkgutil

    import workers.benchmarks as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{package.__name__}.{module.name}")
    return BENCHMARKS


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))
