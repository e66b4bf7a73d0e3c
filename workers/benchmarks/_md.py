"""Shared pieces of the molecular-dynamics benchmarks (``nve``, ``md_stability``,
``thermal_expansion``): supercells, seeded velocities, a bulk-modulus estimate for the
barostats, and a trajectory runner that watches every step for the failure classes.

Failure criteria, checked after every step unless noted:

- ``nan_or_inf``: a non-finite energy, force, position or momentum;
- ``temperature_runaway``: kinetic temperature above ``runaway_factor`` times the reference
  temperature of that moment (the start or the thermostat target);
- ``cell_collapse``: volume per atom below ``collapse_fraction`` of its start value;
- ``atoms_too_close``: two atoms (periodic images included) closer than ``min_distance_a``,
  checked every ``check_interval`` steps because the neighbour search costs as much as an
  EMT force call;
- ``exception``: the calculator or integrator raised. Errors of this package's own taxonomy
  (setup problems, cancellation) and a host's time limit (Celery's ``SoftTimeLimitExceeded``,
  raised inside whatever code runs) are not failures of the model and propagate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, PropertyNotImplementedError
from ase.md.md import MolecularDynamics
from ase.md.nptberendsen import NPTBerendsen
from ase.md.velocitydistribution import Stationary
from ase.neighborlist import neighbor_list

from shared_kernel.failures import BenchmarkError, BenchmarkSetupError, FailureClass

COMPLETED = "completed"
TIMEOUT = FailureClass.TIMEOUT.value
#: Clamp of the bulk modulus used to set a Berendsen barostat's compressibility (GPa).
BULK_MODULUS_CLAMP_GPA = (1.0, 1000.0)


def build_supercell(atoms: Atoms, min_atoms: int) -> Atoms:
    """Repeat a periodic cell into the most isotropic diagonal supercell with >= ``min_atoms``.

    The repetitions n_i are ceil(L / h_i) for the smallest length L that gives enough atoms,
    where h_i are the perpendicular heights of the cell (so the supercell widths are about
    equal). A 1-atom fcc or bcc primitive cell becomes 3 x 3 x 3 for ``min_atoms`` = 27.

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not periodic in three dimensions.
    """
    if not atoms.pbc.all() or atoms.cell.rank != 3:
        raise BenchmarkSetupError("MD benchmarks need a structure periodic in three dimensions")
    heights = atoms.cell.volume / atoms.cell.areas()
    reps = np.ones(3, dtype=int)
    for length in sorted(k * h for h in heights for k in range(1, max(min_atoms, 1) + 1)):
        reps = np.maximum(1, np.ceil(length / heights - 1e-9)).astype(int)
        if len(atoms) * int(reps.prod()) >= min_atoms:
            break
    supercell = atoms.repeat(tuple(int(n) for n in reps))
    supercell.calc = None
    return supercell


def seed_velocities(atoms: Atoms, temperature_k: float, seed: int) -> None:
    """Draw Maxwell-Boltzmann momenta at ``temperature_k`` (K) from ``default_rng(seed)``.

    The centre-of-mass momentum is removed (``Stationary``, temperature preserved). The
    angular momentum is left alone: it is not conserved in a periodic cell, and
    ``ZeroRotation`` there would only add a spurious shear flow.
    """
    from ase.md import velocitydistribution as vd

    rng = np.random.default_rng(seed)
    if hasattr(vd, "thermalize_momenta"):  # ASE >= 3.29 deprecates MaxwellBoltzmannDistribution
        vd.thermalize_momenta(atoms, temperature_k, rng=rng)
    else:
        vd.MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_k, rng=rng)
    Stationary(atoms)


def estimate_bulk_modulus_gpa(atoms: Atoms, calc: Calculator, strain: float = 0.01) -> float:
    """Bulk modulus -V dP/dV of the model at the cell of ``atoms`` (GPa), by central differences.

    Used only to set a Berendsen barostat's compressibility; clamped to
    ``BULK_MODULUS_CLAMP_GPA`` so that an unstable model still gets a usable barostat.

    Raises
    ------
    BenchmarkSetupError
        If the calculator does not provide the stress.
    """
    pressures = []
    for sign in (-1.0, 1.0):
        trial = atoms.copy()
        trial.set_cell(atoms.cell.array * (1 + sign * strain) ** (1 / 3), scale_atoms=True)
        trial.calc = calc
        try:
            pressures.append(-float(np.trace(trial.get_stress(voigt=False))) / 3)
        except PropertyNotImplementedError as exc:
            raise BenchmarkSetupError(f"this protocol needs the stress: {exc}") from exc
    modulus = -(pressures[1] - pressures[0]) / (np.log1p(strain) - np.log1p(-strain))
    if not np.isfinite(modulus):
        return BULK_MODULUS_CLAMP_GPA[0]
    return float(np.clip(modulus / units.GPa, *BULK_MODULUS_CLAMP_GPA))


class RateLimitedNPTBerendsen(NPTBerendsen):
    """``NPTBerendsen`` whose isotropic cell scaling is limited to 1 % per step.

    ASE's Berendsen barostat scales the cell by 1 - (dt / taup)(kappa / 3)(P0 - P): for a
    model far out of mechanical equilibrium (a pressure of hundreds of GPa) that factor can
    reach zero or below in one step, inverting the cell, and the next force call then meets
    an absurd geometry (a neighbour list over millions of images). Limited to 1 % per step
    (never reached by a physical model at the timesteps used here), a collapse instead
    unfolds over many steps and is caught as ``cell_collapse`` with its time. A non-finite
    pressure leaves the cell alone; the failure checks report it after the step.
    """

    max_scaling = 0.01

    def scale_positions_and_cell(self) -> None:
        """Berendsen pressure coupling, as in ASE, with the scaling factor clipped."""
        stress = self.atoms.get_stress(voigt=False, include_ideal_gas=True)
        pressure = -np.trace(stress) / 3
        scale = 1.0 - self.dt / self.taup * self.compressibility / 3.0 * (self.pressure - pressure)
        if np.isfinite(scale):
            scale = float(np.clip(scale, 1 - self.max_scaling, 1 + self.max_scaling))
            self.atoms.set_cell(self.atoms.get_cell() * scale, scale_atoms=True)


@dataclass(frozen=True, slots=True)
class Watch:
    """Failure criteria of one trajectory.

    Parameters
    ----------
    reference_temperature_k
        Maps the step number to the reference temperature (K) of the runaway test.
    runaway_factor
        Runaway when the kinetic temperature exceeds this multiple of the reference.
    min_distance_a
        Closest allowed interatomic distance (Å).
    collapse_fraction
        Collapse when the volume per atom falls below this fraction of its start value;
        ``None`` for fixed-cell dynamics.
    check_interval
        Steps between two neighbour searches for ``atoms_too_close``.
    deadline
        ``time.monotonic()`` value after which the trajectory ends as ``timeout``.
    """

    reference_temperature_k: Callable[[int], float]
    runaway_factor: float = 3.0
    min_distance_a: float = 0.5
    collapse_fraction: float | None = None
    check_interval: int = 10
    deadline: float | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a trajectory ended: ``completed``, ``timeout`` or a failure class, and when (ps)."""

    status: str
    time_ps: float
    message: str = ""

    @property
    def failed(self) -> bool:
        """True for a scientific failure of the model (never for a timeout)."""
        return self.status not in (COMPLETED, TIMEOUT)


