"""A model's energy on a plane: the grid, curvatures, a finite-difference Hessian, grid minima."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from workers.benchmarks._plane import Plane
from workers.benchmarks.base import Observer, notify


@dataclass(frozen=True, slots=True)
class Curvatures:
    """Curvature of the energy at the plane's origin (eV/(Å²·amu), mass-weighted).

    ``along_plane``: second differences of E along each basis vector; ``rayleigh``: vᵀHv of the
    finite-difference Hessian; ``nearest_eigenvalue``/``overlap``: the Hessian eigenvector with
    the largest |overlap| with each basis vector; ``plane_eigenvalues``: those of the Hessian
    projected on the plane (2 x 2), equal to two of the Hessian's when the plane holds their
    eigenvectors; ``eigenvalues``: all of them, ascending.
    """

    along_plane: tuple[float, float]
    rayleigh: tuple[float, float]
    nearest_eigenvalue: tuple[float, float]
    overlap: tuple[float, float]
    plane_eigenvalues: tuple[float, float]
    eigenvalues: tuple[float, ...]
    residual_force_ev_a: float


def axis_values(extent: float, n: int) -> np.ndarray:
    """``n`` evenly spaced plane coordinates from -extent to +extent (Å·amu^1/2)."""
    return np.linspace(-extent, extent, n)


def energy_at(work: Atoms, positions: np.ndarray) -> float:
    """Energy (eV) of ``work`` moved to ``positions``; NaN when the model returns no number."""
    work.positions = positions
    try:
        energy = float(work.get_potential_energy())
    except Exception:  # a model failing on one grid point marks that point, not the run
        return float("nan")
    return energy if np.isfinite(energy) else float("nan")


def evaluate_grid(
    plane: Plane,
    work: Atoms,
    a_values: np.ndarray,
    b_values: np.ndarray,
    *,
    observer: Observer | None = None,
) -> np.ndarray:
    """Energies (eV) at every (a, b): array indexed [i_b, i_a] (rows follow b, as a contour)."""
    grid = np.empty((len(b_values), len(a_values)))
    for i, b in enumerate(b_values):
        for j, a in enumerate(a_values):
            grid[i, j] = energy_at(work, plane.configuration(float(a), float(b)))
        notify(observer, "landscape: grid", (i + 1) / len(b_values))
    return grid


def curvature_step(plane: Plane, step_a: float) -> float:
    """Mass-weighted step whose rms per-atom Cartesian displacement is about ``step_a`` Å."""
    return float(step_a * np.sqrt(np.mean(plane.masses) * len(plane.masses)))


def curvatures(plane: Plane, work: Atoms, *, step_a: float) -> Curvatures:
    """Curvatures along the plane at its origin compared with the mass-weighted FD Hessian."""
    t = curvature_step(plane, step_a)
    e0 = energy_at(work, plane.minimum)
    residual = float(np.linalg.norm(work.get_forces(), axis=1).max())
    along = []
    for k in range(2):
        coords = [(t, 0.0), (-t, 0.0)] if k == 0 else [(0.0, t), (0.0, -t)]
        ep, em = (energy_at(work, plane.configuration(a, b)) for a, b in coords)
        along.append((ep - 2 * e0 + em) / t**2)
    hessian = mass_weighted_hessian(work, plane.minimum, plane.masses, step_a=step_a)
    values, vectors = np.linalg.eigh(hessian)
    rayleigh, nearest, overlap = [], [], []
    for v in plane.basis:
        rayleigh.append(float(v @ hessian @ v))
        dots = vectors.T @ v
        best = int(np.argmax(np.abs(dots)))
        nearest.append(float(values[best]))
        overlap.append(float(abs(dots[best])))
    projected = np.linalg.eigvalsh(plane.basis @ hessian @ plane.basis.T)
    return Curvatures(
        along_plane=(float(along[0]), float(along[1])),
        rayleigh=(rayleigh[0], rayleigh[1]),
        nearest_eigenvalue=(nearest[0], nearest[1]),
        overlap=(overlap[0], overlap[1]),
        plane_eigenvalues=(float(projected[0]), float(projected[1])),
        eigenvalues=tuple(float(x) for x in values),
        residual_force_ev_a=residual,
    )


def mass_weighted_hessian(
    work: Atoms, positions: np.ndarray, masses: np.ndarray, *, step_a: float
) -> np.ndarray:
    """Central-difference Hessian from forces (6N force calls), symmetrized and mass-weighted."""
    n = len(positions)
    hessian = np.empty((3 * n, 3 * n))
    for k in range(3 * n):
        forces = []
        for sign in (1.0, -1.0):
            moved = positions.copy()
            moved[k // 3, k % 3] += sign * step_a
            work.positions = moved
            forces.append(work.get_forces().ravel())
        hessian[k] = -(forces[0] - forces[1]) / (2 * step_a)
    work.positions = positions
    hessian = 0.5 * (hessian + hessian.T)
    inv_sqrt_m = np.repeat(1.0 / np.sqrt(masses), 3)
    return hessian * np.outer(inv_sqrt_m, inv_sqrt_m)


def grid_minima(energies: np.ndarray) -> list[tuple[int, int]]:
    """(i_b, i_a) of interior grid points lower than all eight neighbours (NaN never a minimum)."""
    found = []
    rows, cols = energies.shape
    for i in range(1, rows - 1):
        for j in range(1, cols - 1):
            window = energies[i - 1 : i + 2, j - 1 : j + 2]
            centre = energies[i, j]
            if not np.isfinite(centre) or not np.isfinite(window).all():
                continue
            if np.count_nonzero(window <= centre) == 1:
                found.append((i, j))
    return found


def difference_surface(
    relative_a: np.ndarray, relative_b: np.ndarray, n_atoms: int
) -> tuple[np.ndarray, float]:
    """A - B of two relative-energy grids on the same plane (eV) and its RMSE (meV/atom).

    Points where either model gave no number are left out of the RMSE (NaN in the surface).
    """
    if relative_a.shape != relative_b.shape:
        raise ValueError(f"grids differ in shape: {relative_a.shape} vs {relative_b.shape}")
    diff = relative_a - relative_b
    ok = np.isfinite(diff)
    if not ok.any():
        return diff, float("nan")
    return diff, float(np.sqrt(np.mean(diff[ok] ** 2)) / n_atoms * 1000.0)
