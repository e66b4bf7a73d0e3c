"""Stable identity of a benchmark protocol and its parameters (standard library only)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def params_hash(key: str, version: str, params: Mapping[str, Any]) -> str:
    """Return the sha256 of a benchmark's key, protocol version and full parameter set.

    Two runs with the same model, input and hash are the same work and are never done twice.
    """
    blob = json.dumps(
        {"benchmark": key, "version": version, "params": dict(params)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def model_version_hash(
    family: str,
    params: Mapping[str, Any],
    file_sha256: str | None,
    elements: list[str] | None,
) -> str:
    """Return the sha256 of what a model's runs depend on: adapter family, parameters, the
    uploaded file's sha256 and the supported elements (the adapter's package versions are
    pinned on the version by the first worker that runs it).

    A model version with this hash is the one its results belong to; any change of these
    inputs is a new version, evaluated afresh.
    """
    blob = json.dumps(
        {
            "family": family,
            "params": dict(params),
            "file_sha256": file_sha256,
            "elements": sorted(elements) if elements is not None else None,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()
