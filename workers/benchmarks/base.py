"""Benchmark protocol, registry and the typed pieces every result is made of.

A benchmark is a pure function ``(atoms, calc, params) -> result``. It never touches the
database or the queue; the task layer turns its result into metric and series rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ase import Atoms
from ase.calculators.calculator import Calculator


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


class BenchmarkResult(Protocol):
    """What every benchmark result can be turned into."""

    def metrics(self) -> tuple[MetricValue, ...]: ...

    def series(self) -> tuple[SeriesData, ...]: ...


P = TypeVar("P")
R = TypeVar("R", bound=BenchmarkResult)
BenchmarkFunc = Callable[[Atoms, Calculator, Any], BenchmarkResult]


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
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Register ``func`` as benchmark ``key`` at protocol ``version``."""

    def add(func: Callable[..., R]) -> Callable[..., R]:
        if key in BENCHMARKS:
            raise ValueError(f"benchmark {key!r} registered twice")
        BENCHMARKS[key] = BenchmarkSpec(key, version, params, func, description, headline)
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
    """Import every benchmark module so that it registers itself."""
    from workers.benchmarks import eos  # noqa: F401

    return BENCHMARKS


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))
