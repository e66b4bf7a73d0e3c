"""Smoothness metrics of a sampled 1-D curve, shared by the diatomics and eos benchmarks.

They follow MLIP Arena's ``analyze`` of homonuclear dimer curves (Chiang et al., "MLIP Arena",
2025): a physical single-well curve has one sign flip of its energy differences, a tortuosity
of 1 and a rank correlation of +-1 on each side of its minimum. None of them needs a reference.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats
from scipy.interpolate import CubicSpline


def flips(steps: np.ndarray) -> tuple[int, float]:
    """Sign flips of the non-zero ``steps`` and the jump at them (MLIP Arena).

    Parameters
    ----------
    steps
        Successive differences of a curve (any unit); zeros (steps below a noise threshold
        that the caller has zeroed) are skipped.

    Returns
    -------
    tuple[int, float]
        The number of sign changes and the sum of |step| on both sides of each change (the
        unit of ``steps``).
    """
    steps = steps[steps != 0]
    flip = np.diff(np.sign(steps)) != 0
    return int(flip.sum()), float(np.abs(steps[:-1][flip]).sum() + np.abs(steps[1:][flip]).sum())


def energy_diff_flips(energies: np.ndarray, threshold: float) -> tuple[int, float]:
    """Sign flips of the energy differences, ignoring steps smaller than ``threshold``.

    Parameters
    ----------
    energies
        Energies along an ordered grid (eV or eV/atom).
    threshold
        Steps with |dE| below this are treated as flat (same unit as ``energies``).

    Returns
    -------
    tuple[int, float]
        Flips (1 for a single minimum) and the energy jump at them (unit of ``energies``).
    """
    steps = np.diff(energies)
    steps[np.abs(steps) < threshold] = 0.0
    return flips(steps)


def tortuosity(energies: np.ndarray) -> float | None:
    """Total variation of the curve over that of an ideal single well (MLIP Arena); 1 is ideal.

    Parameters
    ----------
    energies
        Energies along an ordered grid (any unit; the ratio is dimensionless).

    Returns
    -------
    float | None
        sum |dE| / (|E_first - E_min| + |E_last - E_min|), or None for a flat curve.
    """
    e_min = float(energies.min())
    span = abs(float(energies[-1]) - e_min) + abs(float(energies[0]) - e_min)
    return float(np.sum(np.abs(np.diff(energies))) / span) if span > 0 else None


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation of ``y`` with ``x``.

    Returns
    -------
    float | None
        The correlation in [-1, 1], or None for fewer than 3 points or a constant ``y``.
    """
    if len(x) < 3 or np.ptp(y) == 0:
        return None
    return float(stats.spearmanr(x, y).statistic)


def single_well(
    x: np.ndarray, energies: np.ndarray, *, threshold: float
) -> tuple[float, float | None, float | None, float | None]:
    """Smoothness of a curve that should have a single minimum (E(V), a dimer curve).

    Parameters
    ----------
    x
        Ascending grid (any unit).
    energies
        Energies on it (eV or eV/atom).
    threshold
        Energy steps below this are flat when counting flips (unit of ``energies``).

    Returns
    -------
    tuple
        Sign flips of the energy differences (1 ideal), tortuosity (1 ideal), and Spearman's
        correlation of E with x up to the lowest point (-1 ideal) and from it on (+1 ideal);
        each None where undefined.
    """
    i_min = int(np.argmin(energies))
    n_flips, _ = energy_diff_flips(energies, threshold)
    left = spearman(x[: i_min + 1], energies[: i_min + 1])
    right = spearman(x[i_min:], energies[i_min:])
    return float(n_flips), tortuosity(energies), left, right


def energy_discontinuity(energies: np.ndarray) -> float:
    """Largest step of a curve that lies outside the range of its two neighbouring steps.

    On a smooth curve each step dE_i lies between dE_(i-1) and dE_(i+1), up to the tiny
    overshoot O(h^3 E'''') where the slope has an extremum (an inflection point): on a convex
    repulsive wall the steps rise monotonically, however steep the wall. A discontinuity
    of size J in one grid interval puts that step about J outside its neighbours' range, in
    either direction and wherever it happens, so the excess measures the jump. The first and
    last steps have one neighbour and are not tested.

    Parameters
    ----------
    energies
        Energies along an ordered grid (eV).

    Returns
    -------
    float
        The largest excess (unit of ``energies``; 0 for a smooth curve or < 3 steps).
    """
    steps = np.diff(energies)
    if len(steps) < 3:
        return 0.0
    neighbours = np.stack([steps[:-2], steps[2:]])
    middle = steps[1:-1]
    above = middle - neighbours.max(axis=0)
    below = neighbours.min(axis=0) - middle
    return float(max(0.0, above.max(), below.max()))


