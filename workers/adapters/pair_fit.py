"""Fit per-element Lennard-Jones and Morse potentials to experimental crystal data.

The method follows L. A. Girifalco and V. G. Weizer, Phys. Rev. 114, 687 (1959): a pair
potential is fitted to the lattice constant, the cohesive energy and (for Morse, which has
a third parameter) the bulk modulus of the element's crystal.

Both potentials are scale invariant: with lengths in units of sigma (LJ) or r0 (Morse),
energies in units of epsilon and the cutoff in the same length unit (as ASE's calculators
define it), the energy per atom of a uniformly scaled crystal is ``epsilon * u(x)`` where
``x`` is the nearest-neighbour distance in reduced units and ``u`` depends only on the
crystal's shape (and rho0 for Morse). So each fit reduces to one-dimensional root finding on
a lattice sum over the neighbour shells of the experimental crystal, evaluated with the very
cutoff functions of ``ase.calculators.lj`` and ``ase.calculators.morse``; the fitted numbers
are exact for the calculators that the adapters build.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from ase import Atoms, units
from ase.calculators.lj import cutoff_function, d_cutoff_function
from ase.calculators.morse import fcut, fcut_d
from numpy.typing import NDArray
from scipy.optimize import brentq

from workers.reference_data import (
    ReferenceRecord,
    elemental_crystals,
    experimental_references,
    reference_lookup,
)

FloatArray = NDArray[np.float64]
#: Pair energy and its derivative, in units of epsilon, at reduced distances r.
PairFn = Callable[[FloatArray], tuple[FloatArray, FloatArray]]

#: LJ cutoff convention: rc = 3 sigma, ASE's default onset ro = 0.66 rc (smooth=True).
LJ_RC_SIGMA = 3.0
LJ_RO_FRACTION = 0.66
#: Morse cutoff convention: ASE's defaults rcut1 = 1.9 r0, rcut2 = 2.7 r0.
MORSE_RCUT1 = 1.9
MORSE_RCUT2 = 2.7
#: Range of rho0 = alpha * r0 accepted for a Morse fit.
RHO0_RANGE = (1.5, 20.0)
#: Largest relative difference of dcdft's volume from the crystal's for its B0 to be used.
MAX_VOLUME_MISMATCH = 0.10

# Nearest-neighbour distance in units of sigma (LJ) or r0 (Morse) searched for the minimum.
_LJ_X_RANGE = (0.85, 1.6)
_MORSE_X_RANGE = (0.6, 1.4)
_SHELL_RADIUS = MORSE_RCUT2 / _MORSE_X_RANGE[0] + 0.1  # in nearest-neighbour distances
_GRID = 120
_RHO0_GRID = 12


@dataclass(frozen=True, slots=True)
class Shells:
    """Neighbour shells in units of the nearest-neighbour distance; ``weights`` are neighbours
    per atom / 2, so that the energy per atom is ``sum(weights * phi(x * radii))``."""

    radii: FloatArray
    weights: FloatArray
    nn_distance: float


@dataclass(frozen=True, slots=True)
class PairFit:
    """Fitted per-element parameters of one family and the elements that were left out.

    Cached and shared: treat as read-only.

    ``elements`` maps a symbol to the keyword arguments of the ASE calculator (eV, Å);
    ``left_out`` maps a symbol to the reason it could not be fitted.
    """

    family: str
    elements: dict[str, dict[str, float | bool]]
    left_out: dict[str, str]
    seconds: float


def crystal_shells(atoms: Atoms) -> Shells:
    """Group the neighbour distances of ``atoms`` (periodic, lengths in Å) into shells."""
    # Every structure here has its nearest neighbour no farther than its longest cell vector.
    d_nn = float(_pair_distances(atoms, 1.01 * float(atoms.cell.lengths().max())).min())
    distances = _pair_distances(atoms, _SHELL_RADIUS * d_nn) / d_nn
    radii, counts = np.unique(np.round(distances, 10), return_counts=True)
    return Shells(radii, counts / (2.0 * len(atoms)), d_nn)


def _pair_distances(atoms: Atoms, cutoff: float) -> FloatArray:
    """All distances up to ``cutoff`` (Å), both ways, self excluded: a direct lattice sum,
    far faster than a general neighbour list for tiny cells and long cutoffs."""
    cell = atoms.cell.array
    # Lattice-plane spacings are 1 / |reciprocal vector|; enough images to cover the cutoff.
    spacings = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)
    reps = [np.arange(-m, m + 1) for m in np.ceil(cutoff / spacings).astype(int) + 1]
    shifts = np.stack(np.meshgrid(*reps, indexing="ij"), axis=-1).reshape(-1, 3) @ cell
    pos = atoms.positions
    vectors = pos[None, :, None, :] - pos[:, None, None, :] + shifts[None, None, :, :]
    distances = np.linalg.norm(vectors, axis=-1).ravel()
    return distances[(distances > 1e-8) & (distances <= cutoff)]


def lj_pair(r: FloatArray) -> tuple[FloatArray, FloatArray]:
    """LJ pair energy and derivative (units of epsilon, r in sigma) with ASE's smooth cutoff."""
    r2, rc2, ro2 = r**2, LJ_RC_SIGMA**2, (LJ_RO_FRACTION * LJ_RC_SIGMA) ** 2
    c6 = np.where(r2 > rc2, 0.0, r2**-3)
    energy = 4.0 * (c6**2 - c6)
    d_energy = -24.0 * (2.0 * c6**2 - c6) / r
    fc, dfc = cutoff_function(r2, rc2, ro2), d_cutoff_function(r2, rc2, ro2)
    return energy * fc, d_energy * fc + energy * dfc * 2.0 * r


