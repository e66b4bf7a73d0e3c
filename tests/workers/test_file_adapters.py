"""Families that load an uploaded model file: TorchScript (checked against the same pair
potential in numpy), SevenNet checkpoints read with weights_only=True, a malicious pickle that
must be refused without running, and MACE failing fast where mace-torch is not installed."""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError, UnsupportedElementsError
from workers.adapters.registry import ADAPTERS, ModelSpec, check_elements, load_all, make_calculator

load_all()

EPSILON, SIGMA = 0.0104, 3.40  # argon-like Lennard-Jones, eV and Å


def lj_numpy(atoms: Atoms) -> tuple[float, np.ndarray]:
    """Reference: plain Lennard-Jones over all minimum-image pairs (no cutoff), in numpy."""
    n, energy, forces = len(atoms), 0.0, np.zeros((len(atoms), 3))
    for i in range(n):
        for j in range(i + 1, n):
            d = atoms.get_distance(i, j, mic=True, vector=True)
            r = np.linalg.norm(d)
            sr6 = (SIGMA / r) ** 6
            energy += 4 * EPSILON * (sr6**2 - sr6)
            f = 24 * EPSILON * (2 * sr6**2 - sr6) / r**2 * d  # force on j
            forces[j] += f
            forces[i] -= f
    return energy, forces


@pytest.fixture(scope="module")
def lj_torchscript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny TorchScript model following the calling convention: minimum-image LJ."""
    torch = pytest.importorskip("torch")

    class PairPotential(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.epsilon = torch.nn.Parameter(torch.tensor(EPSILON, dtype=torch.float64))
            self.sigma = torch.nn.Parameter(torch.tensor(SIGMA, dtype=torch.float64))

        def forward(
            self,
            positions: torch.Tensor,
            numbers: torch.Tensor,
            cell: torch.Tensor,
            pbc: torch.Tensor,
        ) -> torch.Tensor:
            n = positions.shape[0]
            pairs = torch.triu_indices(n, n, offset=1)
            d = positions[pairs[1]] - positions[pairs[0]]
            if bool(pbc.any()):
                frac = d @ torch.linalg.inv(cell)
                frac = frac - torch.round(frac) * pbc.to(frac.dtype)
                d = frac @ cell
            r2 = (d * d).sum(dim=1)
            sr6 = (self.sigma**2 / r2) ** 3
            return (4 * self.epsilon * (sr6 * sr6 - sr6)).sum()

    path = tmp_path_factory.mktemp("ts") / "lj.pt"
    torch.jit.script(PairPotential()).save(str(path))
    return path


def argon_cluster() -> Atoms:
    rng = np.random.default_rng(7)
    grid = np.array([[x, y, z] for x in range(2) for y in range(2) for z in range(2)], float)
    return Atoms("Ar8", positions=grid * 3.8 + rng.normal(0, 0.1, (8, 3)))


def test_torchscript_matches_the_same_pair_potential_in_numpy(lj_torchscript: Path) -> None:
    spec = ModelSpec("torchscript", "lj-ts", params={"elements": ["Ar"]},
                     artifact_path=lj_torchscript)  # fmt: skip
    atoms = argon_cluster()
    atoms.calc = make_calculator(spec)
    energy, forces = lj_numpy(atoms)
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-10)
    np.testing.assert_allclose(atoms.get_forces(), forces, atol=1e-10)
    check_elements(spec, ["Ar"])
    with pytest.raises(UnsupportedElementsError):
        check_elements(spec, ["Ar", "Cu"])


def test_torchscript_stress_matches_finite_differences(lj_torchscript: Path) -> None:
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True)  # 4 atoms; all minimum images unique
    atoms.rattle(0.05, seed=2)
    atoms.set_cell(atoms.cell * 1.02, scale_atoms=True)
    calc = make_calculator(ModelSpec("torchscript", "lj-ts", artifact_path=lj_torchscript))
    atoms.calc = calc
    energy, forces = lj_numpy(atoms)
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-10)
    np.testing.assert_allclose(atoms.get_forces(), forces, atol=1e-10)
    numerical = calc.calculate_numerical_stress(atoms, d=1e-6)
    np.testing.assert_allclose(atoms.get_stress(), numerical, atol=1e-7)
    assert ADAPTERS["torchscript"].provides_stress


def test_torchscript_float32(lj_torchscript: Path) -> None:
    atoms = argon_cluster()
    atoms.calc = make_calculator(
        ModelSpec("torchscript", "lj32", params={"dtype": "float32"}, artifact_path=lj_torchscript)
    )
    assert atoms.get_potential_energy() == pytest.approx(lj_numpy(atoms)[0], rel=1e-4)


@pytest.mark.parametrize(
    ("params", "content", "message"),
    [
        ({}, None, "no model file"),
        ({}, b"not a zip archive", "not a TorchScript file"),
        ({"dtype": "float16"}, b"", "dtype"),
        ({"device": "cuda"}, b"", "unknown params"),
    ],
)
def test_torchscript_setup_errors(
    tmp_path: Path, params: dict, content: bytes | None, message: str
) -> None:
    pytest.importorskip("torch")
    path = None
    if content is not None:
        path = tmp_path / "model.pt"
        path.write_bytes(content)
    with pytest.raises(BenchmarkSetupError, match=message):
        make_calculator(ModelSpec("torchscript", "bad", params=params, artifact_path=path))


def test_torchscript_wrong_signature_is_refused(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    class EnergyOnly(torch.nn.Module):
        def forward(self, positions: torch.Tensor) -> torch.Tensor:
            return positions.sum()

    path = tmp_path / "wrong.pt"
    torch.jit.script(EnergyOnly()).save(str(path))
    with pytest.raises(BenchmarkSetupError, match="calling convention"):
        make_calculator(ModelSpec("torchscript", "wrong", artifact_path=path))


class _RunsShell:
    """Unpickling this calls os.system: what a malicious model file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch.save", "pickle-4"])
