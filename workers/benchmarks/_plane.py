"""A 2-D projection plane through a minimum, defined once from sampled configurations.

The plane is sampled with one calculator (the *reference*): a minimum found by BFGS, an
optimizer path (FIRE or BFGS) from a rattled start to it, and short NVE runs started at two
temperatures. Each frame is aligned to the minimum (mass-weighted centre of mass removed and, for
a non-periodic system, the Kabsch rotation too), mass-weighted, and the two leading principal
directions of these displacements (uncentred: the plane passes through the minimum) span it.

Coordinates on the plane are mass-weighted, in Å·amu^1/2: a point (a, b) is the configuration
``x0 + (a v1 + b v2) / sqrt(m)``. Curvatures along it are in eV/(Å²·amu), the units of the
eigenvalues of the mass-weighted Hessian.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.md.velocitydistribution import ZeroRotation
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS, FIRE

from shared_kernel.failures import BenchmarkFailed, FailureClass
from workers.benchmarks._md import seed_velocities
from workers.benchmarks.base import Observer, notify

#: Key of ``atoms.info`` under which a structure carries its stored plane.
PLANE_INFO_KEY = "landscape_plane"


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How the plane's configurations are sampled (see ``LandscapeParams``)."""

    optimizer: str = "fire"
    rattle_a: float = 0.15
    path_fmax_ev_a: float = 0.01
    minimum_fmax_ev_a: float = 1e-4
    max_steps: int = 400
    md_temperatures_k: tuple[float, float] = (100.0, 300.0)
    md_steps: int = 100
    md_stride: int = 5
    timestep_fs: float = 2.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Plane:
    """A plane through a minimum: origin, mass-weighted basis and the frames that defined it.

    ``basis`` is (2, 3N), orthonormal in mass-weighted space; ``frames`` (F, N, 3) are the
    aligned sampled configurations, ``stages`` names where each came from and
    ``reference_energies_ev`` their energies relative to the minimum under the reference.
    """

    symbols: tuple[str, ...]
    masses: np.ndarray
    minimum: np.ndarray
    basis: np.ndarray
    explained_variance: tuple[float, float]
    frames: np.ndarray
    stages: tuple[str, ...]
    reference_energies_ev: np.ndarray
    reference: str

    @property
    def plane_hash(self) -> str:
        """Content hash of what the grid depends on (origin, basis, symbols)."""
        digest = hashlib.sha256()
        for array in (np.round(self.minimum, 10), np.round(self.basis, 10)):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        digest.update(" ".join(self.symbols).encode())
        return digest.hexdigest()[:16]

    def configuration(self, a: float, b: float) -> np.ndarray:
        """Cartesian positions (N, 3, Å) of the plane point (a, b) (Å·amu^1/2)."""
        step = (a * self.basis[0] + b * self.basis[1]).reshape(-1, 3)
        return self.minimum + step / np.sqrt(self.masses)[:, None]

    def project(self, positions: np.ndarray, *, periodic: bool) -> tuple[float, float, float]:
        """(a, b, out-of-plane norm) of a configuration after alignment to the minimum."""
        q = mass_weighted(align(positions, self.minimum, self.masses, periodic=periodic), self)
        a, b = float(self.basis[0] @ q), float(self.basis[1] @ q)
        return a, b, float(np.linalg.norm(q - a * self.basis[0] - b * self.basis[1]))

    def to_info(self) -> dict[str, Any]:
        """Plain arrays for ``atoms.info`` (stored losslessly with the structure)."""
        return {
            "reference": self.reference,
            "minimum": self.minimum,
            "basis": self.basis,
            "explained_variance": list(self.explained_variance),
            "frames": self.frames,
            "stages": list(self.stages),
            "reference_energies_ev": self.reference_energies_ev,
        }

    @classmethod
    def from_info(cls, atoms: Atoms, info: dict[str, Any]) -> Plane:
        """The plane stored in ``atoms.info`` (see :meth:`to_info`)."""
        n = len(atoms)
        return cls(
            symbols=tuple(atoms.get_chemical_symbols()),
            masses=atoms.get_masses(),
            minimum=np.asarray(info["minimum"], dtype=float).reshape(n, 3),
            basis=np.asarray(info["basis"], dtype=float).reshape(2, 3 * n),
            explained_variance=tuple(float(x) for x in info["explained_variance"]),  # type: ignore[arg-type]
            frames=np.asarray(info["frames"], dtype=float).reshape(-1, n, 3),
            stages=tuple(str(s) for s in info["stages"]),
            reference_energies_ev=np.asarray(info["reference_energies_ev"], dtype=float),
            reference=str(info["reference"]),
        )


def align(
    positions: np.ndarray, target: np.ndarray, masses: np.ndarray, *, periodic: bool
) -> np.ndarray:
    """``positions`` moved onto ``target``: same centre of mass; Kabsch rotation if not periodic."""
    w = masses / masses.sum()
    p = positions - w @ positions
    t = target - w @ target
    if not periodic:
        h = (p * w[:, None]).T @ t
        u, _, vt = np.linalg.svd(h)
        d = np.sign(np.linalg.det(u @ vt))
        p = p @ (u @ np.diag([1.0, 1.0, d]) @ vt)
    return p + w @ target


