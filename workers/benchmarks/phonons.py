"""Harmonic phonons by finite displacements (phonopy): DOS, bands, instability, Debye temperature.

The crystal is first relaxed with the model (cell and positions, FIRE on FrechetCellFilter) so
that the phonons are those of the model's own equilibrium. phonopy then displaces the
symmetry-inequivalent atoms of an ``n x n x n`` supercell of the primitive cell by
``displacement`` Å, the model gives the forces, and phonopy builds the force constants (the
translational sum rule imposed) and the dynamical matrix.

- **Imaginary modes**: on a Γ-centred ``mesh`` of q-points, a mode with frequency below
  ``-imaginary_tolerance_thz`` is imaginary (phonopy reports an imaginary frequency as a
  negative number). The three acoustic modes at Γ are left out: they are zero by the sum rule.
  A crystal that is stable in reality but has imaginary modes with the model is dynamically
  unstable: the run fails with its own class, ``dynamically_unstable``, keeping the DOS and
  bands for inspection.
- **Debye temperature** from the second moment of the phonon DOS g(nu) (Barron, Berg and
  Morrison, Proc. R. Soc. A 242, 478 (1957)): θ_D(2) = (h/k_B) sqrt(5/3 <nu^2>), with
  <nu^2> = int nu^2 g dnu / int g dnu. For a Debye DOS (g ~ nu^2 up to nu_D) it returns
  h nu_D / k_B exactly.
  Experimental Debye temperatures (Hao et al. 2012, Sol58) come from low-temperature heat
  capacities or elastic constants, θ_D(-3) in Barron's notation; for real crystals θ_D(2) and
  θ_D(-3) differ by up to about 10-20 %, so the comparison measures the model and the
  definition together (the definition is the same for every model).
- **Band structure** along ASE's standard path of the primitive cell (Setyawan-Curtarolo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._checks import no_interaction
from workers.benchmarks._relaxation import minimize
from workers.benchmarks.base import (
    Headline,
    MetricValue,
    Observer,
    SeriesData,
    finite,
    notify,
    register_benchmark,
)

#: h / k_B in K per THz.
KELVIN_PER_THZ = units._hplanck * 1e12 / units._k


@dataclass(frozen=True, slots=True)
class PhononsParams:
    """Parameters of the phonons protocol.

    Parameters
    ----------
    supercell
        n of the n x n x n supercell of the primitive cell the displacements are made in.
    displacement
        Finite displacement (Å).
    mesh
        Points per reciprocal axis of the Γ-centred q-point mesh of the DOS.
    dos_points
        Frequency points of the DOS.
    band_points
        q-points along the band path.
    imaginary_tolerance_thz
        A frequency below minus this (THz) is an imaginary mode.
    fmax, max_steps
        Threshold (eV/Å) and step limit of the relaxation before the displacements.
    """

    supercell: int = 3
    displacement: float = 0.01
    mesh: int = 20
    dos_points: int = 201
    band_points: int = 120
    imaginary_tolerance_thz: float = 0.1
    fmax: float = 0.001
    max_steps: int = 300

    def __post_init__(self) -> None:
        if not 1 <= self.supercell <= 6:
            raise ValueError("supercell must be 1..6")
        if not 0.001 <= self.displacement <= 0.1:
            raise ValueError("displacement must be 0.001..0.1 Å")
        if self.mesh < 4 or self.dos_points < 11 or self.band_points < 10:
            raise ValueError("mesh >= 4, dos_points >= 11, band_points >= 10")
        if self.imaginary_tolerance_thz <= 0 or self.fmax <= 0 or self.max_steps < 1:
            raise ValueError("imaginary_tolerance_thz, fmax and max_steps must be positive")


def debye_temperature_second_moment(frequencies_thz: np.ndarray, dos: np.ndarray) -> float:
    """θ_D(2) in K from a phonon DOS g(nu) sampled at ``frequencies_thz`` (nu > 0 only)."""
    positive = frequencies_thz > 0
    nu, g = frequencies_thz[positive], dos[positive]
    norm = np.trapezoid(g, nu)
    if norm <= 0:
        raise BenchmarkFailed("the phonon DOS has no weight at positive frequencies")
    second = np.trapezoid(nu**2 * g, nu) / norm
    return float(KELVIN_PER_THZ * np.sqrt(5.0 / 3.0 * second))


@dataclass(frozen=True, slots=True)
class PhononsResult:
    """Phonons of the relaxed crystal.

    ``mesh_frequencies_thz``: every mode on the mesh; ``dos``: (nu in THz, states per THz per
    cell); ``bands``: (path coordinate, frequencies per band) and the special points' labels
    and coordinates; ``n_imaginary``: imaginary modes on the mesh (Γ acoustic left out).
    """

    n_atoms_supercell: int
    n_displacements: int
    mesh_frequencies_thz: tuple[float, ...]
    dos: tuple[tuple[float, ...], tuple[float, ...]]
    band_x: tuple[float, ...]
    bands_thz: tuple[tuple[float, ...], ...]
    special_points: tuple[tuple[str, float], ...]
    n_imaginary: int
    n_modes: int
    debye_temperature_k: float

    def metrics(self) -> tuple[MetricValue, ...]:
        frequencies = np.array(self.mesh_frequencies_thz)
        return finite(
            MetricValue("debye_temperature", self.debye_temperature_k, "K", True),
            MetricValue("max_frequency", float(frequencies.max()), "THz"),
            MetricValue("min_frequency", float(frequencies.min()), "THz"),
            MetricValue("imaginary_mode_fraction", self.n_imaginary / self.n_modes, "1"),
            MetricValue("n_displacements", float(self.n_displacements), "1"),
            MetricValue("n_atoms_supercell", float(self.n_atoms_supercell), "1"),
        )

    def series(self) -> tuple[SeriesData, ...]:
        """The DOS, one series per band along the path, and the path's special points (their
        positions as x, their labels, in order, in the x label)."""
        path = ",".join(name for name, _ in self.special_points)
        dos = SeriesData("phonon_dos", self.dos[0], self.dos[1], "frequency", "THz", "DOS", "1/THz")
        bands = tuple(
            SeriesData(f"phonon_band_{i}", self.band_x, band, "q", "1/Å", "nu", "THz")
            for i, band in enumerate(self.bands_thz)
        )
        points = SeriesData(
            "phonon_special_points",
            tuple(x for _, x in self.special_points),
            tuple(float(i) for i in range(len(self.special_points))),
            f"q ({path})"[:100],  # the column holds 100 characters
            "1/Å",
            "index",
            "1",
        )
        return (dos, *bands, points)


def _phonopy_atoms(atoms: Atoms) -> Any:
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(),
        cell=atoms.cell.array,
        scaled_positions=atoms.get_scaled_positions(),
        masses=atoms.get_masses(),
    )


def force_constants_model(atoms: Atoms, calc: Calculator, params: PhononsParams) -> Any:
    """A phonopy object of ``atoms`` (its cell taken as primitive) with force constants from
    ``calc``'s forces on the displaced supercells (sum rule imposed)."""
    try:
        from phonopy import Phonopy
    except ImportError as exc:  # a worker without the package: the setup's fault
        raise BenchmarkSetupError(f"the phonons benchmark needs phonopy ({exc})") from exc

    phonon = Phonopy(
        _phonopy_atoms(atoms), supercell_matrix=np.eye(3, dtype=int) * params.supercell
    )
    phonon.generate_displacements(distance=params.displacement)
    forces = []
    for cell in phonon.supercells_with_displacements or []:
        displaced = Atoms(
            cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True
        )
        displaced.calc = calc
        forces.append(np.array(displaced.get_forces()))
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    return phonon


