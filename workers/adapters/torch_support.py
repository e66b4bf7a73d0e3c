"""What the torch-based adapter families share: the optional extra, the elements of their
training set, and a guard that keeps torch's process-wide settings as they were.

Imports nothing heavy at module level; torch is imported only inside ``torch_globals_kept``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from ase.data import chemical_symbols

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.registry import ModelSpec

#: The extra that installs the pretrained universal MLIPs (torch CPU build first).
MLIP_EXTRA_HINT = "pip install torch==2.13.0 && pip install 'mlip-metrology[mlip]'"

#: Elements of MPtrj (Deng et al. 2023), the training set of CHGNet and SevenNet-0: atomic
#: numbers 1-83 and 89-94 (no Po, At, Rn, Fr, Ra). SevenNet's bundled checkpoints list the
#: same 89 in their type map; CHGNet's embedding accepts 1-94 but has no data for 84-88.
MPTRJ_ELEMENTS = frozenset(chemical_symbols[z] for z in (*range(1, 84), *range(89, 95)))

#: Structures in MPtrj (from 145,923 Materials Project compounds).
MPTRJ_N_STRUCTURES = 1_580_395


def import_or_setup_error(module: str, *, family: str) -> ModuleType:
    """Import ``module``; raises BenchmarkSetupError naming the extra to install if missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BenchmarkSetupError(
            f"model family {family!r} needs the optional MLIP packages ({module} could not "
            f"be imported: {exc}); install them with: {MLIP_EXTRA_HINT}"
        ) from exc


@contextmanager
def torch_globals_kept() -> Iterator[None]:
    """Restore torch's default dtype and intra-op thread count on exit.

    Model packages may set them while loading (e.g. ``torch.set_default_dtype(float64)``),
    which would silently change every other model run in the same worker process.
    """
    try:
        import torch
    except ImportError as exc:  # a worker without the extra: the setup's fault, not the model's
        raise BenchmarkSetupError(
            f"this model family needs torch, which could not be imported ({exc}); install the "
            f"optional MLIP packages with: {MLIP_EXTRA_HINT}"
        ) from exc

    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def check_params(spec: ModelSpec, allowed: set[str]) -> None:
    """Raise BenchmarkSetupError if ``spec.params`` has keys outside ``allowed``."""
    unknown = set(spec.params) - allowed
    if unknown:
        raise BenchmarkSetupError(
            f"model {spec.name!r} ({spec.family}): unknown params {sorted(unknown)} "
            f"(allowed: {sorted(allowed)})"
        )
