"""Equation-of-state fits of the ``eos`` benchmark: one ``ase.eos`` form fitted to E(V) per
atom, with the checks that turn a bad fit into a reported failure (with the curve kept)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from ase import units
from ase.eos import EquationOfState
from scipy.optimize import OptimizeWarning

from workers.benchmarks.base import SeriesData
from workers.errors import BenchmarkFailed, FailureClass


@dataclass(frozen=True, slots=True)
class EosFit:
    """Fitted parameters, per atom: V0 (Å³), E0 (eV), B0 (GPa), B0' and the residual (meV)."""

    v0_a3_per_atom: float
    e0_ev_per_atom: float
    bulk_modulus_gpa: float
    bulk_modulus_pressure_derivative: float
    fit_residual_rms_mev_per_atom: float


def inner_bulk_modulus(volumes: np.ndarray, energies: np.ndarray, form: str) -> float | None:
    """B0 (GPa) fitted to the inner-window points; None for < 5 points or a failed fit."""
    if len(volumes) < 5:
        return None
    try:
        b0 = fit_eos(volumes, energies, form, require_minimum=False).bulk_modulus_gpa
    except BenchmarkFailed:
        return None
    return b0


def fit_eos(
    volumes: np.ndarray, energies: np.ndarray, form: str, *, require_minimum: bool = True
) -> EosFit:
    """Fit ``form`` to E(V) per atom; raises BenchmarkFailed(no_convergence) with the curve.

    ``require_minimum=False`` accepts a V0 outside the sampled volumes (the inner window).
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
    return EosFit(
        v0_a3_per_atom=v0,
        e0_ev_per_atom=e0,
        bulk_modulus_gpa=b0 / units.GPa,
        bulk_modulus_pressure_derivative=bp,
        fit_residual_rms_mev_per_atom=1000.0 * float(np.sqrt(np.mean(residual**2))),
    )


def _no_convergence(message: str, curve: SeriesData) -> BenchmarkFailed:
    return BenchmarkFailed(message, failure_class=FailureClass.NO_CONVERGENCE, series=(curve,))


def energy_volume_series(volumes: tuple[float, ...], energies: tuple[float, ...]) -> SeriesData:
    """The E(V) points as the ``energy_volume`` series (Å³/atom, eV/atom)."""
    return SeriesData(
        name="energy_volume",
        x=tuple(float(v) for v in volumes),
        y=tuple(float(e) for e in energies),
        x_label="volume per atom",
        x_unit="Å³/atom",
        y_label="energy per atom",
        y_unit="eV/atom",
    )
