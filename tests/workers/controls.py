"""Control calculators shared by the benchmark tests: models that fail in known ways.

- ``NaNCalculator``: NaN energy on every call;
- ``WrappedEMT``: EMT, with its forces passed through ``perturb`` (identity here);
- ``NoisyEMT``: EMT with seeded Gaussian force noise (forces no longer a gradient);
- ``NaNAfter``: EMT for ``k`` calls, then NaN energies, forces and stress.
"""

from __future__ import annotations

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
