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
