"""Elastic constants from finite strains, Voigt-Reuss-Hill moduli and Born stability.

The input crystal is turned into spglib's standardized conventional cell (cubic axes along
x, y, z; hexagonal c along z) and relaxed (cell and positions, FIRE + FrechetCellFilter).
Each of the six Voigt strains (engineering shear: e4 = 2 e_yz) is applied at +-``strain``;
with ions relaxed at fixed cell where the primitive cell has more than one atom (atoms off
inversion centres move under strain). C_ij = d sigma_i / d e_j by central differences gives
the full 6x6 matrix, symmetrized.

Moduli are Voigt-Reuss-Hill averages (Hill, Proc. Phys. Soc. A 65, 349 (1952)); Young's
modulus E = 9BG / (3B + G) and Poisson's ratio (3B - 2G) / (6B + 2G) from B_VRH, G_VRH.
Quality flags: B_VRH more than 10 % from the curvature B0 of a small E(V) scan of the same
model (``ase.eos``, +-3 % volume); an eigenvalue of C not positive (Born instability);
an ionic relaxation that did not converge.

Force checks (``workers.benchmarks._checks``; ``net_force``, ``symmetry_force_deviation`` and
their flags): the net force on a rattled 2x2x2 supercell of the ideal conventional cell, and
the net force and symmetry equivariance on the ideal conventional cell and on its six Voigt
strains (+``strain``: three stretched and three sheared cells, each of lower symmetry). They
are measured on the ideal input geometry, not the model's relaxed cell: a relaxation absorbs a
force defect into the geometry (a constant or non-symmetric force is balanced by displaced
atoms), whereas the ideal strained cells have a known exact symmetry. Eight force calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._checks import (
    ForceChecks,
    check_forces,
    check_structures,
    no_interaction,
    worst,
)
from workers.benchmarks._eos_fit import curvature_bulk_modulus
from workers.benchmarks._relaxation import REFERENCE_SYMPREC, minimize
from workers.benchmarks.base import (
    Headline,
    MetricValue,
    Observer,
    SeriesData,
    finite,
    notify,
    register_benchmark,
)

VOIGT = ("xx", "yy", "zz", "yz", "xz", "xy")
_PAIRS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
#: Largest relative difference between B_VRH and the E(V) curvature before it is flagged.
BULK_MISMATCH = 0.10


@dataclass(frozen=True, slots=True)
class ElasticParams:
    """Parameters of the elastic protocol.

    Parameters
    ----------
    strain
        Amplitude of each Voigt strain (dimensionless; 0.005 default, 0.01 variant).
    relax_ions
        ``"auto"`` (when the primitive cell has more than one atom), ``"always"``, ``"never"``.
    fmax
        Force threshold of the cell relaxation (with virial per atom) and of the ionic
        relaxations (eV/Å).
    max_steps
        Largest number of FIRE steps of each relaxation.
    eos_volume_range
        Half-width of the E(V) scan giving the curvature B0 (fraction of the volume).
    """

    strain: float = 0.005
    relax_ions: str = "auto"
    fmax: float = 0.001
    max_steps: int = 300
    eos_volume_range: float = 0.03

    def __post_init__(self) -> None:
        if not 0.0 < self.strain <= 0.05:
            raise ValueError(f"strain must be in (0, 0.05], got {self.strain}")
        if self.relax_ions not in ("auto", "always", "never"):
            raise ValueError(f"relax_ions must be auto, always or never, got {self.relax_ions!r}")
        if self.fmax <= 0 or self.max_steps < 1 or not 0.0 < self.eos_volume_range < 0.2:
            raise ValueError("fmax, max_steps positive; eos_volume_range in (0, 0.2)")


@dataclass(frozen=True, slots=True)
class ElasticResult:
    """The elastic matrix (GPa, Voigt order xx yy zz yz xz xy) and what follows from it.

    ``c_gpa``: symmetrized 6x6 C_ij; ``space_group``: of the input; ``eos_bulk_modulus_gpa``:
    E(V) curvature B0 of the relaxed cell; ``ionic_max_force``: largest residual force after
    the ionic relaxations (eV/Å; 0 without); ``strains`` (-e, 0, +e) and ``stresses_gpa``:
    sigma_j at those e_j for each Voigt component j; ``force_checks``: net force and symmetry
    on the rattled, ideal and strained conventional cells (None without forces).
    """

    c_gpa: tuple[tuple[float, ...], ...]
    space_group: int
    eos_bulk_modulus_gpa: float
    ionic_max_force: float
    ionic_converged: bool
    strains: tuple[float, ...]
    stresses_gpa: tuple[tuple[float, ...], ...]
    force_checks: ForceChecks | None = None

    def moduli(self) -> dict[str, float]:
        """Voigt, Reuss and Hill bulk and shear moduli, Young's modulus (GPa), Poisson ratio."""
        c = np.array(self.c_gpa)
        s = np.linalg.inv(c)
        tr_c, off_c, sh_c = np.trace(c[:3, :3]), c[0, 1] + c[1, 2] + c[0, 2], np.trace(c[3:, 3:])
        tr_s, off_s, sh_s = np.trace(s[:3, :3]), s[0, 1] + s[1, 2] + s[0, 2], np.trace(s[3:, 3:])
        b_v, g_v = (tr_c + 2 * off_c) / 9, (tr_c - off_c + 3 * sh_c) / 15
        b_r, g_r = 1 / (tr_s + 2 * off_s), 15 / (4 * tr_s - 4 * off_s + 3 * sh_s)
        b, g = (b_v + b_r) / 2, (g_v + g_r) / 2
        return {
            "bulk_modulus_voigt": b_v, "bulk_modulus_reuss": b_r, "bulk_modulus": b,
            "shear_modulus_voigt": g_v, "shear_modulus_reuss": g_r, "shear_modulus": g,
            "youngs_modulus": 9 * b * g / (3 * b + g),
            "poisson_ratio": (3 * b - 2 * g) / (6 * b + 2 * g),
        }  # fmt: skip

    def constants(self) -> dict[str, float]:
        """Independent C_ij (GPa): averaged over equivalents for cubic and hexagonal crystals."""
        c = np.array(self.c_gpa)
        if self.space_group >= 195:
            return {"c11": np.trace(c[:3, :3]) / 3, "c12": (c[0, 1] + c[0, 2] + c[1, 2]) / 3,
                    "c44": np.trace(c[3:, 3:]) / 3}  # fmt: skip
        if self.space_group >= 168:
            return {"c11": (c[0, 0] + c[1, 1]) / 2, "c12": c[0, 1], "c13": (c[0, 2] + c[1, 2]) / 2,
                    "c33": c[2, 2], "c44": (c[3, 3] + c[4, 4]) / 2}  # fmt: skip
        return {f"c{i + 1}{j + 1}": c[i, j] for i in range(6) for j in range(i, 6)}

    def metrics(self) -> tuple[MetricValue, ...]:
        """Moduli (B_VRH, G_VRH, E, nu vs references), C_ij and the quality flags."""
        moduli = self.moduli()
        compared = {"bulk_modulus", "shear_modulus", "youngs_modulus", "poisson_ratio"}
        out = [
            MetricValue(name, float(v), "1" if name == "poisson_ratio" else "GPa", name in compared)
            for name, v in moduli.items()
        ]
        constants = self.constants()
        out += [MetricValue(name, float(v), "GPa") for name, v in constants.items()]
        if self.space_group >= 195:
            out.append(
                MetricValue("cauchy_pressure", float(constants["c12"] - constants["c44"]), "GPa")
            )
        mismatch = float(abs(moduli["bulk_modulus"] / self.eos_bulk_modulus_gpa - 1.0))
        min_eig = float(np.linalg.eigvalsh(np.array(self.c_gpa)).min())
        return finite(
            *out,
            MetricValue("bulk_modulus_eos", self.eos_bulk_modulus_gpa, "GPa"),
            MetricValue("bulk_modulus_mismatch", 100.0 * mismatch, "%"),
            MetricValue("flag_bulk_modulus_mismatch", float(mismatch > BULK_MISMATCH), "1"),
            MetricValue("born_min_eigenvalue", min_eig, "GPa"),
            MetricValue("flag_born_unstable", float(min_eig <= 0.0), "1"),
            MetricValue("ionic_relaxation_max_force", self.ionic_max_force, "eV/Å"),
            MetricValue("flag_ionic_relaxation_not_converged", float(not self.ionic_converged),
                        "1"),
            *(self.force_checks.metrics() if self.force_checks is not None else ()),
        )  # fmt: skip

    def series(self) -> tuple[SeriesData, ...]:
        """sigma_j against e_j for each Voigt component j."""
        return tuple(
            SeriesData(f"stress_strain_{label}", self.strains, stress, f"strain {label}", "1",
                       f"stress {label}", "GPa")
            for label, stress in zip(VOIGT, self.stresses_gpa, strict=True)
        )  # fmt: skip