def largest_spurious_flip(energies: np.ndarray, threshold: float) -> float:
    """Largest |dE| on both sides of one sign flip of the steps, other than the minimum's.

    A single well has one flip, at its minimum, where the steps are small (about k h^2 for a
    bond of stiffness k sampled every h). Any other flip is a spurious extremum; the steps
    around it say how abrupt it is (MLIP Arena's ``energy_jump`` sums them over all flips).

    Parameters
    ----------
    energies
        Energies along an ordered grid (eV).
    threshold
        Steps with |dE| below this are flat and skipped, as in ``energy_diff_flips`` (eV).

    Returns
    -------
    float
        The largest |dE_before| + |dE_after| at a flip that does not bracket the lowest point
        (unit of ``energies``; 0 without such a flip).
    """
    steps = np.diff(energies)
    kept = np.flatnonzero(np.abs(steps) >= threshold)
    i_min = int(np.argmin(energies))
    largest = 0.0
    for before, after in itertools.pairwise(kept):
        at_minimum = steps[before] < 0 < steps[after] and before < i_min <= after
        if np.sign(steps[before]) != np.sign(steps[after]) and not at_minimum:
            largest = max(largest, float(abs(steps[before]) + abs(steps[after])))
    return largest


def repulsion_spearman(r: np.ndarray, forces: np.ndarray, energies: np.ndarray) -> float:
    """Spearman's correlation of the bond force with r on the repulsive branch; always defined.

    The branch runs from the shortest distance to the most attractive force (MLIP Arena): a
    physical force falls monotonically there (-1). Where that branch has fewer than 3 points
    (the force is lowest at or next to the shortest distance, which no physical curve does),
    the branch left of the energy minimum is used instead, where a physical force also falls
    (from the wall to zero at the minimum); where that too has fewer than 3 points, the whole
    curve. A constant force on the branch has no trend: 0.

    Parameters
    ----------
    r
        Ascending distances (Å).
    forces
        Bond force (eV/Å, > 0 pushes the atoms apart).
    energies
        Energies (eV), whose minimum bounds the fallback branch.

    Returns
    -------
    float
        The correlation in [-1, 1] (-1 ideal).
    """
    end = int(np.argmin(forces)) + 1
    if end < 3:
        end = int(np.argmin(energies)) + 1
    if end < 3:
        end = len(r)
    value = spearman(r[:end], forces[:end])
    return 0.0 if value is None else value


def dissociation_residual(
    r: np.ndarray, energies: np.ndarray, forces: np.ndarray, *, window: float
) -> tuple[float, float]:
    """How far the end of a dimer scan is from the dissociation limit.

    Parameters
    ----------
    r
        Ascending distances (Å).
    energies, forces
        Energy (eV) and bond force (eV/Å) on them.
    window
        Width of the far-field window at the end of the scan (Å).

    Returns
    -------
    tuple[float, float]
        |E(r_max) - E(r_max - window)| (eV, E linearly interpolated) and the largest |F| for
        r >= r_max - window (eV/Å); both vanish when the scan reaches the dissociation limit.
    """
    start = max(float(r[-1]) - window, float(r[0]))
    change = abs(float(energies[-1]) - float(np.interp(start, r, energies)))
    return change, float(np.abs(forces[r >= start - 1e-9]).max())


def equilibrium_distance(r: np.ndarray, e: np.ndarray) -> float | None:
    """Minimum of a cubic spline through E(r) (Å), or None if the lowest point is an end."""
    i_min = int(np.argmin(e))
    if i_min in (0, len(r) - 1):
        return None
    spline = CubicSpline(r, e)
    lo, hi = r[i_min - 1], r[i_min + 1]
    roots = [x for x in spline.derivative().roots(extrapolate=False) if lo <= x <= hi]
    minima = [float(x) for x in roots if spline(x, 2) > 0]
    return min(minima, key=lambda x: float(spline(x))) if minima else float(r[i_min])
