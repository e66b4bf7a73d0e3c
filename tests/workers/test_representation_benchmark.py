"""The ``representation`` benchmark (issue 20) and its control model, checked against facts
known independently of the code: crystal geometry (volumes, simple shear), the periodic
table, what a linear read-out can and cannot recover, the platform's skip rule for models
without an embedding, and CHGNet's published width (64 atom features)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.calculator import Calculator
from ase.calculators.emt import EMT

from shared_kernel.failures import (
    BenchmarkFailed,
    BenchmarkSetupError,
    FailureClass,
    NoRepresentationError,
    UnsupportedElementsError,
)
from workers.adapters.registry import ModelSpec
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.representation import (
    MAX_WIDTH,
    RepresentationParams,
    chemistry,
    loo_ridge_r2,
    make_variants,
    run_representation,
)

SCALES = (0.94, 0.97, 1.0, 1.03, 1.06)


# --- variants ----------------------------------------------------------------------------


def test_a_crystal_gives_five_scaled_and_two_sheared_supercells() -> None:
    cu = bulk("Cu", "fcc", a=3.61)  # primitive cell, 1 atom
    variants = make_variants(cu, RepresentationParams(rattle_a=0.0))
    assert [v.name for v in variants] == [
        *(f"scale_{s:g}" for s in SCALES),
        "shear_+0.03",
        "shear_-0.03",
    ]
    assert [len(v.atoms) for v in variants] == [8] * 7  # 2 x 2 x 2: the first >= 8 atoms
    v0 = cu.get_volume()  # per atom: the supercell has 8 atoms in 8 cells
    for variant, scale in zip(variants[:5], SCALES, strict=True):
        per_atom = variant.atoms.get_volume() / len(variant.atoms)
        assert per_atom / v0 == pytest.approx(scale, abs=1e-12)
        assert variant.volume_strain == pytest.approx(scale - 1.0, abs=1e-12)
        assert variant.shear == 0.0
        # the shape is kept: the cell is the unstrained one times scale^(1/3)
        np.testing.assert_allclose(
            variant.atoms.cell.array, variants[2].atoms.cell.array * scale ** (1 / 3), atol=1e-12
        )
    base = variants[2].atoms.cell.array
    for variant, gamma in zip(variants[5:], (0.03, -0.03), strict=True):
        # simple shear x += gamma y: each lattice vector's x gains gamma times its y; det 1
        expected = base.copy()
        expected[:, 0] += gamma * base[:, 1]
        np.testing.assert_allclose(variant.atoms.cell.array, expected, atol=1e-12)
        assert variant.atoms.get_volume() == pytest.approx(base_volume(base), rel=1e-12)
        assert (variant.volume_strain, variant.shear) == (pytest.approx(0.0, abs=1e-12), gamma)
    assert all(v.atoms.pbc.all() for v in variants)


def base_volume(cell: np.ndarray) -> float:
    return abs(float(np.linalg.det(cell)))


def test_every_variant_is_displaced_by_the_same_seeded_field() -> None:
    cu = bulk("Cu", "fcc", a=3.61)
    ideal = make_variants(cu, RepresentationParams(rattle_a=0.0))
    rattled = make_variants(cu, RepresentationParams(rattle_a=0.02, seed=7))
    shifts = [r.atoms.positions - i.atoms.positions for r, i in zip(rattled, ideal, strict=True)]
    assert all(np.allclose(s, shifts[0], atol=1e-12) for s in shifts)
    # 24 Gaussian draws of sigma 0.02 Å: their rms lies within 0.01-0.03 Å
    assert 0.01 < float(np.sqrt(np.mean(shifts[0] ** 2))) < 0.03
    again = make_variants(cu, RepresentationParams(rattle_a=0.02, seed=7))
    other = make_variants(cu, RepresentationParams(rattle_a=0.02, seed=8))
    assert np.array_equal(again[0].atoms.positions, rattled[0].atoms.positions)
    assert not np.allclose(other[0].atoms.positions, rattled[0].atoms.positions)


def test_a_molecule_is_scaled_about_its_centroid_in_a_box_and_never_sheared() -> None:
    methane = molecule("CH4")
    variants = make_variants(methane, RepresentationParams(rattle_a=0.0))
    assert [v.name for v in variants] == [f"scale_{s:g}" for s in SCALES]
    ch = float(np.linalg.norm(methane.positions[1] - methane.positions[0]))
    for variant, scale in zip(variants, SCALES, strict=True):
        atoms = variant.atoms
        assert len(atoms) == 5
        assert not atoms.pbc.any()
        # every C-H bond (and so every length) is scaled by scale^(1/3): volume by scale
        bonds = np.linalg.norm(atoms.positions[1:] - atoms.positions[0], axis=1)
        np.testing.assert_allclose(bonds, ch * scale ** (1 / 3), rtol=1e-12)
        assert variant.volume_strain == pytest.approx(scale - 1.0, abs=1e-15)
        assert variant.shear == 0.0
        # one cubic box for all, 12 Å of vacuum on each side of the largest
        assert atoms.cell.lengths() == pytest.approx([variants[0].atoms.cell[0, 0]] * 3)
        assert atoms.positions.min() > 12.0 - 1e-9
        assert atoms.positions.max() < atoms.cell[0, 0] - 12.0 + 1e-9
    # a molecule without a centre of symmetry keeps its 12 Å on every side too
    for variant in make_variants(molecule("CH3CH2OH"), RepresentationParams(rattle_a=0.0)):
        positions, side = variant.atoms.positions, variant.atoms.cell[0, 0]
        assert positions.min() > 12.0 - 1e-9
        assert positions.max() < side - 12.0 + 1e-9


def test_parameters_and_structures_out_of_range_are_refused() -> None:
    for bad in (
        {"scales": (1.0, 1.02)},
        {"scales": (0.97, 0.97, 1.0)},
        {"scales": (0.5, 1.0, 1.1)},
        {"shear": -0.01},
        {"min_atoms": 0},
        {"rattle_a": 0.5},
        {"vacuum_a": 3.0},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RepresentationParams(**bad)
    assert RepresentationParams(scales=[0.9, 1.0, 1.1]).scales == (0.9, 1.0, 1.1)  # type: ignore[arg-type]
    with pytest.raises(BenchmarkSetupError, match="at least 2 atoms"):
        make_variants(Atoms("Ar"), RepresentationParams())
    slab = bulk("Cu", "fcc", a=3.61)
    slab.pbc = (True, True, False)
    with pytest.raises(BenchmarkSetupError, match="periodic"):
        make_variants(slab, RepresentationParams())


# --- chemistry and the read-out ----------------------------------------------------------


def test_chemistry_targets_are_composition_weighted_periodic_table_values() -> None:
    # Cu: group 11, period 4, Pauling electronegativity 1.90
    assert chemistry(bulk("Cu", "fcc", a=3.61)) == pytest.approx(
        {"group": 11.0, "period": 4.0, "electronegativity": 1.90}
    )
    # NaCl: Na (1, 3, 0.93) and Cl (17, 3, 3.16) in equal numbers
    nacl = chemistry(bulk("NaCl", "rocksalt", a=5.64))
    assert nacl == pytest.approx({"group": 9.0, "period": 3.0, "electronegativity": 2.045})
    # CH4: (14 + 4 x 1) / 5 = 3.6, (2 + 4 x 1) / 5 = 1.2, (2.55 + 4 x 2.20) / 5 = 2.27
    assert chemistry(molecule("CH4")) == pytest.approx(
        {"group": 3.6, "period": 1.2, "electronegativity": 2.27}
    )
    # argon has no Pauling electronegativity: stored as null, never NaN
    assert chemistry(Atoms("Ar2", positions=[[0, 0, 0], [0, 0, 3.8]]))["electronegativity"] is None


def test_the_loo_read_out_recovers_a_linear_target_and_not_an_unrelated_one() -> None:
    rng = np.random.default_rng(0)
    strain = np.array([-0.06, -0.03, 0.0, 0.03, 0.06, 0.0, 0.0])
    direction = rng.standard_normal(64)
    x = np.outer(strain, direction) + 1e-4 * rng.standard_normal((7, 64)) + 3.0
    assert loo_ridge_r2(x, strain) > 0.99
    # features that know nothing of the target cannot predict a held-out row
    unrelated = rng.standard_normal((7, 64))
    assert loo_ridge_r2(unrelated, strain) < 0.3


class _Described(Calculator):
    """A calculator with MACE's ``get_descriptors``: per-atom features given by a function."""

    implemented_properties = ["energy"]  # noqa: RUF012

    def __init__(self, describe: Any) -> None:
        super().__init__()
        self.describe = describe

    def get_descriptors(self, atoms: Atoms, invariants_only: bool = True) -> np.ndarray:
        return np.asarray(self.describe(atoms), dtype=float)


