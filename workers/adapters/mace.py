"""An uploaded MACE ``.model`` file, through ``mace.calculators.MACECalculator``.

mace-torch pins ``e3nn==0.4.4`` and sevenn needs ``e3nn>=0.5``, so this family runs in its
own worker environment (with ``pip install mace-torch``) listening on its own Celery queue
(``MLIPM_FAMILY_QUEUES='{"mace": "mace"}'``); elsewhere it fails fast, naming what to install.

A ``.model`` file is a whole pickled ``torch.nn.Module``, which MACE loads with
``weights_only=False``. So the file is first tried with ``torch.load(weights_only=True)``; a
file that needs arbitrary unpickling (every full-model ``.model`` file) is refused unless an
admin has marked the model trusted.
"""

from __future__ import annotations

import importlib

from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.model_files import TRUSTED_PARAM, artifact_file, load_weights_only
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import check_params, torch_globals_kept

MACE_ENV_HINT = (
    "the 'mace' family needs the mace-torch package, which conflicts with sevenn (e3nn "
    "0.4.4 vs >= 0.5): run it on a worker whose environment has `pip install torch==2.13.0 "
    "mace-torch` and that listens on the queue MLIPM_FAMILY_QUEUES routes 'mace' to"
)


def supported_elements(spec: ModelSpec) -> frozenset[str] | None:
    """``params["elements"]`` if given; otherwise the model record's element list decides."""
    elements = spec.params.get("elements")
    return frozenset(elements) if elements else None


@register(
    "mace",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch", "mace-torch", "e3nn"),
    description="An uploaded MACE .model file (MACECalculator; needs its own worker "
    "environment; full-model pickles need an admin's trust), CPU.",
)
def make_mace(spec: ModelSpec) -> Calculator:
    """MACE calculator on CPU for the uploaded ``.model`` file of ``spec``.

    ``params``: ``dtype`` (``"float64"`` default, or ``"float32"``), ``elements``,
    ``trusted`` (set by the worker from the model record).

    Raises
    ------
    BenchmarkSetupError
        If mace-torch is not installed in this worker's environment, there is no file, or the
        file needs arbitrary unpickling and the model is not trusted.
    """
    check_params(spec, {"dtype", "elements", TRUSTED_PARAM})
    try:
        # mace must be imported before e3nn (see DEPENDENCIES.md).
        calculators = importlib.import_module("mace.calculators")
    except ImportError as exc:
        raise BenchmarkSetupError(f"{MACE_ENV_HINT} ({exc})") from exc
    path = artifact_file(spec)
    dtype = str(spec.params.get("dtype", "float64"))
    with torch_globals_kept():
        load_weights_only(spec, path)  # refuses an untrusted file that needs unpickling
        try:
            calc: Calculator = calculators.MACECalculator(
                model_paths=str(path), device="cpu", default_dtype=dtype
            )
        except (RuntimeError, ValueError, KeyError, AttributeError) as exc:
            raise BenchmarkSetupError(
                f"model {spec.name!r} (mace): MACECalculator cannot load {path.name}: {exc}"
            ) from exc
    return calc
