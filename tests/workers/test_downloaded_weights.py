"""Families whose upstream packages download weights (M3GNet/matgl, ANI-2x, ORB, MatterSim):
they never touch the network, fail fast with ``setup_error`` naming the file(s) to provide
and where, and work when an admin supplies the files.

"Works" is shown with random-weight models of the real architectures, saved exactly as the
real weights are distributed (matgl's model.json/model.pt/state.pt directory; ANI-2x's
NeuroChem ``ani-2x_8x`` directory, plain and as a .tar.gz upload), run through the adapter:
finite energy, forces equal to minus the central-difference gradient of the energy.
ORB and MatterSim are not installable in this environment without conflicts (see
workers/adapters/orb.py), so only their failure paths are tested here; they run from their
files in their own environment in tests/backend/test_orb_environment.py (.venv-orb).
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError, FailureClass, UnsupportedElementsError
from tests.workers.weights_files import write_ani2x_dir, write_m3gnet_dir
from workers.adapters.ani2x import ANI2X_SPECIES, CONSTANTS_FILE, SAE_FILE
from workers.adapters.registry import ADAPTERS, ModelSpec, check_elements, load_all, make_calculator

load_all()


def assert_forces_are_minus_gradient(calc: Calculator, atoms: Atoms, *, step: float,
                                     tol: float) -> None:  # fmt: skip
    atoms = atoms.copy()
    atoms.calc = calc
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert np.isfinite(energy)
    assert forces.shape == (len(atoms), 3)
    assert np.abs(forces).max() > 10 * tol, "random model gives non-trivial forces"
    for atom, axis in ((0, 0), (1, 2), (len(atoms) - 1, 1)):
        shifted = []
        for sign in (1, -1):
            trial = atoms.copy()
            trial.positions[atom, axis] += sign * step
            trial.calc = calc
            shifted.append(trial.get_potential_energy())
        numerical = -(shifted[0] - shifted[1]) / (2 * step)
        assert forces[atom, axis] == pytest.approx(numerical, abs=tol), (atom, axis)


def spec(family: str, **params: object) -> ModelSpec:
    return ModelSpec(family, f"test-{family}", params=params)


@pytest.mark.mlip
def test_m3gnet_from_a_local_directory_works(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    directory = write_m3gnet_dir(tmp_path / "M3GNet-test-PES")
    dtype = torch.get_default_dtype()
    model = spec("m3gnet", weights_path=str(directory))
    calc = make_calculator(model)
    assert torch.get_default_dtype() == dtype
    assert ADAPTERS["m3gnet"].supported_elements(model) == {"Cu", "O", "Si"}
    atoms = bulk("Cu", cubic=True)
    atoms.rattle(0.1, seed=2)
    # float32 weights: 1e-2 Å keeps round-off small (see test_adapter_contract.py).
    assert_forces_are_minus_gradient(calc, atoms, step=1e-2, tol=5e-3)
    atoms.calc = calc
    assert atoms.get_stress().shape == (6,)
    with pytest.raises(UnsupportedElementsError):
        check_elements(model, ["Cu", "Fe"])


@pytest.mark.mlip
def test_m3gnet_from_an_uploaded_archive(tmp_path: Path) -> None:
    directory = write_m3gnet_dir(tmp_path / "M3GNet-test-PES")
    archive = tmp_path / "upload.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(directory, arcname=directory.name)
    model = ModelSpec("m3gnet", "uploaded", artifact_path=archive)
    calc = make_calculator(model)
    atoms = bulk("Si", "diamond", a=5.43)
    atoms.calc = calc
    assert np.isfinite(atoms.get_potential_energy())


@pytest.mark.mlip
def test_m3gnet_refuses_files_naming_classes_outside_matgl(tmp_path: Path) -> None:
    directory = write_m3gnet_dir(tmp_path / "evil")
    text = (directory / "model.json").read_text()
    (directory / "model.json").write_text(text.replace('"matgl.models._m3gnet"', '"os"', 1))
    with pytest.raises(BenchmarkSetupError, match="outside matgl"):
        make_calculator(spec("m3gnet", weights_path=str(directory)))


@pytest.mark.mlip
def test_ani2x_from_neurochem_files_works(tmp_path: Path) -> None:
    pytest.importorskip("torchani")
    directory = write_ani2x_dir(tmp_path)
    calc = make_calculator(spec("ani2x", weights_path=str(directory)))
    atoms = molecule("CH3SH")  # uses S, beyond ANI-1x's H, C, N, O
    atoms.rattle(0.05, seed=4)
    assert_forces_are_minus_gradient(calc, atoms, step=1e-4, tol=1e-4)


@pytest.mark.mlip
def test_ani2x_from_an_uploaded_model_zoo_tarball(tmp_path: Path) -> None:
    pytest.importorskip("torchani")
    write_ani2x_dir(tmp_path / "zoo" / "resources")
    archive = tmp_path / "ani-2x.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "zoo", arcname="ani-model-zoo-ani-2x")
    calc = make_calculator(ModelSpec("ani2x", "ANI-2x", artifact_path=archive))
    atoms = molecule("CH3Cl")
    atoms.calc = calc
    assert np.isfinite(atoms.get_potential_energy())


@pytest.mark.parametrize(
    ("family", "files"),
    [
        ("m3gnet", ["model.json", "model.pt", "state.pt"]),
        ("ani2x", [CONSTANTS_FILE, SAE_FILE, "train0 .. train7/networks/ANN-<el>.nnf"]),
        ("orb", ["orb-v3-conservative-inf-mpa-20250404.ckpt"]),
        ("mattersim", ["mattersim-v1.0.0-1M.pth"]),
    ],
)
def test_missing_weights_fail_fast_naming_the_files(
    family: str, files: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no download cache to fall back on
    model = spec(family, weights_path=str(tmp_path / "nowhere"))
    with pytest.raises(BenchmarkSetupError) as info:
        make_calculator(model)
    assert info.value.failure_class == FailureClass.SETUP_ERROR
    message = str(info.value)
    for name in files:
        assert name in message
    assert "weights_path" in message
    assert "PUT /models/{model_id}/file" in message
    assert str(tmp_path / "nowhere") in message


@pytest.mark.parametrize(
    ("family", "weights", "package"),
    [
        ("orb", "orb-v3-conservative-inf-mpa-20250404.ckpt", "orb_models"),
        ("mattersim", "mattersim-v1.0.0-1M.pth", "mattersim"),
    ],
)
def test_file_only_families_without_their_package_name_it(
    family: str, weights: str, package: str, tmp_path: Path
) -> None:
    try:
        __import__(package)
    except ImportError:
        pass
    else:
        pytest.skip(f"{package} is installed here")
    (tmp_path / weights).write_bytes(b"not empty")
    with pytest.raises(BenchmarkSetupError, match=rf"{package}.*pip install --no-deps"):
        make_calculator(spec(family, weights_path=str(tmp_path)))


def test_an_archive_that_escapes_its_directory_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("torchani")
    archive = tmp_path / "evil.tar"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(archive, "w") as tf:
        tf.add(payload, arcname="../../escaped")
    with pytest.raises(BenchmarkSetupError, match="archive"):
        make_calculator(ModelSpec("ani2x", "evil", artifact_path=archive))
    assert not (tmp_path.parent / "escaped").exists()


def test_families_declare_elements_and_stress() -> None:
    assert ADAPTERS["ani2x"].supported_elements(spec("ani2x")) == set(ANI2X_SPECIES)
    assert len(ADAPTERS["mattersim"].supported_elements(spec("mattersim")) or ()) == 94
    assert "Cu" in (ADAPTERS["orb"].supported_elements(spec("orb")) or ())
    for family in ("m3gnet", "ani2x", "orb", "mattersim"):
        assert ADAPTERS[family].provides_stress
        assert "torch" in ADAPTERS[family].package_versions()


@pytest.mark.parametrize(("family", "module"), [("m3gnet", "matgl"), ("ani2x", "torchani")])
def test_families_without_their_package_name_the_extra(
    family: str, module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    if family == "m3gnet":
        for name in ("model.json", "model.pt", "state.pt"):
            (tmp_path / name).write_text("{}")
        weights = tmp_path
    else:
        weights = write_ani2x_dir(tmp_path)
    for name in [m for m in sys.modules if m == module or m.startswith(f"{module}.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: imports fail
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(BenchmarkSetupError, match=r"mlip-metrology\[mlip\]") as info:
        make_calculator(spec(family, weights_path=str(weights)))
    assert module in str(info.value)


@pytest.mark.parametrize("family", ["ani2x", "m3gnet"])
def test_a_worker_without_torch_fails_the_run_as_setup_error(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights on disk but no torch in the worker: the run fails with setup_error naming the
    extra to install, not with the model's 'exception' class."""
    directory = write_ani2x_dir(tmp_path) if family == "ani2x" else write_m3gnet_dir(tmp_path)
    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(BenchmarkSetupError, match=r"torch.*pip install") as info:
        make_calculator(spec(family, weights_path=str(directory)))
    assert info.value.failure_class == FailureClass.SETUP_ERROR
