"""Latent-representation building blocks (issue 20): linear CKA, pooling, ridge probes and
probe targets, checked against facts known independently of the code (Kornblith et al.'s
stated invariances, crystal geometry); then the per-atom embeddings of each MLIP adapter."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from workers.representations import (
    ProbeResult,
    cka_matrix,
    linear_cka,
    linear_probe_r2,
    pooled,
    probe_targets,
)


def _gaussian(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


def test_cka_of_a_representation_with_itself_is_one() -> None:
    x = _gaussian(50, 7, 0)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_invariant_to_orthogonal_maps_and_isotropic_scaling() -> None:
    x, y = _gaussian(200, 6, 1), _gaussian(200, 4, 2)
    y = y + 0.5 * x[:, :4]  # related, so the value is away from 0 and 1
    base = linear_cka(x, y)
    rotation, _ = np.linalg.qr(_gaussian(6, 6, 3))
    assert linear_cka(x @ rotation, y) == pytest.approx(base, rel=1e-10)
    assert linear_cka(3.7 * x, 0.01 * y) == pytest.approx(base, rel=1e-10)
    assert linear_cka(x + 5.0, y - 2.0) == pytest.approx(base, rel=1e-10)  # centering


def test_cka_is_not_invariant_to_a_general_invertible_linear_map() -> None:
    # For isotropic X (X^T X ~ n I) and A = diag(10, 1, 1, 1, 1):
    # CKA(X, XA) ~ ||A||_F^2 / (sqrt(d) ||A^2||_F) = 104 / (sqrt(5) * 100.02) ~ 0.47.
    x = _gaussian(2000, 5, 4)
    stretch = np.diag([10.0, 1.0, 1.0, 1.0, 1.0])
    assert linear_cka(x, x @ stretch) < 0.6


def test_cka_of_independent_gaussians_is_small() -> None:
    # Each entry of Y^T X is a sum of n products of unit variance, so ||Y^T X||_F^2 ~ n d^2,
    # while ||X^T X||_F ~ n sqrt(d): CKA ~ d / n = 0.005 here; 0.05 is ten times that.
    assert linear_cka(_gaussian(2000, 10, 5), _gaussian(2000, 10, 6)) < 0.05


def test_cka_rejects_mismatched_or_too_few_samples() -> None:
    with pytest.raises(ValueError, match="same samples"):
        linear_cka(np.ones((5, 2)), np.ones((6, 2)))
    with pytest.raises(ValueError, match="n >= 2"):
        linear_cka(np.ones((1, 2)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="2-D"):
        linear_cka(np.ones(5), np.ones((5, 1)))


def test_cka_matrix_is_symmetric_with_a_unit_diagonal() -> None:
    x = _gaussian(100, 3, 7)
    features = {"a": x, "b": x @ np.diag([1.0, 2.0, 3.0]), "c": _gaussian(100, 8, 8)}
    names, matrix = cka_matrix(features)
    assert names == ("a", "b", "c")
    assert np.allclose(np.diag(matrix), 1.0)
    assert np.allclose(matrix, matrix.T)
    assert matrix[0, 1] == pytest.approx(linear_cka(features["a"], features["b"]))


def test_pooled_rows_have_a_size_independent_of_the_atoms() -> None:
    small, large = np.array([[1.0, 2.0], [3.0, 6.0]]), np.ones((30, 2))
    means = pooled([small, large])
    assert means.shape == (2, 2)
    assert means[0] == pytest.approx([2.0, 4.0])
    both = pooled([small, large], how="mean_std")
    assert both.shape == (2, 4)
    assert both[0] == pytest.approx([2.0, 4.0, 1.0, 2.0])
    assert both[1, 2:] == pytest.approx([0.0, 0.0])
    with pytest.raises(ValueError, match="one width"):
        pooled([small, np.ones((3, 5))])
    with pytest.raises(ValueError, match="how"):
        pooled([small], how="max")  # type: ignore[arg-type]


def test_probe_recovers_a_linear_target_and_nothing_from_noise() -> None:
    pytest.importorskip("sklearn")
    x = _gaussian(400, 8, 9)
    weights = np.random.default_rng(10).standard_normal(8)
    linear = x @ weights + 1e-3 * _gaussian(400, 1, 11)[:, 0]
    found = linear_probe_r2(x, linear)
    assert isinstance(found, ProbeResult)
    assert found.r2_mean > 0.999
    assert 0.0 <= found.r2_std < 0.001  # every fold recovers it
    assert found.n == 400
    assert len(found.fold_alphas) == 5
    assert found.alpha in found.fold_alphas
    unrelated = linear_probe_r2(x, _gaussian(400, 1, 12)[:, 0])
    assert unrelated.r2_mean <= 0.05
    assert linear_probe_r2(x, linear, seed=3).r2_mean > 0.999


def test_probe_refuses_too_few_samples_or_a_constant_target() -> None:
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match="n >= 10"):
        linear_probe_r2(np.ones((9, 2)), np.arange(9.0))
    with pytest.raises(ValueError, match="constant"):
        linear_probe_r2(_gaussian(20, 2, 0), np.ones(20))


def test_probe_targets_of_fcc_copper() -> None:
    cell = bulk("Cu", cubic=True)
    a = cell.cell[0, 0]
    atoms = cell.repeat(2)
    targets = probe_targets(atoms)
    assert set(targets["coordination"]) == {12.0}
    assert targets["nn_distance_a"] == pytest.approx(np.full(len(atoms), a / np.sqrt(2)))
    assert set(targets["group"]) == {11.0}
    assert targets["volume_per_atom_a3"] == pytest.approx(np.full(len(atoms), a**3 / 4))


def test_bcc_iron_has_eight_neighbours_within_1_1_and_fourteen_within_1_2() -> None:
    # bcc's second shell is at 2/sqrt(3) = 1.155 times the first.
    atoms = bulk("Fe", "bcc", a=2.87, cubic=True).repeat(2)
    assert set(probe_targets(atoms)["coordination"]) == {8.0}
    assert set(probe_targets(atoms, shell_tolerance=1.2)["coordination"]) == {14.0}
    assert probe_targets(atoms)["nn_distance_a"] == pytest.approx(2.87 * np.sqrt(3) / 2)


def test_probe_targets_of_diamond_silicon_and_a_molecule() -> None:
    silicon = probe_targets(bulk("Si", "diamond", a=5.43))
    assert set(silicon["coordination"]) == {4.0}
    assert silicon["nn_distance_a"] == pytest.approx(5.43 * np.sqrt(3) / 4)
    assert set(silicon["group"]) == {14.0}
    methane = probe_targets(molecule("CH4"))
    assert list(methane["coordination"]) == [4.0, 1.0, 1.0, 1.0, 1.0]
    assert list(methane["group"]) == [14.0, 1.0, 1.0, 1.0, 1.0]
    assert "volume_per_atom_a3" not in methane  # no cell volume without periodicity
    with pytest.raises(ValueError, match="no neighbour"):
        probe_targets(Atoms("H"))


# --- per-atom embeddings of the MLIP adapters ------------------------------------------

#: (pretrained record name, package): the adapters with embeddings installable here (MACE
#: needs mace-torch, which is not an extra of this project).
EMBEDDING_MODELS = [
    ("CHGNet-0.3.0", "chgnet"),
    ("SevenNet-0", "sevenn"),
    ("DIEP-r2SCAN", "diep"),
    ("ANI-1x", "torchani"),
]
_CALCULATORS: dict[str, Any] = {}


def _calculator(name: str, package: str) -> Any:
    pytest.importorskip(package)
    from workers.adapters.pretrained import pretrained_models
    from workers.adapters.registry import load_all, make_calculator

    if name not in _CALCULATORS:
        load_all()
        records = [r for r in pretrained_models() if r.name == name]
        if not records:
            pytest.skip(f"no pretrained record named {name!r}")
        _CALCULATORS[name] = make_calculator(records[0].spec())
    return _CALCULATORS[name]


def _test_structure(package: str) -> Atoms:
    if package == "torchani":  # ANI-1x knows H, C, N, O molecules only
        atoms = molecule("CH4")
        atoms.center(vacuum=6.0)
    else:
        atoms = bulk("NaCl", "rocksalt", a=5.64)
    atoms.rattle(0.05, seed=3)
    return atoms


@pytest.mark.mlip
@pytest.mark.parametrize(("name", "package"), EMBEDDING_MODELS)
def test_embeddings_are_deterministic_and_invariant(name: str, package: str) -> None:
    from workers.adapters.embeddings import atom_embeddings, embedding_source

    calc = _calculator(name, package)
    assert embedding_source(calc) != "none"
    atoms = _test_structure(package)
    first = atom_embeddings(calc, atoms)
    assert first is not None
    assert first.shape[0] == len(atoms)
    assert first.shape[1] >= 8
    assert np.array_equal(atom_embeddings(calc, atoms), first)
    tolerance = 1e-4 * max(1.0, float(np.abs(first).max()))

    rotated = atoms.copy()
    rotated.rotate(50, (1, 1, 0), center="COM", rotate_cell=True)
    shifted = atoms.copy()
    shifted.translate([0.7, -0.3, 1.1])
    permutation = np.arange(len(atoms))[::-1]
    permuted = atoms[permutation]
    for moved in (rotated, shifted):
        found = atom_embeddings(calc, moved)
        assert found is not None
        assert found == pytest.approx(first, abs=tolerance)
    reordered = atom_embeddings(calc, permuted)
    assert reordered is not None
    assert reordered == pytest.approx(first[permutation], abs=tolerance)


@pytest.mark.mlip
def test_ani_aevs_of_a_molecule_in_a_large_periodic_box_match_the_isolated_ones() -> None:
    # ANI-1x's radial cutoff is 5.2 Å: with 6 Å of vacuum on each side, every periodic image
    # is over 10 Å away, so switching periodicity on changes no AEV.
    from workers.adapters.embeddings import atom_embeddings

    calc = _calculator("ANI-1x", "torchani")
    isolated = _test_structure("torchani")
    periodic = isolated.copy()
    periodic.pbc = True
    periodic.translate([7.0, 0.0, 0.0])  # straddles the cell face: wrapped, as ANI does
    first, second = atom_embeddings(calc, isolated), atom_embeddings(calc, periodic)
    assert first is not None
    assert second is not None
    assert second == pytest.approx(first, abs=1e-8)