def mass_weighted(positions: np.ndarray, plane: Plane) -> np.ndarray:
    """Flattened mass-weighted displacement (3N, Å·amu^1/2) from the plane's minimum."""
    return ((positions - plane.minimum) * np.sqrt(plane.masses)[:, None]).ravel()


def principal_plane(displacements: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Two leading uncentred principal directions (2, D) of rows ``displacements`` (F, D).

    Returns the orthonormal basis and the fraction of the total second moment each carries.
    The sign of each direction is fixed (largest component positive) so that it is reproducible.
    """
    if displacements.shape[0] < 2:
        raise BenchmarkFailed("need at least two sampled frames for a plane")
    _, s, vt = np.linalg.svd(displacements, full_matrices=False)
    if len(s) < 2 or s[1] <= 1e-9 * max(float(s[0]), 1e-300):
        raise BenchmarkFailed(
            "the sampled configurations span fewer than two directions once translation (and "
            "rotation) are removed: there is no plane to define"
        )
    total = float(np.sum(s**2)) or 1.0
    basis = vt[:2].copy()
    for row in basis:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return basis, (float(s[0] ** 2 / total), float(s[1] ** 2 / total) if len(s) > 1 else 0.0)


def define_plane(
    atoms: Atoms,
    calc: Calculator,
    params: SamplingParams,
    *,
    reference: str,
    observer: Observer | None = None,
) -> Plane:
    """Sample ``atoms`` with ``calc`` (relaxation path, MD at two temperatures) and fit the plane.

    Raises
    ------
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite energy, ``no_convergence`` when the minimum is not found.
    """
    periodic = bool(atoms.pbc.any())
    work = atoms.copy()
    work.calc = calc
    _optimize(work, BFGS, params.minimum_fmax_ev_a, params.max_steps)
    minimum = work.get_positions()
    e0 = _energy(work)
    notify(observer, "plane: minimum", 0.2)
    frames, stages = _optimizer_path(work, minimum, calc, params)
    notify(observer, "plane: path", 0.4)
    for temperature in params.md_temperatures_k:
        md_frames = _md_frames(atoms, minimum, calc, params, temperature)
        frames += md_frames
        stages += [f"md_{temperature:g}K"] * len(md_frames)
    notify(observer, "plane: md", 0.7)
    masses = atoms.get_masses()
    aligned = np.array([align(f, minimum, masses, periodic=periodic) for f in frames])
    q = (aligned - minimum) * np.sqrt(masses)[None, :, None]
    basis, variance = principal_plane(q.reshape(len(frames), -1))
    energies = []
    for frame in aligned:
        work.positions = frame
        energies.append(_energy(work) - e0)
    return Plane(
        symbols=tuple(atoms.get_chemical_symbols()),
        masses=masses,
        minimum=minimum,
        basis=basis,
        explained_variance=variance,
        frames=aligned,
        stages=tuple(stages),
        reference_energies_ev=np.array(energies),
        reference=reference,
    )


def _optimize(atoms: Atoms, optimizer: type, fmax: float, steps: int) -> list[np.ndarray]:
    frames = [atoms.get_positions()]
    opt = optimizer(atoms, logfile=None)
    for _ in opt.irun(fmax=fmax, steps=steps):
        frames.append(atoms.get_positions())
        _energy(atoms)
    if np.linalg.norm(atoms.get_forces(), axis=1).max() > fmax:
        raise BenchmarkFailed(
            f"{optimizer.__name__} did not reach fmax {fmax} eV/Å in {steps} steps",
            failure_class=FailureClass.NO_CONVERGENCE,
        )
    return frames


def _optimizer_path(
    work: Atoms, minimum: np.ndarray, calc: Calculator, params: SamplingParams
) -> tuple[list[np.ndarray], list[str]]:
    rng = np.random.default_rng(params.seed)
    start = work.copy()
    start.positions = minimum + rng.normal(0.0, params.rattle_a, minimum.shape)
    start.calc = calc
    optimizer = {"fire": FIRE, "bfgs": BFGS}[params.optimizer]
    path = _optimize(start, optimizer, params.path_fmax_ev_a, params.max_steps)
    return path, [params.optimizer] * len(path)


def _md_frames(
    atoms: Atoms, minimum: np.ndarray, calc: Calculator, params: SamplingParams, temperature: float
) -> list[np.ndarray]:
    md = atoms.copy()
    md.positions = minimum
    md.calc = calc
    # Started at 2T: in a harmonic well equipartition leaves about T in the kinetic energy.
    seed_velocities(md, 2 * temperature, 1000 * params.seed + round(temperature))
    if not md.pbc.any():
        ZeroRotation(md)
    dyn = VelocityVerlet(md, timestep=params.timestep_fs * units.fs, logfile=None)
    frames = []
    for step in range(params.md_steps):
        dyn.run(1)
        if (step + 1) % params.md_stride == 0:
            _energy(md)
            frames.append(md.get_positions())
    return frames


def _energy(atoms: Atoms) -> float:
    energy = float(atoms.get_potential_energy())
    if not np.isfinite(energy):
        raise BenchmarkFailed("non-finite energy", failure_class=FailureClass.NAN_OR_INF)
    return energy
