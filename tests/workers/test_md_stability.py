"""The md_stability benchmark: a physical model survives, broken ones fail as they should."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.morse import MorsePotential

from shared_kernel.failures import BenchmarkSetupError, RunCancelled
from tests.workers.controls import NaNAfter
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.md_stability import MdStabilityParams, run_md_stability

SHORT = MdStabilityParams(nvt_ramp_ps=0.5, npt_ramp_ps=0.3, timestep_fs=2.0)


def test_emt_copper_survives_the_heating_and_compression_ramps() -> None:
    atoms = bulk("Cu", "fcc", a=3.61)
    before = atoms.copy()
    result = run_md_stability(atoms, EMT(), replace(SHORT, friction_per_ps=50.0))
    assert atoms == before
    assert atoms.calc is None
    assert [o.status for o in result.outcomes] == ["completed"] * 6
    metrics = {m.name: m.value for m in result.metrics()}
    assert metrics["nvt_ramp_survival_fraction"] == 1.0
    assert metrics["npt_compression_survival_fraction"] == 1.0
    assert metrics["nvt_ramp_mean_temperature_reached"] == pytest.approx(1500.0)
    assert metrics["npt_compression_mean_pressure_reached"] == pytest.approx(50.0)
    assert metrics["flag_md_failure"] == metrics["flag_timeout"] == 0.0
    # ASE's EMT Cu has B0 ~ 134 GPa at its equilibrium volume (ase.eos tutorial).
    assert 100 < result.bulk_modulus_gpa < 170
    series = {s.name: s for s in result.series()}
    assert series["nvt_ramp_survival"].y == (1.0, 1.0)
    # A strongly coupled Langevin thermostat (50/ps) follows even this fast ramp: T lags the
    # target by about rate / friction = 2400 K/ps / 50/ps ~ 50 K.
    ramp = series["nvt_ramp_temperature"]
    late = np.array(ramp.x) > 0.4
    target = 300 + 1200 * np.array(ramp.x)[late] / 0.5
    assert np.mean(np.array(ramp.y)[late] / target) == pytest.approx(1.0, abs=0.2)
    # Compression: Murnaghan with Cu's B0 = 134 GPa and B' = 4-5.5 gives V/V0 = 0.80-0.82 at
    # 50 GPa; the cell lags a little behind so fast a ramp, never ahead of it.
    volume = series["npt_compression_volume"]
    assert 0.78 < volume.y[-1] / volume.y[0] < 0.92


def test_attractive_only_potential_collapses_with_the_right_classes() -> None:
    # Morse with its minimum at 0.3 Å: at the crystal's distances only attraction is left.
    calc = MorsePotential(epsilon=0.2, r0=0.3, rho0=0.1, rcut1=4.0, rcut2=5.0)
    # Real Cu keeps 80 % of its volume at 50 GPa; this model halves it within 0.1 ps.
    params = replace(SHORT, nvt_ramp_ps=1.0, collapse_fraction=0.5)
    result = run_md_stability(bulk("Cu", "fcc", a=3.61), calc, params)
    by_protocol = {
        p: {o.status for o in result.outcomes if o.protocol == p}
        for p in ("nvt_ramp", "npt_compression")
    }
    assert by_protocol == {"nvt_ramp": {"atoms_too_close"}, "npt_compression": {"cell_collapse"}}
    assert all(0 < o.time_ps < 0.8 * result.durations_ps[0] for o in result.outcomes)
    assert all(o.time_ps < 0.1 for o in result.outcomes if o.protocol == "npt_compression")
    metrics = {m.name: m.value for m in result.metrics()}
    assert metrics["nvt_ramp_survival_fraction"] == 0.0
    assert metrics["nvt_ramp_n_atoms_too_close"] == 3.0
    assert metrics["npt_compression_n_cell_collapse"] == 3.0
    assert metrics["nvt_ramp_mean_temperature_reached"] < 1500
    assert metrics["flag_md_failure"] == 1.0
    survival = next(s for s in result.series() if s.name == "nvt_ramp_survival")
    assert survival.y[0] == 1.0
    assert survival.y[-1] == 0.0
    assert np.all(np.diff(survival.y) <= 0)


def test_a_time_limit_raised_inside_the_model_is_a_timeout_not_a_model_failure() -> None:
    # Celery delivers its soft time limit as an exception raised inside whatever code runs,
    # here the calculator: it must reach the task layer (which records a timeout), not be
    # classified as the model's `exception` while the benchmark goes on to the next seed.
    from billiard.exceptions import SoftTimeLimitExceeded

    class StopsAfter(NaNAfter):
        def calculate(self, *args: Any, **kwargs: Any) -> None:
            super().calculate(*args, **kwargs)
            if self.calls > self.k:
                raise SoftTimeLimitExceeded()

    params = MdStabilityParams(nvt_ramp_ps=0.1, npt_ramp_ps=0.1, timestep_fs=2.0)
    with pytest.raises(SoftTimeLimitExceeded):
        run_md_stability(bulk("Cu"), StopsAfter(10), params)


def test_nan_after_k_calls_fails_at_that_step() -> None:
    # Two calls before the MD (the bulk-modulus estimate), then one per step from step 0:
    # 22 good calls leave steps 0-19 finite, and step 20 (0.040 ps at 2 fs) is the first NaN.
    params = MdStabilityParams(nvt_ramp_ps=0.1, npt_ramp_ps=0.1, timestep_fs=2.0)
    result = run_md_stability(bulk("Cu"), NaNAfter(2 + 20), params)
    first = result.outcomes[0]
    assert first.status == "nan_or_inf"
    assert first.time_ps == pytest.approx(0.040)  # step 20 of 2 fs
    assert first.ramp_value == pytest.approx(300 + 1200 * 0.4)
    assert {o.status for o in result.outcomes[1:]} == {"nan_or_inf"}  # already at step 0
    assert {o.time_ps for o in result.outcomes[1:]} == {0.0}


def test_wall_clock_timeout_is_its_own_class_and_not_a_failure() -> None:
    result = run_md_stability(bulk("Cu"), EMT(), MdStabilityParams(max_wall_s=1e-3))
    assert {o.status for o in result.outcomes} == {"timeout"}
    metrics = {m.name: m.value for m in result.metrics()}
    assert metrics["nvt_ramp_n_timeout"] == 3.0
    assert metrics["nvt_ramp_n_failed"] == 0.0
    assert metrics["nvt_ramp_survival_fraction"] == 1.0  # censored, not dead
    assert metrics["flag_timeout"] == 1.0
    assert metrics["flag_md_failure"] == 0.0
    assert "nvt_ramp_mean_survival_time" not in metrics


def test_setup_errors_and_cancellation_propagate() -> None:
    with pytest.raises(BenchmarkSetupError, match="periodic"):
        run_md_stability(Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.5]]), EMT(), SHORT)

    def cancel(stage: str, fraction: float) -> None:
        if fraction > 0.1:
            raise RunCancelled("campaign cancelled")

    with pytest.raises(RunCancelled):
        run_md_stability(bulk("Cu"), EMT(), SHORT, observer=cancel)


def test_registered_with_defaults() -> None:
    spec = get_benchmark("md_stability")
    assert spec.version == "1.1"
    defaults = spec.default_params()
    assert defaults["target_temperature_k"] == 1500.0
    assert defaults["seeds"] == [0, 1, 2]
    assert spec.make_params({"seeds": (3, 4, 5)}).seeds == (3, 4, 5)
    with pytest.raises(ValueError, match="collapse_fraction"):
        MdStabilityParams(collapse_fraction=1.5)
