"""Net-force and symmetry checks of a model's forces (workers.benchmarks._checks)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from workers.benchmarks._checks import (
    NET_FORCE_TOLERANCE_EV_A,
    SYMMETRY_TOLERANCE_EV_A,
    ForceChecks,
    check_forces,
    symmetry_force_deviation,
)
from workers.errors import BenchmarkFailed, FailureClass


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
