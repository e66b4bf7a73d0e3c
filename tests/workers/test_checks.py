"""Net-force and symmetry checks of a model's forces (workers.benchmarks._checks)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from shared_kernel.failures import BenchmarkFailed, FailureClass
from workers.benchmarks._checks import (
    NET_FORCE_TOLERANCE_EV_A,
    SYMMETRY_TOLERANCE_EV_A,
    ForceChecks,
    check_forces,
    check_structures,
    check_symmetrized,
    symmetry_force_deviation,
    worst,
)


class PerturbedEMT(Calculator):
    """EMT energies; forces plus ``extra`` (eV/Å): (3,) on all atoms, (k > 1, 3) on the first k."""

    implemented_properties = ["energy", "forces"]  # noqa: RUF012

    def __init__(self, extra: np.ndarray | float) -> None:
        super().__init__()
        self.extra = extra

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        work = self.atoms.copy()
        work.calc = EMT()
        forces = work.get_forces()
        extra = np.atleast_2d(self.extra)
        forces[: len(extra) if len(extra) > 1 else None] += extra
        self.results = {"energy": work.get_potential_energy(), "forces": forces}


class EnergyOnly(Calculator):
    implemented_properties = ["energy"]  # noqa: RUF012

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        self.results = {"energy": 0.0}


def metrics(checks: ForceChecks | None) -> dict[str, float]:
    assert checks is not None
    return {m.name: m.value for m in checks.metrics()}


@pytest.mark.parametrize("atoms", [bulk("Cu", "fcc", a=3.61), bulk("Cu", cubic=True)])
def test_emt_conserves_momentum_and_respects_symmetry(atoms: Atoms) -> None:
    before = atoms.copy()
    m = metrics(check_forces(atoms, EMT()))
    assert m["net_force"] < 1e-12
    assert m["symmetry_force_deviation"] < 1e-12
    assert m["flag_net_force"] == m["flag_symmetry_violation"] == 0.0
    assert atoms == before
    assert atoms.calc is None


def test_symmetric_non_zero_forces_pass() -> None:
    # A slab in a periodic box (hexagonal, non-orthogonal cell): surface atoms feel large
    # forces that the symmetry operations (mirror / inversion through the middle layer) map
    # onto each other, so the check must rotate vectors correctly, not only compare zeros.
    slab = fcc111("Cu", size=(1, 1, 3), vacuum=5.0, periodic=True)
    slab.calc = EMT()
    forces = slab.get_forces()
    assert np.abs(forces).max() > 0.05
    deviation = symmetry_force_deviation(slab, forces)
    assert deviation is not None
    assert deviation < 1e-10
    flipped = forces.copy()
    flipped[0] *= -1  # a surface atom pushed the wrong way breaks the mirror symmetry
    deviation = symmetry_force_deviation(slab, flipped)
    assert deviation is not None
    assert deviation > 0.1


def test_constant_force_violates_momentum_conservation() -> None:
    shift = np.array([0.0, 0.003, 0.004])  # 5 meV/Å on every atom
    m = metrics(check_forces(bulk("Cu"), PerturbedEMT(shift)))
    assert m["net_force"] == pytest.approx(0.005)
    assert m["net_force"] > NET_FORCE_TOLERANCE_EV_A
    assert m["flag_net_force"] == 1.0
    # On the ideal crystal every force must vanish by symmetry: a uniform force is not invariant.
    assert m["flag_symmetry_violation"] == 1.0


def test_opposite_kicks_break_symmetry_but_conserve_momentum() -> None:
    kick = np.array([[0.01, 0.0, 0.0], [-0.01, 0.0, 0.0]])  # sums to zero; atoms 0, 1 equivalent
    m = metrics(check_forces(bulk("Cu", cubic=True), PerturbedEMT(kick)))
    assert m["net_force"] < 1e-12
    assert m["flag_net_force"] == 0.0
    assert m["symmetry_force_deviation"] == pytest.approx(0.02)
    assert m["symmetry_force_deviation"] > SYMMETRY_TOLERANCE_EV_A
    assert m["flag_symmetry_violation"] == 1.0


def test_no_forces_means_no_checks() -> None:
    assert check_forces(bulk("Cu"), EnergyOnly()) is None


def test_non_finite_forces_are_nan_or_inf() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        check_forces(bulk("Cu"), PerturbedEMT(np.nan))
    assert info.value.failure_class == FailureClass.NAN_OR_INF


def test_no_symmetry_leaves_the_symmetry_metrics_out() -> None:
    assert ForceChecks(0.0, None).metrics()[-1].name == "flag_net_force"


def sheared_hcp(j: int, strain: float = 0.02) -> Atoms:
    """Hexagonal close-packed Cu (2 atoms) under Voigt strain j, as the elastic benchmark does."""
    from workers.benchmarks.elastic import _strained

    return _strained(bulk("Cu", "hcp", a=2.55), j, strain)


@pytest.mark.parametrize("j", [0, 3, 5])
def test_strained_hcp_has_non_zero_forces_that_obey_its_symmetry(j: int) -> None:
    # hcp atoms are no inversion centres: a stretch or shear pushes them (tens of meV/Å at 2 %),
    # and spglib's lower symmetry of the strained cell still maps the two atoms onto each other.
    cell = sheared_hcp(j)
    cell.calc = EMT()
    forces = cell.get_forces()
    assert np.abs(forces).max() > 3e-3
    deviation = symmetry_force_deviation(cell, forces)
    assert deviation is not None
    assert deviation < 1e-10
    flipped = forces.copy()
    flipped[0] *= -1
    deviation = symmetry_force_deviation(cell, flipped)
    assert deviation is not None
    assert deviation == pytest.approx(2 * np.linalg.norm(forces[0]), rel=1e-6)


def test_check_structures_reports_the_worst_cell() -> None:
    cells = [sheared_hcp(j) for j in range(6)]
    clean = check_structures(cells, EMT())
    assert clean is not None
    assert clean.net_force_ev_a_per_atom < 1e-12
    assert clean.symmetry_force_deviation_ev_a is not None
    assert clean.symmetry_force_deviation_ev_a < 1e-10
    kick = np.array([[0.01, 0.0, 0.0], [-0.01, 0.0, 0.0]])  # zero sum; the two atoms equivalent
    kicked = check_structures(cells, PerturbedEMT(kick))
    assert kicked is not None
    assert kicked.net_force_ev_a_per_atom < 1e-12
    assert kicked.symmetry_violated
    assert not kicked.net_force_violated
    assert check_structures(cells, EnergyOnly()) is None
    unchecked = check_structures(cells, EMT(), symmetry=False)
    assert unchecked is not None
    assert unchecked.symmetry_force_deviation_ev_a is None


def test_worst_takes_the_largest_of_each_check() -> None:
    assert worst([None, None]) is None
    combined = worst([ForceChecks(0.1, None), None, ForceChecks(0.02, 0.3), ForceChecks(0.0, 0.1)])
    assert combined == ForceChecks(0.1, 0.3)
    assert worst([ForceChecks(0.1, None)]) == ForceChecks(0.1, None)


def test_symmetrized_relaxed_structure_is_checked_exactly() -> None:
    # A relaxed structure is symmetric only to its residual displacements (here 0.02 Å):
    # symmetrized at a loose tolerance, EMT's forces obey the fcc symmetry to round-off,
    # where on the raw structure they would differ by force constant x displacement.
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    atoms.positions += np.random.default_rng(1).normal(0.0, 0.02, (len(atoms), 3))
    raw = atoms.copy()
    raw.calc = EMT()
    assert np.abs(raw.get_forces()).max() > 0.01
    clean = check_symmetrized(atoms, EMT(), symprec=0.1)
    assert clean is not None
    assert clean.symmetry_force_deviation_ev_a is not None
    assert clean.symmetry_force_deviation_ev_a < 1e-10
    assert not clean.symmetry_violated
    kick = np.array([[0.01, 0.0, 0.0], [-0.01, 0.0, 0.0]])
    kicked = check_symmetrized(atoms, PerturbedEMT(kick), symprec=0.1)
    assert kicked is not None
    assert kicked.symmetry_force_deviation_ev_a == pytest.approx(0.02)
    # Too tight a tolerance finds no symmetry in the raw structure: nothing to test.
    unchecked = check_symmetrized(atoms, EMT(), symprec=1e-4)
    assert unchecked is not None
    assert unchecked.net_force_ev_a_per_atom < 1e-12
    assert unchecked.symmetry_force_deviation_ev_a is None


def test_prefixed_metrics_and_diagnosis() -> None:
    both = ForceChecks(0.01, 0.2)
    names = {m.name: m.value for m in both.metrics("relaxation_")}
    assert names == {
        "relaxation_net_force": 0.01,
        "flag_relaxation_net_force": 1.0,
        "relaxation_symmetry_force_deviation": 0.2,
        "flag_relaxation_symmetry_violation": 1.0,
    }
    assert "symmetry breaking is the likely cause" in both.diagnosis()
    assert "do not sum to zero" in both.diagnosis()
    assert ForceChecks(0.0, 0.0).diagnosis() == ""
    assert ForceChecks(0.0, None).diagnosis() == ""


def test_forces_already_computed_on_the_input_replace_its_call() -> None:
    atoms = bulk("Cu", cubic=True)
    atoms.positions[0] += [0.05, 0.02, 0.0]
    own = atoms.copy()
    own.calc = EMT()
    given = check_forces(atoms, EMT(), ideal_forces=own.get_forces())
    assert given == check_forces(atoms, EMT())
    ideal = bulk("Cu", cubic=True)
    kicked = np.zeros((len(ideal), 3))
    kicked[0] = [0.1, 0.0, 0.0]  # the given forces, not a call, decide the symmetry check
    assert metrics(check_forces(ideal, EMT(), ideal_forces=kicked))["flag_symmetry_violation"] == 1
    with pytest.raises(BenchmarkFailed) as failure:
        check_forces(atoms, EMT(), ideal_forces=np.full((len(atoms), 3), np.nan))
    assert failure.value.failure_class == FailureClass.NAN_OR_INF
