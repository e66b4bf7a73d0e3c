"""One way to turn a model record into an ASE calculator: the adapter registry.

Each family registers a factory plus what it declares about itself (elements, stress,
package versions). Heavy packages are imported inside the factory that needs them.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError, UnsupportedElementsError


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What a worker needs to build a model's calculator.

    Parameters
    ----------
    family
        Adapter family key, e.g. ``"emt"``, ``"lj"``, ``"morse"``.
    name, version
        The model record's identity (used for caching and provenance).
    params
        Family-specific parameters (JSON values), e.g. per-element pair-potential parameters.
    artifact_path
        Local path of an uploaded model file, if the family needs one.
    """

    family: str
    name: str
    version: str = "1"
    params: Mapping[str, Any] = field(default_factory=dict)
    artifact_path: Path | None = None

    @property
    def cache_key(self) -> tuple[str, str, str]:
        return (self.family, self.name, self.version)


Factory = Callable[[ModelSpec], Calculator]
ElementsFn = Callable[[ModelSpec], frozenset[str] | None]


@dataclass(frozen=True, slots=True)
class Adapter:
    """A registered family: its factory and what it declares."""

    family: str
    factory: Factory
    supported_elements: ElementsFn
    provides_stress: bool
    packages: tuple[str, ...]
    description: str

    def package_versions(self) -> dict[str, str]:
        """Installed versions of the packages this family depends on, for provenance."""
        return dict(_installed_versions(("ase", *self.packages)))


@functools.cache
def _installed_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Read once per process: the modules a process imported do not change with a later
    install, and reading the installed distributions costs 0.3-0.5 ms (some 70 file system
    calls), which every run's provenance paid."""
    versions = []
    for name in names:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return tuple(versions)


ADAPTERS: dict[str, Adapter] = {}


def register(
    family: str,
    *,
    supported_elements: ElementsFn,
    provides_stress: bool,
    packages: Iterable[str] = (),
    description: str = "",
) -> Callable[[Factory], Factory]:
    """Register ``factory`` as the adapter of ``family``."""

    def add(factory: Factory) -> Factory:
        if family in ADAPTERS:
            raise ValueError(f"adapter family {family!r} registered twice")
        ADAPTERS[family] = Adapter(
            family, factory, supported_elements, provides_stress, tuple(packages), description
        )
        return factory

    return add


#: The built-in adapter modules, each registering its families when imported.
BUILTIN_MODULES = (
    "ani",
    "ani2x",
    "baselines",
    "chgnet",
    "diep",
    "m3gnet",
    "mace",
    "orb",
    "sevennet",
    "sevennet_checkpoint",
    "torchscript",
)


def load_all() -> dict[str, Adapter]:
    """Import the built-in adapter modules so that they register themselves.

    The MLIP families import their packages only when a calculator is built, so this works
    without the ``mlip`` extra.
    """
    for name in BUILTIN_MODULES:  # by name: each imports this module to register itself
        importlib.import_module(f"workers.adapters.{name}")
    _load_plugins()
    return ADAPTERS


ENTRY_POINT_GROUP = "mlip_metrology.adapters"
PLUGIN_ERRORS: dict[str, str] = {}
_plugins_loaded = False


def _load_plugins() -> None:
    """Import every installed plugin module of the ``mlip_metrology.adapters`` entry points.

    A plugin package registers families by calling ``register`` when imported; an admin
    installs it into the worker's environment, nothing in this repository changes.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as exc:  # a broken plugin must not take the built-in families down
            PLUGIN_ERRORS[entry_point.name] = f"{exc.__class__.__name__}: {exc}"


def get_adapter(family: str) -> Adapter:
    """Return the adapter of ``family``; raises BenchmarkSetupError when none is registered."""
    load_all()
    try:
        return ADAPTERS[family]
    except KeyError:
        broken = f"; plugins that failed to load: {PLUGIN_ERRORS}" if PLUGIN_ERRORS else ""
        raise BenchmarkSetupError(
            f"no adapter for model family {family!r}; known: {sorted(ADAPTERS)}{broken}"
        ) from None


def make_calculator(spec: ModelSpec) -> Calculator:
    """Build the ASE calculator of ``spec``.

    Raises
    ------
    BenchmarkSetupError
        If the family is unknown or its factory cannot build the model.
    """
    return get_adapter(spec.family).factory(spec)


def check_elements(spec: ModelSpec, symbols: Iterable[str]) -> None:
    """Raise UnsupportedElementsError if ``symbols`` are not all covered by the model."""
    supported = get_adapter(spec.family).supported_elements(spec)
    if supported is None:
        return
    missing = sorted(set(symbols) - supported)
    if missing:
        raise UnsupportedElementsError(
            f"model {spec.name!r} ({spec.family}) does not support element(s) {missing}"
        )
