"""The cross-run representation summary on synthetic embeddings whose content is known by
construction: what a linear probe must recover, what a random embedding table must not (once
whole structures are held out), CKA's invariances, and novelty against a planted error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from ase.build import bulk, molecule

from workers.representation_summary import (
    CHEMISTRY,
    TARGETS,
    EmbeddingRow,
    StructureOutcome,
    summarize,
)
from workers.representations import linear_probe_r2

N_STRUCTURES = 40
WIDTH = 64
# (volume strain, shear) of each variant: five scales, then two sheared cells at scale 1
VARIANTS = (
    *((strain, 0.0) for strain in (-0.06, -0.03, 0.0, 0.03, 0.06)),
    (0.0, 0.03),
    (0.0, -0.03),
)
REF = 2  # the unstrained, unsheared variant
Features = Callable[[int, float, float, np.random.Generator], np.ndarray]


def _chemistry(i: int) -> dict[str, float]:
    rng = np.random.default_rng(1000 + i)
    return {
        "group": float(rng.integers(1, 19)),
        "period": float(rng.integers(1, 7)),
        "electronegativity": float(rng.uniform(0.7, 4.0)),
    }


def _rows(
    model: str,
    features: Features,
    *,
    n: int = N_STRUCTURES,
    family: str = "arch",
    control: bool = False,
    seed: int = 0,
) -> list[EmbeddingRow]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        data = {
            "formula": f"X{i}",
            "variants": [f"v{k}" for k in range(len(VARIANTS))],
            "n_atoms": [8] * len(VARIANTS),
            "features": [features(i, strain, shear, rng).tolist() for strain, shear in VARIANTS],
            "targets": {
                "volume_strain": [strain for strain, _ in VARIANTS],
                "shear": [shear for _, shear in VARIANTS],
            },
            "chemistry": _chemistry(i),
            "elements": [f"X{i}"],
        }
        run_id = f"run-{model}-{i}"
        rows.append(
            EmbeddingRow(model, f"id-{model}", f"s{i:03d}", f"X{i}", run_id, data, family, control)
        )
    return rows


def _linear_model(seed: int = 1) -> Features:
    """Features a linear function of the chemistry and of the volume strain, plus noise."""
    rng = np.random.default_rng(seed)
    mixing, strain_direction = rng.standard_normal((3, WIDTH)), rng.standard_normal(WIDTH)

    def features(i: int, strain: float, shear: float, noise: np.random.Generator) -> np.ndarray:
        chem = np.array([_chemistry(i)[t] for t in CHEMISTRY])
        return chem @ mixing + 50 * strain * strain_direction + 0.02 * noise.standard_normal(WIDTH)

    return features


def _random_table(seed: int = 2) -> Features:
    """A random vector per structure (an untrained embedding table), a little noise per variant."""
    table = np.random.default_rng(seed).standard_normal((N_STRUCTURES, WIDTH))

    def features(i: int, strain: float, shear: float, noise: np.random.Generator) -> np.ndarray:
        return table[i] + 0.01 * noise.standard_normal(WIDTH)

    return features


@pytest.fixture(scope="module")
def probed() -> dict[str, Any]:
    rows = _rows("trained", _linear_model()) + _rows(
        "random-twin", _random_table(), control=True, seed=5
    )
    return summarize(rows, [], map_methods=("pca",))


def test_a_linear_function_of_the_chemistry_is_read_out_on_held_out_structures(
    probed: dict[str, Any],
) -> None:
    r2 = probed["probes"]["r2"]["trained"]
    for target in CHEMISTRY:
        assert r2[target]["mean"] > 0.9, target
        assert r2[target]["n"] == N_STRUCTURES  # one row per structure
    # the planted strain direction, within structure (all variants of every structure)
    assert r2["volume_strain"]["mean"] > 0.9
    assert r2["volume_strain"]["n"] == N_STRUCTURES * len(VARIANTS)


def test_a_random_embedding_table_says_nothing_about_held_out_structures(
    probed: dict[str, Any],
) -> None:
    r2 = probed["probes"]["r2"]["random-twin"]
    for target in TARGETS:
        assert r2[target]["mean"] < 0.1, target
    assert probed["probes"]["random_twin"] == {"trained": "random-twin", "random-twin": None}
    gains = probed["probes"]["gain"]["trained"]
    assert all(gains[t] > 0.8 for t in TARGETS)
    assert probed["probes"]["gain"]["random-twin"] == dict.fromkeys(gains)
    controls = {m["name"]: m["control"] for m in probed["models"]}
    assert controls == {"trained": False, "random-twin": True}


def test_plain_k_fold_lets_a_random_table_score_by_recognising_the_structure() -> None:
    rows = _rows("random", _random_table(), control=True)
    x = np.vstack([r.data["features"] for r in rows])
    y = np.repeat([r.data["chemistry"]["electronegativity"] for r in rows], len(VARIANTS))
    groups = np.repeat([r.structure_id for r in rows], len(VARIANTS))
    assert linear_probe_r2(x, y).r2_mean > 0.9  # copies of each test structure in training
    assert linear_probe_r2(x, y, groups=groups).r2_mean < 0.1  # whole structures held out


def test_group_probe_refuses_fewer_groups_than_folds() -> None:
    x = np.random.default_rng(0).standard_normal((40, 3))
    with pytest.raises(ValueError, match="groups"):
        linear_probe_r2(x, np.arange(40.0), folds=5, groups=np.arange(40) % 4)


def test_cka_is_one_for_a_model_and_its_rotation_and_clusters_them_together() -> None:
    rng = np.random.default_rng(7)
    base = rng.standard_normal((N_STRUCTURES, len(VARIANTS), WIDTH))
    rotation, _ = np.linalg.qr(rng.standard_normal((WIDTH, WIDTH)))
    others = {n: rng.standard_normal(base.shape) for n in ("b-random", "m-random")}
    v = {(strain, shear): k for k, (strain, shear) in enumerate(VARIANTS)}

    def from_array(array: np.ndarray) -> Features:
        return lambda i, strain, shear, _: array[i, v[(strain, shear)]]

    rows = (
        _rows("a-base", from_array(base))
        + _rows("z-rotated", from_array(base @ rotation))
        + [r for name, a in others.items() for r in _rows(name, from_array(a))]
    )
    cka = summarize(rows, [], map_methods=())["cka"]
    names, matrix = cka["models"], np.array(cka["matrix"])
    assert sorted(names) == ["a-base", "b-random", "m-random", "z-rotated"]
    assert cka["n_common"] == N_STRUCTURES * len(VARIANTS)
    assert np.diag(matrix) == pytest.approx(1.0)
    assert matrix == pytest.approx(matrix.T)
    i, j = names.index("a-base"), names.index("z-rotated")
    assert matrix[i, j] == pytest.approx(1.0, abs=1e-9)  # invariant to orthogonal maps
    assert abs(i - j) == 1  # the clustering order puts the related pair side by side
    assert matrix[i, names.index("b-random")] < 0.5


def test_novelty_ranks_like_a_planted_error_and_the_atlas_holds_failures() -> None:
    # Four structures at one point, three ever further out on a line: the k=3 mean distance
    # grows from the cluster (0) outward, whatever the standardization of the line.
    position = [0.0, 0.0, 0.0, 0.0, 10.0, 30.0, 90.0]
    error = [0.01, 0.01, 0.01, 0.01, 0.1, 0.2, 0.4]  # monotone in the distance

    def features(i: int, strain: float, shear: float, _: np.random.Generator) -> np.ndarray:
        return np.array([position[i] + strain, 1.0])

    rows = _rows("m", features, n=len(position))
    outcomes = [
        StructureOutcome("id-m", f"s{i:03d}", "eos", "succeeded", None, [], e)
        for i, e in enumerate(error)
    ] + [
        StructureOutcome("id-m", "s006", "phonons", "failed", "nan_or_inf", [], None),
        StructureOutcome("id-m", "s005", "md_stability", "succeeded", None, ["flag_drift"], None),
        StructureOutcome("id-other", "s000", "eos", "failed", "timeout", [], 9.9),
    ]
    body = summarize(rows, outcomes, map_methods=("pca",))
    novelty = body["novelty"]["m"]
    assert novelty["n"] == len(position)
    assert novelty["spearman"] == pytest.approx(1.0)
    assert novelty["reference"] == "benchmark structures"
    atlas = {e["structure_id"]: e for e in body["atlas"]["m"]}
    assert atlas["s006"]["failures"] == [{"benchmark": "phonons", "failure_class": "nan_or_inf"}]
    assert atlas["s006"]["mean_abs_rel_error"] == pytest.approx(0.4)
    assert atlas["s005"]["flags"] == ["flag_drift"]
    assert atlas["s000"]["failures"] == []  # another model's failure is not this one's


def test_maps_draw_the_unstrained_variant_of_each_structure_once(probed: dict[str, Any]) -> None:
    trained = probed["maps"]["trained"]
    assert trained["umap"] is None  # not asked for
    assert trained["phate"] is None
    assert len(trained["pca"]["x"]) == len(trained["pca"]["y"]) == N_STRUCTURES
    points = trained["points"]
    assert [p["structure_id"] for p in points] == [f"s{i:03d}" for i in range(N_STRUCTURES)]
    assert {p["variant"] for p in points} == {f"v{REF}"}
    assert points[3]["group"] == _chemistry(3)["group"]
    # the first two components of standardized features explain at most all of the variance
    assert 0 < sum(trained["pca"]["explained_variance"]) <= 1


def test_too_few_structures_leave_probes_and_cka_empty() -> None:
    body = summarize(_rows("small", _linear_model(), n=5), [], map_methods=("pca",))
    assert body["probes"]["r2"]["small"] == dict.fromkeys(TARGETS)
    assert body["cka"]["models"] == ["small"]  # one model: CKA with itself only
    assert body["n_runs"] == 5
    (entry,) = body["models"]
    assert entry == {
        "id": "id-small",
        "name": "small",
        "width": WIDTH,
        "n_structures": 5,
        "n_rows": 5 * len(VARIANTS),
        "control": False,
    }


def test_the_structure_map_puts_identical_structures_on_one_point() -> None:
    pytest.importorskip("dscribe")
    structures = {
        "s000": bulk("Cu", "fcc", a=3.6),
        "s001": bulk("Cu", "fcc", a=3.6),  # the same crystal under another id
        "s002": bulk("Fe", "bcc", a=2.87),
        "s003": bulk("Si", "diamond", a=5.43),
        "s004": molecule("H2O"),  # finite: described without periodic images
    }
    body = summarize(
        _rows("m", _linear_model(), n=5), [], map_methods=("pca",), structures=structures
    )
    found = body["structure_map"]
    assert [p["structure_id"] for p in found["points"]] == sorted(structures)
    assert found["descriptor"]["descriptor"] == "soap"
    x, y = np.array(found["pca"]["x"]), np.array(found["pca"]["y"])
    assert (x[0], y[0]) == pytest.approx((x[1], y[1]), abs=1e-9)
    assert np.hypot(x[2:] - x[0], y[2:] - y[0]).min() > 1e-3
    assert summarize(_rows("m", _linear_model(), n=5), [], map_methods=())["structure_map"] is None
