"""Conventions every benchmark's metrics keep: finite values, and flags named ``flag_*``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from workers.benchmarks.base import MetricValue, finite, get_benchmark
from workers.benchmarks.thermal_expansion import ThermalExpansionResult

#: Short parameters: each benchmark runs on EMT Cu in well under a second or two.
SHORT: dict[str, dict[str, object]] = {
    "eos": {},
    "relax": {"supercell": 1, "seeds": [0]},
    "cohesive": {},
    "elastic": {},
    "diatomics": {"step_a": 0.1},
    "nve": {"min_atoms": 8, "duration_ps": 0.05, "timestep_fs": 2.0},
}


def test_finite_leaves_out_undefined_numbers() -> None:
    kept = MetricValue("a", 1.0, "1")
    assert finite(kept, MetricValue("b", math.nan, "1"), MetricValue("c", math.inf, "1")) == (kept,)


@pytest.mark.parametrize("key", sorted(SHORT))
def test_emt_copper_metrics_are_finite_and_flags_are_zero_or_one(key: str) -> None:
    spec = get_benchmark(key)
    result = spec.func(bulk("Cu", "fcc", a=3.61), EMT(), spec.make_params(SHORT[key]))
    metrics = result.metrics()
    assert metrics
    assert len({m.name for m in metrics}) == len(metrics)
    for m in metrics:
        assert math.isfinite(m.value), m
        if m.name.startswith("flag_"):
            assert m.unit == "1"
            assert m.value in (0.0, 1.0), m


def test_degenerate_thermal_expansion_omits_what_is_undefined() -> None:
    result = ThermalExpansionResult(
        temperatures_k=(300.0, 400.0),
        volumes_a3_per_atom=((11.8, 11.9), (11.8, 11.9), (11.8, 11.9)),
        fit_coefficients=(11.5, 1e-3),
        reference_temperature_k=300.0,
        alpha_per_k=math.nan,
        alpha_per_seed_per_k=(math.nan, math.nan, math.nan),
        fit_residual_rms_a3_per_atom=0.0,
        n_atoms=8,
    )
    names = {m.name for m in result.metrics()}
    assert all(np.isfinite([m.value for m in result.metrics()]))
    assert "linear_thermal_expansion_coefficient" not in names
    assert "md_volume_per_atom_at_reference_temperature" in names
