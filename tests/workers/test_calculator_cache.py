"""A worker process keeps one calculator per model, except after a run was interrupted inside a
calculation: a half-updated calculator (an EMT neighbour list cut off mid-build) must not serve
the next run."""

from __future__ import annotations

from typing import Any

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from shared_kernel.hashing import params_hash
from workers.adapters.registry import ModelSpec
from workers.atoms_json import atoms_to_json
from workers.execution import _CALCULATORS, cached_calculator, execute_claimed


class _Job:
    """The fields of a claimed run that ``execute_claimed`` reads."""

    def __init__(self, name: str, benchmark: str) -> None:
        self.benchmark_key, self.benchmark_version = benchmark, _version(benchmark)
        self.params: dict[str, Any] = {}
        self.params_hash = params_hash(benchmark, self.benchmark_version, {})
        self.structure_data = atoms_to_json(bulk("Cu", "fcc", a=3.6))
        self.elements = ["Cu"]
        self.model_family, self.model_name, self.model_version = "emt", name, "1"
        self.model_params: dict[str, Any] = {}
        self.artifact_key = self.artifact_sha256 = None


def _version(key: str) -> str:
    from workers.benchmarks.base import get_benchmark

    return get_benchmark(key).version


def test_an_interrupted_calculator_is_built_afresh_and_a_sound_one_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = ModelSpec(family="emt", name="cache-test")
    _CALCULATORS.clear()
    sound = cached_calculator(spec)
    execute_claimed(_Job("cache-test", "cohesive"))
    assert cached_calculator(spec) is sound  # a run that ended normally keeps it

    def interrupted(self: EMT, *args: Any, **kwargs: Any) -> None:
        raise TimeoutError("soft time limit exceeded")  # as if cut off mid-calculation

    with monkeypatch.context() as patch:
        patch.setattr(EMT, "calculate", interrupted)
        with pytest.raises(TimeoutError):
            execute_claimed(_Job("cache-test", "cohesive"))
    fresh = cached_calculator(spec)
    assert fresh is not sound
    assert execute_claimed(_Job("cache-test", "cohesive")).metrics  # and it works
