"""CHGNet (Deng et al. 2023): a pretrained universal MLIP whose weights ship in its wheel.

Only the checkpoints bundled with the ``chgnet`` package are offered, so building the
calculator never touches the network. Needs the ``mlip`` extra (torch, chgnet).
"""

from __future__ import annotations

from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import (
    MPTRJ_ELEMENTS,
    check_params,
    import_or_setup_error,
    torch_globals_kept,
)

#: Checkpoints inside the chgnet 0.4.2 wheel (``chgnet/pretrained/<name>/``), and what each was
#: trained on. ``r2scan`` is transfer-learned from 0.3.0 on MP-r2SCAN.
BUNDLED_MODELS = {
    "0.3.0": "MPtrj (PBE/PBE+U)",
    "0.2.0": "MPtrj (PBE/PBE+U)",
    "r2scan": "MPtrj (PBE/PBE+U), then MP-r2SCAN (r2SCAN)",
}
DEFAULT_MODEL = "0.3.0"


def model_name(spec: ModelSpec) -> str:
    """The bundled checkpoint ``spec`` asks for; raises BenchmarkSetupError for any other."""
    check_params(spec, {"model"})
    name = spec.params.get("model", DEFAULT_MODEL)
    if name not in BUNDLED_MODELS:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (chgnet): params['model'] = {name!r} is not a checkpoint "
            f"bundled with the chgnet package; provide one of {sorted(BUNDLED_MODELS)} "
            "(other CHGNet weights would have to be uploaded as a model file)"
        )
    return str(name)


def supported_elements(spec: ModelSpec) -> frozenset[str]:
    """Elements of CHGNet's training data, MPtrj (the embedding itself accepts Z = 1-94)."""
    return MPTRJ_ELEMENTS


@register(
    "chgnet",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch", "chgnet"),
    description="CHGNet, pretrained on MPtrj; weights bundled with the chgnet package (CPU).",
)
def make_chgnet(spec: ModelSpec) -> Calculator:
    """CHGNet calculator on CPU for ``spec.params["model"]`` (default ``"0.3.0"``).

    Energies in eV, forces in eV/Å, stress in eV/Å³ (CHGNet's GPa times ``units.GPa``).

    Raises
    ------
    BenchmarkSetupError
        If chgnet is not installed, or the checkpoint is not one bundled with it.
    """
    name = model_name(spec)
    model_module = import_or_setup_error("chgnet.model", family="chgnet")
    with torch_globals_kept():
        try:
            model = model_module.CHGNet.load(model_name=name, use_device="cpu", verbose=False)
        except FileNotFoundError as exc:
            raise BenchmarkSetupError(
                f"CHGNet checkpoint {name!r} is missing from the installed chgnet package: "
                f"provide the file {exc.filename} (reinstall chgnet)"
            ) from exc
        calc: Calculator = model_module.CHGNetCalculator(model=model, use_device="cpu")
    return calc
