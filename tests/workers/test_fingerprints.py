"""The leakage fingerprint: invariant to what does not change a structure, continuous in the
positions, and blind to none of a 2 % strain, a 2 % shear or a different molecule."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.io import read, write

from workers.fingerprints import Fingerprint, max_deviation, structure_fingerprint

TOL = 1e-3  # backend.services.training_sets.FINGERPRINT_TOLERANCE_A


def fp(atoms: Atoms) -> Fingerprint:
    found = structure_fingerprint(atoms)
    assert found is not None
    return found


def rotated(atoms: Atoms, seed: int) -> Atoms:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ q.T, scale_atoms=False)
    out.positions = atoms.positions @ q.T + rng.uniform(-2, 2, 3)
    return out[rng.permutation(len(atoms))]


@pytest.mark.parametrize(
    "atoms",
    [
        bulk("Mg"),
        bulk("NaCl", "rocksalt", a=5.64),
        bulk("Si", "diamond", a=5.43),
        molecule("CH3CH2OH"),
    ],
    ids=["hcp-Mg", "NaCl", "Si", "ethanol"],
)
def test_invariant_to_rotation_translation_order_and_extxyz(atoms: Atoms) -> None:
    buf = io.StringIO()
    write(buf, atoms, format="extxyz")
    back = read(io.StringIO(buf.getvalue()), format="extxyz")
    assert isinstance(back, Atoms)
    assert max_deviation(fp(atoms), fp(back)) < 1e-7
    assert max_deviation(fp(atoms), fp(rotated(atoms, 3))) < 1e-9


def test_invariant_to_cell_choice_and_supercells() -> None:
    primitive, cubic = bulk("Cu"), bulk("Cu", cubic=True)
    assert max_deviation(fp(primitive), fp(cubic)) < 1e-12
    assert max_deviation(fp(primitive), fp(cubic.repeat((2, 1, 3)))) < 1e-12
    hcp = bulk("Mg", orthorhombic=True)
    assert max_deviation(fp(bulk("Mg")), fp(hcp)) < 1e-12


def test_continuous_a_perturbation_of_d_moves_entries_by_at_most_2d() -> None:
    atoms = bulk("Si", "diamond", a=5.43).repeat(2)
    rng = np.random.default_rng(0)
    for d in (1e-6, 1e-4):
        moved = atoms.copy()
        moved.positions += rng.uniform(-d, d, moved.positions.shape) / np.sqrt(3)
        assert max_deviation(fp(atoms), fp(moved)) <= 2 * d


def test_strain_shear_and_different_structures_are_far_apart() -> None:
    mg = bulk("Mg")
    strained = mg.copy()
    strained.set_cell(mg.cell.array * 1.02, scale_atoms=True)
    assert max_deviation(fp(mg), fp(strained)) > 50 * TOL
    sheared = mg.copy()
    shear = np.eye(3)
    shear[0, 1] = 0.02
    sheared.set_cell(mg.cell.array @ shear, scale_atoms=True)
    assert max_deviation(fp(mg), fp(sheared)) > 10 * TOL
    # Same elements and counts, different structure: keys equal, values far apart.
    fcc, bcc = bulk("Fe", "fcc", a=3.6), bulk("Fe", "bcc", a=2.87)
    assert fp(fcc).key == fp(bcc).key
    assert max_deviation(fp(fcc), fp(bcc)) > 10 * TOL
    # A molecule and its dimer share a reduced formula but not a key.
    dimer = molecule("CH4") + molecule("CH4")
    dimer.positions[5:] += (0, 0, 4.0)
    assert max_deviation(fp(molecule("CH4")), fp(dimer)) == float("inf")


def test_undefined_for_empty_or_too_sparse_structures() -> None:
    assert structure_fingerprint(Atoms()) is None
    sparse = Atoms("H", cell=[60, 60, 60], pbc=True)
    assert structure_fingerprint(sparse) is None


def test_matscipy_and_ase_neighbour_lists_give_the_same_fingerprint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("matscipy.neighbours")
    atoms = bulk("Mg").repeat((2, 1, 1))
    atoms.rattle(0.05, seed=2)
    fast = fp(atoms)
    monkeypatch.setitem(sys.modules, "matscipy.neighbours", None)  # forces ASE's
    assert max_deviation(fast, fp(atoms)) < 1e-12