def morse_pair(rho0: float) -> PairFn:
    """Morse pair energy and derivative (units of epsilon, r in r0) with ASE's cutoff."""

    def pair(r: FloatArray) -> tuple[FloatArray, FloatArray]:
        expf = np.exp(rho0 * (1.0 - r))
        energy = expf * (expf - 2.0)
        d_energy = -2.0 * rho0 * expf * (expf - 1.0)
        fc, dfc = fcut(r, MORSE_RCUT1, MORSE_RCUT2), fcut_d(r, MORSE_RCUT1, MORSE_RCUT2)
        return energy * fc, d_energy * fc + energy * dfc

    return pair


def lattice_minimum(
    shells: Shells, pair: PairFn, x_range: tuple[float, float]
) -> tuple[float, float, float] | None:
    """Minimum of the reduced energy per atom ``u(x)`` under uniform scaling.

    ``x`` is the nearest-neighbour distance in units of sigma or r0, searched in ``x_range``.
    Returns ``(x, u(x), x**2 u''(x))`` at the lowest minimum, or None when the lowest point is
    on the edge of the range (no minimum there).
    """

    def u(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        energy, d_energy = pair(np.outer(x, shells.radii))
        return energy @ shells.weights, d_energy @ (shells.weights * shells.radii)

    grid = np.linspace(*x_range, _GRID)
    k = int(np.argmin(u(grid)[0]))
    if k in (0, _GRID - 1):
        return None
    x = brentq(lambda y: float(u(np.array([y]))[1][0]), grid[k - 1], grid[k + 1], xtol=1e-13)
    step = 1e-5 * x
    slopes = u(np.array([x - step, x + step]))[1]
    curvature = float(slopes[1] - slopes[0]) / (2.0 * step)
    return x, float(u(np.array([x]))[0][0]), x**2 * curvature


def fit_lj(shells: Shells, cohesive_energy_ev: float) -> dict[str, float | bool]:
    """LJ parameters putting the crystal's energy minimum at its geometry, depth E_coh.

    Parameters
    ----------
    shells
        Neighbour shells of the experimental crystal.
    cohesive_energy_ev
        Cohesive energy in eV/atom (positive).

    Returns
    -------
    dict
        Keyword arguments of ``ase.calculators.lj.LennardJones`` (eV, Å).
    """
    found = lattice_minimum(shells, lj_pair, _LJ_X_RANGE)
    if found is None:
        raise ValueError("no LJ energy minimum under uniform scaling")
    x, u_min, _ = found
    sigma = shells.nn_distance / x
    rc = LJ_RC_SIGMA * sigma
    return {
        "epsilon": cohesive_energy_ev / -u_min,
        "sigma": sigma,
        "rc": rc,
        "ro": LJ_RO_FRACTION * rc,
        "smooth": True,
    }


def fit_morse(
    shells: Shells, cohesive_energy_ev: float, bulk_modulus_gpa: float, volume_a3: float
) -> dict[str, float | bool]:
    """Morse parameters reproducing lattice geometry, cohesive energy and bulk modulus.

    Parameters
    ----------
    shells
        Neighbour shells of the experimental crystal.
    cohesive_energy_ev
        Cohesive energy in eV/atom (positive).
    bulk_modulus_gpa
        Bulk modulus in GPa.
    volume_a3
        Volume per atom of the crystal in Å³/atom.

    Returns
    -------
    dict
        Keyword arguments of ``ase.calculators.morse.MorsePotential`` (eV, Å).

    Raises
    ------
    ValueError
        If no rho0 in ``RHO0_RANGE`` reproduces the bulk modulus.
    """
    # B V0 / E_coh = x^2 u''(x) / (9 |u(x)|) at the minimum: dimensionless, depends on rho0 only.
    target = bulk_modulus_gpa * units.GPa * volume_a3 / cohesive_energy_ev

    def mismatch(rho0: float) -> float:
        found = lattice_minimum(shells, morse_pair(rho0), _MORSE_X_RANGE)
        if found is None:
            return float("nan")
        _, u_min, curvature = found
        return curvature / (9.0 * -u_min) - target

    rho0s = np.geomspace(*RHO0_RANGE, _RHO0_GRID)
    values = np.array([mismatch(rho0) for rho0 in rho0s])
    signs = np.sign(values)  # nan where the crystal has no minimum for that rho0
    brackets = np.flatnonzero(signs[:-1] * signs[1:] < 0)
    if brackets.size == 0:
        raise ValueError(
            f"no rho0 in {RHO0_RANGE} reproduces B0 = {bulk_modulus_gpa:.1f} GPa "
            f"(B0 V0 / E_coh = {target:.3f})"
        )
    k = int(brackets[0])
    rho0 = brentq(mismatch, rho0s[k], rho0s[k + 1], xtol=1e-11)
    found = lattice_minimum(shells, morse_pair(rho0), _MORSE_X_RANGE)
    assert found is not None  # mismatch(rho0) was finite on both sides
    x, u_min, _ = found
    return {
        "epsilon": cohesive_energy_ev / -u_min,
        "r0": shells.nn_distance / x,
        "rho0": rho0,
        "rcut1": MORSE_RCUT1,
        "rcut2": MORSE_RCUT2,
    }


@cache
def fit_pair_potentials() -> tuple[PairFit, PairFit]:
    """Fit LJ and Morse to every elemental crystal with the data they need.

    Returns
    -------
    tuple of PairFit
        The LJ fit (a0, cohesive energy) and the Morse fit (a0, cohesive energy, B0).
    """
    start = time.perf_counter()
    refs = reference_lookup(experimental_references())
    lj: dict[str, dict[str, float | bool]] = {}
    morse: dict[str, dict[str, float | bool]] = {}
    lj_out, morse_out = {}, {}
    for record in elemental_crystals():
        symbol, atoms = record.label, record.atoms
        cohesive = refs.get((symbol, "cohesive_energy"))
        if cohesive is None:
            lj_out[symbol] = morse_out[symbol] = "no Kittel cohesive energy"
            continue
        shells = crystal_shells(atoms)
        try:
            lj[symbol] = fit_lj(shells, cohesive.value)
        except ValueError as exc:
            lj_out[symbol] = str(exc)
        volume = atoms.get_volume() / len(atoms)
        reason = _bulk_modulus_problem(refs, symbol, volume)
        if reason:
            morse_out[symbol] = reason
            continue
        bulk_modulus = refs[(symbol, "bulk_modulus")].value
        try:
            morse[symbol] = fit_morse(shells, cohesive.value, bulk_modulus, volume)
        except ValueError as exc:
            morse_out[symbol] = str(exc)
    seconds = time.perf_counter() - start
    return PairFit("lj", lj, lj_out, seconds), PairFit("morse", morse, morse_out, seconds)


def _bulk_modulus_problem(
    refs: dict[tuple[str, str], ReferenceRecord], symbol: str, volume: float
) -> str | None:
    """Why dcdft's experimental B0 cannot be used for the reference crystal (None if it can)."""
    if (symbol, "bulk_modulus") not in refs:
        return "no experimental bulk modulus in ase.collections.dcdft"
    dcdft_volume = refs[(symbol, "volume_per_atom")].value
    mismatch = dcdft_volume / volume - 1.0
    if abs(mismatch) > MAX_VOLUME_MISMATCH:
        return (
            f"dcdft experimental volume {dcdft_volume:.2f} Å³/atom differs by {mismatch:+.0%} "
            f"from the reference crystal's {volume:.2f} Å³/atom (another phase or a large "
            "zero-point correction), so its B0 does not describe this crystal"
        )
    return None
