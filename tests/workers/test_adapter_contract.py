"""The adapter contract, one module for every built-in model family (baselines and pretrained).

Every family with a built-in record is built through ``make_calculator(record.spec())`` and
checked on a small rattled, sheared periodic cell of an element it supports (fcc Cu; a
methanol molecule in a small periodic box for ANI-1x):

- finite energy, forces of shape (N, 3);
- forces are minus the gradient of the energy (central differences on a few coordinates);
- stress, where the family declares it, has shape (6,) and is the strain derivative of the
  energy over the volume, sigma_ij = (1 / V) dE / d eps_ij (central differences, ASE's Voigt
  order xx, yy, zz, yz, xz, xy);
- the energy is invariant to a rigid rotation of positions and cell together, to a
  translation and to a permutation of the atoms; forces rotate and permute with the atoms.

Tolerances follow the precision of the model's weights, read from the calculator (a torch
module's parameter dtype; numpy calculators are float64):

- float32 (CHGNet, SevenNet, DIEP): the energy of a few atoms carries round-off of order
  1e-5 eV, which a central difference divides by the step. With 1e-4 Å that noise alone is
  0.01-0.015 eV/Å (measured), so the step is 0.01 Å (measured error <= 5e-4 eV/Å, the h^2
  truncation being still small) and the tolerance 5e-3 eV/Å; strain step 3e-3 (measured
  error <= 2e-5 eV/Å³; 1e-4 gives 2-4e-4), tolerance 1e-4 eV/Å³ (0.016 GPa); invariances
  1e-5 eV/atom, forces 5e-3 eV/Å.
- float64 (EMT, LJ, Morse; ANI-1x, cast to float64): no round-off to speak of, but stiff O-H
  and C-H bonds make the h^2 truncation term large (ANI-1x: 5e-4 eV/Å at 1e-3 Å), so the
  step is 1e-4 Å and strain 1e-4, tolerance 1e-4 eV/Å and 1e-6 eV/Å³; invariances 1e-8
  eV/atom.

The families whose package is not installed are skipped.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.calculator import Calculator

from tests.workers.weights_files import write_ani2x_dir, write_m3gnet_dir
from workers.adapters.baselines import BaselineModel, baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.adapters.registry import (
    ADAPTERS,
    ModelSpec,
    check_elements,
    load_all,
    make_calculator,
)

load_all()

RECORDS: dict[str, BaselineModel] = {
    m.family: m for m in (*baseline_models(), *pretrained_models())
}
#: Families whose weights upstream downloads: checked with random weights of the real
#: architecture, written as the real weights are distributed (tests/workers/weights_files.py).
LOCAL_WEIGHTS: dict[str, Callable[[Path], Path]] = {
    "m3gnet": lambda root: write_m3gnet_dir(root / "M3GNet-random-PES"),
    "ani2x": write_ani2x_dir,
}
#: Families whose packages are not installable in this environment (workers/adapters/orb.py
#: says why): tests/workers/test_downloaded_weights.py checks that they fail fast naming the
#: file and the package; tests/backend/test_orb_environment.py runs them in .venv-orb.
FILE_ONLY = frozenset({"orb", "mattersim"})
FAMILIES = [
    pytest.param(family, marks=pytest.mark.mlip) if ADAPTERS[family].packages else family
    for family in sorted({*RECORDS, *LOCAL_WEIGHTS})
]
#: (atom, axis) of the coordinates displaced for the force check.
DISPLACED = ((0, 0), (3, 1), (5, 2))


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Finite-difference steps and tolerances for one floating-point precision.

    Parameters
    ----------
    step
        Displacement of one coordinate (Å).
    force
        Absolute tolerance on forces (eV/Å).
    strain
        Strain step (dimensionless).
    stress
        Absolute tolerance on stress (eV/Å³).
    energy_per_atom
        Absolute tolerance on invariant energies (eV/atom).
    """

    step: float
    force: float
    strain: float
    stress: float
    energy_per_atom: float


TOLERANCES = {
    "float64": Tolerance(step=1e-4, force=1e-4, strain=1e-4, stress=1e-6, energy_per_atom=1e-8),
    "float32": Tolerance(step=1e-2, force=5e-3, strain=3e-3, stress=1e-4, energy_per_atom=1e-5),
}


def precision(calc: Calculator) -> str:
    """``"float32"`` or ``"float64"``: the dtype of the first torch module's weights found
    on the calculator, float64 for numpy calculators."""
    for value in vars(calc).values():
        parameters = getattr(value, "parameters", None)
        if callable(parameters) and not isinstance(value, type):
            first = next(iter(parameters()), None)
            if first is not None and hasattr(first, "dtype"):
                return str(first.dtype).removeprefix("torch.")
    return "float64"


_CALCULATORS: dict[str, Calculator] = {}


def model_spec(family: str) -> ModelSpec:
    """The built-in record's spec, or a spec pointing at random local weights."""
    if family in RECORDS:
        return RECORDS[family].spec()
    root = Path(tempfile.mkdtemp(prefix=f"contract-{family}-"))
    return ModelSpec(family, f"random-{family}", params={"weights_path": str(
        LOCAL_WEIGHTS[family](root))})  # fmt: skip


_SPECS: dict[str, ModelSpec] = {}


@pytest.fixture
def calc(family: str) -> Calculator:
    """The family's calculator, built once per test session (skipped without its packages)."""
    for package in ADAPTERS[family].packages:  # the optional `mlip` extra
        pytest.importorskip(package)
    if family not in _CALCULATORS:
        _SPECS[family] = model_spec(family)
        _CALCULATORS[family] = make_calculator(_SPECS[family])
    return _CALCULATORS[family]


