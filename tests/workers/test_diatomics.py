"""The diatomics benchmark against analytic pair potentials and a noisy-force control."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from scipy import stats

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from tests.workers.controls import DimerTerm, NoisyEMT, WrappedEMT
from workers.adapters.registry import ModelSpec, make_calculator
from workers.benchmarks._curves import energy_discontinuity, repulsion_spearman
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.diatomics import (
    DiatomicsParams,
    DiatomicsResult,
    distance_grid,
    run_diatomics,
)

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


# Alvarez's radius (the default) takes the Cu scan (to 7.4 Å) past EMT's cutoff, where forces
# vanish.
WIDE = DiatomicsParams()
#: The version 1.0 protocol: Bondi's radius (Cu 1.40 Å) and no floor end the Cu scan at 4.3 Å.
SHORT_SCAN = DiatomicsParams(vdw_source="ase", r_max_floor_a=0.0)


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
    # Cu: covalent 1.32 Å, Alvarez vdW 2.38 Å (MLIP Arena's end, 3.1 x 2.38 = 7.38 Å), Bondi
    # 1.40 Å; Fe has no Bondi radius: Alvarez's 2.44 Å; H (1.20 Å) would end at 3.72 Å.
    fine = distance_grid("Cu", DiatomicsParams(step_a=0.01))
    assert fine[0] == pytest.approx(0.9 * 1.32)
    assert fine[-1] == pytest.approx(3.1 * 2.38)
    assert np.diff(fine) == pytest.approx(0.01, abs=1e-4)
    assert distance_grid("Fe", DiatomicsParams(vdw_source="ase"))[-1] == pytest.approx(3.1 * 2.44)
    assert distance_grid("Cu", SHORT_SCAN)[-1] == pytest.approx(3.1 * 1.40)
    # The 6 Å floor: where 3.1 x the radius is shorter, or no radius is tabulated.
    assert distance_grid("Cu", DiatomicsParams(vdw_source="ase"))[-1] == pytest.approx(6.0)
    assert distance_grid("H", DiatomicsParams())[-1] == pytest.approx(6.0)
    assert distance_grid("Po", DiatomicsParams())[-1] == pytest.approx(6.0)


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
        ({"r_max_floor_a": -1.0}, "r_max_floor_a"),
    ],
)
def test_params_validation(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DiatomicsParams(**overrides)


def test_registered_with_defaults() -> None:
    spec = get_benchmark("diatomics")
    assert spec.version == "1.1"
    assert spec.default_params()["step_a"] == 0.05
    assert spec.default_params()["vdw_source"] == "alvarez"
    assert spec.default_params()["r_max_floor_a"] == 6.0
    assert spec.make_params({"step_a": 0.01}) == DiatomicsParams(step_a=0.01)


def morse() -> Calculator:
    params = {"epsilon": 0.35, "r0": 2.84, "rho0": 3.95, "rcut1": 1.9, "rcut2": 2.7}
    return make_calculator(ModelSpec("morse", "morse-cu", params={"elements": {"Cu": params}}))


def step(at_a: float, height_ev: float) -> DimerTerm:
    """EMT plus ``height_ev`` for every distance beyond ``at_a``: a discontinuity of E."""
    return DimerTerm(EMT(), lambda r: (height_ev if r > at_a else 0.0, 0.0))


def ripple(amplitude_ev: float, period_a: float = 0.3) -> DimerTerm:
    """EMT plus a smooth ripple (forces consistent): a tortuous but continuous curve."""
    k = 2 * np.pi / period_a
    return DimerTerm(
        EMT(), lambda r: (amplitude_ev * np.sin(k * r), amplitude_ev * k * np.cos(k * r))
    )


@pytest.mark.parametrize("name", ["emt", "lj", "morse"])
def test_smooth_curves_raise_no_shape_flag_and_reach_dissociation(name: str) -> None:
    atoms, calc = {
        "emt": (bulk("Cu"), EMT()),
        "lj": (bulk("Ar"), LennardJones(sigma=SIGMA, epsilon=EPSILON, rc=RC)),
        "morse": (bulk("Cu"), morse()),
    }[name]
    result = run_diatomics(atoms, calc, DiatomicsParams())
    values = metrics(result)
    assert result.distances_a[-1] >= 6.0
    assert values["energy_discontinuity"] < 0.01  # eV, against a 1 eV threshold
    assert values["tortuosity"] == pytest.approx(1.0)
    assert values["flag_energy_jump"] == values["flag_tortuous"] == 0.0
    assert values["dissociation_energy_residual"] < 0.01
    assert values["flag_not_dissociated"] == 0.0
    if name == "lj":
        # The scan ends at 6 Å (Ar: 3.1 x 1.88 Å = 5.83 Å < 6 Å): the residual is the pair
        # energy change over the last half ångström, 4 eps [(s/r)^12 - (s/r)^6].
        # (E(5.5 Å) is interpolated between grid points 0.05 Å apart.)
        assert values["dissociation_energy_residual"] == pytest.approx(
            abs(lj(6.0) - lj(5.5)), rel=1e-3
        )


@pytest.mark.parametrize("at_a", [1.6, 2.3, 4.0])
@pytest.mark.parametrize("height_ev", [30.0, -30.0])
def test_a_30_ev_step_is_flagged_as_a_jump_wherever_it_is(at_a: float, height_ev: float) -> None:
    # On the steep wall (1.6 Å), at the well (2.3 Å) and in the tail (4.0 Å), up or down:
    # the step lies about its own height outside the range of its neighbouring steps.
    values = metrics(run_diatomics(bulk("Cu"), step(at_a, height_ev), DiatomicsParams()))
    assert values["energy_discontinuity"] == pytest.approx(abs(height_ev), rel=0.02)
    assert values["flag_energy_jump"] == 1.0


def test_the_short_scan_stops_inside_the_bond() -> None:
    # EMT Cu2 is still bound by ~0.25 eV at 4.3 Å: the far field is not reached there.
    short = metrics(run_diatomics(bulk("Cu"), EMT(), SHORT_SCAN))
    assert short["dissociation_energy_residual"] > 0.1
    assert short["flag_not_dissociated"] == 1.0
    assert short["dissociation_force_residual"] > 0.1


def test_a_rippled_curve_is_flagged_tortuous_but_not_as_a_jump() -> None:
    values = metrics(run_diatomics(bulk("Cu"), ripple(0.1), DiatomicsParams()))
    assert values["tortuosity"] > 1.05
    assert values["flag_tortuous"] == 1.0
    assert values["flag_energy_jump"] == 0.0  # continuous: no step leaves its neighbours


def test_force_spearman_is_defined_on_every_curve() -> None:
    r = np.linspace(1.0, 6.0, 11)
    energy = (r - 2.5) ** 2
    # Physical: repulsive force falling to the most attractive point at r = 4: -1.
    physical = np.array([3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0, -2.0, -1.0, -0.5, 0.0])
    assert repulsion_spearman(r, physical, energy) == pytest.approx(-1.0)
    # Force lowest at the first point: the branch up to the energy minimum (r <= 2.5) is used.
    attractive_start = np.array([-5.0, 2.0, 1.0, 0.5, 0.2, 0.0, -1.0, -0.5, -0.2, 0.0, 0.0])
    assert repulsion_spearman(r, attractive_start, energy) == pytest.approx(
        stats.spearmanr(r[:4], attractive_start[:4]).statistic
    )
    # ... and when the energy too is lowest at the start, the whole curve.
    assert repulsion_spearman(r, attractive_start, r) == pytest.approx(
        stats.spearmanr(r, attractive_start).statistic
    )
    # No force at all: no trend, 0 (where MLIP Arena's value is undefined).
    assert repulsion_spearman(r, np.zeros(11), energy) == 0.0


class ForcelessEMT(WrappedEMT):
    """EMT energies, zero forces: MLIP Arena's force Spearman is undefined on its curve."""

    def perturb(self, forces: np.ndarray) -> np.ndarray:
        return np.zeros_like(forces)


def test_a_model_without_forces_still_gets_a_force_spearman() -> None:
    values = metrics(run_diatomics(bulk("Cu"), ForcelessEMT(), DiatomicsParams()))
    assert values["spearman_repulsion_force"] == 0.0
    assert values["flag_force_energy_inconsistent"] == 1.0


def test_energy_discontinuity_of_analytic_curves() -> None:
    r = np.linspace(0.5, 6.0, 111)
    wall = np.exp(-8 * r) * 1e4  # a very steep smooth wall: steps rise monotonically
    assert energy_discontinuity(wall) == 0.0
    jumped = wall + np.where(r > 3.0, 5.0, 0.0)
    assert energy_discontinuity(jumped) == pytest.approx(5.0, rel=1e-3)
