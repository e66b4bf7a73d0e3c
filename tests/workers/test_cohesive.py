"""The cohesive benchmark against what each model's energy zero implies."""

from __future__ import annotations

import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT, parameters
from ase.data import atomic_numbers
from ase.data.cohesive_energies import cohesive_energy

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from tests.workers.controls import NaNCalculator
from workers.adapters.baselines import baseline_models
from workers.adapters.registry import load_all, make_calculator
from workers.benchmarks.base import BENCHMARKS
from workers.benchmarks.cohesive import CohesiveParams, run_cohesive

load_all()


def metrics(result: object) -> dict[str, float]:
    return {m.name: m.value for m in result.metrics()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("symbol", ["Cu", "Au"])
def test_emt_cohesive_energy_is_its_fitted_e0(symbol: str) -> None:
    # EMT measures energies from the fcc crystal at equilibrium: the isolated atom has
    # E = -E0, EMT's cohesive-energy parameter (Cu: -3.51 eV; Jacobsen et al. 1996).
    e0 = parameters[symbol][0]
    atoms = bulk(symbol)
    before = atoms.copy()
    result = run_cohesive(atoms, EMT(), CohesiveParams())
    m = metrics(result)
    assert m[f"energy_isolated_atom_{symbol}"] == pytest.approx(-e0, abs=1e-6)
    assert m["cohesive_energy"] == pytest.approx(-e0, abs=0.02)
    # Relaxing can only lower the bulk energy, so it can only raise the cohesive energy.
    assert m["cohesive_energy"] >= m["cohesive_energy_at_input_geometry"]
    assert m["relaxation_energy"] >= 0
    assert atoms == before
    assert atoms.calc is None


def test_emt_copper_relaxed_volume_is_emt_s_own() -> None:
    m = metrics(run_cohesive(bulk("Cu"), EMT(), CohesiveParams()))
    assert m["volume_per_atom_relaxed"] == pytest.approx(3.59**3 / 4, rel=0.01)
    assert m["cohesive_energy"] == pytest.approx(3.51, abs=0.02)  # Kittel: 3.49 eV


@pytest.mark.parametrize("name", ["LJ-exp-fit", "Morse-GW-exp-fit"])
def test_fitted_pair_potentials_reproduce_kittel(name: str) -> None:
    # The well depth is fitted to Kittel's cohesive energy at the experimental geometry and
    # the free atom has E = 0: the benchmark must return exactly that number.
    model = next(m for m in baseline_models() if m.name == name)
    calc = make_calculator(model.spec())
    for symbol in ("Cu", "Al"):
        m = metrics(run_cohesive(bulk(symbol), calc, CohesiveParams()))
        kittel = cohesive_energy[atomic_numbers[symbol]]
        assert m[f"energy_isolated_atom_{symbol}"] == 0.0
        assert m["cohesive_energy_at_input_geometry"] == pytest.approx(kittel, abs=1e-6)
        assert m["cohesive_energy"] == pytest.approx(kittel, abs=0.002)
    assert kittel == pytest.approx(3.39)


def test_metric_names_and_reference_comparison() -> None:
    result = run_cohesive(bulk("Al"), EMT(), CohesiveParams())
    compared = [m.name for m in result.metrics() if m.compare_to_reference]
    assert compared == ["cohesive_energy"]
    units = {m.name: m.unit for m in result.metrics()}
    assert units["cohesive_energy"] == "eV/atom"
    assert units["energy_isolated_atom_Al"] == "eV"


def test_nan_is_nan_or_inf() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_cohesive(bulk("Cu"), NaNCalculator(), CohesiveParams())
    assert info.value.failure_class == FailureClass.NAN_OR_INF


def test_no_convergence_keeps_the_trace() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_cohesive(bulk("Cu", a=3.8), EMT(), CohesiveParams(max_steps=2))
    assert info.value.failure_class == FailureClass.NO_CONVERGENCE
    assert [s.name for s in info.value.series] == ["relax_energy", "relax_fmax"]


def test_molecule_is_a_setup_error() -> None:
    with pytest.raises(BenchmarkSetupError):
        run_cohesive(Atoms("Cu"), EMT(), CohesiveParams())


def test_registered_with_defaults() -> None:
    spec = BENCHMARKS["cohesive"]
    assert spec.version == "1.0"
    assert spec.default_params() == {"box_a": 20.0, "fmax": 0.005, "max_steps": 300}
    with pytest.raises(ValueError, match="box_a"):
        CohesiveParams(box_a=5.0)
