"""V(T) of the ``thermal_expansion`` benchmark: the polynomial fit, alpha = (1 / 3V) dV/dT at
the reference temperature (seed average and per seed), and the flags computed from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial import polynomial

from workers.benchmarks.base import FrameSet, MetricValue, SeriesData, finite


@dataclass(frozen=True, slots=True)
class ThermalExpansionResult:
    """Mean volumes on the temperature grid and the fitted expansion coefficient.

    Parameters
    ----------
    temperatures_k
        The grid, ascending (K).
    volumes_a3_per_atom
        Mean volume per atom, one tuple per seed over the grid (Å³/atom).
    fit_coefficients
        Polynomial coefficients of the seed-averaged V(T), lowest order first
        (Å³/atom/K^n).
    reference_temperature_k
        Temperature of alpha (K).
    alpha_per_k
        Linear thermal expansion coefficient at the reference temperature (1/K).
    alpha_per_seed_per_k
        The same from each seed's own fit (1/K).
    fit_residual_rms_a3_per_atom
        RMS deviation of the seed-averaged volumes from the fit (Å³/atom).
    n_atoms
        Atoms in the simulated supercell.
    frame_sets
        The first seed's NPT trajectory through the whole grid (``trajectory``),
        subsampled; each frame's ``temperature_k`` is the thermostat target (K).
    """

    temperatures_k: tuple[float, ...]
    volumes_a3_per_atom: tuple[tuple[float, ...], ...]
    fit_coefficients: tuple[float, ...]
    reference_temperature_k: float
    alpha_per_k: float
    alpha_per_seed_per_k: tuple[float, ...]
    fit_residual_rms_a3_per_atom: float
    n_atoms: int
    frame_sets: tuple[FrameSet, ...] = field(default=(), compare=False, repr=False)

    def frames(self) -> tuple[FrameSet, ...]:
        """The first seed's subsampled NPT trajectory."""
        return self.frame_sets

    def metrics(self) -> tuple[MetricValue, ...]:
        """Alpha (compared with experiment), its spread, V(T_ref), fit residual and flags."""
        spread = float(np.std(self.alpha_per_seed_per_k, ddof=1))
        mean_volumes = np.mean(self.volumes_a3_per_atom, axis=0)
        v_ref = float(polynomial.polyval(self.reference_temperature_k, self.fit_coefficients))
        return finite(
            MetricValue("linear_thermal_expansion_coefficient", self.alpha_per_k, "1/K", True),
            MetricValue("linear_thermal_expansion_coefficient_spread", spread, "1/K"),
            MetricValue("md_volume_per_atom_at_reference_temperature", v_ref, "Å³/atom"),
            MetricValue("fit_residual_rms", self.fit_residual_rms_a3_per_atom, "Å³/atom"),
            MetricValue(
                "flag_volume_not_increasing", float(np.any(np.diff(mean_volumes) <= 0)), "1"
            ),
            MetricValue(
                "flag_large_seed_spread", float(spread > 0.25 * abs(self.alpha_per_k)), "1"
            ),
        )

    def series(self) -> tuple[SeriesData, ...]:
        """Seed-averaged V(T) and the fitted polynomial on a fine grid."""
        temps = np.array(self.temperatures_k)
        fine = np.linspace(temps.min(), temps.max(), 31)
        mean = np.mean(self.volumes_a3_per_atom, axis=0)
        fitted = polynomial.polyval(fine, self.fit_coefficients)
        return (
            volume_series("volume_temperature", temps, mean),
            volume_series("volume_temperature_fit", fine, fitted),
        )


def fit_expansion(
    temps: tuple[float, ...],
    volumes: tuple[tuple[float, ...], ...],
    *,
    degree: int,
    reference_temperature_k: float,
    n_atoms: int,
) -> ThermalExpansionResult:
    """Fit V(T) of the seed average and of each seed; alpha at the reference temperature."""
    t_ref = reference_temperature_k
    x = np.array(temps)

    def alpha(v: np.ndarray) -> tuple[float, np.ndarray]:
        coefficients = polynomial.polyfit(x, v, degree)
        slope = polynomial.polyval(t_ref, polynomial.polyder(coefficients))
        return float(slope / (3 * polynomial.polyval(t_ref, coefficients))), coefficients

    mean = np.mean(volumes, axis=0)
    alpha_mean, coefficients = alpha(mean)
    residual = mean - polynomial.polyval(x, coefficients)
    return ThermalExpansionResult(
        temperatures_k=temps,
        volumes_a3_per_atom=volumes,
        fit_coefficients=tuple(float(c) for c in coefficients),
        reference_temperature_k=t_ref,
        alpha_per_k=alpha_mean,
        alpha_per_seed_per_k=tuple(alpha(np.array(v))[0] for v in volumes),
        fit_residual_rms_a3_per_atom=float(np.sqrt(np.mean(residual**2))),
        n_atoms=n_atoms,
    )


def volume_series(
    name: str, temps: np.ndarray, volumes: np.ndarray | Sequence[float]
) -> SeriesData:
    return SeriesData(
        name=name,
        x=tuple(float(t) for t in temps),
        y=tuple(float(v) for v in volumes),
        x_label="temperature",
        x_unit="K",
        y_label="volume per atom",
        y_unit="Å³/atom",
    )
