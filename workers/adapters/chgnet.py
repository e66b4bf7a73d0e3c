"""CHGNet (Deng et al. 2023): a pretrained universal MLIP whose weights ship in its wheel.

Only the checkpoints bundled with the ``chgnet`` package are offered, so building the
calculator never touches the network. Needs the ``mlip`` extra (torch, chgnet).

``params["random_weights_seed"]`` (instead of ``params["model"]``) builds CHGNet's
architecture with its default hyper-parameters and seeded random weights: a control for the
``representation`` benchmark (issue 20), not a potential.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

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
#: The parameter that asks for the random-weight control instead of a checkpoint.
RANDOM_WEIGHTS_SEED = "random_weights_seed"


def model_name(spec: ModelSpec) -> str:
    """The bundled checkpoint ``spec`` asks for; raises BenchmarkSetupError for any other."""
    check_params(spec, {"model", RANDOM_WEIGHTS_SEED})
    name = spec.params.get("model", DEFAULT_MODEL)
    if name not in BUNDLED_MODELS:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (chgnet): params['model'] = {name!r} is not a checkpoint "
            f"bundled with the chgnet package; provide one of {sorted(BUNDLED_MODELS)} "
            "(other CHGNet weights would have to be uploaded as a model file)"
        )
    return str(name)


def random_weights_seed(spec: ModelSpec) -> int | None:
    """The seed of a random-weight control, or None for a bundled checkpoint.

    Raises
    ------
    BenchmarkSetupError
        If ``spec.params`` gives both ``"model"`` and ``"random_weights_seed"``, or the seed
        is not a non-negative integer.
    """
    if RANDOM_WEIGHTS_SEED not in spec.params:
        return None
    seed = spec.params[RANDOM_WEIGHTS_SEED]
    if "model" in spec.params:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (chgnet): give exactly one of params['model'] (a bundled "
            f"checkpoint) and params[{RANDOM_WEIGHTS_SEED!r}] (random weights), not both"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (chgnet): params[{RANDOM_WEIGHTS_SEED!r}] must be a "
            f"non-negative integer, got {seed!r}"
        )
    return seed


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
    """CHGNet calculator on CPU for ``spec.params["model"]`` (default ``"0.3.0"``), or for
    random weights seeded by ``spec.params["random_weights_seed"]``.

    Energies in eV, forces in eV/Å, stress in eV/Å³ (CHGNet's GPa times ``units.GPa``); with
    random weights they are meaningless (only the per-element reference energies CHGNet's
    default composition model reads from MPtrj are fitted).

    Raises
    ------
    BenchmarkSetupError
        If chgnet is not installed, the checkpoint is not one bundled with it, or both (or
        an invalid seed) are given.
    """
    name = model_name(spec)
    seed = random_weights_seed(spec)
    model_module = import_or_setup_error("chgnet.model", family="chgnet")
    with torch_globals_kept():
        if seed is not None:
            control: Calculator = model_module.CHGNetCalculator(
                model=_random_weights(model_module, seed), use_device="cpu"
            )
            return control
        try:
            model = model_module.CHGNet.load(model_name=name, use_device="cpu", verbose=False)
        except FileNotFoundError as exc:
            raise BenchmarkSetupError(
                f"CHGNet checkpoint {name!r} is missing from the installed chgnet package: "
                f"provide the file {exc.filename} (reinstall chgnet)"
            ) from exc
        calc: Calculator = model_module.CHGNetCalculator(model=model, use_device="cpu")
    return calc


def _random_weights(model_module: Any, seed: int) -> Any:
    """``CHGNet()`` (default hyper-parameters, those of 0.3.0) initialised from ``seed``,
    leaving torch's global random state as it was."""
    import torch

    with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(io.StringIO()):
        torch.manual_seed(seed)
        return model_module.CHGNet()  # prints its parameter count: kept off the worker's log