@pytest.mark.parametrize("family", ["sevennet_checkpoint", "mace"])
def test_malicious_pickle_is_refused_without_running(
    tmp_path: Path, family: str, writer: str
) -> None:
    torch = pytest.importorskip("torch")
    if family == "mace":
        pytest.importorskip("mace")
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pth"
    payload = {"config": _RunsShell(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=4))
    for trusted in (None, False, "yes"):  # only the boolean True (set by the worker) trusts
        params = {} if trusted is None else {"trusted": trusted}
        with pytest.raises(BenchmarkSetupError, match="arbitrary unpickling") as info:
            make_calculator(ModelSpec(family, "evil", params=params, artifact_path=path))
        assert "trusted" in str(info.value)
        if writer == "torch.save":
            assert "system" in str(info.value)  # names the global it refused
    assert not marker.exists()
    # The same file does run code when unpickled for real: the test's payload is live.
    pickle.loads(pickle.dumps(payload))
    assert marker.exists()


@pytest.fixture(scope="module")
def sevennet_0_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sevenn = pytest.importorskip("sevenn")
    source = (
        Path(str(sevenn.__file__)).parent
        / "pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth"
    )
    target = tmp_path_factory.mktemp("upload") / "checkpoint_sevennet_0.pth"
    shutil.copyfile(source, target)
    return target


@pytest.mark.mlip
def test_uploaded_sevennet_checkpoint_loads_safely_and_matches_the_bundled_model(
    sevennet_0_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    real_load = torch.load

    def weights_only_load(*args: object, **kwargs: object) -> object:
        assert kwargs.get("weights_only") is True, "an untrusted file was unpickled"
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", weights_only_load)
    monkeypatch.setattr("sevenn.checkpoint.torch_load", weights_only_load)
    spec = ModelSpec("sevennet_checkpoint", "7net-0-upload", artifact_path=sevennet_0_copy)
    atoms = bulk("Cu", cubic=True)
    atoms.rattle(0.05, seed=3)
    atoms.calc = make_calculator(spec)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert len(ADAPTERS["sevennet_checkpoint"].supported_elements(spec)) == 89
    monkeypatch.undo()

    reference: Calculator = make_calculator(ModelSpec("sevennet", "7net-0"))
    atoms.calc = reference
    assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-5)
    np.testing.assert_allclose(forces, atoms.get_forces(), atol=1e-5)
    assert atoms.get_stress().shape == (6,)


