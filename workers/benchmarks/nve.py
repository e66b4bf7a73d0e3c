"""Energy conservation in NVE molecular dynamics (velocity Verlet).

A supercell of the input crystal starts at its lattice sites with Maxwell-Boltzmann velocities
at 300 K (so it equilibrates near 150 K by equipartition) and is integrated with
``ase.md.verlet.VelocityVerlet``. Forces that are the exact gradient of the energy conserve
the total energy up to a bounded oscillation whose size grows as the timestep squared; forces
that are not (noise, discontinuities, non-conservative heads) make it drift. After a warm-up
(default 20 % of the run) the total energy per atom is fitted with a straight line:

- drift: the slope (meV/atom/ps), per seed, reported as mean (``energy_drift``), mean of its
  magnitude (``energy_drift_abs``), spread over seeds (``energy_drift_spread``, sample std) and
  standard error of the mean (``energy_drift_stderr`` = spread / sqrt(seeds));
- fluctuation: the standard deviation of the residuals about that line (meV/atom).

Default protocol (version 1.2): 108+ atoms (a one-atom fcc or bcc cell becomes 5 x 5 x 5),
2 fs, 0.6 ps, 3 seeds: 900 force calls, about 25 s with ASE's EMT (27 ms per 125-atom call on
one CPU core) and 4 min with a universal MLIP at 0.25 s per call. Chosen so that the
seed-to-seed spread of a conservative model's drift is far below the drift that separates a
non-conservative control from it. Measured on EMT Cu over 12 seeds (meV/atom/ps): the EMT
drift spread is 0.0102 at the version 1.1 default (8 atoms, 0.4 ps), 0.0016 at 64 atoms and
0.4 ps, 0.00087 at 125 atoms and 0.6 ps; NoisyEMT (Gaussian force noise of 0.05 eV/Å, expected
heating 3 sigma^2 dt / 2m = 1.14) drifts 1.7 +- 2.6 at 8 atoms, where single seeds drift
negative, and 1.7 +- 0.65 at 125 atoms and 0.6 ps, where every seed drifts more than 0.2.
Noise forces heat by a random walk whose seed spread falls only as 1 / sqrt(atoms x time).
Versions 1.1 (8+ atoms, 0.4 ps) and 1.0 (27+ atoms, 1 fs, 2 ps) are parameter sets away.

A trajectory that fails (``nan_or_inf``, ``atoms_too_close``, ``temperature_runaway``,
``exception``; see ``workers.benchmarks._md``) raises BenchmarkFailed with its energy traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.md.verlet import VelocityVerlet

from shared_kernel.failures import BenchmarkFailed, FailureClass
from workers.benchmarks._frames import FrameRecorder
from workers.benchmarks._md import Trace, Watch, build_supercell, run_watched, seed_velocities
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


@dataclass(frozen=True, slots=True)
class NveParams:
    """Parameters of the nve protocol.

    Parameters
    ----------
    min_atoms
        The input cell is repeated to at least this many atoms (``_md.build_supercell``).
    temperature_k
        Temperature of the initial Maxwell-Boltzmann velocities (K).
    timestep_fs
        Velocity Verlet timestep (fs).
    duration_ps
        Simulated time per seed (ps).
    warmup_fraction
        Leading fraction of each trajectory left out of the fits.
    seeds
        Seeds of the initial velocities (at least 3).
    runaway_factor
        ``temperature_runaway`` when T exceeds this multiple of ``temperature_k``.
    min_distance_a
        ``atoms_too_close`` below this interatomic distance (Å).
    """

    min_atoms: int = 108
    temperature_k: float = 300.0
    timestep_fs: float = 2.0
    duration_ps: float = 0.6
    warmup_fraction: float = 0.2
    seeds: tuple[int, ...] = (0, 1, 2)
    runaway_factor: float = 3.0
    min_distance_a: float = 0.5

    def __post_init__(self) -> None:
        if len(self.seeds) < 3 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must hold at least 3 distinct seeds, got {self.seeds}")
        if self.timestep_fs <= 0 or self.duration_ps <= 0 or self.temperature_k <= 0:
            raise ValueError("timestep_fs, duration_ps and temperature_k must be positive")
        if self.duration_ps * 1000 / self.timestep_fs < 20:
            raise ValueError("duration_ps must span at least 20 timesteps")
        if not 0.0 <= self.warmup_fraction < 0.9:
            raise ValueError(f"warmup_fraction must be in [0, 0.9), got {self.warmup_fraction}")


@dataclass(frozen=True, slots=True)
class NveResult:
    """Drift and fluctuation of the total energy, per seed.

    Parameters
    ----------
    seeds
        Velocity seeds, in the order of the per-seed tuples.
    drifts_mev_per_atom_ps
        Slope of the total energy per atom after the warm-up (meV/atom/ps).
    fluctuations_mev_per_atom
        Standard deviation of the total energy per atom about that line (meV/atom).
    mean_temperatures_k
        Mean kinetic temperature after the warm-up (K).
    n_atoms
        Atoms in the simulated supercell.
    time_ps, total_ev_per_atom, potential_ev_per_atom, kinetic_ev_per_atom
        Energy traces of the first seed (ps, eV/atom).
    frame_sets
        The first seed's trajectory (``trajectory``), subsampled to at most
        ``_frames.MAX_FRAMES`` frames, each with its energy (eV) and forces (eV/Å).
    """

    seeds: tuple[int, ...]
    drifts_mev_per_atom_ps: tuple[float, ...]
    fluctuations_mev_per_atom: tuple[float, ...]
    mean_temperatures_k: tuple[float, ...]
    n_atoms: int
    time_ps: tuple[float, ...]
    total_ev_per_atom: tuple[float, ...]
    potential_ev_per_atom: tuple[float, ...]
    kinetic_ev_per_atom: tuple[float, ...]
    frame_sets: tuple[FrameSet, ...] = field(default=(), compare=False, repr=False)

    def metrics(self) -> tuple[MetricValue, ...]:
        """Drift (signed mean, mean magnitude, spread, stderr), fluctuation and temperature."""
        drifts = np.array(self.drifts_mev_per_atom_ps)
        fluct = np.array(self.fluctuations_mev_per_atom)
        spread = float(drifts.std(ddof=1))
        return finite(
            MetricValue("energy_drift", float(drifts.mean()), "meV/atom/ps"),
            MetricValue("energy_drift_abs", float(np.abs(drifts).mean()), "meV/atom/ps"),
            MetricValue("energy_drift_spread", spread, "meV/atom/ps"),
            MetricValue("energy_drift_stderr", spread / np.sqrt(len(drifts)), "meV/atom/ps"),
            MetricValue("energy_fluctuation", float(fluct.mean()), "meV/atom"),
            MetricValue("energy_fluctuation_spread", float(fluct.std(ddof=1)), "meV/atom"),
            MetricValue("mean_temperature", float(np.mean(self.mean_temperatures_k)), "K"),
        )

    def series(self) -> tuple[SeriesData, ...]:
        """Total, potential and kinetic energy per atom against time (first seed)."""
        curves = (
            ("total_energy", self.total_ev_per_atom),
            ("potential_energy", self.potential_ev_per_atom),
            ("kinetic_energy", self.kinetic_ev_per_atom),
        )
        return tuple(_energy_series(name, self.time_ps, y) for name, y in curves)

    def frames(self) -> tuple[FrameSet, ...]:
        """The first seed's subsampled trajectory."""
        return self.frame_sets


