"""What a model's latent space encodes: cross-model similarity, pooling and linear probes.

Building blocks of the ``representation`` benchmark (issue 20), pure functions of per-atom
feature matrices (as :func:`workers.adapters.embeddings.atom_embeddings` returns them) and of
structures:

- :func:`linear_cka`, :func:`cka_matrix`: linear centered kernel alignment (Kornblith et al.,
  ICML 2019, "Similarity of Neural Network Representations Revisited"), which compares two
  feature spaces of the same atoms whatever their widths.
- :func:`pooled`: one fixed-size row per structure from its per-atom rows.
- :func:`linear_probe_r2`: how much of a physical quantity a linear read-out of the features
  recovers (cross-validated ridge regression; folds over groups of rows when given).
- :func:`probe_targets`: the per-atom quantities to probe for (coordination, nearest-neighbour
  distance, volume per atom, periodic-table group).

numpy, ASE and pymatgen are imported at module level; scikit-learn (installed with the
``landscape`` extra) only inside :func:`linear_probe_r2`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

#: Ridge penalties RidgeCV chooses from inside each training fold (on standardized features).
ALPHA_GRID = tuple(float(a) for a in np.logspace(-3, 3, 13))
#: A neighbour counts towards the coordination if it lies within this factor of the atom's
#: nearest-neighbour distance. 1.1 separates the first shell of fcc (next at sqrt(2) = 1.414),
#: bcc (next at 2/sqrt(3) = 1.155) and diamond (next at sqrt(8/3) = 1.633); 1.2 would merge
#: bcc's first two shells (8 + 6 = 14).
SHELL_TOLERANCE = 1.1
#: Largest radius (Å) searched for a nearest neighbour before an atom is called isolated.
MAX_NN_SEARCH_A = 12.0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """K-fold cross-validated R² of a ridge probe.

    Attributes
    ----------
    r2_mean
        Mean over the folds of the test-fold R² (1 is a perfect read-out; 0 is no better than
        the training mean; negative is worse).
    r2_std
        Population standard deviation of the fold R² values.
    n
        Number of samples (rows) probed.
    alpha
        The ridge penalty chosen in most folds (the smaller on a tie).
    fold_alphas
        The penalty RidgeCV chose in each fold, in fold order.
    """

    r2_mean: float
    r2_std: float
    n: int
    alpha: float
    fold_alphas: tuple[float, ...]


def _centered(x: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(x, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, d) array, got shape {array.shape}")
    return array - array.mean(axis=0)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same ``n`` samples.

    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with ``Xc``, ``Yc`` the column-centered
    matrices (Kornblith et al. 2019, eq. for linear CKA). It is 1 for identical
    representations and invariant to orthogonal transforms and isotropic scaling of either,
    but not to general invertible linear maps.

    Parameters
    ----------
    x
        Features, shape (n, d1); rows are samples (atoms or structures), any units.
    y
        Features of the same samples in the same order, shape (n, d2).

    Returns
    -------
    float
        The similarity, in [0, 1].

    Raises
    ------
    ValueError
        If either is not 2-D, the row counts differ, n < 2, or either is constant over samples.
    """
    xc, yc = _centered(x, "x"), _centered(y, "y")
    if xc.shape[0] != yc.shape[0]:
        raise ValueError(f"x and y must describe the same samples: {xc.shape[0]} != {yc.shape[0]}")
    if xc.shape[0] < 2:
        raise ValueError(f"linear CKA needs n >= 2 samples, got {xc.shape[0]}")
    # The d x d forms cost O(n d^2), not the O(n^2) of the n x n Gram matrices.
    norm_x = float(np.linalg.norm(xc.T @ xc))
    norm_y = float(np.linalg.norm(yc.T @ yc))
    if norm_x == 0.0 or norm_y == 0.0:
        raise ValueError("linear CKA is undefined for features constant over all samples")
    return float(np.linalg.norm(yc.T @ xc) ** 2 / (norm_x * norm_y))


def cka_matrix(features: Mapping[str, np.ndarray]) -> tuple[tuple[str, ...], np.ndarray]:
    """Linear CKA between every pair of representations of the same samples.

    Parameters
    ----------
    features
        Name (a model) -> features (n, d_name) of the same ``n`` samples in the same order.

    Returns
    -------
    names, matrix
        The names in the mapping's order, and the symmetric (k, k) matrix of
        :func:`linear_cka` values (ones on the diagonal).
    """
    names = tuple(features)
    matrix = np.eye(len(names))
    for i, first in enumerate(names):
        for j in range(i + 1, len(names)):
            matrix[i, j] = matrix[j, i] = linear_cka(features[first], features[names[j]])
    return names, matrix