@register_benchmark(
    "elastic",
    version="1.1",
    params=ElasticParams,
    description=(
        "C_ij from +-0.5 % Voigt strains of the relaxed conventional cell (ions relaxed for "
        "multi-atom bases); Voigt-Reuss-Hill B, G, E, Poisson ratio; Born stability; net-force "
        "and symmetry checks on the strained cells."
    ),
    headline=(
        Headline("bulk_modulus", "B_VRH", "GPa"),
        Headline("shear_modulus", "G_VRH", "GPa"),
        Headline("youngs_modulus", "E", "GPa"),
        Headline("poisson_ratio", "nu", "1"),
    ),
)
def run_elastic(
    atoms: Atoms, calc: Calculator, params: ElasticParams, *, observer: Observer | None = None
) -> ElasticResult:
    """Elastic matrix of the crystal ``atoms`` by finite strains.

    Parameters
    ----------
    atoms
        Periodic crystal (lengths in Å); not modified.
    calc
        ASE calculator giving energies (eV), forces (eV/Å) and stress (eV/Å³).
    params
        Strain amplitude, ionic relaxation policy, fmax, step limit, E(V) scan width.
    observer
        Called with ("elastic", fraction done); may raise RunCancelled.

    Returns
    -------
    ElasticResult
        C_ij (GPa), the E(V) curvature B0 (GPa), ionic relaxation status, stress-strain data.

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not periodic in three dimensions or has no space group.
    BenchmarkFailed
        ``nan_or_inf`` for a non-finite energy, force or stress; ``no_convergence`` (with the
        trace) when the unstrained cell does not relax (naming a violated force check as the
        likely cause) or the E(V) fit fails.
    """
    if not atoms.pbc.all() or atoms.cell.rank != 3:
        raise BenchmarkSetupError("elastic needs a structure periodic in three dimensions")
    cell, number, n_primitive = _conventional(atoms)
    ideal = cell.copy()
    checks = worst(
        [
            check_forces(ideal, calc),
            check_structures([_strained(ideal, j, params.strain) for j in range(6)], calc),
        ]
    )
    cell.calc = calc
    trace = minimize(cell, fmax=params.fmax, max_steps=params.max_steps, relax_cell=True,
                     observer=observer, stage="elastic", window=(0.0, 0.2))  # fmt: skip
    if not trace.converged:
        cause = "" if checks is None else checks.diagnosis()
        raise BenchmarkFailed(
            f"the unstrained cell did not relax to fmax {params.fmax} eV/Å in "
            f"{params.max_steps} steps" + (f"; {cause}" if cause else ""),
            failure_class=FailureClass.NO_CONVERGENCE,
            series=trace.series(),
        )
    relax_ions = params.relax_ions == "always" or (params.relax_ions == "auto" and n_primitive > 1)
    b_eos = curvature_bulk_modulus(cell, calc, params.eos_volume_range)
    sigma0 = _stress(cell)
    scan = _strain_scan(cell, calc, params, sigma0=sigma0, relax_ions=relax_ions, observer=observer)
    if not np.any(np.abs(scan.c_gpa) > 1e-6):
        raise no_interaction(cell, "every elastic constant is zero")
    return ElasticResult(
        c_gpa=tuple(tuple(float(x) for x in row) for row in scan.c_gpa),
        space_group=number,
        eos_bulk_modulus_gpa=b_eos,
        ionic_max_force=scan.ionic_max_force,
        ionic_converged=scan.ionic_converged,
        strains=(-params.strain, 0.0, params.strain),
        stresses_gpa=scan.stresses_gpa,
        force_checks=checks,
    )


