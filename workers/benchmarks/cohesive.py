"""Cohesive energy: E(isolated atoms) - E(bulk), per atom, against Kittel's experiment.

The isolated atom is one atom alone in a large non-periodic box; the bulk energy is taken
at the input (experimental) geometry and after relaxing the cell and positions with FIRE on
``ase.filters.FrechetCellFilter``. The relaxed value is the headline ``cohesive_energy``,
since Kittel's cohesive energies are those of the equilibrium crystal.

What the number means depends on the model's energy zero. It is physical only if the model's
isolated-atom energy is the free atom's:
- fitted Lennard-Jones/Morse pair potentials: the free atom has E = 0, and the well depth is
  fitted to Kittel's value, so they reproduce it by construction;
- ASE's EMT: energies are measured from the fcc crystal at equilibrium, and the isolated atom
  has E = -E0, minus EMT's fitted cohesive-energy parameter (Cu: E0 = -3.51 eV, Jacobsen,
  Stoltze and Nørskov, Surf. Sci. 366, 394 (1996)), so EMT's cohesive energy is its fitted
  -E0;
- MLIPs: the isolated-atom energy is whatever the model extrapolates to for a lone atom (for
  MACE-type models the per-element reference energy E0s, for others a fitted composition
  model); a poor value here shows a model that has never seen isolated atoms.

No quality flag marks that extrapolation: an ASE calculator cannot tell whether its model saw
isolated atoms in training (that is in the model card's training data, not in the
calculator), so the benchmark's description says it instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._relaxation import minimize
from workers.benchmarks.base import (
    Headline,
    MetricValue,
    Observer,
    SeriesData,
    finite,
    notify,
    register_benchmark,
)


@dataclass(frozen=True, slots=True)
class CohesiveParams:
    """Parameters of the cohesive protocol.

    Parameters
    ----------
    box_a
        Edge of the cubic, non-periodic box holding the isolated atom (Å, at least 10).
    fmax
        Force (and virial per atom) threshold of the bulk relaxation (eV/Å).
    max_steps
        Largest number of FIRE steps of the bulk relaxation.
    """

    box_a: float = 20.0
    fmax: float = 0.005
    max_steps: int = 300

    def __post_init__(self) -> None:
        if self.box_a < 10.0:
            raise ValueError(f"box_a must be at least 10 Å, got {self.box_a}")
        if self.fmax <= 0 or self.max_steps < 1:
            raise ValueError("fmax and max_steps must be positive")


@dataclass(frozen=True, slots=True)
class CohesiveResult:
    """Isolated-atom and bulk energies and the cohesive energies (positive: bound).

    Parameters
    ----------
    atom_energies_ev
        (symbol, energy in eV) of each element's isolated atom.
    bulk_energy_input_ev_per_atom, bulk_energy_relaxed_ev_per_atom
        Bulk energy at the input geometry and after relaxation (eV/atom).
    isolated_energy_ev_per_atom
        Composition-weighted isolated-atom energy (eV/atom).
    relaxed_volume_a3_per_atom
        Volume of the relaxed bulk (Å³/atom).
    relaxation_steps
        FIRE steps of the bulk relaxation.
    """

    atom_energies_ev: tuple[tuple[str, float], ...]
    bulk_energy_input_ev_per_atom: float
    bulk_energy_relaxed_ev_per_atom: float
    isolated_energy_ev_per_atom: float
    relaxed_volume_a3_per_atom: float
    relaxation_steps: int

    @property
    def cohesive_energy_ev(self) -> float:
        """E(atoms) - E(relaxed bulk), per atom (eV/atom)."""
        return self.isolated_energy_ev_per_atom - self.bulk_energy_relaxed_ev_per_atom

    @property
    def cohesive_energy_input_ev(self) -> float:
        """E(atoms) - E(bulk at the input geometry), per atom (eV/atom)."""
        return self.isolated_energy_ev_per_atom - self.bulk_energy_input_ev_per_atom

    def metrics(self) -> tuple[MetricValue, ...]:
        """Cohesive energies (relaxed one vs Kittel), the energies they come from."""
        atoms = tuple(
            MetricValue(f"energy_isolated_atom_{symbol}", energy, "eV")
            for symbol, energy in self.atom_energies_ev
        )
        return finite(
            MetricValue("cohesive_energy", self.cohesive_energy_ev, "eV/atom", True),
            MetricValue(
                "cohesive_energy_at_input_geometry", self.cohesive_energy_input_ev, "eV/atom"
            ),
            MetricValue(
                "energy_per_atom_bulk_relaxed", self.bulk_energy_relaxed_ev_per_atom, "eV/atom"
            ),
            MetricValue(
                "energy_per_atom_bulk_input", self.bulk_energy_input_ev_per_atom, "eV/atom"
            ),
            MetricValue(
                "relaxation_energy",
                self.bulk_energy_input_ev_per_atom - self.bulk_energy_relaxed_ev_per_atom,
                "eV/atom",
            ),
            MetricValue("volume_per_atom_relaxed", self.relaxed_volume_a3_per_atom, "Å³/atom"),
            MetricValue("relaxation_steps", float(self.relaxation_steps), "1"),
            *atoms,
        )

    def series(self) -> tuple[SeriesData, ...]:
        """No curves: the relaxation trace is kept only when it fails."""
        return ()


@register_benchmark(
    "cohesive",
    version="1.0",
    params=CohesiveParams,
    description=(
        "E(isolated atom in a 20 Å non-periodic box) - E(bulk)/atom, with the bulk relaxed "
        "(FIRE + FrechetCellFilter to 0.005 eV/Å) and at the experimental geometry. Note: "
        "for most MLIPs the isolated atom is an extrapolation (their training data hold no "
        "lone atoms), so an error here may be the free atom's, not the crystal's."
    ),
    headline=(Headline("cohesive_energy", "E_coh", "eV/atom"),),
)
def run_cohesive(
    atoms: Atoms, calc: Calculator, params: CohesiveParams, *, observer: Observer | None = None
) -> CohesiveResult:
    """Cohesive energy of the crystal ``atoms`` from the model's own isolated atoms.

    Parameters
    ----------
    atoms
        Periodic crystal (lengths in Å), e.g. at its experimental geometry; not modified.
    calc
        ASE calculator giving energies (eV), forces (eV/Å) and stress (eV/Å³); it must handle
        a non-periodic single atom.
    params
        Box size of the isolated atom and the bulk relaxation's fmax and step limit.
    observer
        Called with ("cohesive", fraction done); may raise RunCancelled.

    Returns
    -------
    CohesiveResult
        Energies (eV, eV/atom) and cohesive energies (eV/atom) at both bulk geometries.

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not periodic in three dimensions.
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite energy; ``no_convergence`` (with the energy/fmax
        trace) when the bulk relaxation does not converge.
    """
    if not atoms.pbc.all() or atoms.cell.rank != 3:
        raise BenchmarkSetupError("cohesive needs a structure periodic in three dimensions")
    symbols = sorted(set(atoms.get_chemical_symbols()))
    atom_energies = {}
    for i, symbol in enumerate(symbols):
        atom = Atoms(symbol, cell=[params.box_a] * 3, pbc=False)
        atom.center()
        atom_energies[symbol] = _energy(atom, calc, f"isolated {symbol} atom")
        notify(observer, "cohesive", 0.2 * (i + 1) / len(symbols))
    isolated = sum(atom_energies[s] for s in atoms.get_chemical_symbols()) / len(atoms)
    bulk = atoms.copy()
    e_input = _energy(bulk, calc, "bulk at the input geometry") / len(atoms)
    trace = minimize(bulk, fmax=params.fmax, max_steps=params.max_steps, relax_cell=True,
                     observer=observer, stage="cohesive", window=(0.2, 0.8))  # fmt: skip
    if not trace.converged:
        raise BenchmarkFailed(
            f"bulk relaxation did not reach fmax {params.fmax} eV/Å in {params.max_steps} steps",
            failure_class=FailureClass.NO_CONVERGENCE,
            series=trace.series(),
        )
    return CohesiveResult(
        atom_energies_ev=tuple(atom_energies.items()),
        bulk_energy_input_ev_per_atom=e_input,
        bulk_energy_relaxed_ev_per_atom=float(bulk.get_potential_energy()) / len(atoms),
        isolated_energy_ev_per_atom=float(isolated),
        relaxed_volume_a3_per_atom=float(bulk.get_volume()) / len(atoms),
        relaxation_steps=trace.steps,
    )


def _energy(atoms: Atoms, calc: Calculator, what: str) -> float:
    """Energy of ``atoms`` (calculator attached here) in eV; non-finite raises nan_or_inf."""
    atoms.calc = calc
    energy = float(atoms.get_potential_energy())
    if not np.isfinite(energy):
        raise BenchmarkFailed(
            f"non-finite energy {energy} for the {what}", failure_class=FailureClass.NAN_OR_INF
        )
    return energy
