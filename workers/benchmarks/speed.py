"""Speed: time per atom-step against system size, on the worker's own hardware.

Near-cubic supercells of the input crystal (``ase.build.find_optimal_cell_shape``) of at least
four sizes get ``n_warmup`` untimed energy-and-forces calls, then ``n_repeats`` timed samples
(``time.perf_counter``) of calls, each call on freshly displaced positions (1e-3 Å, seeded) so
that nothing comes from a cache. The median is reported; the log-log slope of time per step
against atoms is the scaling exponent (1 if linear). The hardware is recorded with the times.

Memory is the process's resident-set high-water mark (``resource.getrusage().ru_maxrss``):
interpreter and model included, as a user would need. On a CUDA device the calculator already
uses through torch, ``torch.cuda.max_memory_allocated`` over the timings is reported too.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ase import Atoms
from ase.build import find_optimal_cell_shape, make_supercell
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._hardware import HardwareInfo, hardware_info, peak_rss_mib
from workers.benchmarks.base import (
    Headline,
    MetricValue,
    Observer,
    SeriesData,
    finite,
    notify,
    register_benchmark,
)

#: Displacement of every coordinate before each call (Å): a new configuration, same structure.
DISPLACEMENT_A = 1e-3
_UNIT = "µs/(atom step)"


@dataclass(frozen=True, slots=True)
class SpeedParams:
    """Parameters of the speed protocol.

    Parameters
    ----------
    target_sizes
        Wanted numbers of atoms; each is rounded to a whole number of input cells, and at
        least four distinct sizes must remain.
    n_repeats
        Timed samples per size (the median is reported).
    n_warmup
        Calls per size first (compilation, neighbour lists, caches); the fastest sets how many
        calls make a sample.
    min_sample_s
        Least duration of a sample (s): fast calls are timed in batches.
    seed
        Seed of the position displacements.
    """

    target_sizes: tuple[int, ...] = (16, 32, 64, 128)
    n_repeats: int = 10
    n_warmup: int = 2
    min_sample_s: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        # JSON gives lists; the params hash and equality want a tuple.
        object.__setattr__(self, "target_sizes", tuple(int(n) for n in self.target_sizes))
        if len(set(self.target_sizes)) < 4 or min(self.target_sizes) < 1:
            raise ValueError(f"target_sizes needs >= 4 distinct positive sizes, got {self}")
        if self.n_repeats < 3 or self.n_warmup < 1 or self.min_sample_s < 0:
            raise ValueError(f"need n_repeats >= 3, n_warmup >= 1, min_sample_s >= 0: {self}")


@dataclass(frozen=True, slots=True)
class SpeedResult:
    """Timings per size and what follows from them.

    ``step_times_s`` holds the time per call (s) of every sample, a batch of
    ``calls_per_sample`` calls, per supercell of ``n_atoms`` atoms (ascending);
    ``scaling_exponent`` is the slope of log(median time per step) against log(n_atoms). Memory
    (MiB): the process's resident-set high-water mark after the timings and its rise during
    them (zero if the process had used more before), and torch's CUDA peak when it applies.
    ``hardware`` is text, so it stays beside the metrics rather than among them.
    """

    n_atoms: tuple[int, ...]
    step_times_s: tuple[tuple[float, ...], ...]
    calls_per_sample: tuple[int, ...]
    scaling_exponent: float
    peak_rss_mib: float
    peak_rss_increase_mib: float
    gpu_peak_memory_mib: float | None
    hardware: HardwareInfo

    def metrics(self) -> tuple[MetricValue, ...]:
        """Time per atom-step and per step at the largest size, scaling, memory, CPUs."""
        times, largest = self.step_times_s[-1], self.n_atoms[-1]
        median = float(np.median(times))
        q25, q75 = np.percentile(times, [25, 75])
        values: list[tuple[str, float | None, str]] = [
            ("time_per_atom_step", 1e6 * median / largest, _UNIT),
            ("time_per_step", 1e3 * median, "ms"),
            ("timing_spread", float(q75 - q25) / median, "1"),
            ("scaling_exponent", self.scaling_exponent, "1"),
            ("n_atoms_largest", float(largest), "1"),
            ("peak_memory", self.peak_rss_mib, "MiB"),
            ("peak_memory_increase", self.peak_rss_increase_mib, "MiB"),
            ("gpu_peak_memory", self.gpu_peak_memory_mib, "MiB"),
            ("cpu_count", float(self.hardware.cpu_count), "1"),
            ("usable_cpus", float(self.hardware.usable_cpus), "1"),
        ]
        return finite(*(MetricValue(n, v, u) for n, v, u in values if v is not None))

    def provenance(self) -> dict[str, object]:
        """The hardware the times were measured on, stored with the run's provenance."""
        return {"hardware": dataclasses.asdict(self.hardware)}

    def series(self) -> tuple[SeriesData, ...]:
        """Median time per atom-step against the number of atoms."""
        n = tuple(float(x) for x in self.n_atoms)
        medians = [float(np.median(t)) for t in self.step_times_s]
        per_atom = tuple(1e6 * t / x for t, x in zip(medians, n, strict=True))
        return (SeriesData("time_per_atom_step", n, per_atom, "atoms", "1", "time", _UNIT),)


