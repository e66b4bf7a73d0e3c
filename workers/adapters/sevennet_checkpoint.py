"""An uploaded SevenNet checkpoint (``checkpoint_*.pth`` as written by ``sevenn train``).

sevenn reads checkpoints with ``torch.load(..., weights_only=False)``, which would run any
code a file carries. Here the file is read with ``weights_only=True`` (plus plain numpy
arrays, which SevenNet stores in its config), and sevenn only builds the model from the
loaded dictionary. A file that needs more is refused unless the model is trusted; then, and
only then, sevenn's own loader reads it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.model_files import TRUSTED_PARAM, artifact_file, load_weights_only
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import check_params, import_or_setup_error, torch_globals_kept


def _checkpoint(spec: ModelSpec) -> Any:
    """A ``sevenn.checkpoint.SevenNetCheckpoint`` of the uploaded file, read safely."""
    module = import_or_setup_error("sevenn.checkpoint", family=spec.family)
    path = artifact_file(spec)
    with torch_globals_kept():
        content = load_weights_only(spec, path)
    checkpoint = module.SevenNetCheckpoint(str(path))
    if content is None:  # trusted: sevenn's own (unrestricted) loader reads the file lazily
        return checkpoint
    if not isinstance(content, dict) or not content.get("config"):
        raise BenchmarkSetupError(
            f"model {spec.name!r} (sevennet_checkpoint): {path.name} is a torch file but not "
            "a SevenNet checkpoint (no 'config' entry); upload the checkpoint_*.pth of sevenn"
        )
    # sevenn 0.13's SevenNetCheckpoint._load, fed with the safely loaded dictionary.
    checkpoint._config_original = content["config"]
    checkpoint._config = module._config_cp_routine(content["config"])
    checkpoint._model_state_dict = content.get("model_state_dict", {})
    checkpoint._optimizer_state_dict = content.get("optimizer_state_dict", {})
    checkpoint._scheduler_state_dict = content.get("scheduler_state_dict", {})
    checkpoint._epoch = content.get("epoch")
    checkpoint._time = content.get("time", "Not found")
    checkpoint._hash = content.get("hash", "Not found")
    checkpoint._loaded = True
    return checkpoint


@functools.cache
def _elements(path: Path, trusted: bool) -> frozenset[str]:
    spec = ModelSpec("sevennet_checkpoint", path.name, artifact_path=path,
                     params={TRUSTED_PARAM: trusted})  # fmt: skip
    with torch_globals_kept():
        type_map = _checkpoint(spec).config["_type_map"]
    return frozenset(chemical_symbols[z] for z in type_map)


def supported_elements(spec: ModelSpec) -> frozenset[str]:
    """The elements in the checkpoint's type map (read once per file)."""
    check_params(spec, {"modal", TRUSTED_PARAM})
    return _elements(artifact_file(spec), trusted=spec.params.get(TRUSTED_PARAM) is True)


@register(
    "sevennet_checkpoint",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch", "sevenn"),
    description="An uploaded SevenNet checkpoint, read with torch.load(weights_only=True) "
    "unless an admin trusts the file (CPU).",
)
def make_sevennet_checkpoint(spec: ModelSpec) -> Calculator:
    """SevenNet calculator on CPU for the uploaded checkpoint of ``spec``.

    ``params``: ``modal`` for a multi-fidelity checkpoint; ``trusted`` (set by the worker from
    the model record) allows a file that needs arbitrary unpickling.

    Raises
    ------
    BenchmarkSetupError
        If sevenn is missing, there is no file, the file is no SevenNet checkpoint, it needs
        arbitrary unpickling and the model is not trusted, or the modal is missing or unknown.
    """
    check_params(spec, {"modal", TRUSTED_PARAM})
    calculator = import_or_setup_error("sevenn.calculator", family=spec.family)
    with torch_globals_kept():
        checkpoint = _checkpoint(spec)
        try:
            model = checkpoint.build_model()
            calc: Calculator = calculator.SevenNetCalculator(
                model, file_type="model_instance", device="cpu", modal=spec.params.get("modal")
            )
        except (ValueError, KeyError, RuntimeError) as exc:
            raise BenchmarkSetupError(
                f"model {spec.name!r} (sevennet_checkpoint): cannot build the model: {exc}"
            ) from exc
    return calc