def pooled(
    features_per_atom: Sequence[np.ndarray], how: Literal["mean", "mean_std"] = "mean"
) -> np.ndarray:
    """One row per structure from its per-atom features, of a size independent of its atoms.

    Parameters
    ----------
    features_per_atom
        Per structure, its per-atom features (n_atoms_i, D); D the same for all.
    how
        ``"mean"``: the mean over atoms (D columns). ``"mean_std"``: the mean, then the
        population standard deviation over atoms, concatenated (2 D columns).

    Returns
    -------
    numpy.ndarray
        Shape (n_structures, D) or (n_structures, 2 D).

    Raises
    ------
    ValueError
        If there are no structures, a structure has no atoms, the widths D differ, or ``how``
        is unknown.
    """
    if how not in ("mean", "mean_std"):
        raise ValueError(f"how must be 'mean' or 'mean_std', got {how!r}")
    arrays = [np.asarray(f, dtype=float) for f in features_per_atom]
    if not arrays:
        raise ValueError("no structures to pool")
    widths = {a.shape[1] if a.ndim == 2 else -1 for a in arrays}
    if len(widths) != 1 or -1 in widths or any(a.shape[0] == 0 for a in arrays):
        raise ValueError("every structure needs a non-empty (n_atoms, D) array of one width D")
    means = np.stack([a.mean(axis=0) for a in arrays])
    if how == "mean":
        return means
    return np.hstack([means, np.stack([a.std(axis=0) for a in arrays])])


def linear_probe_r2(
    x: np.ndarray,
    y: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    groups: Sequence[object] | np.ndarray | None = None,
    repeats: int = 1,
) -> ProbeResult:
    """Cross-validated R² of a ridge regression of ``y`` on the features ``x``.

    Each fold fits ``StandardScaler`` then ``RidgeCV(alphas=ALPHA_GRID)`` on its training
    rows only (the scaler's statistics and the penalty never see the test rows), and scores R²
    on its test rows. Without ``groups`` the folds are a shuffled ``KFold`` seeded by
    ``seed``; with ``groups`` every row of a group (e.g. the strained copies of one base
    structure) falls in the same test fold, so a probe cannot score by recognising a structure
    it saw in training: the groups, sorted by their labels' text, are dealt to the folds in a
    seeded random order, ``repeats`` times with successive seeds (one split of few groups
    swings R² by several tenths, so its average over splits is the stable figure). Plain
    K-fold reads any quantity fixed per structure from any embedding that tells the structures
    apart, random weights included.

    Parameters
    ----------
    x
        Features, shape (n, d).
    y
        Target, shape (n,), in its own units (R² is unitless).
    folds
        Number of folds K (>= 2).
    seed
        Seed of the fold shuffle (with ``groups``: of the first split's order of groups).
    groups
        Optional group label of each row, shape (n,); needs at least ``folds`` groups.
    repeats
        With ``groups``: splits averaged over (``r2_mean`` is the mean over every fold of
        every split, ``r2_std`` the spread of the splits' means when ``repeats`` > 1).

    Returns
    -------
    ProbeResult

    Raises
    ------
    ValueError
        If the shapes disagree, ``folds`` < 2, n < 2 ``folds`` (without ``groups``), fewer
        than ``folds`` groups (with ``groups``), or ``y`` is constant (R² is undefined).
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    splitters = _probe_splitters(features, target, folds, seed, groups, repeats)
    pipeline = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHA_GRID))
    scores_per_split, fold_alphas = [], []
    for splitter in splitters:
        found = cross_validate(
            pipeline, features, target, cv=splitter, scoring="r2", return_estimator=True
        )
        scores_per_split.append(np.asarray(found["test_score"], dtype=float))
        fold_alphas += [float(e[-1].alpha_) for e in found["estimator"]]
    scores = np.concatenate(scores_per_split)
    spread = np.std([s.mean() for s in scores_per_split]) if len(splitters) > 1 else scores.std()
    alpha = min(set(fold_alphas), key=lambda a: (-fold_alphas.count(a), a))
    return ProbeResult(
        r2_mean=float(scores.mean()),
        r2_std=float(spread),
        n=features.shape[0],
        alpha=alpha,
        fold_alphas=tuple(fold_alphas),
    )


def _probe_splitters(
    features: np.ndarray,
    target: np.ndarray,
    folds: int,
    seed: int,
    groups: Sequence[object] | np.ndarray | None,
    repeats: int,
) -> list[Any]:
    """The probe's cross-validation splitters, after checking its inputs (see linear_probe_r2)."""
    from sklearn.model_selection import KFold

    if features.ndim != 2 or target.shape != (features.shape[0],):
        raise ValueError(f"x must be (n, d) and y (n,): got {features.shape} and {target.shape}")
    n = features.shape[0]
    labels = None if groups is None else _checked_groups(groups, n, folds)
    if labels is None and (folds < 2 or n < 2 * folds):
        raise ValueError(f"a {folds}-fold probe needs folds >= 2 and n >= {2 * folds}, got n={n}")
    if np.ptp(target) == 0.0:
        raise ValueError("the probe target is constant: R² is undefined")
    if labels is None:
        return [KFold(n_splits=folds, shuffle=True, random_state=seed)]
    return [_group_split(labels, folds, seed + r) for r in range(max(1, repeats))]