def _per_atom_volume(atoms: Atoms) -> np.ndarray:
    """A 3-wide embedding that moves with the volume (volume per atom, its square, 1)."""
    v = atoms.get_volume() / len(atoms)
    return np.tile([v, v**2, 1.0], (len(atoms), 1))


def test_an_embedding_that_follows_the_volume_resolves_the_strain_and_noise_does_not() -> None:
    cu = bulk("Cu", "fcc", a=3.61)
    result = run_representation(cu, _Described(_per_atom_volume), RepresentationParams())
    assert result.strain_resolution > 0.99
    rng = np.random.default_rng(1)
    noise = _Described(lambda atoms: rng.standard_normal((len(atoms), 16)))
    assert run_representation(cu, noise, RepresentationParams()).strain_resolution < 0.3


def test_a_non_finite_or_too_wide_embedding_fails_the_run_with_its_class() -> None:
    cu = bulk("Cu", "fcc", a=3.61)
    nan = _Described(lambda atoms: np.full((len(atoms), 4), np.nan))
    with pytest.raises(BenchmarkFailed) as failed:
        run_representation(cu, nan, RepresentationParams())
    assert failed.value.failure_class == FailureClass.NAN_OR_INF
    wide = _Described(lambda atoms: np.ones((len(atoms), MAX_WIDTH + 1)))
    with pytest.raises(BenchmarkSetupError, match=f"D = {MAX_WIDTH + 1}"):
        run_representation(cu, wide, RepresentationParams())


