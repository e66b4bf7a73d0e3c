"""Thermal expansion: NPT molecular dynamics on a temperature grid, V(T) and its slope.

For every seed a supercell of the input crystal is heated through the temperature grid in
ascending order (each temperature starts from the last state of the one before) with
Berendsen NPT dynamics (``ase.md.nptberendsen.NPTBerendsen``, its cell scaling limited to 1 %
per step: ``_md.RateLimitedNPTBerendsen``) at zero pressure. Berendsen is
chosen over Nose-Hoover/Parrinello-Rahman (``ase.md.npt.NPT``) or MTK because only the mean
volume is needed: its weak coupling damps the volume fluctuations, so a short run gives a
low-noise mean, and it relaxes without the slow barostat oscillations of an extended system.
The barostat compressibility is set from the model's own bulk modulus at the input cell.

After an equilibration (the first 40 % of each temperature, and one more such stretch at the
first), the volume per atom is averaged. A polynomial (default quadratic) fitted to the
seed-averaged V(T) gives the linear thermal expansion coefficient at 300 K,
alpha = (1 / 3V) dV/dT, compared with experiment (pymatgen's
``coefficient_of_linear_thermal_expansion``). The same fit per seed gives the spread.
The dynamics are classical: below the Debye temperature alpha is overestimated compared
with experiment, by a few percent at 300 K for metals such as Cu (Debye T ~ 340 K).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from numpy.polynomial import polynomial

from workers.benchmarks._md import (
    RateLimitedNPTBerendsen,
    Watch,
    build_supercell,
    estimate_bulk_modulus_gpa,
    run_watched,
    seed_velocities,
)
from workers.benchmarks.base import (
    Headline,
    MetricValue,
    Observer,
    SeriesData,
    finite,
    notify,
    register_benchmark,
)
from workers.errors import BenchmarkFailed, FailureClass


@dataclass(frozen=True, slots=True)
class ThermalExpansionParams:
    """Parameters of the thermal_expansion protocol.

    Parameters
    ----------
    temperatures_k
        Temperature grid (K), at least 4 distinct values; run in ascending order.
    reference_temperature_k
        Temperature at which alpha is reported (K), inside the grid.
    seeds
        Seeds of the initial velocities (at least 3).
    min_atoms
        The input cell is repeated to at least this many atoms.
    timestep_fs
        MD timestep (fs).
    duration_ps
        Simulated time per temperature (ps).
    equilibration_fraction
        Leading fraction of each temperature left out of the average.
    pressure_gpa
        External pressure (GPa).
    thermostat_fs, barostat_fs
        Berendsen coupling times (fs).
    fit_degree
        Degree of the polynomial fitted to V(T) (1 or more, below the number of temperatures).
    """

    temperatures_k: tuple[float, ...] = (200.0, 300.0, 400.0, 500.0)
    reference_temperature_k: float = 300.0
    seeds: tuple[int, ...] = (0, 1, 2)
    min_atoms: int = 27
    timestep_fs: float = 2.0
    duration_ps: float = 0.8
    equilibration_fraction: float = 0.4
    pressure_gpa: float = 0.0
    thermostat_fs: float = 50.0
    barostat_fs: float = 100.0
    fit_degree: int = 2

    def __post_init__(self) -> None:
        temps = self.temperatures_k
        if len(set(temps)) < 4 or min(temps) <= 0:
            raise ValueError(f"temperatures_k needs at least 4 distinct positive values: {temps}")
        if not min(temps) <= self.reference_temperature_k <= max(temps):
            raise ValueError("reference_temperature_k must lie inside the temperature grid")
        if len(self.seeds) < 3 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must hold at least 3 distinct seeds, got {self.seeds}")
        if not 1 <= self.fit_degree < len(set(temps)):
            raise ValueError("fit_degree must be at least 1 and below the number of temperatures")
        if not 0.0 <= self.equilibration_fraction < 0.9:
            raise ValueError("equilibration_fraction must be in [0, 0.9)")
        if self.duration_ps * 1000 / self.timestep_fs < 10:
            raise ValueError("duration_ps must span at least 10 timesteps")


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
    """

    temperatures_k: tuple[float, ...]
    volumes_a3_per_atom: tuple[tuple[float, ...], ...]
    fit_coefficients: tuple[float, ...]
    reference_temperature_k: float
    alpha_per_k: float
    alpha_per_seed_per_k: tuple[float, ...]
    fit_residual_rms_a3_per_atom: float
    n_atoms: int

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
            _volume_series("volume_temperature", temps, mean),
            _volume_series("volume_temperature_fit", fine, fitted),
        )


