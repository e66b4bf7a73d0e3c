"""Per-element numbers for the periodic-table maps, from the API's run lists (pure: no HTTP)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from backend.schemas.models import ModelRead
from backend.schemas.runs import RunSummary


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


def coverage(runs: Iterable[RunSummary]) -> tuple[dict[str, int], dict[str, str]]:
    """Succeeded runs per element, and a hover line per element (succeeded, failed, benchmarks)."""
    ok: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    benchmarks: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        for symbol in run.elements:
            benchmarks[symbol].add(run.benchmark_key)
            if run.status == "succeeded":
                ok[symbol] += 1
            elif run.status == "failed":
                failed[symbol] += 1
    details = {
        s: f"succeeded {ok[s]}, failed {failed[s]}<br>benchmarks: {', '.join(sorted(b))}"
        for s, b in benchmarks.items()
    }
    return {s: ok[s] for s in benchmarks}, details


def element_errors(
    runs: Iterable[RunSummary], benchmark: str, metric: str
) -> tuple[dict[str, float], dict[str, str], str]:
    """Mean |model - reference| of ``metric`` per element over the runs of ``benchmark`` whose
    structure holds the element; hover lines; and the metric's unit."""
    errors: dict[str, list[float]] = defaultdict(list)
    unit = ""
    for run in runs:
        if run.benchmark_key != benchmark or run.metrics is None:
            continue
        for m in run.metrics:
            if m.name == metric and m.error is not None:
                unit = m.unit
                for symbol in run.elements:
                    errors[symbol].append(abs(m.error))
    means = {s: sum(v) / len(v) for s, v in errors.items()}
    details = {s: f"mean over {len(v)} structure(s)" for s, v in errors.items()}
    return means, details, unit


def difference(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    """``a - b`` on the elements both have."""
    return {s: a[s] - b[s] for s in a.keys() & b.keys()}