@register_benchmark(
    "nve",
    version="1.2",
    params=NveParams,
    description=(
        "Velocity Verlet NVE from 300 K Maxwell-Boltzmann velocities (108+ atom supercell, "
        "2 fs, 0.6 ps, 3 seeds): total-energy drift after a 20 % warm-up and its fluctuation."
    ),
    headline=(
        Headline("energy_drift_abs", "|drift|", "meV/atom/ps"),
        Headline("energy_fluctuation", "E fluctuation", "meV/atom"),
    ),
)
def run_nve(
    atoms: Atoms, calc: Calculator, params: NveParams, *, observer: Observer | None = None
) -> NveResult:
    """Integrate NVE dynamics from each seed and measure how well the energy is conserved.

    Parameters
    ----------
    atoms
        Periodic structure (lengths in Å); not modified.
    calc
        ASE calculator giving energies (eV) and forces (eV/Å).
    params
        Supercell size, temperature, timestep, duration, warm-up and seeds.
    observer
        Called every 10 steps with ("nve", fraction done); may raise RunCancelled.

    Returns
    -------
    NveResult
        Per-seed drift (meV/atom/ps), fluctuation (meV/atom), temperature (K), and the
        energy traces of the first seed.

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not periodic in three dimensions.
    BenchmarkFailed
        With the failure class of the first failed trajectory and its energy traces.
    """
    supercell = build_supercell(atoms, params.min_atoms)
    n_steps = round(params.duration_ps * 1000 / params.timestep_fs)
    traces = []
    recorder = FrameRecorder(expected=n_steps + 1)
    for i, seed in enumerate(params.seeds):
        kept = recorder if i == 0 else None
        traces.append(_run_seed(supercell, calc, params, seed, n_steps, observer, i, kept))
    fits = [_fit_drift(trace, params.warmup_fraction) for trace in traces]
    first = traces[0]
    return NveResult(
        seeds=tuple(params.seeds),
        drifts_mev_per_atom_ps=tuple(fit[0] for fit in fits),
        fluctuations_mev_per_atom=tuple(fit[1] for fit in fits),
        mean_temperatures_k=tuple(fit[2] for fit in fits),
        n_atoms=len(supercell),
        time_ps=tuple(first.time_ps),
        total_ev_per_atom=tuple(np.add(first.potential, first.kinetic).tolist()),
        potential_ev_per_atom=tuple(first.potential),
        kinetic_ev_per_atom=tuple(first.kinetic),
        frame_sets=(
            recorder.frame_set(
                "trajectory", description=f"NVE trajectory of seed {params.seeds[0]}"
            ),
        ),
    )


