"""S22: interaction energies of non-covalent complexes against CCSD(T)/CBS.

The interaction energy of a complex AB at its fixed reference geometry is
E(AB) - E(A) - E(B), with the monomers kept at their geometry in the complex (as in the
CCSD(T)/CBS reference of Jurečka et al., 2006, bundled in ``ase.data.s22``). All three are
computed in the same non-periodic box. The mean absolute error over the set is the
leaderboard's aggregate of the per-complex metric, not computed here.

``wrong_sign`` (version 1.1) is 1.0 when the interaction energy does not have the sign of the
CCSD(T)/CBS reference (all S22 complexes are bound, so: zero or repulsive), else 0.0; one run
is one complex, so a board's mean of it is the fraction of complexes of the wrong sign. An
MAE can hide that: a model can be close in eV and still not bind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
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
class S22Params:
    """Parameters of the s22 protocol.

    Parameters
    ----------
    vacuum_a
        Vacuum around the complex on each side of its (non-periodic) box (Å).
    """

    vacuum_a: float = 10.0

    def __post_init__(self) -> None:
        if self.vacuum_a < 2.0:
            raise ValueError(f"vacuum_a must be at least 2 Å, got {self.vacuum_a}")


@dataclass(frozen=True, slots=True)
class S22Result:
    """Energies of one complex and of its two monomers (eV).

    Parameters
    ----------
    system
        S22 system name (the reference's material), or the formula of another complex.
    n_atoms_a, n_atoms_b
        Numbers of atoms of monomer A (the first atoms) and monomer B (the rest).
    dimer_energy_ev, monomer_a_energy_ev, monomer_b_energy_ev
        Total energies of the complex and of each monomer at its geometry in the complex (eV).
    interaction_energy_ev
        E(AB) - E(A) - E(B) (eV); negative for a bound complex.
    reference_interaction_energy_ev
        CCSD(T)/CBS interaction energy of the S22 system (eV); None for another complex.
    """

    system: str
    n_atoms_a: int
    n_atoms_b: int
    dimer_energy_ev: float
    monomer_a_energy_ev: float
    monomer_b_energy_ev: float
    interaction_energy_ev: float
    reference_interaction_energy_ev: float | None = None

    @property
    def wrong_sign(self) -> bool | None:
        """Whether the interaction energy lacks the reference's sign (a zero one too); None
        without a reference."""
        reference = self.reference_interaction_energy_ev
        if reference is None:
            return None
        return not self.interaction_energy_ev * reference > 0

    def metrics(self) -> tuple[MetricValue, ...]:
        """The interaction energy (compared with the CCSD(T)/CBS reference) and, for an S22
        complex, ``wrong_sign`` (1.0 or 0.0)."""
        wrong = self.wrong_sign
        return finite(
            MetricValue("interaction_energy", self.interaction_energy_ev, "eV", True),
            *(() if wrong is None else (MetricValue("wrong_sign", float(wrong), "1"),)),
        )

    def series(self) -> tuple[SeriesData, ...]:
        """No curve: one number per complex."""
        return ()


@register_benchmark(
    "s22",
    version="1.1",
    params=S22Params,
    description=(
        "Interaction energy E(AB) - E(A) - E(B) of an S22 complex at its reference geometry "
        "(monomers frozen), non-periodic; vs CCSD(T)/CBS. wrong_sign: 1 when it does not have "
        "the reference's sign (its mean over the set is the fraction of wrong signs)."
    ),
    headline=(
        Headline("interaction_energy", "E_int", "eV"),
        Headline("wrong_sign", "wrong sign", "1"),
    ),
)
def run_s22(
    atoms: Atoms, calc: Calculator, params: S22Params, *, observer: Observer | None = None
) -> S22Result:
    """Interaction energy of the complex ``atoms`` between its two monomers.

    Parameters
    ----------
    atoms
        The complex (Å), monomer A first. ``atoms.info["monomer_a"]`` gives the number of
        atoms of monomer A; without it, ``atoms.info["s22"]`` names the S22 system whose
        ``"dimer atoms"`` entry in ``ase.data.s22`` gives it. Not modified.
    calc
        ASE calculator giving energies in eV.
    params
        The vacuum of the box.
    observer
        Called after each of the three energies with ("s22", fraction); may raise
        RunCancelled.

    Returns
    -------
    S22Result
        The three energies and the interaction energy (eV), with the CCSD(T)/CBS reference
        (eV) when ``atoms.info["s22"]`` names an S22 system.

    Raises
    ------
    BenchmarkSetupError
        If the monomer split is unknown or leaves a monomer empty.
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite energy.
    """
    name, n_a = _monomer_split(atoms)
    boxed = atoms.copy()
    boxed.calc = None
    boxed.pbc = False
    boxed.center(vacuum=params.vacuum_a)
    parts = {"complex": boxed, "monomer A": boxed[:n_a], "monomer B": boxed[n_a:]}
    energies = {}
    for i, (label, part) in enumerate(parts.items()):
        part.calc = calc
        energy = float(part.get_potential_energy())
        if not np.isfinite(energy):
            raise BenchmarkFailed(
                f"non-finite energy {energy} of the {label} of {name}",
                failure_class=FailureClass.NAN_OR_INF,
            )
        energies[label] = energy
        notify(observer, "s22", (i + 1) / len(parts))
    e_ab, e_a, e_b = energies["complex"], energies["monomer A"], energies["monomer B"]
    return S22Result(
        system=name,
        n_atoms_a=n_a,
        n_atoms_b=len(atoms) - n_a,
        dimer_energy_ev=e_ab,
        monomer_a_energy_ev=e_a,
        monomer_b_energy_ev=e_b,
        interaction_energy_ev=e_ab - e_a - e_b,
        reference_interaction_energy_ev=_reference(atoms),
    )


def _reference(atoms: Atoms) -> float | None:
    """CCSD(T)/CBS interaction energy (eV) of the S22 system ``atoms.info["s22"]`` names."""
    from ase.data import s22

    name = atoms.info.get("s22")
    return None if name not in s22.data else float(s22.get_interaction_energy_cc(name))


def _monomer_split(atoms: Atoms) -> tuple[str, int]:
    """(system name, number of atoms of monomer A) from ``atoms.info``."""
    name = str(atoms.info.get("s22", atoms.get_chemical_formula()))
    n_a = atoms.info.get("monomer_a")
    if n_a is None and "s22" in atoms.info:
        from ase.data import s22

        if name not in s22.data:
            raise BenchmarkSetupError(f"{name!r} is not an S22 system name")
        n_a = cast("dict[str, Any]", s22.data[name])["dimer atoms"][0]
    if n_a is None:
        raise BenchmarkSetupError(
            "s22 needs atoms.info['monomer_a'] (atoms of the first monomer) or "
            "atoms.info['s22'] (an S22 system name)"
        )
    n_a = int(n_a)
    if not 0 < n_a < len(atoms):
        raise BenchmarkSetupError(
            f"monomer A of {name} must have between 1 and {len(atoms) - 1} atoms, got {n_a}"
        )
    n_b = atoms.info.get("monomer_b")
    if n_b is not None and n_a + int(n_b) != len(atoms):
        raise BenchmarkSetupError(
            f"monomers of {name}: {n_a} + {n_b} atoms, but the complex has {len(atoms)}"
        )
    return name, n_a
