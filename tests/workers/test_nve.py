"""The nve benchmark against what velocity Verlet is known to do."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.data import atomic_masses, atomic_numbers

from shared_kernel.failures import BenchmarkFailed, FailureClass
from tests.workers.controls import NaNAfter, NoisyEMT
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.nve import NveParams, run_nve

SHORT = {"duration_ps": 0.4, "min_atoms": 27}


def test_emt_conserves_energy_and_fluctuation_scales_as_timestep_squared() -> None:
    atoms = bulk("Cu", "fcc", a=3.61)
    before = atoms.copy()
    coarse = run_nve(atoms, EMT(), NveParams(timestep_fs=2.0, **SHORT))
    fine = run_nve(atoms, EMT(), NveParams(timestep_fs=1.0, **SHORT))
    assert atoms == before
    assert atoms.calc is None
    assert coarse.n_atoms == 27
    # Exact gradients: no secular drift, only the bounded O(dt^2) oscillation of Verlet.
    for result in (coarse, fine):
        assert np.abs(result.drifts_mev_per_atom_ps).max() < 0.01
        # Equipartition: 300 K velocities on lattice sites relax to about 150 K.
        assert 100 < np.mean(result.mean_temperatures_k) < 200
    ratio = np.array(coarse.fluctuations_mev_per_atom) / np.array(fine.fluctuations_mev_per_atom)
    assert np.all((ratio > 2.5) & (ratio < 6.0)), ratio


def test_noisy_forces_heat_the_system_at_the_rate_of_a_random_walk() -> None:
    sigma, dt_fs = 0.1, 2.0
    params = NveParams(timestep_fs=dt_fs, **SHORT)
    noisy = run_nve(bulk("Cu"), NoisyEMT(sigma), params)
    exact = run_nve(bulk("Cu"), EMT(), params)
    # Each step adds an uncorrelated impulse sigma*dt per degree of freedom, so the kinetic
    # (hence total) energy grows on average by 3 sigma^2 dt / (2 m) per atom per unit time.
    mass = atomic_masses[atomic_numbers["Cu"]]
    heating = 3 * sigma**2 * (dt_fs * units.fs) / (2 * mass) * (1000 * units.fs) * 1000
    assert heating == pytest.approx(4.56, rel=0.01)  # meV/atom/ps
    assert 0.3 * heating < np.mean(noisy.drifts_mev_per_atom_ps) < 3 * heating
    metrics = {m.name: m.value for m in noisy.metrics()}
    exact_metrics = {m.name: m.value for m in exact.metrics()}
    assert metrics["energy_drift_abs"] > 100 * exact_metrics["energy_drift_abs"]


def test_nan_forces_are_a_classified_failure_with_the_traces() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_nve(bulk("Cu"), NaNAfter(30), NveParams(timestep_fs=2.0, **SHORT))
    assert info.value.failure_class == FailureClass.NAN_OR_INF
    potential = next(s for s in info.value.series if s.name == "potential_energy")
    # The 30th call is step 29 (the first call is the starting point, step 0).
    assert len(potential.x) == 30
    assert "0.060 ps" in str(info.value)


def test_metrics_series_and_registration() -> None:
    result = run_nve(bulk("Al"), EMT(), NveParams(timestep_fs=2.0, duration_ps=0.1))
    units_by_name = {m.name: m.unit for m in result.metrics()}
    assert units_by_name["energy_drift"] == "meV/atom/ps"
    assert units_by_name["energy_fluctuation"] == "meV/atom"
    assert not any(m.compare_to_reference for m in result.metrics())
    total, potential, kinetic = result.series()
    assert total.name == "total_energy"
    assert len(total.x) == 51  # 50 steps and the start
    assert np.allclose(np.add(potential.y, kinetic.y), total.y)
    assert units_by_name["energy_drift_stderr"] == "meV/atom/ps"
    metrics = {m.name: m.value for m in result.metrics()}
    assert metrics["energy_drift_stderr"] == pytest.approx(
        np.std(result.drifts_mev_per_atom_ps, ddof=1) / np.sqrt(3)
    )
    spec = get_benchmark("nve")
    assert spec.version == "1.2"
    assert spec.default_params()["min_atoms"] == 108
    assert spec.default_params()["duration_ps"] == 0.6
    assert spec.make_params({"timestep_fs": 0.5}) == NveParams(timestep_fs=0.5)
    with pytest.raises(ValueError, match="seeds"):
        NveParams(seeds=(0, 1))


def test_default_resolves_the_drift_of_a_noisy_control_far_above_the_seed_spread() -> None:
    # The protocol's defaults: 125 atoms for the one-atom fcc cell, 0.6 ps, three seeds.
    atoms = bulk("Cu", "fcc", a=3.61)
    exact = run_nve(atoms, EMT(), NveParams())
    noisy = run_nve(atoms, NoisyEMT(0.05), NveParams())
    assert exact.n_atoms == noisy.n_atoms == 125
    drift, noisy_drift = (
        np.array(exact.drifts_mev_per_atom_ps),
        np.array(noisy.drifts_mev_per_atom_ps),
    )
    # Noise of sigma per force component heats by 3 sigma^2 dt / (2 m) on average (1.14
    # meV/atom/ps here); single seeds scatter about it as a random walk, so the mean over
    # seeds is compared with a broad band around it.
    mass = atomic_masses[atomic_numbers["Cu"]]
    heating = 3 * 0.05**2 * (2.0 * units.fs) / (2 * mass) * (1000 * units.fs) * 1000
    assert 0.3 * heating < noisy_drift.mean() < 3 * heating
    # The criterion the defaults were chosen for: the conservative model's seed-to-seed spread
    # is at most a tenth of the drift that separates the controls ...
    assert drift.std(ddof=1) <= 0.1 * (noisy_drift.mean() - drift.mean())
    # ... with a wide margin: a conservative model's drift is a bounded Verlet oscillation
    # fitted with a line, below 0.005 meV/atom/ps for every seed at 125 atoms and 0.6 ps,
    # while every seed of the noisy control heats by more than ten times that.
    assert np.abs(drift).max() < 0.005
    assert noisy_drift.min() > 10 * 0.005