# --- models without an embedding are skipped --------------------------------------------


class _EmtJob:
    """The fields of a claimed run that ``execute_claimed`` reads: EMT on Cu."""

    def __init__(self) -> None:
        self.benchmark_key = "representation"
        self.benchmark_version = get_benchmark("representation").version
        self.params: dict[str, Any] = {}
        from workers.atoms_json import atoms_to_json

        self.structure_data = atoms_to_json(bulk("Cu", "fcc", a=3.61))
        self.elements = ["Cu"]
        self.model_family, self.model_name, self.model_version = "emt", "EMT", "1"
        self.model_params: dict[str, Any] = {}
        self.artifact_key = self.artifact_sha256 = None


def test_emt_has_no_representation_and_its_run_is_skipped_not_failed() -> None:
    from backend.domain.statuses import RunStatus
    from workers.execution import execute_claimed
    from workers.tasks.runs import _failure

    with pytest.raises(NoRepresentationError) as raised:
        execute_claimed(_EmtJob())
    error = raised.value
    assert isinstance(error, UnsupportedElementsError)
    assert "EMT exposes no per-atom embedding" in str(error)
    recorded = _failure(error)
    assert recorded["status"] == RunStatus.SKIPPED
    assert recorded["failure_class"] == "no_representation"
    with pytest.raises(NoRepresentationError):
        run_representation(bulk("Cu", "fcc", a=3.61), EMT(), RepresentationParams())


def test_the_benchmark_is_registered_and_ranked_higher_is_better() -> None:
    from backend.domain.ranking import RANK_SPECS

    spec = get_benchmark("representation")
    assert [h.name for h in spec.headline] == ["strain_resolution"]
    assert spec.soft_time_limit_s == 300
    assert spec.default_params()["scales"] == list(SCALES)
    rank = RANK_SPECS["representation"]
    assert (rank.metric, rank.loss, rank.higher_is_better) == ("strain_resolution", "value", True)


# --- CHGNet, trained and random ----------------------------------------------------------

_CALCULATORS: dict[str, Calculator] = {}


def _chgnet(**params: Any) -> Calculator:
    pytest.importorskip("chgnet")
    from workers.adapters.registry import load_all, make_calculator

    key = repr(sorted(params.items()))
    if key not in _CALCULATORS:
        load_all()
        _CALCULATORS[key] = make_calculator(ModelSpec("chgnet", "test", params=params))
    return _CALCULATORS[key]