@register_benchmark(
    "speed",
    version="1.0",
    params=SpeedParams,
    description=(
        "Median time of an energy-and-forces call (10 samples after 2 warm-up calls) for "
        "supercells of ~16, 32, 64 and 128 atoms; scaling exponent, peak memory, hardware."
    ),
    headline=(
        Headline("time_per_atom_step", "time per atom-step", _UNIT),
        Headline("scaling_exponent", "scaling exponent", "1"),
    ),
)
def run_speed(
    atoms: Atoms, calc: Calculator, params: SpeedParams, *, observer: Observer | None = None
) -> SpeedResult:
    """Time energy-and-forces calls on supercells of ``atoms`` of increasing size.

    Parameters
    ----------
    atoms
        Periodic crystal (Å); not modified.
    calc
        ASE calculator giving energies (eV) and forces (eV/Å).
    params
        Target sizes, repeats, warm-up calls and seed.
    observer
        Called after each size with ("speed", fraction done); may raise RunCancelled.

    Returns
    -------
    SpeedResult

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not 3D-periodic or the sizes give fewer than four distinct supercells.
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite energy or force.
    """
    supercells = build_supercells(atoms, params.target_sizes)
    rng = np.random.default_rng(params.seed)
    rss_before = peak_rss_mib()
    torch = sys.modules.get("torch")  # only if the calculator imported it: never imported here
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()
    else:
        torch = None
    samples = []
    for i, cell in enumerate(supercells):
        cell.calc = calc
        samples.append(_time_calls(cell, rng, params))
        notify(observer, "speed", (i + 1) / len(supercells))
    timings, batches = zip(*samples, strict=True)
    n_atoms = tuple(len(c) for c in supercells)
    medians = [np.median(t) for t in timings]
    slope = float(np.polyfit(np.log(n_atoms), np.log(medians), 1)[0])
    rss_after = peak_rss_mib()
    return SpeedResult(
        n_atoms=n_atoms,
        step_times_s=timings,
        calls_per_sample=batches,
        scaling_exponent=slope,
        peak_rss_mib=rss_after,
        peak_rss_increase_mib=rss_after - rss_before,
        gpu_peak_memory_mib=None if torch is None else torch.cuda.max_memory_allocated() / 2**20,
        hardware=hardware_info(calc),
    )


def build_supercells(atoms: Atoms, target_sizes: tuple[int, ...]) -> list[Atoms]:
    """Near-cubic supercells with about ``target_sizes`` atoms, distinct and ascending."""
    if not atoms.pbc.all() or atoms.cell.rank != 3:
        raise BenchmarkSetupError("speed needs a crystal periodic in three dimensions")
    n_cells = sorted({max(1, round(n / len(atoms))) for n in target_sizes})
    if len(n_cells) < 4:
        raise BenchmarkSetupError(f"{target_sizes} atoms give < 4 distinct supercells of {atoms}")
    cell = tuple(atoms.cell.array.round(6).flat)
    return [make_supercell(atoms.copy(), np.array(_cell_shape(cell, n))) for n in n_cells]


@lru_cache(maxsize=256)
def _cell_shape(cell: tuple[float, ...], n: int) -> tuple[tuple[int, ...], ...]:
    """Transformation to a near-cubic n-fold supercell (cached: the search takes ~0.5 s)."""
    found = find_optimal_cell_shape(np.reshape(cell, (3, 3)), n, "sc")
    return tuple(tuple(int(x) for x in row) for row in found)


def _time_calls(
    atoms: Atoms, rng: np.random.Generator, params: SpeedParams
) -> tuple[tuple[float, ...], int]:
    """Seconds per call in each of ``n_repeats`` samples, and the number of calls per sample.

    A sample lasts ``min_sample_s`` (as timeit's autorange): a preemption is averaged, not hit.
    """
    reference = atoms.positions.copy()

    def batch(n: int) -> np.ndarray:  # n displaced copies of the positions
        return reference + rng.normal(scale=DISPLACEMENT_A, size=(n, *reference.shape))

    warm = min(_run_calls(atoms, batch(1)) for _ in range(params.n_warmup))
    n_calls = max(1, math.ceil(params.min_sample_s / max(warm, 1e-9)))
    return tuple(
        _run_calls(atoms, batch(n_calls)) / n_calls for _ in range(params.n_repeats)
    ), n_calls


def _run_calls(atoms: Atoms, configurations: np.ndarray) -> float:
    """Wall time (s) of energy-and-forces calls on ``configurations`` (positions, Å)."""
    start = time.perf_counter()
    for positions in configurations:
        atoms.positions = positions
        if not (
            np.isfinite(atoms.get_potential_energy()) and np.isfinite(atoms.get_forces()).all()
        ):
            raise BenchmarkFailed(
                f"non-finite energy or forces for {len(atoms)} atoms",
                failure_class=FailureClass.NAN_OR_INF,
            )
    return time.perf_counter() - start
