"""FIRE minimisation (positions, optionally the cell) and the lattice and symmetry helpers of
the relaxation benchmarks: used by ``relax``, ``elastic`` (ionic relaxation of strained cells)
and ``cohesive`` (relaxed bulk)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE
from threadpoolctl import threadpool_limits

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._frames import FrameRecorder
from workers.benchmarks.base import Observer, SeriesData, notify

#: Tolerance (Å) at which the ideal input crystal's space group is determined.
REFERENCE_SYMPREC = 1e-5


@dataclass(frozen=True, slots=True)
class Trace:
    """Energy (eV, whole cell) and largest generalized force (eV/Å) at each FIRE step."""

    converged: bool
    steps: int
    energies_ev: tuple[float, ...]
    fmax_ev_per_a: tuple[float, ...]

    def series(self, suffix: str = "") -> tuple[SeriesData, ...]:
        """Energy and fmax against the optimizer step."""
        x = tuple(float(i) for i in range(len(self.energies_ev)))
        e, f = self.energies_ev, self.fmax_ev_per_a
        return (SeriesData(f"relax_energy{suffix}", x, e, "step", "1", "energy", "eV"),
                SeriesData(f"relax_fmax{suffix}", x, f, "step", "1", "fmax", "eV/Å"))  # fmt: skip


def minimize(
    atoms: Atoms,
    *,
    fmax: float,
    max_steps: int,
    relax_cell: bool,
    observer: Observer | None = None,
    stage: str = "relax",
    window: tuple[float, float] = (0.0, 1.0),
    recorder: FrameRecorder | None = None,
) -> Trace:
    """Relax ``atoms`` (calculator attached) in place with FIRE; return the trace.

    ``fmax`` (eV/Å) bounds the atomic forces and, with ``relax_cell`` (FrechetCellFilter),
    the virial per atom; at most ``max_steps`` steps. Each step calls
    ``notify(observer, stage, window[0] + window[1] * step / max_steps)``. A non-finite
    energy or force raises BenchmarkFailed(nan_or_inf) with the trace so far. A
    ``recorder`` is offered the structure after every step (its optimisation path).
    """
    target = FrechetCellFilter(atoms) if relax_cell else atoms
    optimizer = FIRE(target, logfile=None)
    energies: list[float] = []
    forces: list[float] = []
    converged = False
    # FrechetCellFilter makes many 3x3 LAPACK calls, on which a multi-threaded BLAS spins
    # (20x slower on a busy machine): BLAS is held to one thread while relaxing.
    with threadpool_limits(limits=1, user_api="blas"):
        for done in optimizer.irun(fmax=fmax, steps=max_steps):
            converged = done
            energies.append(float(atoms.get_potential_energy()))
            forces.append(float(np.linalg.norm(target.get_forces(), axis=1).max()))
            if recorder is not None:
                recorder.offer(atoms, step=optimizer.nsteps)
            if not np.isfinite([energies[-1], forces[-1]]).all():
                raise BenchmarkFailed(
                    f"non-finite energy or force at step {optimizer.nsteps}",
                    failure_class=FailureClass.NAN_OR_INF,
                    series=Trace(False, optimizer.nsteps, tuple(energies), tuple(forces)).series(),
                )
            fraction = window[0] + window[1] * min(1.0, optimizer.nsteps / max_steps)
            notify(observer, stage, fraction)
    return Trace(bool(converged), optimizer.nsteps, tuple(energies), tuple(forces))


def spacegroup_number(atoms: Atoms, symprec: float) -> int:
    """International space-group number spglib finds at ``symprec`` (Å); 0 if none."""
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    return 0 if dataset is None else int(dataset.number)


def conventional_lattice(reference: Atoms, cell: np.ndarray) -> tuple[int, np.ndarray]:
    """Space group of ``reference`` and ``cell`` (rows, Å) mapped to its conventional cell.

    spglib's transformation (a_s b_s c_s) = (a b c) P^-1 of the ideal reference is applied.
    """
    data = (reference.cell.array, reference.get_scaled_positions(), reference.numbers)
    dataset = spglib.get_symmetry_dataset(data, symprec=REFERENCE_SYMPREC)
    if dataset is None:
        raise BenchmarkSetupError("spglib found no space group for the input structure")
    transform = np.linalg.inv(dataset.transformation_matrix).T
    return int(dataset.number), transform @ cell


def lattice_parameters(number: int, conventional: np.ndarray) -> tuple[float, float | None]:
    """(a in Å, c/a or None) of a conventional cell, in the ase.data.reference_states sense."""
    lengths = np.linalg.norm(conventional, axis=1)
    if number >= 195:  # cubic: from the volume, insensitive to small shears
        return float(abs(np.linalg.det(conventional)) ** (1 / 3)), None
    if number >= 75:  # tetragonal, trigonal (hexagonal axes) and hexagonal
        a = float(lengths[:2].mean())
        return a, float(lengths[2]) / a
    return float(lengths[0]), None