@pytest.mark.mlip
def test_chgnet_stores_seven_finite_rows_of_its_64_atom_features() -> None:
    cu = bulk("Cu", "fcc", a=3.61)
    result = run_representation(cu, _chgnet(model="0.3.0"), RepresentationParams())
    features = np.array(result.features)
    assert features.shape == (7, 64)  # CHGNet 0.3.0: atom_fea_dim 64
    assert np.isfinite(features).all()
    # its features move with the volume: a linear read-out recovers the strain
    assert result.strain_resolution > 0.9
    metrics = {m.name: m for m in result.metrics()}
    assert metrics["embedding_width"].value == 64.0
    assert metrics["embedding_seconds_per_atom"].unit == "s"
    assert 0.0 < metrics["embedding_seconds_per_atom"].value < 1.0
    (projection,) = result.projections()
    assert (projection.name, projection.kind, projection.method) == (
        "pooled_embeddings",
        "embedding",
        "mean",
    )
    assert projection.settings["source"] == "CHGNet atom_fea (return_atom_feas=True)"
    data = projection.data
    assert set(data) == {"formula", "variants", "n_atoms", "features", "targets", "chemistry",
                         "elements"}  # fmt: skip
    assert (data["formula"], data["elements"], data["n_atoms"]) == ("Cu", ["Cu"], [8] * 7)
    assert data["targets"]["shear"] == [0.0] * 5 + [0.03, -0.03]
    # fcc: 12 nearest neighbours; the nearest distance grows with the volume
    assert data["targets"]["coordination"] == [12.0] * 7
    nn = data["targets"]["nn_distance_a"][:5]
    assert nn == sorted(nn)
    assert data["chemistry"] == pytest.approx({"group": 11, "period": 4, "electronegativity": 1.9})
    # the same seed gives the same rows, another seed other rows
    again = run_representation(cu, _chgnet(model="0.3.0"), RepresentationParams())
    assert again.features == result.features
    other = run_representation(cu, _chgnet(model="0.3.0"), RepresentationParams(seed=1))
    assert other.features != result.features


@pytest.mark.mlip
def test_a_molecule_under_chgnet_has_five_scaled_rows() -> None:
    result = run_representation(molecule("CH4"), _chgnet(model="0.3.0"), RepresentationParams())
    assert np.array(result.features).shape == (5, 64)
    assert result.targets["shear"] == (0.0,) * 5
    assert result.targets["volume_strain"] == pytest.approx([s - 1 for s in SCALES])


@pytest.mark.mlip
def test_the_random_weights_control_is_seeded_and_differs_from_the_trained_model() -> None:
    torch = pytest.importorskip("torch")
    from workers.adapters.pretrained import control_models, pretrained_models
    from workers.adapters.registry import load_all, make_calculator

    load_all()
    (record,) = control_models()
    assert record.name == "CHGNet-random-weights"
    assert record.name not in {m.name for m in pretrained_models()}
    state = torch.random.get_rng_state()
    control = make_calculator(record.spec())
    assert torch.equal(torch.random.get_rng_state(), state)  # the global stream is untouched
    twin = make_calculator(record.spec())
    cu = bulk("Cu", "fcc", a=3.61)
    params = RepresentationParams()
    random_rows = np.array(run_representation(cu, control, params).features)
    assert random_rows.shape == (7, 64)
    assert np.isfinite(random_rows).all()
    assert np.array_equal(np.array(run_representation(cu, twin, params).features), random_rows)
    reseeded = _chgnet(random_weights_seed=1)
    assert not np.allclose(run_representation(cu, reseeded, params).features, random_rows)
    trained = np.array(run_representation(cu, _chgnet(model="0.3.0"), params).features)
    # not the trained weights: the rows differ by far more than rounding
    assert np.abs(random_rows - trained).mean() > 0.1 * np.abs(trained).mean()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"model": "0.3.0", "random_weights_seed": 0}, "exactly one"),
        ({"random_weights_seed": -1}, "non-negative integer"),
        ({"random_weights_seed": True}, "non-negative integer"),
        ({"random_weights_seed": "0"}, "non-negative integer"),
    ],
)
def test_the_chgnet_adapter_refuses_a_model_and_a_seed_together_or_a_bad_seed(
    params: dict[str, Any], match: str
) -> None:
    from workers.adapters.registry import load_all, make_calculator

    load_all()
    with pytest.raises(BenchmarkSetupError, match=match):
        make_calculator(ModelSpec("chgnet", "bad", params=params))


def test_the_control_record_says_it_is_no_potential() -> None:
    from workers.adapters.pretrained import CONTROL_SEED, control_models
    from workers.adapters.torch_support import MPTRJ_ELEMENTS

    (record,) = control_models()
    assert (record.family, record.params) == ("chgnet", {"random_weights_seed": CONTROL_SEED})
    assert not record.is_baseline
    assert record.elements == sorted(MPTRJ_ELEMENTS)
    assert "control" in record.card["description"].lower()
    assert "not a potential" in record.card["caveat"]
    assert "training_data" not in record.card  # it was never trained
