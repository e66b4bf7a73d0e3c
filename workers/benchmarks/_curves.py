"""Smoothness metrics of a sampled 1-D curve, shared by the diatomics and eos benchmarks.

They follow MLIP Arena's ``analyze`` of homonuclear dimer curves (Chiang et al., "MLIP Arena",
2025): a physical single-well curve has one sign flip of its energy differences, a tortuosity
of 1 and a rank correlation of +-1 on each side of its minimum. None of them needs a reference.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


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
