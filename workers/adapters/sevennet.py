"""SevenNet (Park et al. 2024): pretrained universal MLIPs, some with weights in the wheel.

Names are resolved here, to the checkpoint file, before sevenn sees them: sevenn itself would
download a missing checkpoint, and would unpickle any existing file path given as a name.
A model whose file is not on disk fails fast, naming the file to provide.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import (
    check_params,
    import_or_setup_error,
    torch_globals_kept,
)

#: Canonical model name -> checkpoint file under sevenn's ``pretrained_potentials/`` (sevenn
#: 0.13.0 ``_const``). The first four ship in the wheel; the others are downloads in sevenn.
CHECKPOINTS = {
    "7net-0": "SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth",
    "7net-0_22may2024": "SevenNet_0__22May2024/checkpoint_sevennet_0.pth",
    "7net-l3i5": "SevenNet_l3i5/checkpoint_l3i5.pth",
    "7net-mf-0": "SevenNet_MF_0/checkpoint_sevennet_mf_0.pth",
    "7net-mf-ompa": "SevenNet_MF_ompa/checkpoint_sevennet_mf_ompa.pth",
    "7net-omat": "SevenNet_omat/checkpoint_sevennet_omat.pth",
    "7net-omni": "SevenNet_omni/checkpoint_sevennet_omni.pth",
}
DEFAULT_MODEL = "7net-0"
#: sevenn's own fallback location for checkpoints it cannot write into the package.
USER_CACHE = Path("~/.cache/sevennet").expanduser()


def _package_dir() -> Path:
    sevenn = import_or_setup_error("sevenn", family="sevennet")
    return Path(str(sevenn.__file__)).parent / "pretrained_potentials"


def checkpoint_path(spec: ModelSpec) -> Path:
    """The checkpoint file of ``spec``, on disk; raises BenchmarkSetupError naming the file."""
    check_params(spec, {"model", "modal"})
    name = str(spec.params.get("model", DEFAULT_MODEL)).lower().replace("sevennet", "7net")
    if name not in CHECKPOINTS:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (sevennet): unknown pretrained model {name!r}; "
            f"provide one of {sorted(CHECKPOINTS)}"
        )
    candidates = [_package_dir() / CHECKPOINTS[name], USER_CACHE / CHECKPOINTS[name]]
    for path in candidates:
        if path.is_file():
            return path
    raise BenchmarkSetupError(
        f"SevenNet model {name!r} has no weights on disk and is never downloaded here: "
        f"provide the file {candidates[1]} (or {candidates[0]})"
    )


@functools.cache
def _checkpoint_elements(path: Path) -> frozenset[str]:
    checkpoint = import_or_setup_error("sevenn.checkpoint", family="sevennet")
    with torch_globals_kept():
        config = checkpoint.SevenNetCheckpoint(str(path)).config
    return frozenset(chemical_symbols[z] for z in config["_type_map"])


def supported_elements(spec: ModelSpec) -> frozenset[str]:
    """The elements in the checkpoint's type map, read once per file (MPtrj's 89 for the
    bundled models). Raises BenchmarkSetupError like ``make_sevennet``."""
    return _checkpoint_elements(checkpoint_path(spec))


@register(
    "sevennet",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch", "sevenn"),
    description="SevenNet (NequIP-type), pretrained; bundled checkpoints only (CPU).",
)
def make_sevennet(spec: ModelSpec) -> Calculator:
    """SevenNet calculator on CPU for ``spec.params["model"]`` (default ``"7net-0"``).

    ``spec.params["modal"]`` picks the fidelity of a multi-fidelity model (``7net-mf-0``:
    ``"PBE"`` or ``"R2SCAN"``). Energies in eV, forces in eV/Å, stress in eV/Å³.

    Raises
    ------
    BenchmarkSetupError
        If sevenn is not installed, the model is unknown or its checkpoint is not on disk,
        or the modal is missing or unknown.
    """
    path = checkpoint_path(spec)
    calculator = import_or_setup_error("sevenn.calculator", family="sevennet")
    with torch_globals_kept():
        try:
            calc: Calculator = calculator.SevenNetCalculator(
                str(path), device="cpu", modal=spec.params.get("modal")
            )
        except ValueError as exc:  # sevenn's message names the available modals
            raise BenchmarkSetupError(f"model {spec.name!r} (sevennet): {exc}") from exc
    return calc