@dataclass(slots=True)
class Trace:
    """Per-atom energies (eV/atom), temperature (K) and volume (Å³/atom) against time (ps)."""

    time_ps: list[float] = field(default_factory=list)
    potential: list[float] = field(default_factory=list)
    kinetic: list[float] = field(default_factory=list)
    temperature: list[float] = field(default_factory=list)
    volume: list[float] = field(default_factory=list)

    def record(self, atoms: Atoms, time_ps: float) -> None:
        """Append the current state of ``atoms`` (its calculator results are cached)."""
        n_atoms = len(atoms)
        self.time_ps.append(time_ps)
        self.potential.append(float(atoms.get_potential_energy()) / n_atoms)
        self.kinetic.append(float(atoms.get_kinetic_energy()) / n_atoms)
        self.temperature.append(float(atoms.get_temperature()))
        self.volume.append(float(atoms.get_volume()) / n_atoms)


def detect_failure(
    atoms: Atoms, watch: Watch, step: int, *, volume0: float
) -> tuple[FailureClass, str] | None:
    """The first failure criterion that ``atoms`` meets at ``step``, with a message, or None."""
    arrays = (atoms.positions, atoms.get_momenta(), atoms.get_forces())
    energy = float(atoms.get_potential_energy())
    if not (np.isfinite(energy) and all(np.isfinite(a).all() for a in arrays)):
        return FailureClass.NAN_OR_INF, f"non-finite energy, forces or positions at step {step}"
    temperature = float(atoms.get_temperature())
    limit = watch.runaway_factor * watch.reference_temperature_k(step)
    if temperature > limit:
        return FailureClass.TEMPERATURE_RUNAWAY, f"T = {temperature:.0f} K > {limit:.0f} K"
    volume = atoms.get_volume() / len(atoms)
    if watch.collapse_fraction is not None and volume < watch.collapse_fraction * volume0:
        return FailureClass.CELL_COLLAPSE, f"volume {volume:.2f} Å³/atom (start {volume0:.2f})"
    if step % watch.check_interval == 0:
        distances = neighbor_list("d", atoms, watch.min_distance_a)
        if len(distances):
            return FailureClass.ATOMS_TOO_CLOSE, f"two atoms {distances.min():.3f} Å apart"
    return None


