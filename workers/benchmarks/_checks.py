"""Physics checks of a model's forces that any benchmark on a periodic crystal can report.

Two exact properties of a physical potential energy surface, tested on the input crystal:

- **Conservation of momentum.** A model whose energy is invariant under a rigid translation
  has forces that sum to zero on a periodic cell, in *any* configuration. The check uses a
  rattled supercell (0.05 Å, seeded), where the individual forces are large (about 0.5 eV/Å
  for EMT Cu), so that a sum near zero is informative; on the ideal crystal every force may
  vanish by symmetry and the sum would say nothing. ``net_force`` is |sum_i F_i| / N
  (eV/Å per atom), flagged above 1e-3 eV/Å per atom: float32 models leave ~1e-6, while a
  direct-force head without a zero-sum constraint, or a force noise of sigma, leaves about
  sigma sqrt(3 / N).
- **Equivariance under the crystal's symmetry.** On the ideal input, each space-group
  operation (R, t) of spglib maps atom i onto an equivalent atom j, and the forces must obey
  F_j = R_cart F_i. ``symmetry_force_deviation`` is the largest |F_j - R_cart F_i| (eV/Å) over
  all operations and atoms. It bounds the differences of the force norms within each orbit of
  ``equivalent_atoms`` from above and also catches forces that the site symmetry forbids (every
  force on fcc Cu must vanish). Flagged above 1e-3 eV/Å, a hundred times float32 round-off of
  typical MLIP forces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError

from workers.benchmarks.base import MetricValue
from workers.errors import BenchmarkFailed, FailureClass

#: Net force per atom (eV/Å) above which momentum conservation is flagged as violated.
NET_FORCE_TOLERANCE_EV_A = 1e-3
#: Largest |F_j - R F_i| (eV/Å) between symmetry-equivalent atoms before it is flagged.
SYMMETRY_TOLERANCE_EV_A = 1e-3
#: spglib tolerance (Å) for the symmetry of the input, which is taken to be ideal.
CHECK_SYMPREC = 1e-5


@dataclass(frozen=True, slots=True)
class ForceChecks:
    """Momentum conservation and symmetry equivariance of a model's forces.

    Parameters
    ----------
    net_force_ev_a_per_atom
        |sum of the forces| / N on the rattled supercell (eV/Å per atom).
    symmetry_force_deviation_ev_a
        Largest |F_j - R F_i| over the space-group operations of the ideal input (eV/Å);
        None when spglib finds no symmetry.
    """

    net_force_ev_a_per_atom: float
    symmetry_force_deviation_ev_a: float | None

    def metrics(self) -> tuple[MetricValue, ...]:
        """``net_force``, ``symmetry_force_deviation`` and their flags (1 = violated)."""
        net = self.net_force_ev_a_per_atom
        out = [
            MetricValue("net_force", net, "eV/Å/atom"),
            MetricValue("flag_net_force", float(net > NET_FORCE_TOLERANCE_EV_A), "1"),
        ]
        deviation = self.symmetry_force_deviation_ev_a
        if deviation is not None:
            violated = float(deviation > SYMMETRY_TOLERANCE_EV_A)
            out += [
                MetricValue("symmetry_force_deviation", deviation, "eV/Å"),
                MetricValue("flag_symmetry_violation", violated, "1"),
            ]
        return tuple(out)


def check_forces(
    atoms: Atoms,
    calc: Calculator,
    *,
    repeat: int = 2,
    rattle_a: float = 0.05,
    seed: int = 0,
) -> ForceChecks | None:
    """Test momentum conservation and symmetry equivariance of ``calc`` on ``atoms``.

    Parameters
    ----------
    atoms
        Ideal periodic crystal (Å); not modified.
    calc
        ASE calculator giving forces (eV/Å).
    repeat
        The net force is measured on ``atoms`` repeated this many times along each axis.
    rattle_a
        Standard deviation of the Gaussian displacements of that supercell (Å).
    seed
        Seed of the displacements.

    Returns
    -------
    ForceChecks | None
        The checks, or None when ``calc`` does not implement forces.

    Raises
    ------
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite force.
    """
    rattled = atoms.repeat(repeat)
    rattled.positions += np.random.default_rng(seed).normal(0.0, rattle_a, (len(rattled), 3))
    try:
        forces = _forces(rattled, calc)
        ideal_forces = _forces(atoms.copy(), calc)
    except PropertyNotImplementedError:
        return None
    net = float(np.linalg.norm(forces.sum(axis=0))) / len(rattled)
    return ForceChecks(net, symmetry_force_deviation(atoms, ideal_forces))


def symmetry_force_deviation(
    atoms: Atoms, forces: np.ndarray, *, symprec: float = CHECK_SYMPREC
) -> float | None:
    """Largest |F_j - R_cart F_i| (eV/Å) over the space-group operations of ``atoms``.

    Parameters
    ----------
    atoms
        Periodic structure (Å) whose symmetry spglib finds at ``symprec`` (Å).
    forces
        Forces on ``atoms`` (eV/Å), shape (N, 3).

    Returns
    -------
    float | None
        The deviation (0 for an equivariant model), or None when spglib finds no symmetry.
    """
    lattice = atoms.cell.array
    scaled = atoms.get_scaled_positions()
    dataset = spglib.get_symmetry_dataset((lattice, scaled, atoms.numbers), symprec=symprec)
    if dataset is None:
        return None
    deviation = 0.0
    for rotation, translation in zip(dataset.rotations, dataset.translations, strict=True):
        image = scaled @ rotation.T + translation
        # Atom j that atom i is mapped onto: the nearest site modulo lattice translations.
        delta = image[:, None, :] - scaled[None, :, :]
        delta -= np.round(delta)
        target = np.argmin(np.linalg.norm(delta @ lattice, axis=2), axis=1)
        # Fractional rotation acting on columns, in Cartesian coordinates: L^T R L^-T.
        r_cart = lattice.T @ rotation @ np.linalg.inv(lattice.T)
        mismatch = forces[target] - forces @ r_cart.T
        deviation = max(deviation, float(np.linalg.norm(mismatch, axis=1).max()))
    return deviation


def _forces(atoms: Atoms, calc: Calculator) -> np.ndarray:
    atoms.calc = calc
    forces = np.asarray(atoms.get_forces())
    if not np.isfinite(forces).all():
        raise BenchmarkFailed(
            "non-finite force in the force checks", failure_class=FailureClass.NAN_OR_INF
        )
    return forces