def _run_seed(
    supercell: Atoms,
    calc: Calculator,
    params: NveParams,
    seed: int,
    n_steps: int,
    observer: Observer | None,
    index: int,
    recorder: FrameRecorder | None = None,
) -> Trace:
    """One NVE trajectory; raises BenchmarkFailed with its traces if it fails."""
    system = supercell.copy()
    system.calc = calc
    seed_velocities(system, params.temperature_k, seed)
    dyn = VelocityVerlet(system, params.timestep_fs * units.fs)
    watch = Watch(
        reference_temperature_k=lambda step: params.temperature_k,
        runaway_factor=params.runaway_factor,
        min_distance_a=params.min_distance_a,
    )
    trace = Trace()
    n_seeds = len(params.seeds)

    def after_step(step: int) -> None:
        trace.record(system, step * params.timestep_fs / 1000)
        if recorder is not None:
            recorder.offer(system, time_ps=step * params.timestep_fs / 1000)
        if step % 10 == 0:
            notify(observer, "nve", (index + step / n_steps) / n_seeds)

    outcome = run_watched(dyn, n_steps, watch, after_step=after_step)
    if outcome.failed:
        raise BenchmarkFailed(
            f"seed {seed}: {outcome.message} at {outcome.time_ps:.3f} ps",
            failure_class=FailureClass(outcome.status),
            series=tuple(
                _energy_series(name, tuple(trace.time_ps), tuple(y))
                for name, y in (
                    ("potential_energy", trace.potential),
                    ("kinetic_energy", trace.kinetic),
                )
            ),
        )
    return trace


def _fit_drift(trace: Trace, warmup_fraction: float) -> tuple[float, float, float]:
    """(drift meV/atom/ps, fluctuation meV/atom, mean T K) after the warm-up."""
    start = round(warmup_fraction * (len(trace.time_ps) - 1))
    time_ps = np.array(trace.time_ps[start:])
    total = 1000.0 * (np.array(trace.potential[start:]) + np.array(trace.kinetic[start:]))
    slope, intercept = np.polyfit(time_ps, total, 1)
    residual = total - (slope * time_ps + intercept)
    return float(slope), float(residual.std()), float(np.mean(trace.temperature[start:]))


def _energy_series(name: str, time_ps: tuple[float, ...], y: tuple[float, ...]) -> SeriesData:
    return SeriesData(
        name=name,
        x=tuple(float(t) for t in time_ps),
        y=tuple(float(v) for v in y),
        x_label="time",
        x_unit="ps",
        y_label=name.replace("_", " ") + " per atom",
        y_unit="eV/atom",
    )