@dataclass(frozen=True, slots=True)
class _StrainScan:
    """The six Voigt strains at -+ the amplitude: symmetrized C (GPa), (sigma_j(-e), sigma_j(0),
    sigma_j(+e)) for each j (GPa), and the ionic relaxations' worst force (eV/Å, 0 without
    ionic relaxation) and whether all converged."""

    c_gpa: np.ndarray
    stresses_gpa: tuple[tuple[float, float, float], ...]
    ionic_max_force: float
    ionic_converged: bool


def _strain_scan(
    cell: Atoms,
    calc: Calculator,
    params: ElasticParams,
    *,
    sigma0: np.ndarray,
    relax_ions: bool,
    observer: Observer | None,
) -> _StrainScan:
    """C_ij = d sigma_i / d e_j by central differences on the relaxed ``cell``; ions relaxed
    at fixed cell in each strained copy when ``relax_ions``. Non-finite stress raises
    BenchmarkFailed (``nan_or_inf``). ``sigma0`` is the unstrained cell's Voigt stress (GPa)."""
    c = np.zeros((6, 6))
    stresses, forces, converged = [], [0.0], True
    for j in range(6):
        pair = []
        for sign in (-1.0, 1.0):
            strained = _strained(cell, j, sign * params.strain)
            strained.calc = calc
            if relax_ions:
                ions = minimize(strained, fmax=params.fmax, max_steps=params.max_steps,
                                relax_cell=False)  # fmt: skip
                converged &= ions.converged
                forces.append(ions.fmax_ev_per_a[-1])
            pair.append(_stress(strained))
        c[:, j] = (pair[1] - pair[0]) / (2 * params.strain)
        stresses.append((float(pair[0][j]), float(sigma0[j]), float(pair[1][j])))
        notify(observer, "elastic", 0.3 + 0.7 * (j + 1) / 6)
    return _StrainScan(
        c_gpa=(c + c.T) / 2,
        stresses_gpa=tuple(stresses),
        ionic_max_force=float(max(forces)),
        ionic_converged=bool(converged),
    )


