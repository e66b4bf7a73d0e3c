"""The s22 benchmark and the S22 structure set, against analytic toy models and the chemistry."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.neighborlist import build_neighbor_list, natural_cutoffs
from scipy.sparse.csgraph import connected_components

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.s22 import S22Params, run_s22
from workers.reference_data import s22_references
from workers.reference_s22 import s22_structures


class PerAtomConstant(Calculator):
    """E = sum of a constant per element: no interaction, so E_int is exactly zero."""

    implemented_properties = ["energy", "forces"]  # noqa: RUF012

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        energy = float(np.sum(self.value * self.atoms.numbers))
        self.results = {"energy": energy, "forces": np.zeros((len(self.atoms), 3))}


class PairExponential(Calculator):
    """E = sign * sum over pairs of exp(-r / 1 Å): every pair attracts (sign -1) or repels
    (sign +1), so the interaction energy of any complex has exactly that sign."""

    implemented_properties = ["energy", "forces"]  # noqa: RUF012

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.sign = sign

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        d = self.atoms.get_all_distances()
        pairs = np.triu(np.exp(-d), k=1)
        self.results = {
            "energy": float(self.sign * pairs.sum()),
            "forces": np.zeros((len(self.atoms), 3)),
        }


class NaNCalculator(PerAtomConstant):
    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        self.results["energy"] = float("nan")


@pytest.fixture(scope="module")
def structures() -> dict[str, Atoms]:
    return {record.label: record.atoms for record in s22_structures()}


def test_the_set_has_22_complexes_named_like_the_references(structures: dict) -> None:
    records = s22_structures()
    assert len(records) == 22
    assert all(r.label == r.material == r.atoms.info["s22"] for r in records)
    assert {r.material for r in records} == {ref.material for ref in s22_references()}
    water = structures["Water_dimer"]
    assert water.get_chemical_formula() == "H4O2"
    assert (water.info["monomer_a"], water.info["monomer_b"]) == (3, 3)
    assert water[:3].get_chemical_formula() == "H2O"
    assert structures["Benzene-water_complex"].info["monomer_b"] == 3
    pair = structures["Adenine-thymine_Watson-Crick_complex"]
    # Adenine C5H5N5 (15 atoms) with thymine C5H6N2O2 (15 atoms).
    assert pair[:15].get_chemical_formula() == "C5H5N5"
    assert pair[15:].get_chemical_formula() == "C5H6N2O2"


def test_monomer_split_matches_the_covalent_bonds(structures: dict) -> None:
    # Bonded by covalent radii, each complex falls into exactly two molecules: A then B.
    for name, atoms in structures.items():
        bonds = build_neighbor_list(atoms, natural_cutoffs(atoms), self_interaction=False)
        n, labels = connected_components(bonds.get_connectivity_matrix())
        n_a = atoms.info["monomer_a"]
        assert n == 2, name
        assert len(set(labels[:n_a])) == len(set(labels[n_a:])) == 1, name
        assert n_a + atoms.info["monomer_b"] == len(atoms)


def test_no_interaction_gives_exactly_zero(structures: dict) -> None:
    atoms = structures["Adenine-thymine_complex_stack"]
    result = run_s22(atoms, PerAtomConstant(-1.25), S22Params())
    assert result.interaction_energy_ev == pytest.approx(0.0, abs=1e-10)
    assert result.dimer_energy_ev == pytest.approx(-1.25 * atoms.numbers.sum())
    assert (result.n_atoms_a, result.n_atoms_b) == (15, 15)


def test_lennard_jones_pair_gives_the_pair_energy() -> None:
    sigma, epsilon, rc, r = 3.4, 0.0104, 20.0, 4.0
    atoms = Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]], info={"monomer_a": 1})

    def lj(x: float) -> float:
        return 4 * epsilon * ((sigma / x) ** 12 - (sigma / x) ** 6)

    result = run_s22(atoms, LennardJones(sigma=sigma, epsilon=epsilon, rc=rc), S22Params())
    # A lone atom has no pair: E(A) = E(B) = 0, and ASE shifts the pair by -LJ(rc).
    assert result.monomer_a_energy_ev == 0.0
    assert result.interaction_energy_ev == pytest.approx(lj(r) - lj(rc), rel=1e-12)
    assert result.system == "Ar2"


def test_emt_water_dimer_is_finite_and_reported_against_the_reference(structures: dict) -> None:
    atoms = structures["Water_dimer"]
    before = atoms.copy()
    result = run_s22(atoms, EMT(), S22Params())
    assert np.isfinite(result.interaction_energy_ev)
    assert atoms == before
    assert atoms.calc is None
    metric, wrong_sign = result.metrics()
    assert (metric.name, metric.unit, metric.compare_to_reference) == (
        "interaction_energy",
        "eV",
        True,
    )
    assert metric.value == result.interaction_energy_ev
    assert (wrong_sign.name, wrong_sign.unit, wrong_sign.compare_to_reference) == (
        "wrong_sign",
        "1",
        False,
    )
    assert wrong_sign.value == float(result.interaction_energy_ev >= 0)  # the reference binds
    assert result.reference_interaction_energy_ev == pytest.approx(-0.2177, abs=1e-3)
    assert result.system == "Water_dimer"
    assert result.series() == ()


@pytest.mark.parametrize(("sign", "fraction"), [(-1.0, 0.0), (1.0, 1.0)])
def test_wrong_sign_fraction_over_the_set_trips_when_signs_flip(
    structures: dict, sign: float, fraction: float
) -> None:
    # Every S22 complex is bound (negative CCSD(T)/CBS energy): a purely attractive model has
    # every sign right, the same model with the sign flipped has every sign wrong.
    flags = []
    for atoms in structures.values():
        result = run_s22(atoms, PairExponential(sign), S22Params())
        assert np.sign(result.interaction_energy_ev) == sign
        metrics = {m.name: m.value for m in result.metrics()}
        flags.append(metrics["wrong_sign"])
    assert set(flags) <= {0.0, 1.0}
    assert np.mean(flags) == fraction  # what a board's mean of the per-run metric shows


def test_no_interaction_is_the_wrong_sign_and_other_complexes_have_no_flag(
    structures: dict,
) -> None:
    # Zero is not bound: a model that sees no interaction misses every S22 complex.
    unbound = run_s22(structures["Water_dimer"], PerAtomConstant(-1.0), S22Params())
    assert {m.name: m.value for m in unbound.metrics()}["wrong_sign"] == 1.0
    # A complex that is not an S22 system has no reference, so no wrong_sign either.
    pair = Atoms("Ar2", positions=[[0, 0, 0], [4.0, 0, 0]], info={"monomer_a": 1})
    result = run_s22(pair, PairExponential(-1.0), S22Params())
    assert result.wrong_sign is None
    assert [m.name for m in result.metrics()] == ["interaction_energy"]


def test_monomer_size_is_read_from_the_s22_name(structures: dict) -> None:
    atoms = structures["Benzene-HCN_complex"].copy()
    del atoms.info["monomer_a"], atoms.info["monomer_b"]
    derived = run_s22(atoms, EMT(), S22Params())
    assert (derived.n_atoms_a, derived.n_atoms_b) == (12, 3)
    assert derived == run_s22(structures["Benzene-HCN_complex"], EMT(), S22Params())


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({}, "monomer_a"),
        ({"s22": "Water_trimer"}, "not an S22 system"),
        ({"monomer_a": 0}, "between 1 and 5"),
        ({"monomer_a": 6}, "between 1 and 5"),
        ({"monomer_a": 3, "monomer_b": 2}, "3 \\+ 2 atoms"),
    ],
)
def test_unknown_split_is_a_setup_error(structures: dict, info: dict, message: str) -> None:
    atoms = structures["Water_dimer"].copy()
    atoms.info = info
    with pytest.raises(BenchmarkSetupError, match=message):
        run_s22(atoms, EMT(), S22Params())


def test_non_finite_energy_is_nan_or_inf(structures: dict) -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_s22(structures["Water_dimer"], NaNCalculator(0.0), S22Params())
    assert info.value.failure_class == FailureClass.NAN_OR_INF


def test_registered_with_defaults() -> None:
    spec = get_benchmark("s22")
    assert spec.version == "1.1"  # 1.1: wrong_sign
    assert [h.name for h in spec.headline] == ["interaction_energy", "wrong_sign"]
    assert spec.default_params() == {"vacuum_a": 10.0}
    with pytest.raises(ValueError, match="vacuum_a"):
        spec.make_params({"vacuum_a": 1.0})
