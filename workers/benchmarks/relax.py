"""Relaxation: recover the crystal from a strained, rattled start (FIRE + FrechetCellFilter).

The input crystal is repeated into a small supercell, strained isotropically (default +3 %)
and rattled (Gaussian, 0.05 Å, seeded); FIRE on ``ase.filters.FrechetCellFilter`` relaxes
positions and cell together. Each seed is one relaxation; results are averaged over seeds.

Conventions
-----------
- ``lattice_constant_a`` follows ``ase.data.reference_states``: the conventional-cell a.
  The relaxed primitive cell is mapped to the conventional cell with the transformation
  spglib finds for the input crystal; for cubic crystals a = V_conv^(1/3) (from the relaxed
  volume), otherwise the mean length of the first two conventional vectors (hcp: a), and c/a
  is reported for hexagonal and tetragonal crystals.
- ``rmsd``: fractional-coordinate shifts (cells aligned, mean shift removed), in Å of the input.
- Space group: the input's is found at symprec 1e-5 Å (it is ideal); the relaxed structure's
  at ``symprec`` (default 0.1 Å). A relaxation stopped at fmax = 0.05 eV/Å leaves residual
  displacements of 0.01-0.03 Å (EMT Al, Morse Mg: spglib finds P1 at 0.02 Å) and cell
  strains of a few 0.1 %, so a tighter tolerance flags loose convergence, not a change of
  structure; a real instability (a Bain or Burgers path) moves atoms by more than 0.1 Å.
  ``rmsd`` is the continuous measure of the residual distortion.

Force checks (``workers.benchmarks._checks``): ``net_force`` and ``symmetry_force_deviation``
(with their flags) test the input crystal; along the relaxation, ``relaxation_net_force`` is
the largest net force per atom on the rattled starts (forces of about 0.5 eV/Å each, so a sum
near zero is informative) and the relaxed structures, and ``relaxation_symmetry_force_deviation``
the largest |F_j - R F_i| on the relaxed structures symmetrized to the space group found at
``symprec`` (flags ``flag_relaxation_net_force``, ``flag_relaxation_symmetry_violation``, same
tolerances). The starts and ends cost nothing (the optimizer computes those forces); each
symmetrized structure one force call. When a seed does not converge and a symmetry (or net
force) check is violated, the failure message names it as the likely cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._checks import (
    ForceChecks,
    check_forces,
    check_structures,
    check_symmetrized,
    worst,
)
from workers.benchmarks._frames import FrameRecorder
from workers.benchmarks._relaxation import (
    Trace,
    conventional_lattice,
    lattice_parameters,
    minimize,
    spacegroup_number,
)
from workers.benchmarks.base import (
    FrameSet,
    Headline,
    MetricValue,
    Observer,
    SeriesData,
    finite,
    register_benchmark,
)


@dataclass(frozen=True, slots=True)
class RelaxParams:
    """Parameters of the relax protocol.

    ``supercell``: repeat of the input cell along each axis (1-4); ``strain``: isotropic
    linear strain of the start (+0.03: every length 3 % longer; |strain| < 0.2);
    ``rattle_a``: Gaussian displacement per coordinate (Å, std); ``seeds``: one relaxation
    each; ``fmax``: threshold on atomic forces and the virial per atom (eV/Å; strict variant
    0.001); ``max_steps``: FIRE steps per relaxation; ``symprec``: spglib tolerance (Å) for
    the relaxed structure's space group.
    """

    supercell: int = 2
    strain: float = 0.03
    rattle_a: float = 0.05
    seeds: tuple[int, ...] = (0, 1, 2)
    fmax: float = 0.05
    max_steps: int = 500
    symprec: float = 0.1

    def __post_init__(self) -> None:
        if not 1 <= self.supercell <= 4:
            raise ValueError(f"supercell must be in 1..4, got {self.supercell}")
        if not abs(self.strain) < 0.2:
            raise ValueError(f"strain must be in (-0.2, 0.2), got {self.strain}")
        if self.rattle_a < 0 or min(self.fmax, self.symprec, self.max_steps, len(self.seeds)) <= 0:
            raise ValueError("rattle_a must be >= 0; fmax, symprec, max_steps, seeds positive")
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))


@dataclass(frozen=True, slots=True)
class RelaxRun:
    """One seed: trace, volume (Å³/atom), a (Å), c/a, RMSD (Å), space-group number, checks.

    ``force_checks``: net force on the rattled start and the relaxed structure, symmetry on the
    symmetrized relaxed structure (None without forces).
    """

    trace: Trace
    volume_a3_per_atom: float
    lattice_constant_a: float
    c_over_a: float | None
    rmsd_a: float
    space_group: int
    force_checks: ForceChecks | None = None


@dataclass(frozen=True, slots=True)
class RelaxResult:
    """Every seed's relaxation; metrics are means and spreads (population std) over seeds.

    ``input_volume_a3_per_atom`` is the input (experimental) volume (Å³/atom) and
    ``reference_space_group`` the input's space-group number; ``force_checks`` the net-force
    and symmetry checks of ``workers.benchmarks._checks`` on the input (None without forces);
    ``frame_sets`` the first seed's optimisation path (``relaxation``, bounded, from the
    strained start to the relaxed structure, each frame with energy, forces and stress).
    """

    runs: tuple[RelaxRun, ...]
    input_volume_a3_per_atom: float
    reference_space_group: int
    force_checks: ForceChecks | None = None
    frame_sets: tuple[FrameSet, ...] = field(default=(), compare=False, repr=False)

    def frames(self) -> tuple[FrameSet, ...]:
        """The first seed's optimisation path."""
        return self.frame_sets

    def metrics(self) -> tuple[MetricValue, ...]:
        """a, c/a and volume (vs references), errors vs the input, steps, RMSD, symmetry, checks."""
        a, a_sd = _mean_std([r.lattice_constant_a for r in self.runs])
        vol, vol_sd = _mean_std([r.volume_a3_per_atom for r in self.runs])
        steps, steps_sd = _mean_std([float(r.trace.steps) for r in self.runs])
        rmsd, _ = _mean_std([r.rmsd_a for r in self.runs])
        kept = np.mean([r.space_group == self.reference_space_group for r in self.runs])
        metrics = [
            MetricValue("lattice_constant_a", a, "Å", True),
            MetricValue("lattice_constant_a_spread", a_sd, "Å"),
            MetricValue("volume_per_atom", vol, "Å³/atom", True),
            MetricValue("volume_per_atom_spread", vol_sd, "Å³/atom"),
            MetricValue(
                "volume_error_vs_input",
                100.0 * (vol / self.input_volume_a3_per_atom - 1.0),
                "%",
            ),
            MetricValue("converged", float(all(r.trace.converged for r in self.runs)), "1"),
            MetricValue("steps", steps, "1"),
            MetricValue("steps_spread", steps_sd, "1"),
            MetricValue("rmsd", rmsd, "Å"),
            MetricValue("space_group_kept", float(kept), "1"),
            MetricValue("flag_space_group_lost", float(kept < 1.0), "1"),
        ]
        c_over_a = [r.c_over_a for r in self.runs if r.c_over_a is not None]
        if c_over_a:
            metrics.append(MetricValue("c_over_a", float(np.mean(c_over_a)), "1", True))
        if self.force_checks is not None:
            metrics += self.force_checks.metrics()
        if (along := self.relaxation_checks()) is not None:
            metrics += along.metrics("relaxation_")
        return finite(*metrics)

    def relaxation_checks(self) -> ForceChecks | None:
        """The worst net force and symmetry deviation along every seed's relaxation."""
        return worst(r.force_checks for r in self.runs)

    def series(self) -> tuple[SeriesData, ...]:
        """Energy and fmax traces of every seed (``relax_energy_seed<i>``, ...)."""
        return tuple(s for i, r in enumerate(self.runs) for s in r.trace.series(f"_seed{i}"))