def _conventional(atoms: Atoms) -> tuple[Atoms, int, int]:
    """spglib's standardized conventional cell, the space group and atoms per primitive cell."""
    data = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    dataset = spglib.get_symmetry_dataset(data, symprec=REFERENCE_SYMPREC)
    if dataset is None:
        raise BenchmarkSetupError("spglib found no space group for the input structure")
    lattice, scaled, numbers = dataset.std_lattice, dataset.std_positions, dataset.std_types
    n_primitive = len(set(dataset.mapping_to_primitive))
    conventional = Atoms(numbers=numbers, scaled_positions=scaled, cell=lattice, pbc=True)
    return conventional, int(dataset.number), n_primitive


def _strained(cell: Atoms, j: int, e: float) -> Atoms:
    """Copy of ``cell`` under Voigt strain e_j = ``e`` (shear: engineering, e_ab = e / 2)."""
    eps = np.zeros((3, 3))
    a, b = _PAIRS[j]
    eps[a, b] = eps[b, a] = e if a == b else e / 2
    strained = cell.copy()
    strained.set_cell(cell.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return strained


def _stress(atoms: Atoms) -> np.ndarray:
    """Voigt stress (GPa, ASE sign: positive in tension); non-finite raises nan_or_inf."""
    stress = np.asarray(atoms.get_stress(voigt=True)) / units.GPa
    if not np.isfinite(stress).all():
        raise BenchmarkFailed("non-finite stress", failure_class=FailureClass.NAN_OR_INF)
    return stress
