"""The landscape benchmark against analytic potentials: curvatures, PCA, difference surfaces."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.cluster import Icosahedron

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError
from workers.atoms_json import atoms_from_json, atoms_to_json
from workers.benchmarks._plane import PLANE_INFO_KEY, align, define_plane, principal_plane
from workers.benchmarks._surface import grid_minima
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.landscape import (
    LandscapeParams,
    compare_landscapes,
    run_landscape,
)

# Spring constants (eV/Å²) of the separable test potential along u = x1 - x0 - D, v = y1 - y0
# and w = z1 - z0. With unit masses the mass-weighted Hessian has eigenvalues 2k: the relative
# coordinate of two unit masses has reduced mass 1/2.
K_U, K_V, K_W, QUARTIC, D = 0.5, 2.0, 20.0, 0.3, 1.5
FAST: dict[str, Any] = {
    "md_steps": 60,
    "md_stride": 3,
    "timestep_fs": 0.5,
    "map_methods": (),
    "grid_n": 11,
}


class Separable(Calculator):
    """E = k_u u²/2 + c u⁴ + k_v v²/2 + k_w w²/2: separable, minimum at u = v = w = 0."""

    implemented_properties = ["energy", "forces"]  # noqa: RUF012

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        u, v, w = self.atoms.positions[1] - self.atoms.positions[0] - [D, 0.0, 0.0]
        energy = 0.5 * K_U * u**2 + QUARTIC * u**4 + 0.5 * K_V * v**2 + 0.5 * K_W * w**2
        grad = np.array([K_U * u + 4 * QUARTIC * u**3, K_V * v, K_W * w])
        self.results = {
            "energy": self.scale * energy,
            "forces": self.scale * np.array([grad, -grad]),
        }


class ScaledEMT(Calculator):
    """EMT with every energy (and force) multiplied by ``scale``."""

    implemented_properties = ["energy", "forces"]  # noqa: RUF012

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale, self.emt = scale, EMT()

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        work = self.atoms.copy()
        work.calc = self.emt
        self.results = {
            "energy": self.scale * work.get_potential_energy(),
            "forces": self.scale * work.get_forces(),
        }


def dimer() -> Atoms:
    atoms = Atoms("H2", positions=[[4.0, 5.0, 5.0], [4.0 + D + 0.1, 5.2, 4.9]], cell=[10.0] * 3)
    atoms.pbc = True  # periodic: only the centre of mass is removed, as for a crystal
    atoms.set_masses([1.0, 1.0])
    return atoms


@pytest.fixture(scope="module")
def cu13_with_plane() -> Atoms:
    """Cu13 carrying a plane defined once by EMT, through the lossless JSON round trip."""
    atoms = Icosahedron("Cu", noshells=2)
    params = LandscapeParams(**FAST)
    atoms.info[PLANE_INFO_KEY] = define_plane(
        atoms, EMT(), params.sampling(), reference="EMT"
    ).to_info()
    return atoms_from_json(atoms_to_json(atoms))


def test_separable_plane_curvatures_match_hessian_eigenvalues() -> None:
    result = run_landscape(dimer(), Separable(), LandscapeParams(**FAST))
    c = result.curvature
    # The softest directions are sampled most: the plane is spanned by the u and v modes, up to
    # a small rotation between them (PCA of a finite sample) and a smaller tilt towards w.
    assert min(c.overlap) > 0.99
    # The central difference of the quartic's force is off by 4c h^2 (2.4e-4 here): rel=1e-3.
    assert c.nearest_eigenvalue == pytest.approx((2 * K_U, 2 * K_V), rel=1e-3)
    # The Hessian projected on the plane has the two eigenvalues of the modes it holds.
    assert c.plane_eigenvalues == pytest.approx((2 * K_U, 2 * K_V), rel=1e-3)
    # Second differences along the plane are v.H.v of the Hessian, within 2 % of the eigenvalues.
    assert c.along_plane == pytest.approx(c.rayleigh, rel=1e-3)
    assert c.along_plane == pytest.approx((2 * K_U, 2 * K_V), rel=2e-2)
    eigen = sorted(c.eigenvalues)
    assert eigen[3:] == pytest.approx([2 * K_U, 2 * K_V, 2 * K_W], rel=1e-3)
    assert max(abs(x) for x in eigen[:3]) < 1e-6  # three translations of a periodic system
    metrics = {m.name: m.value for m in result.metrics()}
    assert metrics["curvature_hessian_deviation"] < 1e-3
    assert metrics["n_grid_minima"] == 1
    assert metrics["flag_not_a_minimum"] == 0
    assert metrics["path_rmse_vs_reference"] == pytest.approx(0.0, abs=1e-9)  # self-defined


def test_grid_matches_the_analytic_energy_on_the_plane() -> None:
    result = run_landscape(dimer(), Separable(), LandscapeParams(**FAST))
    basis = np.array(result.basis)
    x0 = np.array(result.minimum_positions_a)
    expected = np.empty((len(result.b_values), len(result.a_values)))
    for i, b in enumerate(result.b_values):
        for j, a in enumerate(result.a_values):
            # Unit masses: the plane point (a, b) moves the atoms by a v1 + b v2 (Å).
            x = x0 + (a * basis[0] + b * basis[1]).reshape(2, 3)
            u, v, w = x[1] - x[0] - [D, 0.0, 0.0]
            expected[i, j] = 0.5 * K_U * u**2 + QUARTIC * u**4 + 0.5 * K_V * v**2 + 0.5 * K_W * w**2
    assert np.array(result.grid_ev) == pytest.approx(expected, abs=1e-9)
    # Mostly u and v: along the a axis the energy is nearly the u mode's (u = sqrt(2) a).
    axis = np.array(result.a_values)
    middle = np.array(result.grid_ev)[len(axis) // 2]
    along = np.sqrt(2) * axis
    assert middle == pytest.approx(0.5 * K_U * along**2 + QUARTIC * along**4, rel=0.05, abs=1e-4)


def test_identical_models_give_a_zero_difference_surface(cu13_with_plane: Atoms) -> None:
    params = LandscapeParams(**FAST)
    first = run_landscape(cu13_with_plane, EMT(), params)
    second = run_landscape(cu13_with_plane, EMT(), params)
    diff, rmse = compare_landscapes(first, second)
    assert first.plane_source == "stored"
    assert np.abs(diff).max() == 0.0
    assert rmse == 0.0


def test_difference_rmse_of_a_scaled_model_is_the_scaled_surface(cu13_with_plane: Atoms) -> None:
    params = LandscapeParams(**FAST)
    emt = run_landscape(cu13_with_plane, EMT(), params)
    scaled = run_landscape(cu13_with_plane, ScaledEMT(1.1), params)
    diff, rmse = compare_landscapes(scaled, emt)
    grid = np.array(emt.grid_ev)
    assert diff == pytest.approx(0.1 * grid, abs=1e-9)
    assert rmse == pytest.approx(0.1 * np.sqrt(np.mean(grid**2)) / 13 * 1000, rel=1e-9)
    # Path energies against the plane's reference (EMT): 10 % of EMT's own path energies.
    path = np.array(emt.path["energy_ev"])
    expected = 0.1 * np.sqrt(np.mean(path**2)) / 13 * 1000
    assert scaled.path_rmse_mev_atom() == pytest.approx(expected, rel=1e-9)
    assert emt.path_rmse_mev_atom() == pytest.approx(0.0, abs=1e-9)


def test_landscapes_on_different_planes_are_not_compared(cu13_with_plane: Atoms) -> None:
    params = LandscapeParams(**FAST)
    stored = run_landscape(cu13_with_plane, EMT(), params)
    own = run_landscape(
        cu13_with_plane, ScaledEMT(1.1), LandscapeParams(**FAST, plane_source="self")
    )
    with pytest.raises(ValueError, match="different planes"):
        compare_landscapes(stored, own)


def test_pca_of_a_path_along_one_direction_has_one_dominant_component() -> None:
    rng = np.random.default_rng(1)
    direction = rng.normal(size=39)
    direction /= np.linalg.norm(direction)
    steps = np.linspace(-1.0, 2.0, 40)[:, None] * direction + 1e-4 * rng.normal(size=(40, 39))
    basis, variance = principal_plane(steps)
    assert variance[0] > 0.9999
    assert variance[1] < 1e-4
    assert abs(basis[0] @ direction) == pytest.approx(1.0, abs=1e-6)
    assert basis[0] @ basis[1] == pytest.approx(0.0, abs=1e-12)


def test_a_path_with_one_direction_only_defines_no_plane() -> None:
    direction = np.zeros(6)
    direction[0] = 1.0
    with pytest.raises(BenchmarkFailed, match="fewer than two directions"):
        principal_plane(np.linspace(0.0, 1.0, 10)[:, None] * direction)


def test_a_single_atom_is_a_setup_error() -> None:
    atom = Atoms("Cu", cell=[3.0] * 3, pbc=True)
    with pytest.raises(BenchmarkSetupError, match="at least 2 atoms"):
        run_landscape(atom, EMT(), LandscapeParams(**FAST))


def test_alignment_removes_translation_and_rotation() -> None:
    atoms = Icosahedron("Cu", noshells=2)
    moved = atoms.copy()
    moved.rotate(37, (1, 2, 3), center="COM")
    moved.translate([0.3, -1.0, 2.0])
    aligned = align(moved.positions, atoms.positions, atoms.get_masses(), periodic=False)
    assert aligned == pytest.approx(atoms.positions, abs=1e-10)


def test_grid_minima_of_a_double_well() -> None:
    x = np.linspace(-2, 2, 21)
    a, b = np.meshgrid(x, x)
    energies = (a**2 - 1) ** 2 + b**2
    found = grid_minima(energies)
    assert sorted(found) == [(10, 5), (10, 15)]  # (row b = 0, columns a = -1 and +1)


def test_global_map_pca_is_the_same_for_every_model(cu13_with_plane: Atoms) -> None:
    params = LandscapeParams(**{**FAST, "map_methods": ("pca",)})
    emt = run_landscape(cu13_with_plane, EMT(), params)
    scaled = run_landscape(cu13_with_plane, ScaledEMT(1.1), params)
    assert (emt.maps["pca"].x, emt.maps["pca"].y) == (scaled.maps["pca"].x, scaled.maps["pca"].y)
    assert "embedding_pca" not in emt.maps  # EMT has no embedding
    projections = {p.name: p for p in scaled.projections()}
    assert set(projections) == {"plane", "map_pca"}
    data = projections["map_pca"].data
    assert len(data["x"]) == len(scaled.path["stage"])
    assert projections["map_pca"].settings["descriptor"]["descriptor"] == "soap"
    # Colour by error: 10 % of EMT's relative energy per atom, in meV/atom.
    expected = 0.1 * np.array(emt.path["energy_ev"]) / 13 * 1000
    assert data["error_mev_atom"] == pytest.approx(expected, abs=1e-9)


class DescribedEMT(ScaledEMT):
    """EMT with a MACE-style ``get_descriptors``: per atom, its distance to the centroid."""

    def get_descriptors(self, atoms: Atoms, invariants_only: bool = True) -> np.ndarray:
        r = np.linalg.norm(atoms.positions - atoms.positions.mean(axis=0), axis=1)
        return np.stack([r, r**2], axis=1)


def test_models_with_embeddings_get_a_map_of_their_own_feature_space(
    cu13_with_plane: Atoms,
) -> None:
    params = LandscapeParams(**{**FAST, "map_methods": ("pca",)})
    result = run_landscape(cu13_with_plane, DescribedEMT(1.0), params)
    embedded = result.maps["embedding_pca"]
    assert embedded.descriptor["source"] == "get_descriptors(invariants_only=True)"
    # Independent check: PCA of the standardized mean (r, r^2) per frame, up to sign.
    rows = []
    for frame in result_frames(cu13_with_plane):
        r = np.linalg.norm(frame - frame.mean(axis=0), axis=1)
        rows.append([r.mean(), (r**2).mean()])
    features = np.array(rows)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    _, _, vt = np.linalg.svd(features, full_matrices=False)
    first = features @ vt[0]
    assert np.abs(np.array(embedded.x)) == pytest.approx(np.abs(first), abs=1e-8)
    names = {p.name for p in result.projections()}
    assert names == {"plane", "map_pca", "map_embedding_pca"}


def result_frames(atoms: Atoms) -> np.ndarray:
    return np.asarray(atoms.info[PLANE_INFO_KEY]["frames"], dtype=float).reshape(-1, len(atoms), 3)


def test_registered_with_json_round_trip_of_params() -> None:
    spec = get_benchmark("landscape")
    params = spec.make_params(spec.default_params())
    assert params == LandscapeParams()
    with pytest.raises(ValueError, match="grid_n"):
        spec.make_params({"grid_n": 3})
    with pytest.raises(ValueError, match="map_methods"):
        spec.make_params({"map_methods": ["tsne"]})


@pytest.mark.mlip
@pytest.mark.parametrize(
    ("name", "package"), [("CHGNet-0.3.0", "chgnet"), ("SevenNet-0", "sevenn")]
)
def test_mlip_embeddings_are_per_atom_and_rotation_invariant(name: str, package: str) -> None:
    pytest.importorskip(package)
    from workers.adapters.embeddings import atom_embeddings
    from workers.adapters.pretrained import pretrained_models
    from workers.adapters.registry import ModelSpec, make_calculator

    record = next(r for r in pretrained_models() if r.name == name)
    spec = ModelSpec(
        family=record.family, name=record.name, version=record.version, params=record.params
    )
    calc = make_calculator(spec)
    atoms = Icosahedron("Cu", noshells=2)
    atoms.cell = [30.0] * 3
    rotated = atoms.copy()
    rotated.rotate(50, (1, 1, 0), center="COM")
    first, second = atom_embeddings(calc, atoms), atom_embeddings(calc, rotated)
    assert first is not None
    assert second is not None
    assert first.shape[0] == 13
    assert first.shape[1] >= 8
    assert second == pytest.approx(first, abs=1e-4 * max(1.0, float(np.abs(first).max())))