@register_benchmark(
    "relax",
    version="1.1",
    params=RelaxParams,
    description=(
        "FIRE + FrechetCellFilter from a 2x2x2 supercell strained +3 %, rattled 0.05 Å "
        "(3 seeds), to fmax 0.05 eV/Å in <= 500 steps: a, volume, steps, RMSD, space group; "
        "net-force and symmetry checks along the relaxation."
    ),
    headline=(
        Headline("lattice_constant_a", "a", "Å"),
        Headline("volume_per_atom", "V", "Å³/atom"),
        Headline("steps", "steps", "1"),
    ),
)
def run_relax(
    atoms: Atoms, calc: Calculator, params: RelaxParams, *, observer: Observer | None = None
) -> RelaxResult:
    """Relax the strained, rattled crystal and compare it with the input.

    Parameters
    ----------
    atoms
        Periodic crystal at its experimental geometry (Å); not modified.
    calc
        ASE calculator: energies (eV), forces (eV/Å), stress (eV/Å³).
    params
        Supercell, strain, rattle, seeds, fmax, step limit, symmetry tolerance.
    observer
        Called at each optimizer step with ("relax", fraction); may raise RunCancelled.

    Returns
    -------
    RelaxResult
        Per seed: a (Å), c/a, volume (Å³/atom), RMSD (Å), space group, steps.

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not periodic in three dimensions or has no space group.
    BenchmarkFailed
        ``no_convergence`` (every seed's energy/fmax trace attached) when a seed misses
        ``fmax`` in ``max_steps``, naming a violated force check as the likely cause;
        ``nan_or_inf`` for a non-finite energy or force.
    """
    if not atoms.pbc.all() or atoms.cell.rank != 3:
        raise BenchmarkSetupError("relax needs a structure periodic in three dimensions")
    reference = atoms.repeat(params.supercell)
    number, _ = conventional_lattice(atoms, atoms.cell.array)
    runs, paths, recorder = [], [], FrameRecorder()
    for i, seed in enumerate(params.seeds):
        trial = reference.copy()
        trial.set_cell(reference.cell.array * (1.0 + params.strain), scale_atoms=True)
        trial.positions += np.random.default_rng(seed).normal(0, params.rattle_a, (len(trial), 3))
        start = check_structures([trial], calc, symmetry=False)  # the optimizer reuses these
        trial.calc = calc
        window = (i / len(params.seeds), 1 / len(params.seeds))
        trace = minimize(trial, fmax=params.fmax, max_steps=params.max_steps, relax_cell=True,
                         observer=observer, window=window,
                         recorder=recorder if i == 0 else None)  # fmt: skip
        if i == 0:
            paths.append(recorder.frame_set("relaxation", final=trial, description=f"seed {seed}"))
        checks = worst([start, check_structures([trial], calc, symmetry=False),
                        check_symmetrized(trial, calc, symprec=params.symprec)])  # fmt: skip
        runs.append(_describe(trial, trace, atoms, reference, params, checks))
    volume = float(atoms.get_volume()) / len(atoms)
    result = RelaxResult(tuple(runs), volume, number, check_forces(atoms, calc), tuple(paths))
    failed = [seed for seed, run in zip(params.seeds, runs, strict=True) if not run.trace.converged]
    if failed:
        checks = worst([result.force_checks, result.relaxation_checks()])
        cause = "" if checks is None else checks.diagnosis()
        raise BenchmarkFailed(
            f"seed(s) {failed} did not reach fmax {params.fmax} eV/Å in {params.max_steps} steps"
            + (f"; {cause}" if cause else ""),
            failure_class=FailureClass.NO_CONVERGENCE,
            series=result.series(),
        )
    return result


def _mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def _describe(
    trial: Atoms,
    trace: Trace,
    atoms: Atoms,
    reference: Atoms,
    params: RelaxParams,
    checks: ForceChecks | None,
) -> RelaxRun:
    """Lattice, volume, RMSD and space group of the relaxed supercell ``trial``."""
    number, conventional = conventional_lattice(atoms, trial.cell.array / params.supercell)
    a, c_over_a = lattice_parameters(number, conventional)
    shift = trial.get_scaled_positions(wrap=False) - reference.get_scaled_positions(wrap=False)
    shift -= np.round(shift)
    shift -= shift.mean(axis=0)
    rmsd = float(np.sqrt(np.mean(np.sum((shift @ reference.cell.array) ** 2, axis=1))))
    volume = float(trial.get_volume()) / len(trial)
    space_group = spacegroup_number(trial, params.symprec)
    return RelaxRun(trace, volume, a, c_over_a, rmsd, space_group, checks)