def _group_split(labels: np.ndarray, folds: int, seed: int) -> Any:
    """Folds holding whole groups: the groups, sorted by their text, dealt round-robin in a
    random order seeded by ``seed`` (the same split wherever the labels sort the same)."""
    from sklearn.model_selection import PredefinedSplit

    names = sorted({str(label) for label in labels})
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: k % folds for k, i in enumerate(order)}
    return PredefinedSplit(np.array([fold_of[str(label)] for label in labels]))


def _checked_groups(groups: Sequence[object] | np.ndarray, n: int, folds: int) -> np.ndarray:
    """The group labels as an array, if there are ``n`` of them in at least ``folds`` groups."""
    labels = np.asarray(groups)
    if labels.shape != (n,):
        raise ValueError(f"groups must be (n,) = ({n},), got {labels.shape}")
    n_groups = len(np.unique(labels))
    if folds < 2 or n_groups < folds:
        raise ValueError(
            f"a {folds}-fold group probe needs folds >= 2 and >= {folds} groups, "
            f"got {n_groups} groups"
        )
    return labels


def _nearest_neighbour_distances(atoms: Atoms) -> np.ndarray:
    """Distance (Å) from each atom to its nearest other atom or periodic image."""
    cutoff = 3.0
    while True:
        first, distance = neighbor_list("id", atoms, cutoff)
        nearest = np.full(len(atoms), np.inf)
        np.minimum.at(nearest, first, distance)
        if np.isfinite(nearest).all():
            return nearest
        if cutoff >= MAX_NN_SEARCH_A:
            raise ValueError(f"an atom has no neighbour within {MAX_NN_SEARCH_A} Å")
        cutoff = min(2 * cutoff, MAX_NN_SEARCH_A)


def probe_targets(
    atoms: Atoms, *, shell_tolerance: float = SHELL_TOLERANCE
) -> dict[str, np.ndarray]:
    """Per-atom physical quantities for linear probes of a model's features.

    Parameters
    ----------
    atoms
        The structure (periodic or not; needs at least two atoms).
    shell_tolerance
        A neighbour is in the first shell if within this factor of the atom's own
        nearest-neighbour distance (see :data:`SHELL_TOLERANCE`).

    Returns
    -------
    dict of str to numpy.ndarray
        Each of shape (n_atoms,):

        - ``"coordination"``: number of neighbours (periodic images included) within
          ``shell_tolerance`` times the atom's nearest-neighbour distance.
        - ``"nn_distance_a"``: nearest-neighbour distance (Å).
        - ``"group"``: periodic-table group 1-18 of the element (pymatgen's
          ``Element.group``: lanthanides and actinides are group 3).
        - ``"volume_per_atom_a3"``, only for cells periodic along all three axes: the cell
          volume divided by the number of atoms (Å³), the same for every atom. It is not a
          local volume: over strained copies of one crystal it measures their volumetric
          strain, V/V0 - 1 = volume_per_atom_a3 / (V0/N) - 1.

    Raises
    ------
    ValueError
        If an atom has no neighbour within :data:`MAX_NN_SEARCH_A`.
    """
    from pymatgen.core import Element

    nearest = _nearest_neighbour_distances(atoms)
    first, distance = neighbor_list("id", atoms, shell_tolerance * float(nearest.max()) + 1e-6)
    in_shell = distance <= shell_tolerance * nearest[first] + 1e-8
    coordination = np.bincount(first[in_shell], minlength=len(atoms)).astype(float)
    groups = {z: float(Element.from_Z(int(z)).group) for z in set(atoms.numbers)}
    targets = {
        "coordination": coordination,
        "nn_distance_a": nearest,
        "group": np.array([groups[z] for z in atoms.numbers]),
    }
    if atoms.pbc.all():
        targets["volume_per_atom_a3"] = np.full(len(atoms), atoms.get_volume() / len(atoms))
    return targets