@pytest.mark.mlip
def test_not_a_sevennet_checkpoint(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("sevenn")
    path = tmp_path / "weights.pth"
    torch.save({"model_state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(BenchmarkSetupError, match="not a SevenNet checkpoint"):
        make_calculator(ModelSpec("sevennet_checkpoint", "x", artifact_path=path))


def test_mace_without_its_package_names_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in [m for m in sys.modules if m.split(".")[0] == "mace"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "mace", None)  # makes the import fail, installed or not
    path = tmp_path / "model.model"
    path.write_bytes(b"whatever")
    with pytest.raises(BenchmarkSetupError, match=r"mace-torch.*own|e3nn") as info:
        make_calculator(ModelSpec("mace", "m", artifact_path=path))
    assert "MLIPM_FAMILY_QUEUES" in str(info.value)


def test_file_families_declare_what_they_need() -> None:
    for family in ("torchscript", "sevennet_checkpoint", "mace"):
        adapter = ADAPTERS[family]
        assert adapter.provides_stress
        assert "torch" in adapter.packages
        assert set(adapter.package_versions()) >= {"ase", "torch"}


@pytest.fixture(scope="module")
def embedding_torchscript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TorchScript model exporting ``embeddings``: per atom, sum over its neighbours of
    exp(-r / s) for s = 1, 2, 4 Å (invariant by construction; no periodic images)."""
    torch = pytest.importorskip("torch")

    class Described(torch.nn.Module):
        @torch.jit.export
        def embeddings(
            self,
            positions: torch.Tensor,
            numbers: torch.Tensor,
            cell: torch.Tensor,
            pbc: torch.Tensor,
        ) -> torch.Tensor:
            r = torch.cdist(positions, positions)
            off = 1.0 - torch.eye(positions.shape[0], dtype=positions.dtype)
            scales = torch.tensor([1.0, 2.0, 4.0], dtype=positions.dtype)
            return (torch.exp(-r.unsqueeze(-1) / scales) * off.unsqueeze(-1)).sum(dim=1)

        def forward(
            self,
            positions: torch.Tensor,
            numbers: torch.Tensor,
            cell: torch.Tensor,
            pbc: torch.Tensor,
        ) -> torch.Tensor:
            return self.embeddings(positions, numbers, cell, pbc).sum()

    path = tmp_path_factory.mktemp("ts") / "described.pt"
    torch.jit.script(Described()).save(str(path))
    return path


def test_a_torchscript_file_exporting_embeddings_gives_its_per_atom_features(
    embedding_torchscript: Path, lj_torchscript: Path
) -> None:
    from workers.adapters.embeddings import atom_embeddings, embedding_source

    calc = make_calculator(
        ModelSpec("torchscript", "described", artifact_path=embedding_torchscript)
    )
    atoms = argon_cluster()
    features = atom_embeddings(calc, atoms)
    assert features is not None
    assert features.shape == (8, 3)
    # the same sums computed here, from the distances
    r = atoms.get_all_distances()
    np.fill_diagonal(r, np.inf)
    expected = np.stack([np.exp(-r / s).sum(axis=1) for s in (1.0, 2.0, 4.0)], axis=1)
    np.testing.assert_allclose(features, expected, rtol=1e-12)
    turned = atoms.copy()
    turned.rotate(37, "x", center="COM")
    turned.rotate(71, "z", center="COM")
    np.testing.assert_allclose(atom_embeddings(calc, turned), features, atol=1e-10)
    assert embedding_source(calc) == "the TorchScript file's exported embeddings()"
    plain = make_calculator(ModelSpec("torchscript", "lj-ts", artifact_path=lj_torchscript))
    assert atom_embeddings(plain, atoms) is None  # no exported method: no latent space
