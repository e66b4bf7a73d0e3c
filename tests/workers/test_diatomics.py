"""The diatomics benchmark against analytic pair potentials and a noisy-force control."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from tests.workers.controls import NoisyEMT
from workers.adapters.registry import ModelSpec, make_calculator
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.diatomics import (
    DiatomicsParams,
    DiatomicsResult,
    distance_grid,
    run_diatomics,
)
from workers.errors import BenchmarkFailed, BenchmarkSetupError, FailureClass

SIGMA, EPSILON, RC = 2.0, 0.5, 10.0  # Å, eV, Å: the minimum 2^(1/6) sigma lies inside Ar's scan
NOISE_EV_A = 0.05


def lj(r: float) -> float:
    return 4 * EPSILON * ((SIGMA / r) ** 12 - (SIGMA / r) ** 6)


class NaNCalculator(Calculator):
    implemented_properties = ["energy", "forces"]  # noqa: RUF012

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        energy = float("nan") if len(self.atoms) == 2 else 0.0
        self.results = {"energy": energy, "forces": np.zeros((len(self.atoms), 3))}


def metrics(result: DiatomicsResult) -> dict[str, float]:
    return {m.name: m.value for m in result.metrics()}


# Alvarez's larger radius takes the Cu scan (to 7.4 Å) past EMT's cutoff, where forces vanish.
WIDE = DiatomicsParams(vdw_source="alvarez")


@pytest.fixture(scope="module")
def emt_cu() -> DiatomicsResult:
    return run_diatomics(bulk("Cu"), EMT(), WIDE)


def test_lennard_jones_dimer_has_its_analytic_minimum_and_depth() -> None:
    atoms = bulk("Ar", "fcc", a=5.26)
    before = atoms.copy()
    result = run_diatomics(
        atoms, LennardJones(sigma=SIGMA, epsilon=EPSILON, rc=RC), DiatomicsParams()
    )
    assert atoms == before
    assert atoms.calc is None
    assert result.equilibrium_distance_a == pytest.approx(2 ** (1 / 6) * SIGMA, abs=1e-4)
    # ASE's LennardJones (smooth=False) shifts every pair by -LJ(rc) so that E(rc) = 0.
    assert result.well_depth_ev == pytest.approx(EPSILON + lj(RC), rel=1e-5)
    assert result.far_field_energy_ev == pytest.approx(lj(result.distances_a[-1]) - lj(RC))
    values = metrics(result)
    assert values["spearman_repulsion_energy"] == pytest.approx(-1.0)
    assert values["spearman_repulsion_force"] == pytest.approx(-1.0)
    assert values["tortuosity"] == pytest.approx(1.0)
    assert values["energy_diff_flips"] == 1.0  # one minimum
    assert values["force_flips"] == 1.0  # repulsive, then attractive
    assert values["flag_no_minimum"] == 0.0
    assert values["flag_short_range_hole"] == 0.0


def test_morse_baseline_minimum_is_r0_with_depth_epsilon() -> None:
    # Inside rcut1 * r0 ASE's MorsePotential is the bare Morse pair: minimum -epsilon at r0.
    params = {"epsilon": 0.35, "r0": 2.84, "rho0": 3.95, "rcut1": 1.9, "rcut2": 2.7}
    calc = make_calculator(ModelSpec("morse", "morse-cu", params={"elements": {"Cu": params}}))
    result = run_diatomics(bulk("Cu"), calc, DiatomicsParams())
    assert result.equilibrium_distance_a == pytest.approx(2.84, abs=1e-4)
    assert result.well_depth_ev == pytest.approx(0.35, rel=1e-5)


@pytest.mark.parametrize(
    "calc", [EMT(), LennardJones(sigma=SIGMA, epsilon=EPSILON, rc=RC)], ids=["emt", "lj"]
)
def test_conservative_calculators_are_force_energy_consistent(calc: Calculator) -> None:
    result = run_diatomics(
        bulk("Al") if isinstance(calc, EMT) else bulk("Ar"), calc, DiatomicsParams()
    )
    assert result.force_energy_deviation_ev_a < 1e-3
    assert metrics(result)["flag_force_energy_inconsistent"] == 0.0


def test_noisy_forces_fail_consistency_and_rank_below_emt(emt_cu: DiatomicsResult) -> None:
    noisy = run_diatomics(bulk("Cu"), NoisyEMT(NOISE_EV_A), WIDE)
    assert noisy.energies_ev == emt_cu.energies_ev  # only the forces differ
    # |F + dE/dr| is |noise|: the median of |N(0, s^2)| is 0.674 s.
    assert noisy.force_energy_deviation_ev_a == pytest.approx(0.674 * NOISE_EV_A, rel=0.3)
    assert metrics(noisy)["flag_force_energy_inconsistent"] == 1.0
    assert metrics(emt_cu)["flag_force_energy_inconsistent"] == 0.0
    assert noisy.force_energy_deviation_ev_a > 100 * emt_cu.force_energy_deviation_ev_a
    assert noisy.conservation_deviation_ev_a > emt_cu.conservation_deviation_ev_a
    assert noisy.force_flips > emt_cu.force_flips


def test_emt_copper_curve_is_physical(emt_cu: DiatomicsResult) -> None:
    values = metrics(emt_cu)
    assert emt_cu.element == "Cu"
    assert emt_cu.equilibrium_distance_a is not None
    # Bound well between the covalent (2 x 1.32 Å) and bulk nearest-neighbour (2.55 Å) scales.
    assert 1.9 < emt_cu.equilibrium_distance_a < 2.55
    assert emt_cu.well_depth_ev is not None
    assert emt_cu.well_depth_ev > 1.0
    assert values["spearman_repulsion_energy"] == pytest.approx(-1.0)
    assert values["tortuosity"] == pytest.approx(1.0)
    energy, force = emt_cu.series()
    assert (energy.name, energy.y_unit, force.name, force.y_unit) == (
        "energy_distance",
        "eV",
        "force_distance",
        "eV/Å",
    )
    assert energy.x == force.x == emt_cu.distances_a


def test_distance_grid_follows_the_radii() -> None:
    # Cu: covalent 1.32 Å, Bondi vdW 1.40 Å; Fe has no Bondi radius: Alvarez's 2.44 Å.
    fine = distance_grid("Cu", DiatomicsParams(step_a=0.01))
    assert fine[0] == pytest.approx(0.9 * 1.32)
    assert fine[-1] == pytest.approx(3.1 * 1.40)
    assert np.diff(fine) == pytest.approx(0.01, abs=1e-4)
    assert distance_grid("Fe", DiatomicsParams())[-1] == pytest.approx(3.1 * 2.44)
    assert distance_grid("Cu", DiatomicsParams(vdw_source="alvarez"))[-1] == pytest.approx(
        3.1 * 2.38
    )
    assert distance_grid("Po", DiatomicsParams(vdw_source="alvarez"))[-1] == pytest.approx(6.0)


def test_multi_element_input_is_a_setup_error() -> None:
    with pytest.raises(BenchmarkSetupError, match="single-element"):
        run_diatomics(bulk("NaCl", "rocksalt", a=5.64), EMT(), DiatomicsParams())


def test_non_finite_energy_is_nan_or_inf_with_the_curve() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_diatomics(bulk("Cu"), NaNCalculator(), DiatomicsParams())
    assert info.value.failure_class == FailureClass.NAN_OR_INF
    assert [s.name for s in info.value.series] == ["energy_distance", "force_distance"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"step_a": 0.0}, "step_a"),
        ({"step_a": 0.5}, "step_a"),
        ({"r_min_covalent_factor": 4.0}, "r_min_covalent_factor"),
        ({"vdw_source": "uff"}, "vdw_source"),
        ({"force_energy_tolerance_ev_a": 0.0}, "force_energy_tolerance"),
    ],
)
def test_params_validation(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DiatomicsParams(**overrides)


def test_registered_with_defaults() -> None:
    spec = get_benchmark("diatomics")
    assert spec.version == "1.0"
    assert spec.default_params()["step_a"] == 0.05
    assert spec.make_params({"step_a": 0.01}) == DiatomicsParams(step_a=0.01)
