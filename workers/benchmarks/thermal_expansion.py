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
first), the volume per atom is averaged. A polynomial (default linear: short runs leave
too much noise for a curvature) fitted to the seed-averaged V(T) gives the linear thermal
expansion coefficient at 300 K,
alpha = (1 / 3V) dV/dT, compared with experiment (pymatgen's
``coefficient_of_linear_thermal_expansion``). The same fit per seed gives the spread.
The dynamics are classical: below the Debye temperature alpha is overestimated compared
with experiment, by a few percent at 300 K for metals such as Cu (Debye T ~ 340 K).

Default protocol (version 1.1): 8+ atoms, 4 fs steps (a sixteenth of the shortest phonon
period of Si, ~65 fs; lower it for light or stiff crystals), 0.2 ps per temperature, 3 seeds:
~1,300 force-and-stress calls, a few seconds with EMT (Berendsen NPT evaluates the forces
twice per step: once after the cell is rescaled). Version 1.0 ran 27+ atoms, 2 fs and
0.8 ps with a quadratic fit; its parameters reproduce it. The short runs lag the heating a
little, which biases alpha low by ~5 % for EMT metals.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, FailureClass
from workers.benchmarks._frames import FrameRecorder
from workers.benchmarks._md import (
    RateLimitedNPTBerendsen,
    Watch,
    build_supercell,
    estimate_bulk_modulus_gpa,
    run_watched,
    seed_velocities,
)
from workers.benchmarks._thermal_fit import (
    ThermalExpansionResult,
    fit_expansion,
    volume_series,
)
from workers.benchmarks.base import (
    Headline,
    Observer,
    notify,
    register_benchmark,
)


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
    min_atoms: int = 8
    timestep_fs: float = 4.0
    duration_ps: float = 0.2
    equilibration_fraction: float = 0.4
    pressure_gpa: float = 0.0
    thermostat_fs: float = 50.0
    barostat_fs: float = 100.0
    fit_degree: int = 1

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


@register_benchmark(
    "thermal_expansion",
    version="1.1",
    params=ThermalExpansionParams,
    description=(
        "Berendsen NPT at 0 GPa on 200/300/400/500 K (8+ atoms, 4 fs, 0.2 ps per temperature, "
        "3 seeds); linear fit of V(T); linear expansion coefficient at 300 K."
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
    recorder = FrameRecorder()  # the first seed's trajectory, thinned as it grows
    for index, seed in enumerate(params.seeds):
        system = supercell.copy()
        system.calc = calc
        seed_velocities(system, temps[0], seed)
        row: list[float] = []
        for t_index, temperature in enumerate(temps):
            done = (index + t_index / len(temps)) / len(params.seeds)
            progress = (observer, done, 1 / len(temps) / len(params.seeds))
            kept = recorder if index == 0 else None
            try:
                row.append(
                    _mean_volume(
                        system, params, temperature, bulk_gpa, t_index == 0, progress, kept
                    )
                )
            except BenchmarkFailed as exc:  # keep the volumes of the finished temperatures
                partial = volume_series("volume_temperature", np.array(temps[:t_index]), row)
                raise BenchmarkFailed(
                    f"seed {seed}: {exc}", failure_class=exc.failure_class, series=(partial,)
                ) from exc
        volumes.append(tuple(row))
    result = fit_expansion(
        temps,
        tuple(volumes),
        degree=params.fit_degree,
        reference_temperature_k=params.reference_temperature_k,
        n_atoms=len(supercell),
    )
    description = f"NPT at {params.pressure_gpa:g} GPa through {temps} K, seed {params.seeds[0]}"
    frames = (recorder.frame_set("trajectory", description=description),)
    return dataclasses.replace(result, frame_sets=frames)


def _mean_volume(
    system: Atoms,
    params: ThermalExpansionParams,
    temperature: float,
    bulk_gpa: float,
    first: bool,
    progress: tuple[Observer | None, float, float],
    recorder: FrameRecorder | None = None,
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
        if recorder is not None and (step > 0 or first):  # step 0 repeats the last state
            time_ps = step * params.timestep_fs / 1000
            recorder.offer(system, temperature_k=temperature, time_ps=time_ps)
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
