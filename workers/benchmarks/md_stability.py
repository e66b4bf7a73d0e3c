"""MD stability: an NVT heating ramp and an NPT compression ramp, until the model fails.

Two protocols run from every seed on a supercell of the input crystal:

- ``nvt_ramp``: Langevin dynamics (``ase.md.langevin.Langevin``, seeded noise, friction
  20/ps) whose target temperature rises linearly from 300 K to 1500 K in 0.3 ps. Langevin is
  the best-kept stochastic thermostat of ASE, and its friction makes the kinetic temperature
  follow a moving target with a lag of about rate / friction (~200 K at this rate).
- ``npt_compression``: Berendsen NPT (``ase.md.nptberendsen.NPTBerendsen``, its cell scaling
  limited to 1 % per step: ``_md.RateLimitedNPTBerendsen``) at 300 K whose
  target pressure rises linearly from 0 to 50 GPa in 0.2 ps. The compressibility of the
  barostat is set from the model's own bulk modulus at the input cell, so that the cell
  follows the ramp whatever the stiffness.

Default protocol (version 1.1): 27+ atoms, 2 fs, 3 seeds: ~1,000 force calls (Berendsen
NPT evaluates the forces twice per step), a few seconds with EMT and one to two minutes
with a universal MLIP on a CPU core. Smaller cells are not used: the kinetic temperature of
8 atoms fluctuates by ~30 %, enough to cross the runaway threshold of a physical model.
Version 1.0 (1 fs, ramps of 2 ps and 1 ps, friction 10/ps, barostat 200 fs) is a parameter
set away for a longer test.

Unlike the other benchmarks, a failure of the model is the result, not an exception: each
trajectory ends ``completed``, ``timeout`` or with a failure class (``nan_or_inf``,
``atoms_too_close``, ``temperature_runaway``, ``cell_collapse``, ``exception``; see
``workers.benchmarks._md``) at a simulated time. The survival curve of each protocol is the
Kaplan-Meier estimate over the seeds, in which a timeout is censored, never a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.md.langevin import Langevin
from ase.md.md import MolecularDynamics

from workers.benchmarks._frames import FrameRecorder
from workers.benchmarks._md import (
    RateLimitedNPTBerendsen,
    Trace,
    Watch,
    build_supercell,
    estimate_bulk_modulus_gpa,
    run_watched,
    seed_velocities,
)
from workers.benchmarks._md_survival import PROTOCOLS, MdStabilityResult, TrajectoryOutcome
from workers.benchmarks.base import (
    FrameSet,
    Headline,
    Observer,
    SeriesData,
    notify,
    register_benchmark,
)


@dataclass(frozen=True, slots=True)
class MdStabilityParams:
    """Parameters of the md_stability protocol.

    Parameters
    ----------
    min_atoms
        The input cell is repeated to at least this many atoms.
    seeds
        Seeds of the initial velocities and the Langevin noise (at least 3).
    timestep_fs
        Timestep of both protocols (fs).
    start_temperature_k, target_temperature_k, nvt_ramp_ps, friction_per_ps
        NVT ramp: from (K), to (K), duration (ps), Langevin friction (1/ps).
    npt_temperature_k, max_pressure_gpa, npt_ramp_ps, thermostat_fs, barostat_fs
        NPT compression: temperature (K), final pressure from 0 (GPa), duration (ps),
        Berendsen coupling times (fs).
    runaway_factor
        ``temperature_runaway`` when T exceeds this multiple of the current target.
    min_distance_a
        ``atoms_too_close`` below this interatomic distance (Å).
    collapse_fraction
        ``cell_collapse`` when the volume per atom falls below this fraction of the start.
    max_wall_s
        Wall-clock budget of the whole benchmark (s), shared evenly among the trajectories
        not yet run; a trajectory out of time ends as ``timeout``. ``None``: no limit.
    """

    min_atoms: int = 27
    seeds: tuple[int, ...] = (0, 1, 2)
    timestep_fs: float = 2.0
    start_temperature_k: float = 300.0
    target_temperature_k: float = 1500.0
    nvt_ramp_ps: float = 0.3
    friction_per_ps: float = 20.0
    npt_temperature_k: float = 300.0
    max_pressure_gpa: float = 50.0
    npt_ramp_ps: float = 0.2
    thermostat_fs: float = 100.0
    barostat_fs: float = 100.0
    runaway_factor: float = 2.0
    min_distance_a: float = 0.5
    collapse_fraction: float = 0.25
    max_wall_s: float | None = None

    def __post_init__(self) -> None:
        if len(self.seeds) < 3 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must hold at least 3 distinct seeds, got {self.seeds}")
        if min(self.timestep_fs, self.nvt_ramp_ps, self.npt_ramp_ps, self.friction_per_ps) <= 0:
            raise ValueError("timestep_fs, ramp durations and friction_per_ps must be positive")
        if not 0 < self.start_temperature_k <= self.target_temperature_k:
            raise ValueError("need 0 < start_temperature_k <= target_temperature_k")
        if not 0.0 < self.collapse_fraction < 1.0:
            raise ValueError(f"collapse_fraction must be in (0, 1), got {self.collapse_fraction}")
        if self.max_wall_s is not None and self.max_wall_s <= 0:
            raise ValueError("max_wall_s must be positive or None")

    def n_steps(self, protocol: str) -> int:
        """Number of MD steps of ``protocol``."""
        ramp = self.nvt_ramp_ps if protocol == "nvt_ramp" else self.npt_ramp_ps
        return round(ramp * 1000 / self.timestep_fs)

    def target(self, protocol: str, step: float) -> float:
        """Target temperature (K) or pressure (GPa) of ``protocol`` at ``step``."""
        fraction = step / self.n_steps(protocol)
        if protocol == "nvt_ramp":
            span = self.target_temperature_k - self.start_temperature_k
            return self.start_temperature_k + span * fraction
        return self.max_pressure_gpa * fraction


@register_benchmark(
    "md_stability",
    version="1.1",
    params=MdStabilityParams,
    description=(
        "Langevin NVT ramp 300 -> 1500 K in 0.3 ps and Berendsen NPT compression 0 -> 50 GPa at "
        "300 K in 0.2 ps (27+ atoms, 2 fs, 3 seeds): time to failure, failure class, survival."
    ),
    headline=(
        Headline("nvt_ramp_survival_fraction", "NVT ramp survival", "1"),
        Headline("nvt_ramp_mean_temperature_reached", "T reached", "K"),
        Headline("npt_compression_survival_fraction", "NPT compression survival", "1"),
    ),
)
def run_md_stability(
    atoms: Atoms, calc: Calculator, params: MdStabilityParams, *, observer: Observer | None = None
) -> MdStabilityResult:
    """Run the heating and compression ramps from each seed and record how each one ends.

    Parameters
    ----------
    atoms
        Periodic structure (lengths in Å); not modified.
    calc
        ASE calculator giving energies (eV), forces (eV/Å) and stress (eV/Å³).
    params
        Ramps, thermostat and barostat settings, failure criteria, seeds, wall budget.
    observer
        Called every 10 steps with ("md_stability", fraction done); may raise RunCancelled.

    Returns
    -------
    MdStabilityResult
        The outcome of each (protocol, seed) with its time (ps) and the ramp value reached.
        Failures of the model are outcomes, not exceptions.

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not periodic in three dimensions or the calculator gives no stress.
    """
    supercell = build_supercell(atoms, params.min_atoms)
    bulk_gpa = estimate_bulk_modulus_gpa(supercell, calc)
    jobs = [(protocol, seed) for protocol in PROTOCOLS for seed in params.seeds]
    start, outcomes, traces = time.monotonic(), [], []
    frame_sets: list[FrameSet] = []
    for index, job in enumerate(jobs):
        deadline = None
        if params.max_wall_s is not None:  # share what is left evenly among the jobs left
            left = params.max_wall_s - (time.monotonic() - start)
            deadline = time.monotonic() + left / (len(jobs) - index)
        system = supercell.copy()
        system.calc = calc
        trace = Trace()
        recorder = None
        if job[1] == params.seeds[0]:  # the first seed's trajectories are kept as frames
            recorder = FrameRecorder(expected=params.n_steps(job[0]) + 1)

        def after_step(
            step: int,
            system: Atoms = system,
            trace: Trace = trace,
            i: int = index,
            recorder: FrameRecorder | None = recorder,
        ) -> None:
            trace.record(system, step * params.timestep_fs / 1000)
            if recorder is not None:
                recorder.offer(system, time_ps=step * params.timestep_fs / 1000)
            if step % 10 == 0:
                fraction = (i + step / params.n_steps(jobs[i][0])) / len(jobs)
                notify(observer, "md_stability", fraction)

        outcomes.append(
            _run(system, params, job, bulk_gpa, deadline=deadline, after_step=after_step)
        )
        if recorder is not None:
            traces.append(_trace_series(job[0], trace, params))
            end = outcomes[-1]
            frame_sets.append(
                recorder.frame_set(
                    f"{job[0]}_trajectory",
                    final=system,
                    description=f"{job[0]} of seed {job[1]}: {end.status}",
                    time_ps=end.time_ps,
                )
            )
    return MdStabilityResult(
        outcomes=tuple(outcomes),
        durations_ps=(params.nvt_ramp_ps, params.npt_ramp_ps),
        n_atoms=len(supercell),
        bulk_modulus_gpa=bulk_gpa,
        traces=tuple(traces),
        frame_sets=tuple(frame_sets),
    )


def _run(
    system: Atoms,
    params: MdStabilityParams,
    job: tuple[str, int],
    bulk_gpa: float,
    *,
    deadline: float | None,
    after_step: Callable[[int], None],
) -> TrajectoryOutcome:
    """Run one (protocol, seed) on ``system`` (which carries the calculator)."""
    protocol, seed = job
    nvt = protocol == "nvt_ramp"
    temperature = params.start_temperature_k if nvt else params.npt_temperature_k
    seed_velocities(system, temperature, seed)
    dyn, set_target = _dynamics(system, params, seed, bulk_gpa, nvt=nvt)
    watch = Watch(
        reference_temperature_k=partial(params.target, protocol) if nvt else lambda _: temperature,
        runaway_factor=params.runaway_factor,
        min_distance_a=params.min_distance_a,
        collapse_fraction=None if nvt else params.collapse_fraction,
        deadline=deadline,
    )
    n_steps = params.n_steps(protocol)
    end = run_watched(dyn, n_steps, watch, before_step=set_target, after_step=after_step)
    value = params.target(protocol, end.time_ps * 1000 / params.timestep_fs)
    return TrajectoryOutcome(protocol, seed, end.status, end.time_ps, value, end.message)


def _dynamics(
    system: Atoms, params: MdStabilityParams, seed: int, bulk_gpa: float, *, nvt: bool
) -> tuple[MolecularDynamics, Callable[[int], None]]:
    """The integrator of a protocol and the function that sets its target before a step."""
    dt = params.timestep_fs * units.fs
    if nvt:
        langevin = Langevin(
            system,
            dt,
            temperature_K=params.start_temperature_k,
            friction=params.friction_per_ps / (1000 * units.fs),
            fixcm=False,  # fixcm=True is deprecated in ASE >= 3.28 (biased sampling)
            rng=np.random.default_rng((seed, 1)),  # a stream independent of the velocities
        )
        return langevin, lambda step: langevin.set_temperature(
            temperature_K=params.target("nvt_ramp", step)
        )
    berendsen = RateLimitedNPTBerendsen(
        system,
        dt,
        temperature_K=params.npt_temperature_k,
        pressure_au=0.0,
        taut=params.thermostat_fs * units.fs,
        taup=params.barostat_fs * units.fs,
        compressibility_au=1.0 / (bulk_gpa * units.GPa),
    )

    def set_pressure(step: int) -> None:
        # NPTBerendsen.set_pressure is broken in ASE 3.29 (wrong arity): set the attribute.
        berendsen.pressure = params.target("npt_compression", step) * units.GPa

    return berendsen, set_pressure


def _trace_series(protocol: str, trace: Trace, params: MdStabilityParams) -> SeriesData:
    if protocol == "nvt_ramp":
        x, y = tuple(trace.time_ps), tuple(trace.temperature)
        return SeriesData("nvt_ramp_temperature", x, y, "time", "ps", "temperature", "K")
    x = tuple(params.target(protocol, t * 1000 / params.timestep_fs) for t in trace.time_ps)
    y = tuple(trace.volume)
    return SeriesData(
        "npt_compression_volume", x, y, "target pressure", "GPa", "volume per atom", "Å³/atom"
    )