@register_benchmark(
    "phonons",
    version="1.0",
    params=PhononsParams,
    description=(
        "Harmonic phonons of the crystal relaxed with the model (phonopy, 0.01 Å finite "
        "displacements in a 3x3x3 supercell of the primitive cell): DOS on a 20^3 mesh, bands "
        "along the standard path, imaginary modes (a crystal stable in reality that is "
        "dynamically unstable with the model fails as dynamically_unstable) and the Debye "
        "temperature from the DOS' second moment, against experiment."
    ),
    headline=(Headline("debye_temperature", "θ_D", "K"),),
)
def run_phonons(
    atoms: Atoms, calc: Calculator, params: PhononsParams, *, observer: Observer | None = None
) -> PhononsResult:
    """Phonons of the crystal ``atoms`` at the model's equilibrium.

    Parameters
    ----------
    atoms
        Periodic crystal (Å), its cell taken as the primitive cell; not modified.
    calc
        ASE calculator giving forces (eV/Å) and stress (eV/Å³).
    params
        Supercell, displacement, mesh and relaxation settings.
    observer
        Called with ("relax" | "phonons", fraction done); may raise RunCancelled.

    Raises
    ------
    BenchmarkSetupError
        If ``atoms`` is not a 3-D periodic crystal or phonopy is missing.
    BenchmarkFailed
        ``no_convergence`` when the relaxation does not converge; ``dynamically_unstable``
        (with DOS and bands) when the mesh has imaginary modes.
    """
    if not atoms.pbc.all() or atoms.cell.rank != 3:
        raise BenchmarkSetupError("phonons needs a crystal periodic in three dimensions")
    relaxed = atoms.copy()
    relaxed.calc = calc
    trace = minimize(
        relaxed,
        fmax=params.fmax,
        max_steps=params.max_steps,
        relax_cell=True,
        observer=observer,
        window=(0.0, 0.3),
    )
    if not trace.converged:
        raise BenchmarkFailed(
            f"the crystal did not relax to fmax {params.fmax} eV/Å in {params.max_steps} steps",
            failure_class=FailureClass.NO_CONVERGENCE,
        )
    relaxed.calc = None
    notify(observer, "phonons", 0.3)
    phonon = force_constants_model(relaxed, calc, params)
    if not np.any(np.abs(phonon.force_constants) > 1e-8):
        raise no_interaction(relaxed, "every force constant is zero")
    notify(observer, "phonons", 0.8)
    result = _spectra(relaxed, phonon, params)
    if result.n_imaginary:
        raise BenchmarkFailed(
            f"{result.n_imaginary} of {result.n_modes} modes on the {params.mesh}^3 mesh are "
            f"imaginary (down to {min(result.mesh_frequencies_thz):.3f} THz): the crystal is "
            "dynamically unstable with this model",
            failure_class=FailureClass.DYNAMICALLY_UNSTABLE,
            series=result.series(),
        )
    return result


