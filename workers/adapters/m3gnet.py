"""M3GNet (Chen & Ong 2022) and the other matgl potentials, from weights on local disk.

matgl publishes its pretrained potentials on the Hugging Face Hub (``materialyze/<name>``,
e.g. ``M3GNet-MatPES-PBE-v2025.1-PES``) as a directory of three files: ``model.json`` (the
class and its version), ``model.pt`` (constructor arguments) and ``state.pt`` (a state
dict). matgl would download them on first use; here they must be on disk (see
``workers.adapters.weights``): ``params["weights_path"]`` set to that directory, the
directory uploaded as a ``.tar.gz``/``.zip`` model file, or matgl's own Hugging Face cache.

Safety: matgl 4.1 reads both ``.pt`` files with ``torch.load(weights_only=True)``, but it
imports and calls whatever class ``model.json`` and ``model.pt`` name (``@module``,
``@class``). So every class named in them must live in the ``matgl`` package; anything else
is refused before matgl sees the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.model_files import TRUSTED_PARAM
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import check_params, import_or_setup_error, torch_globals_kept
from workers.adapters.weights import WEIGHTS_PARAM, locate_directory, offline

MODEL_FILES = ("model.json", "model.pt", "state.pt")
DEFAULT_MODEL = "M3GNet-MatPES-PBE-v2025.1-PES"
HF_ORG = "materialyze"
PARAMS = {"model", WEIGHTS_PARAM, "elements", TRUSTED_PARAM}


def _hf_cache(name: str) -> Path | None:
    """matgl's Hugging Face cache snapshot of ``name``, if one was downloaded before."""
    snapshots = Path.home() / ".cache" / "matgl" / f"models--{HF_ORG}--{name}" / "snapshots"
    found = sorted(snapshots.glob("*/model.json")) if snapshots.is_dir() else []
    return found[-1].parent if found else None


def model_directory(spec: ModelSpec) -> Path:
    """The directory of ``model.json``, ``model.pt`` and ``state.pt``; raises
    BenchmarkSetupError naming them when they are not on disk."""
    check_params(spec, PARAMS)
    name = str(spec.params.get("model", DEFAULT_MODEL))
    return locate_directory(
        spec,
        required=MODEL_FILES,
        fallback=_hf_cache(name),
        what=f"matgl model {name}, published at https://huggingface.co/{HF_ORG}/{name}",
    )


def _classes(node: Any) -> Iterator[str]:
    """Every ``@module`` named in a matgl serialization (nested dictionaries included)."""
    if isinstance(node, dict):
        if "@module" in node:
            yield str(node["@module"])
        for value in node.values():
            yield from _classes(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _classes(value)


def _check_classes(spec: ModelSpec, directory: Path, constructor_args: Any) -> dict[str, Any]:
    """Refuse files that name a class outside matgl; returns ``model.json``'s content."""
    try:
        description = json.loads((directory / "model.json").read_text())
    except (OSError, ValueError) as exc:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (m3gnet): {directory / 'model.json'} is not JSON: {exc}"
        ) from exc
    named = {*_classes(description), *_classes(constructor_args)}
    foreign = sorted(m for m in named if m != "matgl" and not m.startswith("matgl."))
    if foreign:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (m3gnet): the files name classes outside matgl "
            f"({foreign}); matgl would import and call them, so they are refused"
        )
    return dict(description)


def _element_types(description: dict[str, Any]) -> list[str]:
    """``element_types`` of the model inside a matgl ``Potential`` description."""
    kwargs = description.get("kwargs", {})
    model = kwargs.get("model", {}) if isinstance(kwargs, dict) else {}
    init = model.get("init_args", {}) if isinstance(model, dict) else {}
    return list(init.get("element_types") or kwargs.get("element_types") or [])


def supported_elements(spec: ModelSpec) -> frozenset[str] | None:
    """``params["elements"]`` if given, else the model's ``element_types`` (from
    ``model.json``; no torch needed); None when the weights are not on disk yet."""
    if spec.params.get("elements"):
        return frozenset(spec.params["elements"])
    try:
        directory = model_directory(spec)
        elements = _element_types(json.loads((directory / "model.json").read_text()))
    except (BenchmarkSetupError, OSError, ValueError):
        return None  # the factory reports the missing files
    return frozenset(elements) or None


@register(
    "m3gnet",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch", "matgl"),
    description="M3GNet and other matgl potentials (model.json, model.pt, state.pt) from "
    "local disk or an uploaded archive; never downloaded (CPU).",
)
def make_m3gnet(spec: ModelSpec) -> Calculator:
    """matgl ``PESCalculator`` on CPU for the potential whose files are on disk.

    ``params``: ``model`` (the published name, default ``M3GNet-MatPES-PBE-v2025.1-PES``,
    used to find matgl's cache and in messages), ``weights_path`` (the directory of the three
    files, or an archive of it), ``elements``. Energies in eV, forces in eV/Å, stress in
    eV/Å³.

    Raises
    ------
    BenchmarkSetupError
        If matgl is not installed, the files are not on disk (the message names them), they
        name classes outside matgl, or matgl cannot build the model from them.
    """
    directory = model_directory(spec)
    offline()  # matgl falls back to the Hub for unknown names; never here
    torch = import_or_setup_error("torch", family="m3gnet")
    with torch_globals_kept():
        io = import_or_setup_error("matgl.utils.io", family="m3gnet")
        ase_ext = import_or_setup_error("matgl.ext.ase", family="m3gnet")
        try:
            constructor_args = torch.load(
                directory / "model.pt", map_location="cpu", weights_only=True
            )
        except Exception as exc:  # any unreadable pickle is a setup problem of this file
            raise BenchmarkSetupError(
                f"model {spec.name!r} (m3gnet): {directory / 'model.pt'} cannot be read with "
                f"torch.load(weights_only=True): {str(exc)[:200]}"
            ) from exc
        _check_classes(spec, directory, constructor_args)
        try:
            potential = io.load_model(directory)
        except (ValueError, RuntimeError) as exc:
            cause = exc.__cause__ or exc
            raise BenchmarkSetupError(
                f"model {spec.name!r} (m3gnet): matgl cannot load {directory}: {cause}"
            ) from exc
        if not hasattr(potential, "calc_stresses"):
            raise BenchmarkSetupError(
                f"model {spec.name!r} (m3gnet): {directory} holds a "
                f"{type(potential).__name__}, not a potential (a *-PES model)"
            )
        calc: Calculator = ase_ext.PESCalculator(potential, stress_unit="eV/A3")
    return calc