#: A host's time limits raised inside running code (Celery's), matched by name: no Celery here.
TIME_LIMIT_EXCEPTIONS = frozenset({"SoftTimeLimitExceeded", "TimeLimitExceeded"})


def is_time_limit(exc: BaseException) -> bool:
    """True if ``exc`` is a host's time limit, which is a timeout, never the model's failure."""
    return any(cls.__name__ in TIME_LIMIT_EXCEPTIONS for cls in type(exc).__mro__)


def run_watched(
    dyn: MolecularDynamics,
    n_steps: int,
    watch: Watch,
    *,
    before_step: Callable[[int], None] | None = None,
    after_step: Callable[[int], None] | None = None,
) -> Outcome:
    """Run ``n_steps`` of ``dyn``, stopping at the first failure or at the deadline.

    Parameters
    ----------
    dyn
        An ASE dynamics whose atoms carry the calculator.
    n_steps
        Number of steps.
    watch
        Failure criteria and wall-clock deadline.
    before_step
        Called with the number of the step about to run (1 ... n_steps), e.g. to set a
        thermostat or barostat target.
    after_step
        Called with each completed step number (0 = the start) after the failure checks,
        e.g. to record a trace or notify an observer (which may raise RunCancelled).

    Returns
    -------
    Outcome
        ``completed``, ``timeout`` or the failure class, with the simulated time (ps).
    """
    atoms = dyn.atoms
    dt_ps = dyn.dt / (1000 * units.fs)
    volume0 = atoms.get_volume() / len(atoms)
    step = 0
    try:
        with np.errstate(all="ignore"):
            for step, _ in enumerate(dyn.irun(steps=n_steps)):
                failure = detect_failure(atoms, watch, step, volume0=volume0)
                if failure is not None:
                    return Outcome(failure[0].value, step * dt_ps, failure[1])
                if after_step is not None:
                    after_step(step)
                if step == n_steps:
                    break
                if watch.deadline is not None and time.monotonic() > watch.deadline:
                    return Outcome(TIMEOUT, step * dt_ps, "wall-clock budget spent")
                if before_step is not None:
                    before_step(step + 1)
    except BenchmarkError:
        raise
    except Exception as exc:  # any error of the model's calculator is a classified result
        if is_time_limit(exc):
            raise
        message = f"{type(exc).__name__}: {exc}"
        return Outcome(FailureClass.EXCEPTION.value, (step + 1) * dt_ps, message)
    return Outcome(COMPLETED, n_steps * dt_ps)


def kaplan_meier(
    times_ps: list[float], failed: list[bool], duration_ps: float
) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """Kaplan-Meier survival curve of trajectories that ended at ``times_ps``.

    A trajectory that did not fail (completed, or stopped by a timeout) is censored at its
    time: it counts as alive until then and is not at risk after. Returns the staircase
    (time ps, fraction alive) from 0 to ``duration_ps`` and the fraction alive at the end.
    """
    times, dead = np.array(times_ps, dtype=float), np.array(failed, dtype=bool)
    x, y, alive = [0.0], [1.0], 1.0
    for t in np.unique(times[dead]):
        alive *= 1.0 - np.sum(dead & (times == t)) / np.sum(times >= t)
        x.extend((float(t), float(t)))
        y.extend((y[-1], float(alive)))
    return (*x, duration_ps), (*y, y[-1]), float(alive)
