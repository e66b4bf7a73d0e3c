"""Equation-of-state fits of the ``eos`` benchmark: one ``ase.eos`` form fitted to E(V) per
atom, with the checks that turn a bad fit into a reported failure (with the curve kept), and
the standard errors of the fitted parameters.

Standard errors: the ``ase.eos`` solution seeds a least-squares fit of the same form
(``scipy.optimize.curve_fit``) whose covariance, scaled by the residual variance
(``absolute_sigma=False``: sum of squared residuals over n - 4 degrees of freedom), gives the
standard errors of V0, B0 and B0'. They read the residuals as independent noise: for a noisy
model they are the statistical uncertainty of the parameters; for a smooth model they measure
how far the form misfits the curve.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.eos import EquationOfState
from scipy.optimize import OptimizeWarning, curve_fit

from shared_kernel.failures import BenchmarkFailed, FailureClass
from workers.benchmarks.base import SeriesData


@dataclass(frozen=True, slots=True)
class EosFit:
    """Fitted parameters, per atom: V0 (Å³), E0 (eV), B0 (GPa), B0' and the residual (meV).

    The ``*_stderr`` fields are the standard errors of V0 (Å³/atom), B0 (GPa) and B0'; NaN
    when the covariance is undefined (fewer than 5 points, a singular Jacobian).
    """

    v0_a3_per_atom: float
    e0_ev_per_atom: float
    bulk_modulus_gpa: float
    bulk_modulus_pressure_derivative: float
    fit_residual_rms_mev_per_atom: float
    v0_stderr_a3_per_atom: float = float("nan")
    bulk_modulus_stderr_gpa: float = float("nan")
    bulk_modulus_pressure_derivative_stderr: float = float("nan")


def inner_bulk_modulus(volumes: np.ndarray, energies: np.ndarray, form: str) -> float | None:
    """B0 (GPa) fitted to the inner-window points; None for < 5 points or a failed fit."""
    if len(volumes) < 5:
        return None
    try:
        fit = fit_eos(volumes, energies, form, require_minimum=False, stderr=False)
    except BenchmarkFailed:
        return None
    return fit.bulk_modulus_gpa


def fit_eos(
    volumes: np.ndarray,
    energies: np.ndarray,
    form: str,
    *,
    require_minimum: bool = True,
    stderr: bool = True,
) -> EosFit:
    """Fit ``form`` to E(V) per atom; raises BenchmarkFailed(no_convergence) with the curve.

    ``require_minimum=False`` accepts a V0 outside the sampled volumes (the inner window);
    ``stderr=False`` skips the least-squares refit and leaves the standard errors NaN (the
    fitted parameters do not depend on it).
    """
    curve = energy_volume_series(tuple(volumes), tuple(energies))
    eos = EquationOfState(volumes, energies, eos=form)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", OptimizeWarning)
            eos.fit(warn=False)
    except (RuntimeError, ValueError) as exc:
        raise _no_convergence(f"{form} fit failed: {exc}", curve) from exc
    # ase.eos stores the fitted (E0, B0, B0', V0) of these forms in eos_parameters.
    e0, b0, bp, v0 = (float(p) for p in eos.eos_parameters)
    v_min, v_max = float(volumes.min()), float(volumes.max())
    if not np.isfinite([e0, b0, bp, v0]).all():
        raise _no_convergence(f"{form} fit gave non-finite parameters", curve)
    if require_minimum and not v_min < v0 < v_max:
        raise _no_convergence(
            f"fitted V0 = {v0:.3f} Å³/atom lies outside the sampled range "
            f"[{v_min:.3f}, {v_max:.3f}] Å³/atom: no energy minimum in the scan",
            curve,
        )
    if b0 <= 0:
        raise _no_convergence(
            f"fitted bulk modulus {b0 / units.GPa:.3g} GPa is not positive", curve
        )
    residual = energies - eos.func(volumes, *eos.eos_parameters)
    start = (e0, b0, bp, v0)
    _, b0_se, bp_se, v0_se = (
        parameter_stderr(eos.func, volumes, energies, start) if stderr else (float("nan"),) * 4
    )
    return EosFit(
        v0_a3_per_atom=v0,
        e0_ev_per_atom=e0,
        bulk_modulus_gpa=b0 / units.GPa,
        bulk_modulus_pressure_derivative=bp,
        fit_residual_rms_mev_per_atom=1000.0 * float(np.sqrt(np.mean(residual**2))),
        v0_stderr_a3_per_atom=v0_se,
        bulk_modulus_stderr_gpa=b0_se / units.GPa,
        bulk_modulus_pressure_derivative_stderr=bp_se,
    )


def parameter_stderr(
    func: Callable[..., np.ndarray],
    volumes: np.ndarray,
    energies: np.ndarray,
    start: tuple[float, float, float, float],
) -> tuple[float, float, float, float]:
    """Standard errors of (E0, B0, B0', V0) of ``func`` fitted to E(V) by least squares.

    Parameters
    ----------
    func
        ``func(V, E0, B0, B0', V0)``, an ``ase.eos`` form (V in Å³, E in eV, B0 in eV/Å³).
    volumes, energies
        The points (Å³/atom, eV/atom).
    start
        The ``ase.eos`` solution (E0 eV, B0 eV/Å³, B0', V0 Å³), where the refit starts.

    Returns
    -------
    tuple[float, float, float, float]
        Standard errors in the units of the parameters (eV, eV/Å³, 1, Å³); NaN where the
        covariance is undefined (fewer than 5 points, singular Jacobian, failed refit).
    """
    if len(volumes) <= len(start):
        return (float("nan"),) * 4
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", OptimizeWarning)
            _, covariance = curve_fit(func, volumes, energies, p0=start, maxfev=10000)
    except (RuntimeError, ValueError):
        return (float("nan"),) * 4
    variances = np.diag(np.asarray(covariance, dtype=float))
    e0, b0, bp, v0 = (
        float(np.sqrt(v)) if np.isfinite(v) and v >= 0 else float("nan") for v in variances
    )
    return e0, b0, bp, v0


def curvature_bulk_modulus(cell: Atoms, calc: Calculator, volume_range: float) -> float:
    """B0 (GPa) of a 7-point Birch-Murnaghan fit of E(V) over +-``volume_range``.

    Parameters
    ----------
    cell
        Periodic structure (Å), scaled isotropically about its own volume; not modified.
    calc
        ASE calculator giving energies (eV).
    volume_range
        Half-width of the scan (fraction of the volume).

    Raises
    ------
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite energy; ``no_convergence`` when the fit fails.
    """
    volumes, energies = [], []
    for factor in np.linspace(1 - volume_range, 1 + volume_range, 7):
        scaled = cell.copy()
        scaled.set_cell(cell.cell.array * factor ** (1 / 3), scale_atoms=True)
        scaled.calc = calc
        energies.append(float(scaled.get_potential_energy()))
        volumes.append(float(scaled.get_volume()))
    if not np.isfinite(energies).all():
        raise BenchmarkFailed(
            "non-finite energy in the E(V) scan", failure_class=FailureClass.NAN_OR_INF
        )
    try:
        _, _, b0 = EquationOfState(volumes, energies, eos="birchmurnaghan").fit(warn=False)
    except (RuntimeError, ValueError) as exc:
        raise BenchmarkFailed(
            f"E(V) fit failed: {exc}", failure_class=FailureClass.NO_CONVERGENCE
        ) from exc
    return float(b0 / units.GPa)


def _no_convergence(message: str, curve: SeriesData) -> BenchmarkFailed:
    return BenchmarkFailed(message, failure_class=FailureClass.NO_CONVERGENCE, series=(curve,))


def energy_volume_series(
    volumes: tuple[float, ...], energies: tuple[float, ...], *, name: str = "energy_volume"
) -> SeriesData:
    """The E(V) points as the ``name`` series (Å³/atom, eV/atom)."""
    return SeriesData(
        name=name,
        x=tuple(float(v) for v in volumes),
        y=tuple(float(e) for e in energies),
        x_label="volume per atom",
        x_unit="Å³/atom",
        y_label="energy per atom",
        y_unit="eV/atom",
    )
