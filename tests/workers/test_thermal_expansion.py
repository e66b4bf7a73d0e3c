"""The thermal_expansion benchmark against experiment-scale physics."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.thermal_expansion import ThermalExpansionParams, run_thermal_expansion

# 8 atoms, 4 fs steps (Cu's highest phonon period is ~140 fs) and fast Berendsen coupling keep
# this at a few seconds; the default protocol (1.1) differs only in 0.2 ps per temperature.
FAST = ThermalExpansionParams(
    min_atoms=8,
    timestep_fs=4.0,
    duration_ps=0.5,
    thermostat_fs=50.0,
    barostat_fs=100.0,
    fit_degree=1,
)


def test_emt_copper_expands_at_the_experimental_rate() -> None:
    atoms = bulk("Cu", "fcc", a=3.61)
    before = atoms.copy()
    result = run_thermal_expansion(atoms, EMT(), FAST)
    assert atoms == before
    assert atoms.calc is None
    assert result.n_atoms == 8
    mean = np.mean(result.volumes_a3_per_atom, axis=0)
    assert np.all(np.diff(mean) > 0)
    # Above the static EMT equilibrium volume a0^3/4 with a0 = 3.59 Å (ase.eos tutorial).
    assert mean[0] > 3.59**3 / 4
    # Experiment: 16.5e-6 /K for Cu at 300 K (CRC Handbook). EMT is not fitted to it and the
    # dynamics are classical, so only the order of magnitude is asserted.
    assert 8e-6 < result.alpha_per_k < 35e-6
    assert all(8e-6 < a < 35e-6 for a in result.alpha_per_seed_per_k)
    metrics = {m.name: m for m in result.metrics()}
    alpha = metrics["linear_thermal_expansion_coefficient"]
    assert alpha.unit == "1/K"
    assert alpha.compare_to_reference
    assert metrics["flag_volume_not_increasing"].value == 0.0
    measured, fitted = result.series()
    assert measured.x == (200.0, 300.0, 400.0, 500.0)
    assert fitted.y[0] == pytest.approx(measured.y[0], rel=1e-3)


def test_collapsing_model_is_a_classified_failure_with_the_volumes_so_far() -> None:
    # LJ with sigma = 1 Å: the crystal, far beyond the minimum at 1.12 Å, only attracts.
    calc: Calculator = LennardJones(sigma=1.0, epsilon=5.0, rc=5.0, smooth=True)
    with pytest.raises(BenchmarkFailed) as info:
        run_thermal_expansion(bulk("Cu"), calc, FAST)
    assert info.value.failure_class in {
        FailureClass.CELL_COLLAPSE,
        FailureClass.ATOMS_TOO_CLOSE,
        FailureClass.TEMPERATURE_RUNAWAY,
    }
    (partial,) = info.value.series
    assert partial.name == "volume_temperature"


def test_setup_and_params_validation() -> None:
    cluster = bulk("Cu")
    cluster.pbc = False
    with pytest.raises(BenchmarkSetupError, match="periodic"):
        run_thermal_expansion(cluster, EMT(), FAST)
    with pytest.raises(ValueError, match="4 distinct"):
        ThermalExpansionParams(temperatures_k=(200.0, 300.0, 400.0))
    with pytest.raises(ValueError, match="reference_temperature_k"):
        ThermalExpansionParams(reference_temperature_k=600.0)
    with pytest.raises(ValueError, match="fit_degree"):
        ThermalExpansionParams(fit_degree=4)
    spec = get_benchmark("thermal_expansion")
    assert spec.version == "1.1"
    assert spec.default_params()["temperatures_k"] == [200.0, 300.0, 400.0, 500.0]
