"""The relax benchmark: strained, rattled crystals relax back to the model's own lattice."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.calculators.emt import EMT

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from tests.workers.controls import ConstantForceEMT, NaNCalculator, NoisyEMT, TwistedEMT
from workers.adapters.baselines import baseline_models
from workers.adapters.registry import load_all, make_calculator
from workers.benchmarks._checks import SYMMETRY_TOLERANCE_EV_A
from workers.benchmarks.base import BENCHMARKS
from workers.benchmarks.relax import RelaxParams, run_relax

load_all()


@pytest.fixture(scope="module")
def lj() -> Calculator:
    model = next(m for m in baseline_models() if m.name == "LJ-exp-fit")
    return make_calculator(model.spec())


def metrics(result: object) -> dict[str, float]:
    return {m.name: m.value for m in result.metrics()}  # type: ignore[attr-defined]


def test_emt_copper_relaxes_back_to_emt_lattice_and_keeps_fcc() -> None:
    atoms = bulk("Cu", "fcc", a=3.61)
    before = atoms.copy()
    result = run_relax(atoms, EMT(), RelaxParams())
    m = metrics(result)
    # ASE's EMT Cu: a0 = 3.59 Å (ase.eos documentation), not the experimental 3.61 Å.
    assert m["lattice_constant_a"] == pytest.approx(3.59, abs=0.01)
    assert m["volume_per_atom"] == pytest.approx(3.59**3 / 4, rel=0.01)
    assert m["volume_error_vs_input"] == pytest.approx(100 * ((3.59 / 3.61) ** 3 - 1), abs=0.8)
    assert m["converged"] == 1.0
    assert 0 < m["steps"] < 500
    assert result.reference_space_group == 225  # Fm-3m
    assert [run.space_group for run in result.runs] == [225, 225, 225]
    assert m["space_group_kept"] == 1.0
    assert m["flag_space_group_lost"] == 0.0
    assert m["rmsd"] < 0.02
    assert "c_over_a" not in m
    assert atoms == before
    assert atoms.calc is None
    compared = {x.name for x in result.metrics() if x.compare_to_reference}
    assert compared == {"lattice_constant_a", "volume_per_atom"}
    assert len(result.series()) == 6  # energy and fmax per seed


def test_strict_variant_reaches_the_emt_minimum() -> None:
    result = run_relax(bulk("Cu"), EMT(), RelaxParams(fmax=0.001, seeds=(0,), supercell=1))
    m = metrics(result)
    assert m["lattice_constant_a"] == pytest.approx(3.59, abs=0.002)
    assert result.runs[0].trace.fmax_ev_per_a[-1] < 0.001


def test_lj_fit_relaxes_back_to_the_experimental_lattice_from_compression(
    lj: Calculator,
) -> None:
    # LJ-exp-fit places the minimum of the uniformly scaled crystal at a = 3.61 Å (Cu).
    result = run_relax(bulk("Cu"), lj, RelaxParams(strain=-0.03, fmax=0.005, seeds=(0, 1)))
    assert metrics(result)["lattice_constant_a"] == pytest.approx(3.61, abs=0.003)


def test_hcp_reports_a_and_the_ideal_pair_potential_c_over_a(lj: Calculator) -> None:
    result = run_relax(bulk("Mg"), lj, RelaxParams(fmax=0.01, seeds=(0,), supercell=1))
    m = metrics(result)
    # A pair potential relaxes hcp to (nearly) ideal close packing, c/a = sqrt(8/3).
    assert m["c_over_a"] == pytest.approx(np.sqrt(8 / 3), rel=0.003)
    assert m["lattice_constant_a"] == pytest.approx(3.21, rel=0.005)
    assert result.reference_space_group == 194  # P6_3/mmc


def test_same_seed_same_path() -> None:
    params = RelaxParams(seeds=(3,), supercell=1)
    first, second = run_relax(bulk("Al"), EMT(), params), run_relax(bulk("Al"), EMT(), params)
    assert first.runs[0].trace == second.runs[0].trace


def test_no_convergence_is_a_failure_with_the_traces() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_relax(bulk("Cu"), EMT(), RelaxParams(max_steps=3, seeds=(0, 1)))
    assert info.value.failure_class == FailureClass.NO_CONVERGENCE
    names = [s.name for s in info.value.series]
    assert names == [
        "relax_energy_seed0",
        "relax_fmax_seed0",
        "relax_energy_seed1",
        "relax_fmax_seed1",
    ]
    assert len(info.value.series[0].x) == 4  # the start and three steps


def test_nan_is_nan_or_inf() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_relax(bulk("Cu"), NaNCalculator(), RelaxParams(seeds=(0,)))
    assert info.value.failure_class == FailureClass.NAN_OR_INF


def test_molecule_is_a_setup_error() -> None:
    with pytest.raises(BenchmarkSetupError):
        run_relax(Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.2]]), EMT(), RelaxParams())


@pytest.mark.parametrize(
    "overrides",
    [{"supercell": 0}, {"strain": 0.3}, {"fmax": 0.0}, {"seeds": ()}, {"symprec": -1.0}],
)
def test_params_validation(overrides: dict) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        RelaxParams(**overrides)


def test_registered_with_defaults() -> None:
    spec = BENCHMARKS["relax"]
    assert spec.version == "1.1"
    defaults = spec.default_params()
    assert defaults["fmax"] == 0.05
    assert defaults["strain"] == 0.03
    assert defaults["max_steps"] == 500
    assert defaults["seeds"] == [0, 1, 2]
    assert spec.make_params({"fmax": 0.001}) == RelaxParams(fmax=0.001)


ONE_SEED = RelaxParams(seeds=(0,))


def test_emt_passes_the_force_checks_along_the_relaxation() -> None:
    m = metrics(run_relax(bulk("Cu", "fcc", a=3.61), EMT(), ONE_SEED))
    assert m["relaxation_net_force"] < 1e-10
    assert m["relaxation_symmetry_force_deviation"] < 1e-8
    assert m["flag_relaxation_net_force"] == m["flag_relaxation_symmetry_violation"] == 0.0


def test_a_swirl_of_forces_is_caught_on_the_relaxed_structure_only() -> None:
    # On the one-atom input the swirl vanishes (no atom is off the centre), so the input checks
    # see nothing; the relaxed 8-atom supercell, symmetrized, shows equivalent atoms pushed
    # differently. Momentum is conserved throughout.
    m = metrics(run_relax(bulk("Cu", "fcc", a=3.61), TwistedEMT(0.01), ONE_SEED))
    assert m["converged"] == 1.0
    assert m["flag_symmetry_violation"] == 0.0
    assert m["flag_relaxation_net_force"] == 0.0
    assert m["relaxation_symmetry_force_deviation"] > 10 * SYMMETRY_TOLERANCE_EV_A
    assert m["flag_relaxation_symmetry_violation"] == 1.0


def test_a_constant_force_is_caught_on_the_rattled_start_and_the_relaxed_structure() -> None:
    # 0.02 eV/Å on every atom is below fmax (0.05 eV/Å), so the relaxation converges, but
    # the forces sum to 0.02 eV/Å per atom everywhere along it.
    calc = ConstantForceEMT(np.array([0.0, 0.02, 0.0]))
    m = metrics(run_relax(bulk("Cu", "fcc", a=3.61), calc, ONE_SEED))
    assert m["converged"] == 1.0
    assert m["relaxation_net_force"] == pytest.approx(0.02, rel=1e-9)
    assert m["flag_relaxation_net_force"] == 1.0


def test_noisy_forces_prevent_convergence_and_symmetry_breaking_is_named() -> None:
    # Force noise of 0.1 eV/Å per component keeps fmax above 0.05 eV/Å at every step.
    with pytest.raises(BenchmarkFailed) as info:
        run_relax(bulk("Cu", "fcc", a=3.61), NoisyEMT(0.1), RelaxParams(seeds=(0,), max_steps=30))
    assert info.value.failure_class == FailureClass.NO_CONVERGENCE
    assert "symmetry breaking is the likely cause" in str(info.value)


def test_emt_non_convergence_names_no_force_check() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_relax(bulk("Cu"), EMT(), RelaxParams(max_steps=3, seeds=(0,)))
    assert str(info.value) == "seed(s) [0] did not reach fmax 0.05 eV/Å in 3 steps"
