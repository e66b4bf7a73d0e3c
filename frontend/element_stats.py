"""Per-element numbers for the periodic-table maps, from the API's run lists (pure: no HTTP)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from backend.schemas.models import ModelRead
from backend.schemas.runs import RunSummary

#: Fewer elements than this give no rank correlation worth printing.
MIN_ELEMENTS_FOR_RHO = 3


def training_counts(model: ModelRead) -> dict[str, int]:
    """Training structures containing each element: the platform's own count of the uploaded
    training set when there is one, else the counts on the model card (summed over sets)."""
    if model.training_element_counts:
        return dict(model.training_element_counts)
    counts: dict[str, int] = defaultdict(int)
    for data in model.card.get("training_data") or []:
        for symbol, n in (data.get("element_counts") or {}).items():
            counts[symbol] += int(n)
    return dict(counts)


def training_sources(model: ModelRead) -> list[str]:
    """Where the training counts come from, one line per source, to cite under the map."""
    if model.training_element_counts:
        return ["counted by the platform from the uploaded training set"]
    lines = []
    for data in model.card.get("training_data") or []:
        if data.get("element_counts"):
            where = data.get("url") or data.get("description") or "the model card"
            lines.append(f"{data.get('name', 'training set')}: {where}")
    return lines


def listed_elements(model: ModelRead) -> tuple[list[str], list[str]]:
    """Elements of the training sets that list them without counts (as ANI-1x's card does), and
    where each list comes from (``name: url``), one line per set."""
    elements: set[str] = set()
    sources = []
    for data in model.card.get("training_data") or []:
        if data.get("elements") and not data.get("element_counts"):
            elements.update(data["elements"])
            where = data.get("url") or data.get("description") or "the model card"
            sources.append(f"{data.get('name', 'training set')}: {where}")
    return sorted(elements), sources


@dataclass(frozen=True, slots=True)
class CountErrorComparison:
    """Per-element mean |error| beside the training count, ordered by count, and Spearman's
    rank correlation of the two (``rho`` is None when it is undefined: fewer than
    ``MIN_ELEMENTS_FOR_RHO`` elements, or all counts or all errors equal)."""

    symbols: tuple[str, ...]
    counts: tuple[int, ...]
    errors: tuple[float, ...]
    rho: float | None
    p_value: float | None

    @property
    def n(self) -> int:
        return len(self.symbols)


def compare_counts_and_errors(
    counts: Mapping[str, int], errors: Mapping[str, float]
) -> CountErrorComparison:
    """Pair each element's training count (> 0) with its mean |error| (finite) and rank-correlate
    the error with log10(count); the rank correlation is the same for the count itself."""
    symbols = sorted(
        (s for s in counts.keys() & errors.keys() if counts[s] > 0 and math.isfinite(errors[s])),
        key=lambda s: (counts[s], s),
    )
    n = [int(counts[s]) for s in symbols]
    err = [float(errors[s]) for s in symbols]
    rho = p_value = None
    if len(symbols) >= MIN_ELEMENTS_FOR_RHO and len(set(n)) > 1 and len(set(err)) > 1:
        result = spearmanr(np.log10(n), err)
        rho, p_value = float(result.statistic), float(result.pvalue)
    return CountErrorComparison(tuple(symbols), tuple(n), tuple(err), rho, p_value)


#: The structures whose runs feed the per-element numbers (the element page's "structures"
#: control): value -> (label of the choice, what a hover or title calls one, and several).
STRUCTURE_KINDS: dict[str, tuple[str, str, str]] = {
    "all": ("all structures", "structure", "structures"),
    "elements": ("elemental crystals (one element)", "elemental structure", "elemental structures"),
    "compounds": ("compounds (two or more elements)", "compound", "compounds"),
}
ALL_STRUCTURES = "all"


def structure_kind(value: str | None) -> str:
    """``value`` if it is one of ``STRUCTURE_KINDS``, else ``"all"`` (e.g. from a bad URL)."""
    return value if value in STRUCTURE_KINDS else ALL_STRUCTURES


def of_kind(runs: Iterable[RunSummary], kind: str) -> list[RunSummary]:
    """The runs on structures of ``kind``, told by the number of distinct elements in the
    run's structure: ``"elements"`` one, ``"compounds"`` two or more, ``"all"`` any."""
    if kind == "elements":
        return [r for r in runs if len(set(r.elements)) == 1]
    if kind == "compounds":
        return [r for r in runs if len(set(r.elements)) >= 2]
    return list(runs)


def counted(n: int, kind: str) -> str:
    """``n`` structures of ``kind`` in words: "1 compound", "3 elemental structures"."""
    _, one, several = STRUCTURE_KINDS[structure_kind(kind)]
    return f"{n} {one if n == 1 else several}"


def over(kind: str) -> str:
    """What the numbers are over, for a title: "" for every structure, else " over compounds"."""
    kind = structure_kind(kind)
    return "" if kind == ALL_STRUCTURES else f" over {STRUCTURE_KINDS[kind][2]}"


def coverage(
    runs: Iterable[RunSummary], kind: str = ALL_STRUCTURES
) -> tuple[dict[str, int], dict[str, str]]:
    """Succeeded runs per element on structures of ``kind``, and a hover line per element
    (succeeded, failed, benchmarks)."""
    ok: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    benchmarks: dict[str, set[str]] = defaultdict(set)
    for run in of_kind(runs, kind):
        for symbol in set(run.elements):
            benchmarks[symbol].add(run.benchmark_key)
            if run.status == "succeeded":
                ok[symbol] += 1
            elif run.status == "failed":
                failed[symbol] += 1
    on = "" if structure_kind(kind) == ALL_STRUCTURES else f" on {STRUCTURE_KINDS[kind][2]}"
    details = {
        s: f"succeeded {ok[s]}, failed {failed[s]}{on}<br>benchmarks: {', '.join(sorted(b))}"
        for s, b in benchmarks.items()
    }
    return {s: ok[s] for s in benchmarks}, details


def element_errors(
    runs: Iterable[RunSummary], benchmark: str, metric: str, kind: str = ALL_STRUCTURES
) -> tuple[dict[str, float], dict[str, str], str]:
    """Mean |model - reference| of ``metric`` per element over the runs of ``benchmark`` on
    structures of ``kind`` (see ``of_kind``) that hold the element; hover lines ("mean over
    2 compounds containing O"); and the metric's unit.

    A structure's error counts once for each element it holds, so a compound's error is
    averaged into every one of its elements."""
    errors: dict[str, list[float]] = defaultdict(list)
    unit = ""
    for run in of_kind(runs, kind):
        if run.benchmark_key != benchmark or run.metrics is None:
            continue
        for m in run.metrics:
            if m.name == metric and m.error is not None:
                unit = m.unit
                for symbol in set(run.elements):
                    errors[symbol].append(abs(m.error))
    means = {s: sum(v) / len(v) for s, v in errors.items()}
    details = {s: f"mean over {counted(len(v), kind)} containing {s}" for s, v in errors.items()}
    return means, details, unit


def difference(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    """``a - b`` on the elements both have."""
    return {s: a[s] - b[s] for s in a.keys() & b.keys()}


def opening_model(runs: Sequence[Any], models: Sequence[ModelRead], benchmark: str) -> str | None:
    """Of the models whose training counts are known and vary between elements, the one with
    the most succeeded ``benchmark`` runs (so the four maps and the error-count scatter all
    hold data); failing that, the model with the most succeeded runs; None without runs
    (ties: the newest run)."""
    # counts that vary: a fit to one structure per element (the baselines) plots one column
    counted = {str(m.id) for m in models if len(set(training_counts(m).values())) > 1}
    on_metric = Counter(
        str(r.mlip_model_id)
        for r in runs
        if r.benchmark_key == benchmark and str(r.mlip_model_id) in counted
    )
    if on_metric:
        return on_metric.most_common(1)[0][0]
    every = Counter(str(r.mlip_model_id) for r in runs)
    return every.most_common(1)[0][0] if every else None