@register_benchmark(
    "thermal_expansion",
    version="1.0",
    params=ThermalExpansionParams,
    description=(
        "Berendsen NPT at 0 GPa on 200/300/400/500 K (27+ atoms, 2 fs, 0.8 ps per temperature, "
        "3 seeds); quadratic fit of V(T); linear expansion coefficient at 300 K."
    ),
    headline=(Headline("linear_thermal_expansion_coefficient", "alpha(300 K)", "1/K"),),
)
def run_thermal_expansion(
    atoms: Atoms,
    calc: Calculator,
    params: ThermalExpansionParams,
    *,
    observer: Observer | None = None,
) -> ThermalExpansionResult:
    """Average the volume of NPT dynamics on a temperature grid and fit V(T).

    Parameters
    ----------
    atoms
        Periodic structure (lengths in Å); not modified.
    calc
        ASE calculator giving energies (eV), forces (eV/Å) and stress (eV/Å³).
    params
        Temperature grid, seeds, supercell size, MD settings and fit degree.
    observer
        Called every 10 steps with ("thermal_expansion", fraction done); may raise
        RunCancelled.

    Returns
    -------
    ThermalExpansionResult
        Mean volumes (Å³/atom), the V(T) fit, alpha at the reference temperature (1/K).

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not periodic in three dimensions or the calculator gives no stress.
    BenchmarkFailed
        With the failure class when a trajectory fails (NaN, atoms too close, runaway,
        collapse below half the start volume), with the volumes of the finished temperatures.
    """
    supercell = build_supercell(atoms, params.min_atoms)
    bulk_gpa = estimate_bulk_modulus_gpa(supercell, calc)
    temps = tuple(sorted(set(params.temperatures_k)))
    volumes = []
    for index, seed in enumerate(params.seeds):
        system = supercell.copy()
        system.calc = calc
        seed_velocities(system, temps[0], seed)
        row: list[float] = []
        for t_index, temperature in enumerate(temps):
            done = (index + t_index / len(temps)) / len(params.seeds)
            progress = (observer, done, 1 / len(temps) / len(params.seeds))
            try:
                row.append(
                    _mean_volume(system, params, temperature, bulk_gpa, t_index == 0, progress)
                )
            except BenchmarkFailed as exc:  # keep the volumes of the finished temperatures
                partial = _volume_series("volume_temperature", np.array(temps[:t_index]), row)
                raise BenchmarkFailed(
                    f"seed {seed}: {exc}", failure_class=exc.failure_class, series=(partial,)
                ) from exc
        volumes.append(tuple(row))
    return _fit(temps, tuple(volumes), params, len(supercell))


def _mean_volume(
    system: Atoms,
    params: ThermalExpansionParams,
    temperature: float,
    bulk_gpa: float,
    first: bool,
    progress: tuple[Observer | None, float, float],
) -> float:
    """NPT at ``temperature`` from the current state: mean volume per atom after equilibration."""
    n_steps = round(params.duration_ps * 1000 / params.timestep_fs)
    n_equil = round(params.equilibration_fraction * n_steps)
    n_total = n_steps + (n_equil if first else 0)
    dyn = RateLimitedNPTBerendsen(
        system,
        params.timestep_fs * units.fs,
        temperature_K=temperature,
        pressure_au=params.pressure_gpa * units.GPa,
        taut=params.thermostat_fs * units.fs,
        taup=params.barostat_fs * units.fs,
        compressibility_au=1.0 / (bulk_gpa * units.GPa),
    )
    sampled: list[float] = []
    observer, done, share = progress

    def after_step(step: int) -> None:
        if step > n_total - n_steps + n_equil:
            sampled.append(system.get_volume() / len(system))
        if step % 10 == 0:
            notify(observer, "thermal_expansion", done + share * step / n_total)

    watch = Watch(reference_temperature_k=lambda step: temperature, collapse_fraction=0.5)
    outcome = run_watched(dyn, n_total, watch, after_step=after_step)
    if outcome.failed:
        raise BenchmarkFailed(
            f"NPT at {temperature:g} K: {outcome.message} after {outcome.time_ps:.3f} ps",
            failure_class=FailureClass(outcome.status),
        )
    return float(np.mean(sampled))


def _fit(
    temps: tuple[float, ...],
    volumes: tuple[tuple[float, ...], ...],
    params: ThermalExpansionParams,
    n_atoms: int,
) -> ThermalExpansionResult:
    """Fit V(T) of the seed average and of each seed; alpha at the reference temperature."""
    t_ref = params.reference_temperature_k
    x = np.array(temps)

    def alpha(v: np.ndarray) -> tuple[float, np.ndarray]:
        coefficients = polynomial.polyfit(x, v, params.fit_degree)
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


def _volume_series(
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
