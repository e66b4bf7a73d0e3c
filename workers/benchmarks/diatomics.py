"""Homonuclear diatomics: the dimer energy curve and MLIP Arena's physicality metrics.

Two atoms of the input's element sit in a large non-periodic box, from 0.9 x the covalent
radius to max(3.1 x the van der Waals radius, 6 Å) apart. MLIP Arena's
``homonuclear_diatomics`` (Chiang et al., "MLIP Arena", 2025) ends at 3.1 x Alvarez's radius
(6 Å where there is none): with the same radii (the default) this scan is at least as long, and
the floor keeps small atoms (H: 3.7 Å) from stopping inside the bond. MLIP Arena steps 0.01 Å;
the default here is 0.05 Å (five times fewer calls), and ``step_a=0.01`` restores it.

No reference is needed: a good curve has one minimum, a monotone wall, forces that are -dE/dr,
a flat far field and no jumps. Metrics follow MLIP Arena's ``analyze`` (same thresholds), plus
a grid-independent force-energy consistency and the well depth against two isolated atoms.
``spearman_repulsion_force`` is defined on every curve (``_curves.repulsion_spearman``).
Flags of the curve's shape (1 = doubtful; helpers in ``workers.benchmarks._curves``):

- ``flag_energy_jump``: ``energy_discontinuity`` (eV; how far a step of E lies outside the
  range of its two neighbouring steps, 0 on a smooth curve however steep) or the |dE| on both
  sides of one spurious sign flip of dE (not the minimum's; what makes MLIP Arena's
  ``energy_jump`` large) exceeds 1 eV;
- ``flag_tortuous``: tortuosity above 1.05 (5 % more total variation than a single well);
- ``flag_not_dissociated``: ``dissociation_energy_residual`` = |E(r_max) - E(r_max - 0.5 Å)|
  above 0.01 eV (``dissociation_force_residual``: max |F| over that last 0.5 Å, eV/Å).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.data import atomic_numbers, covalent_radii, vdw_alvarez, vdw_radii
from scipy.interpolate import CubicSpline

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._curves import (
    dissociation_residual,
    energy_diff_flips,
    energy_discontinuity,
    equilibrium_distance,
    largest_spurious_flip,
    repulsion_spearman,
    spearman,
    tortuosity,
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

#: Shortest upper end of the scan (Å); also where no van der Waals radius is tabulated.
R_MAX_FLOOR_A = 6.0
#: A step of E this far outside its neighbours' range is a discontinuity (eV).
JUMP_THRESHOLD_EV = 1.0
#: Tortuosity above which the curve is flagged (1 for a single well).
MAX_TORTUOSITY = 1.05
#: Width of the far-field window at the end of the scan (Å).
DISSOCIATION_WINDOW_A = 0.5
#: |E(r_max) - E(r_max - window)| above which the bond is not dissociated at the end (eV).
DISSOCIATION_TOLERANCE_EV = 0.01
#: Energy steps below this are ignored when counting energy flips (MLIP Arena), eV.
ENERGY_STEP_THRESHOLD_EV = 1e-3
#: Forces below this are ignored when counting force sign flips (MLIP Arena), eV/Å.
FORCE_THRESHOLD_EV_A = 1e-2


@dataclass(frozen=True, slots=True)
class DiatomicsParams:
    """Parameters of the diatomics protocol.

    Parameters
    ----------
    step_a
        Spacing of the distance grid (Å); MLIP Arena uses 0.01.
    r_min_covalent_factor
        The scan starts at this multiple of the covalent radius (``ase.data.covalent_radii``).
    r_max_vdw_factor
        The scan ends at this multiple of the van der Waals radius, or at ``r_max_floor_a``
        if that is longer.
    vdw_source
        ``"alvarez"``: Alvarez's radii (``ase.data.vdw_alvarez``), as MLIP Arena; ``"ase"``:
        ``ase.data.vdw_radii`` (Bondi and others, shorter for metals: Cu 1.40 Å against
        2.38 Å), falling back to Alvarez's radii where missing. Where neither has the
        element the scan ends at ``r_max_floor_a``.
    r_max_floor_a
        Shortest upper end of the scan (Å).
    force_energy_tolerance_ev_a
        Median |F + dE/dr| above which the forces are flagged as not the gradient (eV/Å).
    """

    step_a: float = 0.05
    r_min_covalent_factor: float = 0.9
    r_max_vdw_factor: float = 3.1
    vdw_source: str = "alvarez"
    r_max_floor_a: float = R_MAX_FLOOR_A
    force_energy_tolerance_ev_a: float = 0.01

    def __post_init__(self) -> None:
        if not 0.001 <= self.step_a <= 0.2:
            raise ValueError(f"step_a must be in [0.001, 0.2] Å, got {self.step_a}")
        if not 0.1 <= self.r_min_covalent_factor < self.r_max_vdw_factor:
            raise ValueError("need 0.1 <= r_min_covalent_factor < r_max_vdw_factor")
        if self.vdw_source not in ("ase", "alvarez"):
            raise ValueError(f"vdw_source must be 'ase' or 'alvarez', got {self.vdw_source!r}")
        if self.force_energy_tolerance_ev_a <= 0:
            raise ValueError("force_energy_tolerance_ev_a must be positive")
        if not 0.0 <= self.r_max_floor_a <= 20.0:
            raise ValueError(f"r_max_floor_a must be in [0, 20] Å, got {self.r_max_floor_a}")


@dataclass(frozen=True, slots=True)
class DiatomicsResult:
    """The dimer curve (r ascending, Å; E, eV; bond force F, eV/Å, > 0 pushes apart) and metrics.

    Metrics that need a region the curve lacks (e.g. a minimum) are None and not reported.
    """

    element: str
    distances_a: tuple[float, ...]
    energies_ev: tuple[float, ...]
    forces_ev_a: tuple[float, ...]
    atom_energy_ev: float
    equilibrium_distance_a: float | None
    well_depth_ev: float | None
    far_field_energy_ev: float
    conservation_deviation_ev_a: float
    force_energy_deviation_ev_a: float
    spearman_repulsion_energy: float | None
    spearman_repulsion_force: float
    tortuosity: float | None
    energy_diff_flips: int
    energy_jump_ev: float
    force_flips: int
    force_energy_tolerance_ev_a: float

    def metrics(self) -> tuple[MetricValue, ...]:
        """Physicality metrics (ideal: Spearman -1, tortuosity 1, one flip each) and flags."""
        inconsistent = self.force_energy_deviation_ev_a > self.force_energy_tolerance_ev_a
        hole = self.energies_ev[0] < self.energies_ev[-1]  # lower when squeezed than apart
        r, e, f = (np.array(x) for x in (self.distances_a, self.energies_ev, self.forces_ev_a))
        discontinuity = energy_discontinuity(e)
        spurious_flip = largest_spurious_flip(e, ENERGY_STEP_THRESHOLD_EV)
        jump = max(discontinuity, spurious_flip) > JUMP_THRESHOLD_EV
        tortuous = self.tortuosity is not None and self.tortuosity > MAX_TORTUOSITY
        residual, residual_f = dissociation_residual(r, e, f, window=DISSOCIATION_WINDOW_A)
        values = (
            ("equilibrium_distance", self.equilibrium_distance_a, "Å"),
            ("well_depth", self.well_depth_ev, "eV"),
            ("spearman_repulsion_energy", self.spearman_repulsion_energy, "1"),
            ("spearman_repulsion_force", self.spearman_repulsion_force, "1"),
            ("tortuosity", self.tortuosity, "1"),
            ("far_field_energy", self.far_field_energy_ev, "eV"),
            ("conservation_deviation", self.conservation_deviation_ev_a, "eV/Å"),
            ("force_energy_deviation", self.force_energy_deviation_ev_a, "eV/Å"),
            ("energy_diff_flips", float(self.energy_diff_flips), "1"),
            ("energy_jump", self.energy_jump_ev, "eV"),
            ("energy_discontinuity", discontinuity, "eV"),
            ("force_flips", float(self.force_flips), "1"),
            ("dissociation_energy_residual", residual, "eV"),
            ("dissociation_force_residual", residual_f, "eV/Å"),
            ("flag_force_energy_inconsistent", float(inconsistent), "1"),
            ("flag_no_minimum", float(self.equilibrium_distance_a is None), "1"),
            ("flag_short_range_hole", float(hole), "1"),
            ("flag_energy_jump", float(jump), "1"),
            ("flag_tortuous", float(tortuous), "1"),
            ("flag_not_dissociated", float(residual > DISSOCIATION_TOLERANCE_EV), "1"),
        )
        return finite(*(MetricValue(n, v, u) for n, v, u in values if v is not None))

    def series(self) -> tuple[SeriesData, ...]:
        """Energy and bond force against the interatomic distance."""
        return _curves(self.element, self.distances_a, self.energies_ev, self.forces_ev_a)


@register_benchmark(
    "diatomics",
    version="1.1",
    params=DiatomicsParams,
    description=(
        "Homonuclear dimer curve from 0.9 x covalent to max(3.1 x Alvarez van der Waals "
        "radius, 6 Å) (0.05 Å grid) in a non-periodic box; MLIP Arena's physicality metrics, "
        "jump, tortuosity and dissociation flags."
    ),
    headline=(
        Headline("force_energy_deviation", "median |F + dE/dr|", "eV/Å"),
        Headline("tortuosity", "tortuosity", "1"),
        Headline("force_flips", "force sign flips", "1"),
    ),
)
def run_diatomics(
    atoms: Atoms, calc: Calculator, params: DiatomicsParams, *, observer: Observer | None = None
) -> DiatomicsResult:
    """Scan the homonuclear dimer of the element of ``atoms`` and rate its physicality.

    Parameters
    ----------
    atoms
        Any structure of a single element (e.g. its crystal); only the element is used.
    calc
        ASE calculator giving energies in eV and forces in eV/Å.
    params
        Distance grid, radii and the force-energy tolerance.
    observer
        Called after each distance with ("diatomics", fraction done); may raise RunCancelled.

    Returns
    -------
    DiatomicsResult

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` holds more than one element.
    BenchmarkFailed
        ``nan_or_inf`` (with the curve so far) for a non-finite energy or force.
    """
    symbols = sorted(set(atoms.get_chemical_symbols()))
    if len(symbols) != 1:
        raise BenchmarkSetupError(f"diatomics needs a single-element structure, got {symbols}")
    element = symbols[0]
    distances = distance_grid(element, params)
    box = 5.0 * float(distances[-1])  # MLIP Arena's box: five times the largest distance
    atom = Atoms(element, positions=[[box / 2] * 3], cell=[box] * 3, pbc=False)
    atom.calc = calc
    atom_energy = float(atom.get_potential_energy())
    dimer = Atoms(element * 2, cell=[box] * 3, pbc=False)
    dimer.calc = calc
    energies: list[float] = []
    forces: list[float] = []
    for i, r in enumerate(distances):
        energies.append(float(_at_distance(dimer, r).get_potential_energy()))
        forces.append(float(dimer.get_forces()[1, 0]))
        if not np.isfinite([atom_energy, energies[-1], forces[-1]]).all():
            raise BenchmarkFailed(
                f"non-finite energy or force at r = {r:.3f} Å (atom energy {atom_energy})",
                failure_class=FailureClass.NAN_OR_INF,
                series=_curves(element, tuple(distances[: i + 1]), tuple(energies), tuple(forces)),
            )
        notify(observer, "diatomics", (i + 1) / len(distances))
    e, f = np.array(energies), np.array(forces)
    r_eq = equilibrium_distance(distances, e)
    e_eq = None if r_eq is None else float(_at_distance(dimer, r_eq).get_potential_energy())
    return analyse_curve(
        element, distances, e, f, atom_energy=atom_energy, minimum=(r_eq, e_eq), params=params
    )


def _at_distance(dimer: Atoms, r: float) -> Atoms:
    """Place the two atoms ``r`` Å apart along x, centred in the box; return the dimer."""
    half, centre = np.array([r / 2, 0.0, 0.0]), dimer.cell.array.diagonal() / 2
    dimer.positions = [centre - half, centre + half]
    return dimer


def distance_grid(element: str, params: DiatomicsParams) -> np.ndarray:
    """Distances (Å, ascending) from the covalent to the van der Waals end, ~``step_a`` apart."""
    z = atomic_numbers[element]
    r_vdw = float(vdw_radii[z]) if params.vdw_source == "ase" else float("nan")
    if np.isnan(r_vdw) and z < len(vdw_alvarez.vdw_radii):
        r_vdw = float(vdw_alvarez.vdw_radii[z])
    r_max = params.r_max_floor_a
    if np.isfinite(r_vdw):
        r_max = max(r_max, params.r_max_vdw_factor * r_vdw)
    r_min = params.r_min_covalent_factor * float(covalent_radii[z])
    n_points = max(round((r_max - r_min) / params.step_a) + 1, 8)
    return np.linspace(r_min, r_max, n_points)


def analyse_curve(
    element: str,
    r: np.ndarray,
    e: np.ndarray,
    f: np.ndarray,
    *,
    atom_energy: float,
    minimum: tuple[float | None, float | None],
    params: DiatomicsParams,
) -> DiatomicsResult:
    """Metrics of a curve (r ascending, Å; E, eV; F, eV/Å); ``minimum``: (r_eq Å, E(r_eq) eV)."""
    i_min_e = int(np.argmin(e))
    r_eq, e_min = minimum
    energy_flips, energy_jump = energy_diff_flips(e, ENERGY_STEP_THRESHOLD_EV)
    force_signs = np.sign(np.where(np.abs(f) < FORCE_THRESHOLD_EV_A, 0.0, f))
    force_signs = force_signs[force_signs != 0]
    return DiatomicsResult(
        element=element,
        distances_a=tuple(float(x) for x in r),
        energies_ev=tuple(float(x) for x in e),
        forces_ev_a=tuple(float(x) for x in f),
        atom_energy_ev=atom_energy,
        equilibrium_distance_a=r_eq,
        well_depth_ev=2 * atom_energy - e_min if e_min is not None else None,
        far_field_energy_ev=float(e[-1]) - 2 * atom_energy,
        # MLIP Arena's conservation deviation uses np.gradient: its grid error grows as step^2.
        conservation_deviation_ev_a=float(np.mean(np.abs(f + np.gradient(e, r)))),
        # The spline's derivative error falls as step^3-4 and the median ignores the few points
        # of a steep wall: what remains is forces that are not the gradient of the energy.
        force_energy_deviation_ev_a=float(np.median(np.abs(f + CubicSpline(r, e)(r, 1)))),
        spearman_repulsion_energy=spearman(r[: i_min_e + 1], e[: i_min_e + 1]),
        spearman_repulsion_force=repulsion_spearman(r, f, e),
        tortuosity=tortuosity(e),
        energy_diff_flips=energy_flips,
        energy_jump_ev=energy_jump,
        force_flips=int(np.count_nonzero(np.diff(force_signs))),
        force_energy_tolerance_ev_a=params.force_energy_tolerance_ev_a,
    )


def _curves(
    element: str, r: tuple[float, ...], e: tuple[float, ...], f: tuple[float, ...]
) -> tuple[SeriesData, ...]:
    x_label = f"{element}-{element} distance"
    return (
        SeriesData("energy_distance", r, e, x_label, "Å", "energy", "eV"),
        SeriesData("force_distance", r, f, x_label, "Å", "bond force (repulsive > 0)", "eV/Å"),
    )
