"""A hand-made summary body as ``GET /representations`` returns it (the keys of
``workers/representation_summary.py``'s ``summarize``), for the page's unit and browser tests."""

from __future__ import annotations

import uuid
from typing import Any

TRAINED, CONTROL, OTHER = "CHGNet-0.3.0", "CHGNet-random-weights", "SevenNet-0"
#: the models in the body's order; the CKA matrix comes in another (its clustering) order
MODELS = (TRAINED, CONTROL, OTHER)
CKA_ORDER = (OTHER, TRAINED, CONTROL)
CKA = ((1.0, 0.53, 0.31), (0.53, 1.0, 0.39), (0.31, 0.39, 1.0))
TARGETS = ("electronegativity", "group", "period", "volume_strain")
FORMULAS = ("Cu", "Al", "Ar", "NaCl", "Fe", "Si")
SID = {f: str(uuid.UUID(int=i + 1)) for i, f in enumerate(FORMULAS)}
#: failures of the trained model per structure (Ar: no other benchmark ran on it)
FAILURES = {
    "Cu": [("eos", "no_convergence")],
    "Al": [
        ("phonons", "dynamically_unstable"),
        ("md_stability", "temperature_runaway"),
        ("eos", "dynamically_unstable"),
    ],
    "NaCl": [],
    "Fe": [("md_stability", "temperature_runaway")],
    "Si": [],
}
FLAGS = {"NaCl": ["fitted_to"], "Si": ["fitted_to", "outlier"]}
ERRORS = {"Cu": 0.05, "Al": 0.4, "NaCl": 0.1, "Fe": 0.2, "Si": None}
NOVELTY = {"Cu": (0.5, 0.05), "Al": (2.0, 0.4), "NaCl": (1.0, 0.1), "Fe": (1.5, 0.2)}
R2 = {TRAINED: (0.64, 0.17, 0.17, 0.73), CONTROL: (-4.26, -3.15, -3.0, -2.33), OTHER: None}


def _map(n: int, *, umap: bool) -> dict[str, Any]:
    pca = {"x": [float(i) for i in range(n)], "y": [float(i % 3) for i in range(n)]}
    return {
        "pca": pca,
        "umap": {"x": pca["y"], "y": pca["x"]} if umap else None,
        "phate": None,
        "points": [
            {"structure_id": SID[f], "formula": f, "variant": "scale_1.00", "elements": [f]}
            for f in FORMULAS[:n]
        ],
    }


def _probes() -> dict[str, Any]:
    r2: dict[str, Any] = {}
    for model, values in R2.items():
        r2[model] = {
            t: None if values is None else {"mean": v, "std": 0.05, "n": 6}
            for t, v in zip(TARGETS, values or [None] * len(TARGETS), strict=True)
        }
    twin_r2 = R2[CONTROL]
    assert twin_r2 is not None
    gain = {
        TRAINED: {t: v - c for t, v, c in zip(TARGETS, R2[TRAINED] or (), twin_r2, strict=True)},
        CONTROL: dict.fromkeys(TARGETS),
        OTHER: dict.fromkeys(TARGETS),
    }
    return {
        "targets": list(TARGETS),
        "folds": "5 folds of whole base structures",
        "r2": r2,
        "random_twin": {TRAINED: CONTROL, CONTROL: None, OTHER: None},
        "gain": gain,
    }


def summary_body() -> dict[str, Any]:
    """Three models (one a control); the trained model's map, atlas and novelty on six
    structures; CKA in clustering order."""
    return {
        "version": 1,
        "computed_at": "2026-12-05T12:00:00+00:00",
        "n_runs": 14,
        "models": [
            {
                "id": str(uuid.UUID(int=100 + i)),
                "name": name,
                "width": 64,
                "n_structures": 6,
                "n_rows": 42,
                "control": name == CONTROL,
            }
            for i, name in enumerate(MODELS)
        ],
        "probes": _probes(),
        "cka": {
            "models": list(CKA_ORDER),
            "matrix": [list(row) for row in CKA],
            "n_common": 42,
            "order": "average-linkage on 1-CKA",
        },
        "maps": {
            TRAINED: _map(6, umap=True),
            CONTROL: _map(6, umap=False),
            OTHER: _map(4, umap=False),
        },
        # structure space: the same structures, SOAP coordinates of their own (no variants)
        "structure_map": {
            "pca": {"x": [10.0, 11.0, 12.0, 13.0, 14.0, 15.0], "y": [0.0] * 6},
            "umap": None,
            "phate": None,
            "points": [{"structure_id": SID[f], "formula": f} for f in FORMULAS[:6]],
            "descriptor": {"r_cut_a": 5.0, "compression": "crossover"},
        },
        "atlas": {
            TRAINED: [
                {
                    "structure_id": SID[f],
                    "formula": f,
                    "mean_abs_rel_error": ERRORS[f],
                    "failures": [{"benchmark": b, "failure_class": c} for b, c in failures],
                    "flags": FLAGS.get(f, []),
                }
                for f, failures in FAILURES.items()
            ]
        },
        "novelty": {
            TRAINED: {
                "points": [
                    {"structure_id": SID[f], "formula": f, "novelty": n, "error": e}
                    for f, (n, e) in NOVELTY.items()
                ],
                "spearman": 1.0,
                "n": len(NOVELTY),
                "reference": "benchmark structures",
            }
        },
    }
