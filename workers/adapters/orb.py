"""ORB (Orbital Materials) and MatterSim (Microsoft): universal MLIPs whose packages download
their checkpoints on first use, run here only from a checkpoint file already on disk.

Neither package is in the ``mlip`` extra: orb-models pulls ``cached_path``, which downgrades
rich, filelock and huggingface_hub below what the rest of the environment uses; mattersim
depends on torchvision and torchaudio (a CUDA torch) and installs only with ``--no-deps``.
Both run in a worker environment of their own (``make install-orb``: ``.venv-orb`` with
orb-models 0.5.5 and mattersim 1.2.3, its worker on the queue MLIPM_FAMILY_QUEUES routes both
families to; docker-compose's ``worker-orb``); elsewhere these families fail fast with
``setup_error``, naming the package.

- ``orb``: ``params["model"]`` names the architecture (a key of orb-models'
  ``ORB_PRETRAINED_MODELS``, e.g. ``orb-v3-conservative-inf-mpa``); its checkpoint, e.g.
  ``orb-v3-conservative-inf-mpa-20250404.ckpt``, is a plain state dict that orb-models loads
  with ``torch.load(weights_only=True)``.
- ``mattersim``: ``mattersim-v1.0.0-1M.pth`` or ``-5M.pth``, the dict that
  ``Potential.save`` writes (``model_name``, ``model`` state dict, ``model_args``, training
  state), read once with ``torch.load(weights_only=True)``; a file that needs arbitrary
  unpickling is refused unless an admin marks the model trusted. The ``M3Gnet`` is built from
  it as ``Potential.from_checkpoint`` does, without that method's download branch.

Both were checked with random-weight models of the real architectures saved in these layouts
(tests/backend/test_orb_environment.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.model_files import TRUSTED_PARAM, load_weights_only
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import (
    MPTRJ_ELEMENTS,
    check_params,
    import_or_setup_error,
    torch_globals_kept,
)
from workers.adapters.weights import WEIGHTS_PARAM, locate_file

ORB_DEFAULT_MODEL = "orb-v3-conservative-inf-mpa"
#: Published checkpoint file of each ORB model offered by default (orb-models 0.5.5).
ORB_CHECKPOINTS = {
    "orb-v3-conservative-inf-mpa": "orb-v3-conservative-inf-mpa-20250404.ckpt",
    "orb-v3-conservative-20-mpa": "orb-v3-conservative-20-mpa-20250404.ckpt",
    "orb-v3-conservative-inf-omat": "orb-v3-conservative-inf-omat-20250404.ckpt",
    "orb-v3-conservative-20-omat": "orb-v3-conservative-20-omat-20250404.ckpt",
    "orb-v3-direct-inf-mpa": "orb-v3-direct-inf-mpa-20250404.ckpt",
    "orb-v3-direct-20-mpa": "orb-v3-direct-20-mpa-20250404.ckpt",
    "orb-v2": "orb-v2-20241011.ckpt",
    "orb-mptraj-only-v2": "orb-mptraj-only-v2-20241014.ckpt",
}
ORB_URL = "https://orbitalmaterials-public-models.s3.us-west-1.amazonaws.com/forcefields/"
ORB_PRECISIONS = ("float32-high", "float32-highest", "float64")

MATTERSIM_CHECKPOINTS = ("mattersim-v1.0.0-1M.pth", "mattersim-v1.0.0-5M.pth")
MATTERSIM_CACHE = Path.home() / ".local" / "mattersim" / "pretrained_models"
#: MatterSim's training data span Z = 1-94 (Yang et al. 2024).
MATTERSIM_ELEMENTS = frozenset(chemical_symbols[1:95])


def _elements(spec: ModelSpec, default: frozenset[str]) -> frozenset[str]:
    elements = spec.params.get("elements")
    return frozenset(elements) if elements else default


def orb_elements(spec: ModelSpec) -> frozenset[str]:
    """``params["elements"]`` if given, else MPtrj's 89 elements (the ``-mpa`` models' data)."""
    return _elements(spec, MPTRJ_ELEMENTS)


def mattersim_elements(spec: ModelSpec) -> frozenset[str]:
    """``params["elements"]`` if given, else Z = 1-94."""
    return _elements(spec, MATTERSIM_ELEMENTS)


def orb_checkpoint(spec: ModelSpec) -> tuple[str, Path]:
    """The ORB architecture name and its checkpoint file on disk."""
    check_params(spec, {"model", WEIGHTS_PARAM, "precision", "elements", TRUSTED_PARAM})
    name = str(spec.params.get("model", ORB_DEFAULT_MODEL))
    filename = ORB_CHECKPOINTS.get(name, f"{name}-<date>.ckpt")
    path = locate_file(
        spec, filename=filename, fallback=None, what=f"ORB {name}, published at {ORB_URL}"
    )
    return name, path


@register(
    "orb",
    supported_elements=orb_elements,
    provides_stress=True,
    packages=("torch", "orb-models"),
    description="ORB v2/v3 from a checkpoint on local disk or uploaded (orb-models, in its "
    "own worker environment); never downloaded (CPU).",
)
def make_orb(spec: ModelSpec) -> Calculator:
    """orb-models' ``ORBCalculator`` on CPU for the checkpoint on disk.

    ``params``: ``model`` (architecture, default ``orb-v3-conservative-inf-mpa``),
    ``weights_path``, ``precision`` (``float32-high`` default, or ``float64``), ``elements``.
    Energies in eV, forces in eV/Å, stress in eV/Å³.

    Raises
    ------
    BenchmarkSetupError
        If the checkpoint is not on disk (the message names the file), orb-models is not
        installed, the architecture is unknown or the checkpoint does not fit it.
    """
    name, path = orb_checkpoint(spec)
    precision = str(spec.params.get("precision", "float32-high"))
    if precision not in ORB_PRECISIONS:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (orb): params['precision'] = {precision!r}; use one of "
            f"{list(ORB_PRECISIONS)}"
        )
    hint = (
        "make install-orb: a worker environment of its own with orb-models 0.5.5 (and "
        "mattersim, pip install --no-deps)"
    )
    try:
        pretrained = import_or_setup_error("orb_models.forcefield.pretrained", family="orb")
        calculator = import_or_setup_error("orb_models.forcefield.calculator", family="orb")
    except BenchmarkSetupError as exc:
        raise BenchmarkSetupError(f"{exc}; orb-models is not in the extra: {hint}") from exc
    factory = pretrained.ORB_PRETRAINED_MODELS.get(name)
    if factory is None:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (orb): unknown ORB model {name!r}; known: "
            f"{sorted(pretrained.ORB_PRETRAINED_MODELS)}"
        )
    with torch_globals_kept():
        try:
            model = factory(weights_path=str(path), device="cpu", precision=precision,
                            compile=False)  # fmt: skip
        except (RuntimeError, ValueError, KeyError) as exc:
            raise BenchmarkSetupError(
                f"model {spec.name!r} (orb): {path.name} does not fit {name}: {str(exc)[:200]}"
            ) from exc
        calc: Calculator = _in_model_dtype(calculator.ORBCalculator)(model, device="cpu")
    return calc


def _in_model_dtype(base: type[Calculator]) -> type[Calculator]:
    """``base`` (orb-models' ORBCalculator) building its input graph in the model's dtype.

    orb-models builds positions and cell in torch's *default* dtype, which it sets globally
    while loading and ``torch_globals_kept`` restores afterwards; without this a ``float64``
    model would be fed float32 geometry (forces then differ from -dE/dx by ~1e-4 relative).
    """

    class InModelDtype(base):  # type: ignore[valid-type,misc]
        def calculate(self, *args: Any, **kwargs: Any) -> None:
            import torch

            dtype = next(self.model.parameters()).dtype
            saved = torch.get_default_dtype()
            torch.set_default_dtype(dtype)
            try:
                super().calculate(*args, **kwargs)
            finally:
                torch.set_default_dtype(saved)

    InModelDtype.__name__ = InModelDtype.__qualname__ = base.__name__
    return InModelDtype


@register(
    "mattersim",
    supported_elements=mattersim_elements,
    provides_stress=True,
    packages=("torch", "mattersim"),
    description="MatterSim v1 from a checkpoint on local disk or uploaded (mattersim, "
    "installed with --no-deps in its own worker environment); never downloaded (CPU).",
)
def make_mattersim(spec: ModelSpec) -> Calculator:
    """MatterSim's ``MatterSimCalculator`` on CPU for the checkpoint on disk.

    ``params``: ``model`` (``mattersim-v1.0.0-1M.pth`` default, or ``-5M.pth``),
    ``weights_path``, ``elements``, ``trusted``. Energies in eV, forces in eV/Å, stress in
    eV/Å³.

    Raises
    ------
    BenchmarkSetupError
        If the checkpoint is not on disk (the message names the file), needs arbitrary
        unpickling and the model is not trusted, or mattersim is not installed.
    """
    check_params(spec, {"model", WEIGHTS_PARAM, "elements", TRUSTED_PARAM})
    filename = str(spec.params.get("model", MATTERSIM_CHECKPOINTS[0]))
    if filename not in MATTERSIM_CHECKPOINTS:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (mattersim): params['model'] = {filename!r}; use one of "
            f"{list(MATTERSIM_CHECKPOINTS)}"
        )
    path = locate_file(
        spec,
        filename=filename,
        fallback=MATTERSIM_CACHE,
        what="MatterSim v1, published at https://github.com/microsoft/mattersim",
    )
    hint = (
        "make install-orb: a worker environment of its own with mattersim 1.2.3 "
        "(pip install --no-deps, plus the packages its inference imports)"
    )
    try:
        potential = import_or_setup_error("mattersim.forcefield.potential", family="mattersim")
        m3gnet = import_or_setup_error("mattersim.forcefield.m3gnet.m3gnet", family="mattersim")
    except BenchmarkSetupError as exc:
        raise BenchmarkSetupError(f"{exc}; mattersim is not in the extra: {hint}") from exc
    with torch_globals_kept():
        checkpoint = _mattersim_checkpoint(spec, path)
        try:
            # What Potential.from_checkpoint(load_training_state=False) does, without its
            # second torch.load, its download branch or its ~/.local side effects.
            model = m3gnet.M3Gnet(device="cpu", **checkpoint["model_args"])
            loaded = model.load_state_dict(checkpoint["model"], strict=False)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise BenchmarkSetupError(
                f"model {spec.name!r} (mattersim): {path.name} does not fit MatterSim's M3Gnet: "
                f"{str(exc)[:200]}"
            ) from exc
        if loaded.missing_keys:
            raise BenchmarkSetupError(
                f"model {spec.name!r} (mattersim): {path.name} lacks {len(loaded.missing_keys)} "
                f"weights of MatterSim's M3Gnet (e.g. {loaded.missing_keys[:3]})"
            )
        model.eval()
        wrapped = potential.Potential(model, device="cpu", model_name="m3gnet")
        calc: Calculator = potential.MatterSimCalculator(potential=wrapped, device="cpu")
    return calc


def _mattersim_checkpoint(spec: ModelSpec, path: Path) -> dict[str, Any]:
    """The checkpoint dict (``model_name``, ``model``, ``model_args``, ...) read without
    executing code from it; a file that needs unpickling is read in full only if trusted."""
    checkpoint = load_weights_only(spec, path)  # refuses an untrusted file that needs it
    if checkpoint is None:  # trusted by an admin
        import torch

        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if (
        not isinstance(checkpoint, dict)
        or checkpoint.get("model_name") != "m3gnet"
        or not isinstance(checkpoint.get("model"), dict)
        or not isinstance(checkpoint.get("model_args"), dict)
    ):
        raise BenchmarkSetupError(
            f"model {spec.name!r} (mattersim): {path.name} is not a MatterSim checkpoint (a "
            "dict with model_name 'm3gnet', 'model' and 'model_args', as Potential.save "
            "writes)"
        )
    return checkpoint
