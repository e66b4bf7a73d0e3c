"""Roughness of a sampled E(V) curve on a fine grid, for the ``eos`` benchmark.

The coarse E(V) scan (11 points over +-20 %) is too sparse to see structure on the scale of
a percent of the volume: a ripple there passes between the points, yet it can move the
curvature B0 a protocol measures by tens of percent. A fine sub-grid around the fitted V0 is
fitted with a low-order polynomial in V, which follows any smooth E(V) over a few percent of
the volume to far below a meV/atom; what the polynomial cannot follow is roughness:

- ``roughness_rms``: root-mean-square residual of the fine-grid energies from a cubic
  least-squares polynomial in V (meV/atom);
- ``roughness``: that RMS relative to the energy span of the polynomial over the sub-grid
  (%), i.e. relative to the curvature being measured (the span is about B0 V0 w^2 / 2 for a
  half-width w).

A cubic leaves a smooth E(V) a residual of order B0 V0 w^4 / 10 (the quartic term): 0.0024
meV/atom (0.03 % of the span) for EMT Cu over +-4 %, 0.0007 meV/atom (0.02 %) for EMT Al;
float32 round-off of a universal MLIP is about 1e-4 meV/atom. A sinusoidal ripple of
amplitude A leaves A / sqrt(2) (1 meV/atom over a 0.2 Å³/atom period on EMT Cu: 0.69
meV/atom, 9 %). ``flag_rough_energy_volume`` fires above ``MAX_ROUGHNESS`` = 1 % of the span.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workers.benchmarks.base import MetricValue

#: Degree of the polynomial in V that stands for the smooth part of E(V) on the fine grid.
ROUGHNESS_DEGREE = 3
#: Roughness (fraction of the fine-grid energy span) above which E(V) is flagged rough.
MAX_ROUGHNESS = 0.01


def fine_volumes(v0: float, half_width: float, n_points: int) -> np.ndarray:
    """Equally spaced volumes V0 (1 - w) ... V0 (1 + w) (unit of ``v0``, ascending).

    Parameters
    ----------
    v0
        Centre of the sub-grid (Å³/atom), the fitted equilibrium volume.
    half_width
        Fractional half-width w of the sub-grid (dimensionless).
    n_points
        Number of volumes.
    """
    return v0 * np.linspace(1.0 - half_width, 1.0 + half_width, n_points)


def roughness(volumes: np.ndarray, energies: np.ndarray) -> tuple[float, float | None]:
    """Residual of E(V) from a cubic polynomial in V: (RMS in meV/atom, RMS / span).

    Parameters
    ----------
    volumes
        Volumes of the fine grid (Å³/atom); more than ``ROUGHNESS_DEGREE + 1`` of them.
    energies
        Energies there (eV/atom).

    Returns
    -------
    tuple[float, float | None]
        The RMS residual (meV/atom) and its ratio to the energy span of the fitted polynomial
        over the grid (dimensionless; None for a flat curve).
    """
    # Reduced volume in [-1, 1] keeps the Vandermonde matrix well conditioned.
    x = (volumes - volumes.mean()) / (np.ptp(volumes) / 2)
    coefficients = np.polynomial.polynomial.polyfit(x, energies, ROUGHNESS_DEGREE)
    smooth = np.polynomial.polynomial.polyval(x, coefficients)
    rms = float(np.sqrt(np.mean((energies - smooth) ** 2)))
    span = float(np.ptp(smooth))
    return 1000.0 * rms, (rms / span if span > 0 else None)


def roughness_metrics(volumes: Sequence[float], energies: Sequence[float]) -> list[MetricValue]:
    """``roughness_rms`` (meV/atom), ``roughness`` (%) and ``flag_rough_energy_volume``.

    Parameters
    ----------
    volumes, energies
        The fine sub-grid (Å³/atom, eV/atom); empty when it was not measured (no metrics).
    """
    if not len(volumes):
        return []
    rms_mev, relative = roughness(np.asarray(volumes), np.asarray(energies))
    out = [MetricValue("roughness_rms", rms_mev, "meV/atom")]
    if relative is not None:
        out += [
            MetricValue("roughness", 100.0 * relative, "%"),
            MetricValue("flag_rough_energy_volume", float(relative > MAX_ROUGHNESS), "1"),
        ]
    return out