def _spectra(relaxed: Atoms, phonon: Any, params: PhononsParams) -> PhononsResult:
    """Mesh frequencies, DOS, bands and the Debye temperature of a phonopy model."""
    phonon.run_mesh([params.mesh] * 3, is_gamma_center=True)
    mesh = phonon.mesh
    frequencies = np.array(mesh.frequencies)  # (n_q, 3 n_atoms), THz
    gamma = np.all(np.isclose(mesh.qpoints, 0.0), axis=1)
    # the three acoustic modes at Γ are zero by the sum rule: not instabilities
    acoustic = np.zeros_like(frequencies, dtype=bool)
    acoustic[gamma, :3] = True
    n_imaginary = int(np.sum((frequencies < -params.imaginary_tolerance_thz) & ~acoustic))
    top = max(float(frequencies.max()), 1e-3) * 1.05
    phonon.run_total_dos(freq_min=0.0, freq_max=top, freq_pitch=top / (params.dos_points - 1))
    total = phonon.total_dos
    nu, dos = np.array(total.frequency_points), np.array(total.dos)
    path = relaxed.cell.bandpath(npoints=params.band_points)
    phonon.run_band_structure([path.kpts])
    bands = np.array(phonon.band_structure.frequencies[0])  # (n_q, n_bands)
    x, special_x, labels = path.get_linear_kpoint_axis()
    return PhononsResult(
        n_atoms_supercell=len(phonon.supercell),
        n_displacements=len(phonon.supercells_with_displacements or []),
        mesh_frequencies_thz=tuple(float(f) for f in frequencies.ravel()),
        dos=(tuple(float(v) for v in nu), tuple(float(v) for v in dos)),
        band_x=tuple(float(v) for v in x),
        bands_thz=tuple(tuple(float(v) for v in band) for band in bands.T),
        special_points=tuple(
            (str(label), float(pos)) for label, pos in zip(labels, special_x, strict=True)
        ),
        n_imaginary=n_imaginary,
        n_modes=int(frequencies.size),
        debye_temperature_k=debye_temperature_second_moment(nu, dos),
    )
