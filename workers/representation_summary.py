"""What every model's latent space encodes, across runs: probes, CKA, maps, novelty and atlas.

A pure function of the pooled embeddings the ``representation`` benchmark stored (each run's
projection ``pooled_embeddings``: one row per strained or sheared variant of one structure)
and of each model's outcomes on the other benchmarks. It returns the JSON body the API serves
as is (``GET /representations``) and the dashboard's Representations page draws.

Measured (bench/results/representations.md): with plain K-fold, a linear probe reads anything
fixed per structure (element group, electronegativity) from any embedding that tells the
structures apart, a random-weight model's included, because test rows have copies of their
structure in training. So every probe here holds out whole structures (5 folds of whole base
structures, averaged over 10 seeded splits), and volume strain is probed *within* structure
(features and target less their structure's mean), where recognising the structure is worth
nothing.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
from ase import Atoms

from workers.benchmarks._landscape_map import MAP_METHODS, standardize
from workers.representation_maps import projections, structure_map
from workers.representations import linear_cka, linear_probe_r2

VERSION = 1
CHEMISTRY = ("electronegativity", "group", "period")
TARGETS = (*CHEMISTRY, "volume_strain")
#: A probe needs this many structures, and CKA this many common (structure, variant) rows.
MIN_STRUCTURES = 6
MAX_FOLDS = 5
#: Group splits each probe is averaged over (one split of ~30 structures swings R² by ~0.5).
PROBE_SPLITS = 10
NOVELTY_K = 3
MIN_SPEARMAN_POINTS = 5
FOLDS = "5 folds of whole base structures, averaged over 10 seeded splits"
CKA_ORDER = "average-linkage on 1-CKA"


class EmbeddingRow(NamedTuple):
    """One latest succeeded ``representation`` run of a model on a structure.

    ``data`` is its ``pooled_embeddings`` projection data (``features`` variants x D,
    ``variants``, ``targets``, ``chemistry``, ``elements``); ``family`` and ``control`` (a
    random-weight control of that family's architecture) pair a model with its random twin.
    """

    model: str
    model_id: str
    structure_id: str
    formula: str
    run_id: str
    data: Mapping[str, Any]
    family: str = ""
    control: bool = False


class StructureOutcome(NamedTuple):
    """A model's latest run of another benchmark on a structure: its status, failure class,
    raised flags, and the mean |relative error| (1) of its reference-compared metrics."""

    model_id: str
    structure_id: str
    benchmark: str
    status: str
    failure_class: str | None
    flags: Sequence[str]
    abs_rel_error: float | None


@dataclass(frozen=True, slots=True)
class _Structure:
    structure_id: str
    formula: str
    elements: list[str]
    chemistry: dict[str, float | None]
    features: np.ndarray  # (variants, D)
    volume_strain: np.ndarray  # (variants,)
    variants: list[str]
    ref: int  # the unstrained, unsheared variant


@dataclass(frozen=True, slots=True)
class _Model:
    name: str
    model_id: str
    family: str
    control: bool
    structures: list[_Structure]

    def ref_features(self) -> np.ndarray:
        return np.stack([s.features[s.ref] for s in self.structures])


def summarize(
    rows: Sequence[EmbeddingRow],
    errors: Sequence[StructureOutcome],
    *,
    seed: int = 0,
    map_methods: Sequence[str] = MAP_METHODS,
    structures: Mapping[str, Atoms] | None = None,
) -> dict[str, Any]:
    """The cross-run summary body (see the module docstring and docs/representations.md).

    Parameters
    ----------
    rows
        Every model's latest ``pooled_embeddings`` per structure; one model per name.
    errors
        The models' outcomes on the other benchmarks, per structure.
    seed
        Seed of UMAP and PHATE.
    map_methods
        Projections to draw, of ``pca``, ``umap``, ``phate`` (the last two only when installed
        and for at least ``representation_maps.MIN_MAP_POINTS`` structures); the others are null.
    structures
        The input structures by id, for the model-agnostic SOAP ``structure_map`` (null
        without them, or without dscribe).

    Returns
    -------
    dict
        JSON-ready: finite floats or null only.
    """
    models = _models(rows)
    atlas = {m.name: _atlas(m, errors) for m in models}
    twins = {m.name: _twin(m, models) for m in models}
    r2 = {m.name: {t: _probe(m, t) for t in TARGETS} for m in models}
    return {
        "version": VERSION,
        "computed_at": datetime.now(UTC).isoformat(),
        "n_runs": len({r.run_id for r in rows}),
        "models": [_model_entry(m) for m in models],
        "probes": {
            "targets": list(TARGETS),
            "folds": FOLDS,
            "r2": r2,
            "random_twin": twins,
            "gain": {name: _gain(r2, name, twin) for name, twin in twins.items()},
        },
        "cka": _cka(models),
        "maps": {m.name: _maps(m, map_methods, seed) for m in models},
        "structure_map": structure_map(
            structures, {r.structure_id: r.formula for r in rows}, map_methods, seed
        ),
        "atlas": atlas,
        "novelty": {m.name: _novelty(m, atlas[m.name]) for m in models},
    }


def _models(rows: Sequence[EmbeddingRow]) -> list[_Model]:
    by_name: dict[str, list[EmbeddingRow]] = defaultdict(list)
    for row in rows:
        by_name[row.model].append(row)
    models = []
    for name in sorted(by_name):
        first = by_name[name][0]
        parsed: dict[str, _Structure] = {}
        for row in by_name[name]:
            structure = _structure(row)
            if structure is not None and row.structure_id not in parsed:
                parsed[row.structure_id] = structure
        # one width per model: a row of another width (a stray version) cannot be compared
        widths = Counter(s.features.shape[1] for s in parsed.values())
        if widths:
            width = widths.most_common(1)[0][0]
            kept = [parsed[k] for k in sorted(parsed) if parsed[k].features.shape[1] == width]
            models.append(_Model(name, first.model_id, first.family, first.control, kept))
    return models


def _structure(row: EmbeddingRow) -> _Structure | None:
    data = row.data
    features = np.asarray(data.get("features") or [], dtype=float)
    targets = data.get("targets") or {}
    strain = np.asarray(targets.get("volume_strain") or [], dtype=float)
    if features.ndim != 2 or 0 in features.shape or strain.shape != (len(features),):
        return None
    if not (np.isfinite(features).all() and np.isfinite(strain).all()):
        return None
    shear = np.asarray(targets.get("shear") or np.zeros(len(features)), dtype=float)
    unsheared = [i for i in range(len(features)) if i >= len(shear) or abs(shear[i]) < 1e-12]
    ref = min(unsheared or range(len(features)), key=lambda i: abs(strain[i]))
    chemistry = data.get("chemistry") or {}
    variants = [str(v) for v in data.get("variants") or range(len(features))]
    return _Structure(
        structure_id=row.structure_id,
        formula=row.formula,
        elements=[str(e) for e in data.get("elements") or []],
        chemistry={t: _finite(chemistry.get(t)) for t in CHEMISTRY},
        features=features,
        volume_strain=strain,
        variants=variants,
        ref=ref,
    )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _model_entry(model: _Model) -> dict[str, Any]:
    return {
        "id": model.model_id,
        "name": model.name,
        "width": int(model.structures[0].features.shape[1]),
        "n_structures": len(model.structures),
        "n_rows": sum(len(s.variants) for s in model.structures),
        "control": model.control,
    }


def _probe(model: _Model, target: str) -> dict[str, Any] | None:
    """Grouped-fold R² (whole structures held out) of ``target``; None when untestable."""
    if target == "volume_strain":
        varied = [s for s in model.structures if len(s.variants) > 1]
        n_groups, folds = len(varied), min(MAX_FOLDS, len(varied))
        if n_groups < MIN_STRUCTURES:
            return None
        x = np.vstack([s.features - s.features.mean(axis=0) for s in varied])
        y = np.concatenate([s.volume_strain - s.volume_strain.mean() for s in varied])
        groups = [_group(s) for s in varied for _ in s.variants]
    else:
        known = [s for s in model.structures if s.chemistry[target] is not None]
        # one row per structure: test folds of two rows at least (R² of one row is undefined)
        n_groups, folds = len(known), min(MAX_FOLDS, len(known) // 2)
        if n_groups < MIN_STRUCTURES:
            return None
        x = np.stack([s.features[s.ref] for s in known])
        y = np.array([s.chemistry[target] for s in known], dtype=float)
        groups = [_group(s) for s in known]
    if np.ptp(y) <= 1e-12 * max(float(np.abs(y).max()), 1.0):
        return None
    found = linear_probe_r2(x, y, folds=folds, groups=groups, repeats=PROBE_SPLITS)
    mean, std = _finite(found.r2_mean), _finite(found.r2_std)
    return None if mean is None else {"mean": mean, "std": std, "n": found.n}


def _group(structure: _Structure) -> str:
    """A structure's group label, sorting by formula first, so that the folds are the same
    in every database (structure ids are random)."""
    return f"{structure.formula}|{structure.structure_id}"


def _twin(model: _Model, models: list[_Model]) -> str | None:
    """The random-weight control of the model's architecture (same family), if one ran."""
    if model.control:
        return None
    twins = [m.name for m in models if m.control and m.family and m.family == model.family]
    return twins[0] if twins else None


def _gain(
    r2: dict[str, dict[str, dict[str, Any] | None]], name: str, twin: str | None
) -> dict[str, float | None]:
    gains: dict[str, float | None] = {}
    for target in TARGETS:
        mine, theirs = r2[name][target], r2[twin][target] if twin else None
        gains[target] = None if mine is None or theirs is None else mine["mean"] - theirs["mean"]
    return gains


def _cka(models: list[_Model]) -> dict[str, Any]:
    """Linear CKA on the (structure, variant) rows every included model has."""
    keyed = {m.name: _rows_by_key(m) for m in models}
    chosen: list[str] = []
    common: set[tuple[str, str]] = set()
    # the models with the most rows first; one that would leave too few common rows is left out
    for name in sorted(keyed, key=lambda n: (-len(keyed[n]), n)):
        trial = set(keyed[name]) if not chosen else common & set(keyed[name])
        features = np.stack([keyed[name][k] for k in sorted(trial)]) if trial else None
        if len(trial) >= MIN_STRUCTURES and features is not None and np.ptp(features) > 0:
            chosen.append(name)
            common = trial
    names = sorted(chosen)
    keys = sorted(common)
    stacked = {n: np.stack([keyed[n][k] for k in keys]) for n in names}
    matrix = np.eye(len(names))
    for i, first in enumerate(names):
        for j in range(i + 1, len(names)):
            matrix[i, j] = matrix[j, i] = linear_cka(stacked[first], stacked[names[j]])
    order = _cluster_order(matrix)
    return {
        "models": [names[i] for i in order],
        "matrix": [[float(matrix[i, j]) for j in order] for i in order],
        "n_common": len(keys) if names else 0,
        "order": CKA_ORDER,
    }


def _rows_by_key(model: _Model) -> dict[tuple[str, str], np.ndarray]:
    return {
        (s.structure_id, variant): s.features[i]
        for s in model.structures
        for i, variant in enumerate(s.variants)
    }


def _cluster_order(similarity: np.ndarray) -> list[int]:
    """Leaf order of scipy's average linkage on 1 - similarity (similar models adjacent)."""
    if len(similarity) < 3:
        return list(range(len(similarity)))
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    distance = np.clip(1.0 - similarity, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return [int(i) for i in leaves_list(tree)]


def _maps(model: _Model, methods: Sequence[str], seed: int) -> dict[str, Any]:
    """2-D maps of the unstrained variant of each structure (one point per structure)."""
    entry = projections(standardize(model.ref_features()), methods, seed)
    entry["points"] = [
        {
            "structure_id": s.structure_id,
            "formula": s.formula,
            "variant": s.variants[s.ref],
            "elements": s.elements,
            **s.chemistry,
        }
        for s in model.structures
    ]
    return entry


def _atlas(model: _Model, outcomes: Sequence[StructureOutcome]) -> list[dict[str, Any]]:
    """Per structure on the model's map: its mean error, failures and flags elsewhere."""
    mine: dict[str, list[StructureOutcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.model_id == model.model_id and outcome.benchmark != "representation":
            mine[outcome.structure_id].append(outcome)
    entries = []
    for s in model.structures:
        found = mine.get(s.structure_id, [])
        errors = [e for o in found if (e := _finite(o.abs_rel_error)) is not None]
        entries.append(
            {
                "structure_id": s.structure_id,
                "formula": s.formula,
                "mean_abs_rel_error": float(np.mean(errors)) if errors else None,
                "failures": [
                    {"benchmark": o.benchmark, "failure_class": o.failure_class}
                    for o in sorted(found, key=lambda o: o.benchmark)
                    if o.status == "failed"
                ],
                "flags": sorted({f for o in found for f in o.flags}),
            }
        )
    return entries


def _novelty(model: _Model, atlas: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean standardized distance of each structure to its k nearest other structures of the
    model's rows, against the model's error on that structure (Spearman rho)."""
    features = standardize(model.ref_features())
    n = len(features)
    if n > 1:
        distance = np.linalg.norm(features[:, None, :] - features[None, :, :], axis=-1)
        np.fill_diagonal(distance, np.inf)
        novelty = np.sort(distance, axis=1)[:, : min(NOVELTY_K, n - 1)].mean(axis=1)
    else:
        novelty = np.full(n, np.nan)
    points = [
        {
            "structure_id": s.structure_id,
            "formula": s.formula,
            "novelty": _finite(novelty[i]),
            "error": entry["mean_abs_rel_error"],
        }
        for i, (s, entry) in enumerate(zip(model.structures, atlas, strict=True))
    ]
    paired = [(p["novelty"], p["error"]) for p in points if None not in (p["novelty"], p["error"])]
    rho = None
    if len(paired) >= MIN_SPEARMAN_POINTS:
        from scipy.stats import spearmanr

        rho = _finite(spearmanr(*zip(*paired, strict=True)).statistic)
    return {
        "points": points,
        "spearman": rho,
        "n": len(paired),
        "reference": "benchmark structures",
    }
