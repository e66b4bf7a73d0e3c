"""What the families that load an uploaded model file share: finding the file, and loading
a torch checkpoint without executing code from it.

A torch checkpoint is a pickle, and unpickling may call any importable function (a file can
run ``os.system`` when loaded). ``torch.load(..., weights_only=True)`` only rebuilds tensors,
containers and an allowlist of types, so it is the only way an untrusted file is read here.
A file that needs more is refused unless an admin marked the model trusted; the worker passes
that flag in as ``spec.params["trusted"]`` (the model record's ``is_trusted``).

Imports nothing heavy at module level.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.registry import ModelSpec
from workers.adapters.torch_support import import_or_setup_error

#: The params key the worker sets from the model record's ``is_trusted`` flag.
TRUSTED_PARAM = "trusted"


def artifact_file(spec: ModelSpec) -> Path:
    """The uploaded model file of ``spec``; raises BenchmarkSetupError if there is none."""
    if spec.artifact_path is None:
        raise BenchmarkSetupError(
            f"model {spec.name!r} ({spec.family}) has no model file: upload one with "
            f"PUT /models/{{model_id}}/file"
        )
    path = Path(spec.artifact_path)
    if not path.is_file():
        raise BenchmarkSetupError(
            f"model {spec.name!r} ({spec.family}): the model file {path} is not on this "
            "worker's disk; provide it (the artifact store must be shared with the workers)"
        )
    return path


def is_trusted(spec: ModelSpec) -> bool:
    """Whether an admin marked the model's file trusted (``spec.params["trusted"] is True``)."""
    return spec.params.get(TRUSTED_PARAM) is True


def _numpy_safe_globals() -> list[Any]:
    """Plain numpy arrays and dtypes: many checkpoints (SevenNet's) store their config's
    arrays this way. Rebuilding them calls no code from the file; object arrays stay
    refused (their items would need arbitrary unpickling)."""
    import numpy as np
    from numpy._core.multiarray import _reconstruct

    dtypes = [
        getattr(np.dtypes, name)
        for name in dir(np.dtypes)
        if name.endswith("DType") and name not in {"ObjectDType", "StringDType", "VoidDType"}
    ]
    # numpy >= 2 moved numpy.core to numpy._core; pickles written by numpy 1 name the old path.
    return [(_reconstruct, "numpy.core.multiarray._reconstruct"), _reconstruct, np.ndarray,
            np.dtype, *dtypes]  # fmt: skip


def _refusal_reason(message: str) -> str:
    """The line of torch's weights-only error that says what the file asked for."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return f"it references {found.group(1)}"
    lines = [line.strip() for line in message.split("error:")[-1].splitlines() if line.strip()]
    return lines[0][:200] if lines else "an unsupported pickle instruction"


def load_weights_only(spec: ModelSpec, path: Path) -> Any | None:
    """Load the torch checkpoint at ``path`` without executing code from it.

    Returns
    -------
    Any or None
        The checkpoint's contents; ``None`` when the file needs arbitrary unpickling and the
        model is trusted, so the caller may load it with the framework's own loader.

    Raises
    ------
    BenchmarkSetupError
        If the file is not a torch checkpoint, or needs arbitrary unpickling and the model
        is not trusted.
    """
    torch = import_or_setup_error("torch", family=spec.family)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if is_trusted(spec):
            return None
        reason = _refusal_reason(str(exc))
        raise BenchmarkSetupError(
            f"model {spec.name!r} ({spec.family}): the file {path.name} cannot be loaded "
            f"safely: it needs arbitrary unpickling ({reason}), which could execute code from "
            "the file. It was not loaded. An admin who has reviewed the file can mark the "
            "model trusted (POST /models/{model_id}/trust)."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise BenchmarkSetupError(
            f"model {spec.name!r} ({spec.family}): {path.name} is not a readable torch "
            f"checkpoint ({exc.__class__.__name__}: {str(exc)[:200]})"
        ) from exc
