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

Where the checks run: ``check_forces`` tests the input crystal (used by ``eos`` and ``relax``).
On the ideal crystal of a one-atom primitive cell every force vanishes by symmetry, so the
benchmarks also test configurations whose forces are not zero: ``check_structures`` on the
strained and sheared cells of ``elastic`` (lower symmetry, non-zero forces wherever an atom is
not an inversion centre) and ``check_symmetrized`` on the relaxed structures of ``relax``
(symmetrized to the space group found at a loose tolerance, so that the exact symmetry the
model must respect is known). Each costs one force call per structure; ``check_forces`` costs
one (the rattled supercell) when the caller passes the forces it already has on the input
(``eos`` reads them from its scan point at the input volume), two otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError
from ase.neighborlist import neighbor_list

from shared_kernel.failures import BenchmarkFailed, FailureClass
from workers.benchmarks.base import MetricValue

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
        None when spglib finds no symmetry beyond the identity.
    """

    net_force_ev_a_per_atom: float
    symmetry_force_deviation_ev_a: float | None

    def metrics(self, prefix: str = "") -> tuple[MetricValue, ...]:
        """Net force, symmetry deviation and their flags (1 = violated), names after ``prefix``.

        ``{prefix}net_force``, ``flag_{prefix}net_force``, ``{prefix}symmetry_force_deviation``
        and ``flag_{prefix}symmetry_violation``.
        """
        net = self.net_force_ev_a_per_atom
        out = [
            MetricValue(f"{prefix}net_force", net, "eV/Å/atom"),
            MetricValue(f"flag_{prefix}net_force", float(self.net_force_violated), "1"),
        ]
        deviation = self.symmetry_force_deviation_ev_a
        if deviation is not None:
            out += [
                MetricValue(f"{prefix}symmetry_force_deviation", deviation, "eV/Å"),
                MetricValue(f"flag_{prefix}symmetry_violation", float(self.symmetry_violated), "1"),
            ]
        return tuple(out)

    @property
    def net_force_violated(self) -> bool:
        """Whether the net force per atom exceeds ``NET_FORCE_TOLERANCE_EV_A``."""
        return self.net_force_ev_a_per_atom > NET_FORCE_TOLERANCE_EV_A

    @property
    def symmetry_violated(self) -> bool:
        """Whether the symmetry deviation exceeds ``SYMMETRY_TOLERANCE_EV_A``."""
        deviation = self.symmetry_force_deviation_ev_a
        return deviation is not None and deviation > SYMMETRY_TOLERANCE_EV_A

    def diagnosis(self) -> str:
        """A sentence naming the violated checks as the likely cause of a failure ('' if none)."""
        causes = []
        if self.symmetry_violated:
            causes.append(
                f"the forces break the crystal's symmetry (|F_j - R F_i| up to "
                f"{self.symmetry_force_deviation_ev_a:.3g} eV/Å > {SYMMETRY_TOLERANCE_EV_A} eV/Å): "
                "symmetry breaking is the likely cause"
            )
        if self.net_force_violated:
            causes.append(
                f"the forces do not sum to zero ({self.net_force_ev_a_per_atom:.3g} eV/Å per atom "
                f"> {NET_FORCE_TOLERANCE_EV_A} eV/Å): a net force drives the whole cell"
            )
        return "; ".join(causes)


def worst(checks: Iterable[ForceChecks | None]) -> ForceChecks | None:
    """The largest net force and symmetry deviation over several checks (None if all are None).

    Parameters
    ----------
    checks
        Checks of several structures; None entries (no forces) are skipped.

    Returns
    -------
    ForceChecks | None
        Largest net force per atom (eV/Å) and largest symmetry deviation (eV/Å; None when no
        check had a symmetry deviation).
    """
    found = [c for c in checks if c is not None]
    if not found:
        return None
    deviations = [
        c.symmetry_force_deviation_ev_a
        for c in found
        if c.symmetry_force_deviation_ev_a is not None
    ]
    return ForceChecks(
        max(c.net_force_ev_a_per_atom for c in found), max(deviations) if deviations else None
    )


def check_forces(
    atoms: Atoms,
    calc: Calculator,
    *,
    repeat: int = 2,
    rattle_a: float = 0.05,
    seed: int = 0,
    ideal_forces: np.ndarray | None = None,
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
    ideal_forces
        Forces on exactly ``atoms`` (eV/Å, shape (N, 3)) that ``calc`` has already computed,
        e.g. at the input volume of an E(V) scan: the symmetry check uses them instead of a
        call of its own. None computes them.

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
        ideal = _finite(ideal_forces) if ideal_forces is not None else _forces(atoms.copy(), calc)
    except PropertyNotImplementedError:
        return None
    return ForceChecks(net_force(forces), symmetry_force_deviation(atoms, ideal))


def check_structures(
    structures: Iterable[Atoms], calc: Calculator, *, symmetry: bool = True
) -> ForceChecks | None:
    """Net force and (optionally) symmetry equivariance of ``calc`` on each of ``structures``.

    Parameters
    ----------
    structures
        Periodic structures (Å), e.g. strained cells; not modified. The symmetry each must
        respect is the one spglib finds in it at ``CHECK_SYMPREC``: they should be exactly
        symmetric (scaled ideal positions), or the check tests only the operations left.
    calc
        ASE calculator giving forces (eV/Å).
    symmetry
        Also test the symmetry (False for structures known to have none, e.g. rattled).

    Returns
    -------
    ForceChecks | None
        The largest net force per atom (eV/Å) and symmetry deviation (eV/Å) over the
        structures, or None when ``calc`` does not implement forces.

    Raises
    ------
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite force.
    """
    checks = []
    for structure in structures:
        try:
            forces = _forces(structure.copy(), calc)
        except PropertyNotImplementedError:
            return None
        deviation = symmetry_force_deviation(structure, forces) if symmetry else None
        checks.append(ForceChecks(net_force(forces), deviation))
    return worst(checks)


def check_symmetrized(atoms: Atoms, calc: Calculator, *, symprec: float) -> ForceChecks | None:
    """Checks of ``calc`` on a copy of ``atoms`` symmetrized to the space group at ``symprec``.

    A relaxed structure is symmetric only up to its residual displacements; symmetrizing it
    (``ase.spacegroup.symmetrize.refine_symmetry``: cell and positions averaged over the
    operations spglib finds at ``symprec``) gives a structure whose symmetry is exact, on
    which an equivariant model's forces obey F_j = R F_i to round-off.

    Parameters
    ----------
    atoms
        Periodic structure (Å); not modified.
    calc
        ASE calculator giving forces (eV/Å).
    symprec
        spglib tolerance (Å) of the symmetrization.

    Returns
    -------
    ForceChecks | None
        Net force per atom (eV/Å) and symmetry deviation (eV/Å; None when spglib finds no
        consistent symmetry at ``symprec``) of the symmetrized copy, or None without forces.
    """
    from ase.spacegroup.symmetrize import refine_symmetry

    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    symmetric = atoms.copy()
    if spglib.get_symmetry_dataset(cell, symprec=symprec) is None:
        return check_structures([symmetric], calc, symmetry=False)
    try:
        refine_symmetry(symmetric, symprec=symprec)
    except (ValueError, RuntimeError, np.linalg.LinAlgError):
        # spglib's operations at symprec do not form a consistent group for this geometry
        # (a badly distorted structure): there is no exact symmetry to test.
        return check_structures([atoms.copy()], calc, symmetry=False)
    return check_structures([symmetric], calc)


def net_force(forces: np.ndarray) -> float:
    """|sum_i F_i| / N (eV/Å per atom) of forces (eV/Å) of shape (N, 3)."""
    return float(np.linalg.norm(forces.sum(axis=0))) / len(forces)


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
        The deviation (0 for an equivariant model), or None when spglib finds no symmetry
        beyond the identity.
    """
    lattice = atoms.cell.array
    scaled = atoms.get_scaled_positions()
    dataset = spglib.get_symmetry_dataset((lattice, scaled, atoms.numbers), symprec=symprec)
    if dataset is None or len(dataset.rotations) < 2:
        return None  # the identity alone constrains nothing
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
    return _finite(np.asarray(atoms.get_forces()))


def _finite(forces: np.ndarray) -> np.ndarray:
    if not np.isfinite(forces).all():
        raise BenchmarkFailed(
            "non-finite force in the force checks", failure_class=FailureClass.NAN_OR_INF
        )
    return forces


def no_interaction(atoms: Atoms, what: str) -> BenchmarkFailed:
    """The failure of a model that exerts no force between the atoms of ``atoms`` (a zero
    force-constant or elastic matrix, ``what``): typically every neighbour lies beyond the
    model's cutoff (bcc Cs, 5.24 Å apart, under SevenNet-0's and DIEP's 5 Å)."""
    distances = neighbor_list("d", atoms, 12.0)
    apart = f"{distances.min():.2f} Å apart" if len(distances) else "over 12 Å apart"
    return BenchmarkFailed(
        f"{what}: the model exerts no force between these atoms, whose nearest neighbours are "
        f"{apart} (beyond its cutoff?)",
        failure_class=FailureClass.NO_INTERACTION,
    )
