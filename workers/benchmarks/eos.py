"""Equation of state: E(V) of an isotropically scaled cell and its Birch-Murnaghan fit.

The cell shape and fractional coordinates are kept; only the volume changes. The fitted
equilibrium volume, bulk modulus and its pressure derivative are compared with experiment
(``ase.collections.dcdft``); a fitted minimum outside the sampled range is a reported
failure, with the E(V) curve kept, never a silently extrapolated number.

Quality flags (1 = doubtful), computed from the scan itself:

- ``flag_bprime_out_of_range``: B0' outside [1, 10] (elements lie between about 3 and 7);
- ``flag_large_fit_residual``: fit residual RMS above 1 % of the sampled energy span
  (``fit_residual_relative``, %);
- ``flag_window_sensitive``: B0 of a fit to the points in the inner half of the volume window
  (|V / V_input - 1| <= r / 2; ``bulk_modulus_inner_window``, GPa) differs from the full-window
  B0 by more than 10 % (``bulk_modulus_window_change``, %); left out when the inner half holds
  fewer than 5 points (n_points < 11 at the default grid) or its fit fails.

Standard errors of V0, B0 and B0' (``volume_per_atom_stderr`` Å³/atom, ``bulk_modulus_stderr``
GPa, ``bulk_modulus_pressure_derivative_stderr``) come from the covariance of a least-squares
refit of the same form (``workers.benchmarks._eos_fit.parameter_stderr``).

Roughness (``workers.benchmarks._roughness``): ``fine_points`` more volumes (default 21) span
V0 (1 +- ``fine_range``) (default +-4 %) around the fitted V0 (series ``energy_volume_fine``);
``roughness_rms`` (meV/atom) and ``roughness`` (% of the span) are their residual from a
cubic polynomial in V, flagged (``flag_rough_energy_volume``) above 1 % of the span. The
coarse scan cannot see a ripple of a few meV/atom and a period of a percent of the volume.

Smoothness of E(V), as the diatomics metrics (``workers.benchmarks._curves``): sign flips of
the energy differences (1 ideal; steps below 0.1 meV/atom ignored), tortuosity (1 ideal) and
Spearman's rank correlation of E with V on the compressed side of the lowest point (-1 ideal)
and on the expanded side (+1 ideal). The force checks of ``workers.benchmarks._checks`` (net
force, symmetry) are reported for the input structure; the symmetry check reads the forces
of the scan point at the input volume (odd ``n_points``) instead of calling the model again,
so a default run makes 11 + 21 + 1 calls (scan, roughness sub-grid, rattled supercell).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._checks import ForceChecks, check_forces
from workers.benchmarks._curves import single_well
from workers.benchmarks._eos_fit import energy_volume_series, fit_eos, inner_bulk_modulus
from workers.benchmarks._frames import snapshot
from workers.benchmarks._roughness import fine_volumes, roughness_metrics
from workers.benchmarks.base import (
    FrameSet,
    Headline,
    MetricValue,
    Observer,
    SeriesData,
    finite,
    notify,
    register_benchmark,
)

#: ase.eos forms whose fitted parameters are (E0, B0, B0', V0).
EOS_FORMS = ("birchmurnaghan", "birch", "murnaghan", "pouriertarantola", "vinet", "anton-schmidt")
#: Plausible range of the pressure derivative B0' (dimensionless).
BPRIME_RANGE = (1.0, 10.0)
#: Fit residual RMS, as a fraction of the sampled energy span, above which the fit is flagged.
MAX_RELATIVE_RESIDUAL = 0.01
#: Relative change of B0 between the inner-half and the full window above which it is flagged.
MAX_WINDOW_CHANGE = 0.10
#: Energy steps below this are flat when counting sign flips of E(V) (eV/atom).
ENERGY_STEP_THRESHOLD_EV_PER_ATOM = 1e-4


@dataclass(frozen=True, slots=True)
class EosParams:
    """Parameters of the eos protocol.

    Parameters
    ----------
    volume_range
        Fractional half-width of the volume scan: volumes V (1 - r) ... V (1 + r)
        around the input volume V (dimensionless, 0 < r < 0.5).
    n_points
        Number of equally spaced volumes (at least 7).
    eos
        Equation-of-state form of ``ase.eos`` with parameters (E0, B0, B0', V0).
    fine_points
        Number of volumes of the fine sub-grid around the fitted V0 that measures the
        roughness of E(V) (0 leaves it out; otherwise at least 9).
    fine_range
        Fractional half-width of the fine sub-grid: V0 (1 - w) ... V0 (1 + w) (0 < w <= 0.1).
    """

    volume_range: float = 0.20
    n_points: int = 11
    eos: str = "birchmurnaghan"
    fine_points: int = 21
    fine_range: float = 0.04

    def __post_init__(self) -> None:
        if not 0.0 < self.volume_range < 0.5:
            raise ValueError(f"volume_range must be in (0, 0.5), got {self.volume_range}")
        if self.n_points < 7:
            raise ValueError(f"n_points must be at least 7, got {self.n_points}")
        if self.eos not in EOS_FORMS:
            raise ValueError(f"eos must be one of {list(EOS_FORMS)}, got {self.eos!r}")
        if self.fine_points != 0 and self.fine_points < 9:
            raise ValueError(f"fine_points must be 0 or at least 9, got {self.fine_points}")
        if not 0.0 < self.fine_range <= 0.1:
            raise ValueError(f"fine_range must be in (0, 0.1], got {self.fine_range}")


@dataclass(frozen=True, slots=True)
class EosResult:
    """E(V) points and the fitted equation of state, per atom.

    Parameters
    ----------
    volumes_a3_per_atom, energies_ev_per_atom
        The sampled points (Å³/atom, eV/atom).
    v0_a3_per_atom
        Fitted equilibrium volume (Å³/atom).
    e0_ev_per_atom
        Fitted minimum energy (eV/atom).
    bulk_modulus_gpa
        Fitted bulk modulus B0 (GPa).
    bulk_modulus_pressure_derivative
        Fitted dB/dP at V0 (dimensionless).
    fit_residual_rms_mev_per_atom
        Root-mean-square deviation of the points from the fit (meV/atom).
    bulk_modulus_inner_window_gpa
        B0 of the same form fitted to the inner half of the volume window (GPa); None when
        that half holds fewer than 5 points or its fit fails.
    force_checks
        Net force and symmetry checks on the input (None without forces).
    fine_volumes_a3_per_atom, fine_energies_ev_per_atom
        The fine sub-grid around V0 (Å³/atom, eV/atom); empty when left out.
    v0_stderr_a3_per_atom, bulk_modulus_stderr_gpa, bulk_modulus_pressure_derivative_stderr
        Standard errors of V0 (Å³/atom), B0 (GPa) and B0'; NaN (not reported) if undefined.
    frame_sets
        The strained structures (``eos_structures``), each with the energy (eV) the model
        gave it.
    """

    volumes_a3_per_atom: tuple[float, ...]
    energies_ev_per_atom: tuple[float, ...]
    v0_a3_per_atom: float
    e0_ev_per_atom: float
    bulk_modulus_gpa: float
    bulk_modulus_pressure_derivative: float
    fit_residual_rms_mev_per_atom: float
    bulk_modulus_inner_window_gpa: float | None = None
    force_checks: ForceChecks | None = None
    fine_volumes_a3_per_atom: tuple[float, ...] = ()
    fine_energies_ev_per_atom: tuple[float, ...] = ()
    v0_stderr_a3_per_atom: float = float("nan")
    bulk_modulus_stderr_gpa: float = float("nan")
    bulk_modulus_pressure_derivative_stderr: float = float("nan")
    frame_sets: tuple[FrameSet, ...] = field(default=(), compare=False, repr=False)

    def frames(self) -> tuple[FrameSet, ...]:
        """The strained structures with their energies."""
        return self.frame_sets

    def metrics(self) -> tuple[MetricValue, ...]:
        """V0, B0, B0' (vs references), their errors, E0, residual, flags, smoothness, roughness."""
        bp = "bulk_modulus_pressure_derivative"
        return finite(
            MetricValue("volume_per_atom", self.v0_a3_per_atom, "Å³/atom", True),
            MetricValue("bulk_modulus", self.bulk_modulus_gpa, "GPa", True),
            MetricValue(bp, self.bulk_modulus_pressure_derivative, "1", True),
            MetricValue("volume_per_atom_stderr", self.v0_stderr_a3_per_atom, "Å³/atom"),
            MetricValue("bulk_modulus_stderr", self.bulk_modulus_stderr_gpa, "GPa"),
            MetricValue(f"{bp}_stderr", self.bulk_modulus_pressure_derivative_stderr, "1"),
            MetricValue("energy_per_atom_min", self.e0_ev_per_atom, "eV/atom"),
            MetricValue("fit_residual_rms", self.fit_residual_rms_mev_per_atom, "meV/atom"),
            *self._flags(),
            *self._smoothness(),
            *roughness_metrics(self.fine_volumes_a3_per_atom, self.fine_energies_ev_per_atom),
            *(self.force_checks.metrics() if self.force_checks is not None else ()),
        )

    def _flags(self) -> list[MetricValue]:
        bp = self.bulk_modulus_pressure_derivative
        span_mev = 1000.0 * float(np.ptp(self.energies_ev_per_atom))
        relative = self.fit_residual_rms_mev_per_atom / span_mev if span_mev > 0 else np.inf
        bp_outside = not BPRIME_RANGE[0] <= bp <= BPRIME_RANGE[1]
        out = [
            MetricValue("flag_bprime_out_of_range", float(bp_outside), "1"),
            MetricValue("fit_residual_relative", 100.0 * relative, "%"),
            MetricValue("flag_large_fit_residual", float(relative > MAX_RELATIVE_RESIDUAL), "1"),
        ]
        b_inner = self.bulk_modulus_inner_window_gpa
        if b_inner is not None:
            change = abs(b_inner / self.bulk_modulus_gpa - 1.0)
            out += [
                MetricValue("bulk_modulus_inner_window", b_inner, "GPa"),
                MetricValue("bulk_modulus_window_change", 100.0 * change, "%"),
                MetricValue("flag_window_sensitive", float(change > MAX_WINDOW_CHANGE), "1"),
            ]
        return out

    def _smoothness(self) -> list[MetricValue]:
        v, e = np.array(self.volumes_a3_per_atom), np.array(self.energies_ev_per_atom)
        values = single_well(v, e, threshold=ENERGY_STEP_THRESHOLD_EV_PER_ATOM)
        names = ("energy_diff_flips", "tortuosity", "spearman_compression", "spearman_expansion")
        return [MetricValue(n, x, "1") for n, x in zip(names, values, strict=True) if x is not None]

    def series(self) -> tuple[SeriesData, ...]:
        """The sampled E(V) curve and, when measured, the fine sub-grid around V0."""
        coarse = energy_volume_series(self.volumes_a3_per_atom, self.energies_ev_per_atom)
        if not self.fine_volumes_a3_per_atom:
            return (coarse,)
        fine_v, fine_e = self.fine_volumes_a3_per_atom, self.fine_energies_ev_per_atom
        return coarse, energy_volume_series(fine_v, fine_e, name="energy_volume_fine")


@register_benchmark(
    "eos",
    version="1.1",
    params=EosParams,
    description=(
        "E(V) over an isotropic volume scan (default +-20 %, 11 points) with fixed cell shape; "
        "Birch-Murnaghan fit of V0, B0 and B0' with standard errors; roughness of E(V) on a "
        "21-point sub-grid over V0 +-4 %."
    ),
    headline=(
        Headline("volume_per_atom", "V0", "Å³/atom"),
        Headline("bulk_modulus", "B0", "GPa"),
        Headline("bulk_modulus_pressure_derivative", "B0'", "1"),
    ),
)
def run_eos(
    atoms: Atoms, calc: Calculator, params: EosParams, *, observer: Observer | None = None
) -> EosResult:
    """Scan the volume of ``atoms`` isotropically and fit an equation of state.

    Parameters
    ----------
    atoms
        Periodic structure (lengths in Å); not modified.
    calc
        ASE calculator giving energies in eV.
    params
        Volume range, number of points and EOS form.
    observer
        Called after each volume with ("eos", fraction done); may raise RunCancelled.

    Returns
    -------
    EosResult
        Points, fitted V0 (Å³/atom), E0 (eV/atom), B0 (GPa) and B0' with standard errors,
        and the fine sub-grid around V0.

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not periodic in three dimensions.
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite energy; ``no_convergence`` (with the E(V) series
        attached) when the fit fails, B0 <= 0 or V0 lies outside the sampled volumes.
    """
    if not atoms.pbc.all() or atoms.cell.rank != 3:
        raise BenchmarkSetupError("eos needs a structure periodic in three dimensions")
    n_atoms, v_input = len(atoms), atoms.get_volume() / len(atoms)
    factors = np.linspace(1 - params.volume_range, 1 + params.volume_range, params.n_points)
    n_total = len(factors) + params.fine_points
    volumes, energies, structures = [], [], []
    for i, factor in enumerate(factors):
        trial, energy = _scaled(atoms, calc, float(factor))
        volumes.append(trial.get_volume() / n_atoms)
        energies.append(energy / n_atoms)
        structures.append(snapshot(trial, volume_factor=float(factor)))
        notify(observer, "eos", (i + 1) / n_total)
    fit = fit_eos(np.array(volumes), np.array(energies), params.eos)
    inner = np.abs(factors - 1.0) <= params.volume_range / 2 + 1e-9
    fine_v, fine_e = [], []
    if params.fine_points:
        for i, v in enumerate(
            fine_volumes(fit.v0_a3_per_atom, params.fine_range, params.fine_points)
        ):
            fine_v.append(float(v))
            fine_e.append(_scaled(atoms, calc, v / v_input)[1] / n_atoms)
            notify(observer, "eos", (len(factors) + i + 1) / n_total)
    return EosResult(
        volumes_a3_per_atom=tuple(float(v) for v in volumes),
        energies_ev_per_atom=tuple(float(e) for e in energies),
        **{f.name: getattr(fit, f.name) for f in dataclasses.fields(fit)},
        bulk_modulus_inner_window_gpa=inner_bulk_modulus(
            np.array(volumes)[inner], np.array(energies)[inner], params.eos
        ),
        force_checks=check_forces(atoms, calc, ideal_forces=_input_forces(atoms, structures)),
        fine_volumes_a3_per_atom=tuple(fine_v),
        fine_energies_ev_per_atom=tuple(float(e) for e in fine_e),
        frame_sets=(FrameSet("eos_structures", tuple(structures), "E(V) scan, fixed shape"),),
    )


def _input_forces(atoms: Atoms, frames: list[Atoms]) -> np.ndarray | None:
    """Forces (eV/Å) the scan computed on exactly the geometry of ``atoms``, or None.

    Scaling by a volume factor of 1 leaves the input unchanged (checked bit for bit); the
    snapshot of that scan point keeps the forces when the calculator computed them with the
    energy (EMT and the MLIPs compute energy, forces and stress in one call). None (an even
    number of points, an energy-only call) makes the force checks ask the calculator.
    """
    for frame in frames:
        same = (
            frame.info.get("volume_factor") == 1.0
            and np.array_equal(frame.numbers, atoms.numbers)
            and np.array_equal(frame.positions, atoms.positions)
            and np.array_equal(frame.cell.array, atoms.cell.array)
        )
        if same and isinstance(frame.calc, SinglePointCalculator):
            forces = frame.calc.results.get("forces")
            return None if forces is None else np.array(forces)
    return None


def _scaled(atoms: Atoms, calc: Calculator, factor: float) -> tuple[Atoms, Any]:
    """``atoms`` scaled to ``factor`` times its volume, and its energy (eV).

    The energy is returned as the calculator gave it (a float32 scalar for some MLIPs), so
    the caller need not ask for it again (each ``get_potential_energy`` compares the whole
    geometry with the calculator's). Raises BenchmarkFailed(nan_or_inf) for a non-finite
    energy.
    """
    trial = atoms.copy()
    trial.set_cell(atoms.cell.array * factor ** (1 / 3), scale_atoms=True)
    trial.calc = calc
    raw = trial.get_potential_energy()
    energy = float(raw)
    if not np.isfinite(energy):
        raise BenchmarkFailed(
            f"non-finite energy {energy} at volume {trial.get_volume():.3f} Å³",
            failure_class=FailureClass.NAN_OR_INF,
        )
    return trial, raw