#: Families of an uploaded model file, checked in tests/workers/test_file_adapters.py.
UPLOADED_FILE = frozenset({"mace", "sevennet_checkpoint", "torchscript"})


def test_every_built_in_family_is_covered() -> None:
    """A new built-in family must join the contract, or be listed with where it is tested."""
    built_in = {f for f, a in ADAPTERS.items() if a.factory.__module__.startswith("workers.")}
    assert built_in - {*RECORDS, *LOCAL_WEIGHTS} == FILE_ONLY | UPLOADED_FILE


def structure(family: str) -> Atoms:
    """A small rattled, sheared periodic structure of elements the family supports."""
    rng = np.random.default_rng(7)
    if family in {"ani1x", "ani2x"}:
        atoms = molecule("CH3OH", vacuum=2.0)  # about 6-7 Å box: neighbours across faces
        atoms.pbc = True
    else:
        atoms = bulk("Cu", cubic=True).repeat((2, 1, 1))
    strain = rng.uniform(-0.02, 0.02, (3, 3))
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + (strain + strain.T) / 2), scale_atoms=True)
    atoms.rattle(0.05, seed=11)
    check_elements(_SPECS.get(family) or RECORDS[family].spec(), atoms.get_chemical_symbols())
    return atoms


def energy(atoms: Atoms, calc: Calculator) -> float:
    trial = atoms.copy()
    trial.calc = calc
    return float(trial.get_potential_energy())


def evaluate(atoms: Atoms, calc: Calculator, *props: str) -> list[Any]:
    """``props`` through the Atoms methods the benchmarks call (e.g. ``get_stress()``)."""
    trial = atoms.copy()
    trial.calc = calc
    getters = {"energy": trial.get_potential_energy, "forces": trial.get_forces}
    getters["stress"] = trial.get_stress
    return [np.array(getters[p]()) for p in props]


def rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("family", FAMILIES)
def test_energy_is_finite_and_forces_have_one_row_per_atom(family: str, calc: Calculator) -> None:
    atoms = structure(family)
    e, forces = evaluate(atoms, calc, "energy", "forces")
    assert np.isfinite(e)
    assert forces.shape == (len(atoms), 3)
    assert np.isfinite(forces).all()
    assert {"energy", "forces"} <= set(calc.implemented_properties)


@pytest.mark.parametrize("family", FAMILIES)
def test_forces_are_minus_the_energy_gradient(family: str, calc: Calculator) -> None:
    tol = TOLERANCES[precision(calc)]
    atoms = structure(family)
    (forces,) = evaluate(atoms, calc, "forces")
    for atom, axis in DISPLACED:
        shifted = []
        for sign in (1, -1):
            trial = atoms.copy()
            trial.positions[atom, axis] += sign * tol.step
            shifted.append(energy(trial, calc))
        numerical = -(shifted[0] - shifted[1]) / (2 * tol.step)
        assert forces[atom, axis] == pytest.approx(numerical, abs=tol.force), (atom, axis)


@pytest.mark.parametrize("family", FAMILIES)
def test_stress_is_the_strain_derivative_of_the_energy(family: str, calc: Calculator) -> None:
    if not ADAPTERS[family].provides_stress:
        pytest.skip(f"{family} declares no stress")
    assert "stress" in calc.implemented_properties
    tol = TOLERANCES[precision(calc)]
    atoms = structure(family)
    (stress,) = evaluate(atoms, calc, "stress")
    assert stress.shape == (6,)
    numerical = np.zeros(6)
    voigt = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
    for k, (i, j) in enumerate(voigt):
        shifted = []
        for sign in (1, -1):
            deformation = np.eye(3)
            deformation[i, j] += sign * tol.strain / (1 if i == j else 2)
            deformation[j, i] = deformation[i, j]
            trial = atoms.copy()
            trial.set_cell(atoms.cell.array @ deformation, scale_atoms=True)
            shifted.append(energy(trial, calc))
        numerical[k] = (shifted[0] - shifted[1]) / (2 * tol.strain * atoms.get_volume())
    np.testing.assert_allclose(stress, numerical, atol=tol.stress)


@pytest.mark.parametrize("family", FAMILIES)
def test_energy_is_invariant_to_rotation_translation_and_permutation(
    family: str, calc: Calculator
) -> None:
    tol = TOLERANCES[precision(calc)]
    rng = np.random.default_rng(5)
    atoms = structure(family)
    e0, f0 = evaluate(atoms, calc, "energy", "forces")
    e_tol = tol.energy_per_atom * len(atoms)

    rot = rotation(rng)
    rotated = atoms.copy()
    rotated.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    rotated.positions = atoms.positions @ rot.T
    e, f = evaluate(rotated, calc, "energy", "forces")
    assert e == pytest.approx(e0, abs=e_tol)
    np.testing.assert_allclose(f, f0 @ rot.T, atol=tol.force)

    translated = atoms.copy()
    translated.positions += rng.uniform(-2.0, 2.0, 3)
    e, f = evaluate(translated, calc, "energy", "forces")
    assert e == pytest.approx(e0, abs=e_tol)
    np.testing.assert_allclose(f, f0, atol=tol.force)

    order = rng.permutation(len(atoms))
    permuted = atoms[order]
    e, f = evaluate(permuted, calc, "energy", "forces")
    assert e == pytest.approx(e0, abs=e_tol)
    np.testing.assert_allclose(f, f0[order], atol=tol.force)
