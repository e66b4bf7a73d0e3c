"""2-D maps for the representation summary: a model's latent space, and the structures'.

Pure (numpy, ASE; dscribe, umap-learn and phate of the ``landscape`` extra when installed):
the projections of :mod:`workers.benchmarks._landscape_map`, PCA always, UMAP and PHATE when
installed and given enough points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from typing import Any

import numpy as np
from ase import Atoms

from workers.benchmarks._landscape_map import (
    MAP_METHODS,
    SoapSettings,
    project,
    soap_vectors,
    standardize,
)

#: UMAP and PHATE of fewer points than this say nothing; PCA is always drawn.
MIN_MAP_POINTS = 10
SOAP_SETTINGS = SoapSettings()


def projections(features: np.ndarray, methods: Sequence[str], seed: int) -> dict[str, Any]:
    """``{method: {"x", "y"} or None}`` for each of PCA (always), UMAP and PHATE."""
    n = len(features)
    entry: dict[str, Any] = {}
    for method in MAP_METHODS:
        wanted = method in methods or method == "pca"
        if not wanted or (method != "pca" and (n < MIN_MAP_POINTS or find_spec(method) is None)):
            entry[method] = None
        elif features.shape[1] == 0 or n < 3:  # nothing varies: every point at the origin
            entry[method] = {"x": [0.0] * n, "y": [0.0] * n}
        else:
            coords, settings = project(features, method, seed=seed)
            entry[method] = {
                "x": [float(v) for v in coords[:, 0]],
                "y": [float(v) for v in coords[:, 1]],
            }
            if method == "pca":
                entry[method]["explained_variance"] = settings["explained_variance"]
    return entry


def structure_map(
    structures: Mapping[str, Atoms] | None,
    formulas: Mapping[str, str],
    methods: Sequence[str],
    seed: int,
) -> dict[str, Any] | None:
    """The model-agnostic map of the structures (atom-averaged SOAP, standardized): where in
    structure space each model's errors and failures lie. None without dscribe."""
    ids = sorted(i for i in (structures or {}) if i in formulas)
    if structures is None or len(ids) < 3 or find_spec("dscribe") is None:
        return None
    frames = [structures[i] for i in ids]
    entry = projections(
        standardize(soap_vectors(frames, SOAP_SETTINGS, compression="crossover")), methods, seed
    )
    entry["descriptor"] = {**SOAP_SETTINGS.as_dict(), "compression": "crossover"}
    entry["points"] = [{"structure_id": i, "formula": formulas[i]} for i in ids]
    return entry
