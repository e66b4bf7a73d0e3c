"""Control calculators shared by the benchmark tests: models that fail in known ways.

- ``NaNCalculator``: NaN energy on every call;
- ``WrappedEMT``: EMT, with its forces passed through ``perturb`` (identity here);
- ``NoisyEMT``: EMT with seeded Gaussian force noise (forces no longer a gradient);
- ``NaNAfter``: EMT for ``k`` calls, then NaN energies, forces and stress;
- ``ConstantForceEMT``: EMT plus the same force on every atom (net force, broken symmetry);
- ``TwistedEMT``: EMT plus a momentum-conserving swirl of forces (broken symmetry only);
- ``RippledEMT``: EMT plus an energy ripple in the volume (rough E(V));
- ``DimerTerm``: any calculator plus a pair term on dimers (a step, a ripple, a long tail).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT


class NaNCalculator(Calculator):
    implemented_properties = ["energy", "forces", "stress"]  # noqa: RUF012

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        n = len(self.atoms)
        self.results = {"energy": np.nan, "forces": np.zeros((n, 3)), "stress": np.zeros(6)}


class WrappedEMT(Calculator):
    """EMT energies (and stress when asked); forces from EMT passed through :meth:`perturb`."""

    implemented_properties = ["energy", "forces", "stress"]  # noqa: RUF012

    def __init__(self) -> None:
        super().__init__()
        self.emt = EMT()

    def perturb(self, forces: np.ndarray) -> np.ndarray:
        return forces

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        work = self.atoms.copy()
        work.calc = self.emt
        self.results = {
            "energy": work.get_potential_energy(),
            "forces": self.perturb(work.get_forces()),
        }
        if properties and "stress" in properties:
            self.results["stress"] = work.get_stress()


class NoisyEMT(WrappedEMT):
    """EMT with seeded Gaussian force noise of ``sigma`` eV/Å per component."""

    def __init__(self, sigma: float = 0.05, seed: int = 0) -> None:
        super().__init__()
        self.sigma = sigma
        self.rng = np.random.default_rng(seed)

    def perturb(self, forces: np.ndarray) -> np.ndarray:
        return forces + self.rng.normal(scale=self.sigma, size=forces.shape)


class NaNAfter(WrappedEMT):
    """EMT for the first ``k`` calls, NaN energies, forces and stress after."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k, self.calls = k, 0

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        self.calls += 1
        super().calculate(atoms, properties, system_changes)
        if self.calls > self.k:
            self.results = {name: value * np.nan for name, value in self.results.items()}


class ConstantForceEMT(WrappedEMT):
    """EMT plus the same force ``force`` (eV/Å, shape (3,)) on every atom: no momentum
    conservation (the net force is N x ``force``), and a force the site symmetry forbids."""

    def __init__(self, force: np.ndarray) -> None:
        super().__init__()
        self.force = np.asarray(force, dtype=float)

    def perturb(self, forces: np.ndarray) -> np.ndarray:
        return forces + self.force


class TwistedEMT(WrappedEMT):
    """EMT plus a swirl ``strength`` z x (r_i - r_mean) (eV/Å per Å): it sums to zero over the
    atoms (momentum is conserved) but is no function of the crystal's symmetry-invariant
    geometry, so equivalent atoms get different forces (symmetry is broken)."""

    def __init__(self, strength: float = 0.01) -> None:
        super().__init__()
        self.strength = strength

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        offset = self.atoms.positions - self.atoms.positions.mean(axis=0)
        swirl = np.cross([0.0, 0.0, 1.0], offset)
        self.results["forces"] = self.results["forces"] + self.strength * swirl


class RippledEMT(WrappedEMT):
    """EMT plus an energy ripple ``amplitude`` sin(2 pi v / ``period``) per atom (eV), with v
    the volume per atom (Å³): rough E(V) at fixed positions; forces are EMT's (the ripple does
    not depend on the positions at fixed cell)."""

    def __init__(self, amplitude: float, period: float) -> None:
        super().__init__()
        self.amplitude, self.period = amplitude, period

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        n = len(self.atoms)
        v = self.atoms.get_volume() / n
        self.results["energy"] += n * self.amplitude * np.sin(2 * np.pi * v / self.period)


class DimerTerm(Calculator):
    """``base``'s energy and forces plus a pair term e(r) (eV) between the two atoms of a dimer.

    ``term(r)`` returns (e, de/dr) in eV and eV/Å; the forces get -de/dr along the bond, so a
    smooth term stays force-energy consistent. Structures of other sizes get ``base`` alone.
    """

    implemented_properties = ["energy", "forces"]  # noqa: RUF012

    def __init__(self, base: Calculator, term: Callable[[float], tuple[float, float]]) -> None:
        super().__init__()
        self.base, self.term = base, term

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        work = self.atoms.copy()
        work.calc = self.base
        energy, forces = work.get_potential_energy(), work.get_forces().copy()
        if len(work) == 2:
            bond = work.positions[1] - work.positions[0]
            r = float(np.linalg.norm(bond))
            e, de_dr = self.term(r)
            energy += e
            forces[1] -= de_dr * bond / r
            forces[0] += de_dr * bond / r
        self.results = {"energy": energy, "forces": forces}
