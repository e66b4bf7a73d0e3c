"""Summary and Markdown tables of a solids campaign (see bench.solids_campaign): pure functions
of the per-run records, so a report can be rebuilt from the JSON alone.

A run record is what ``bench.suite_campaign._run_record`` writes (model, benchmark, material,
status, failure class, wall time, headline metrics with reference and signed error, raised
flags) plus ``label``, ``elements`` (the structure's distinct elements) and ``fitted_to`` (the
metrics the model was fitted to: a fitted baseline's MAE on them is no test). The MAEs read what
the board reads: succeeded runs without a quality flag, metrics compared with a reference of
level ``experiment``; their 95 % intervals are the board's own bootstrap
(``backend.domain.ranking.mean_intervals``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any, NamedTuple

from backend.domain import ranking

LEVEL = "experiment"
GROUPS = ("elements", "compounds")
#: Statuses of runs that ran to an outcome of their own (not skipped at launch, not cancelled).
RAN = ("succeeded", "failed")
UNSTABLE = "dynamically_unstable"


class Quantity(NamedTuple):
    """A reported quantity: one headline metric of one benchmark."""

    label: str
    benchmark: str
    metric: str
    unit: str


QUANTITIES = (
    Quantity("V0 (eos)", "eos", "volume_per_atom", "Å³/atom"),
    Quantity("B0 (eos)", "eos", "bulk_modulus", "GPa"),
    Quantity("E_coh (cohesive)", "cohesive", "cohesive_energy", "eV/atom"),
    Quantity("θ_D (phonons)", "phonons", "debye_temperature", "K"),
    Quantity("a (relax)", "relax", "lattice_constant_a", "Å"),
    Quantity("V (relax)", "relax", "volume_per_atom", "Å³/atom"),
    Quantity("B_VRH (elastic)", "elastic", "bulk_modulus", "GPa"),
)


def group_of(run: dict[str, Any]) -> str:
    """'elements' for a structure of one element, 'compounds' otherwise."""
    return "elements" if len(set(run["elements"])) == 1 else "compounds"


def compared(run: dict[str, Any], metric: str) -> dict[str, Any] | None:
    """The run's value of ``metric`` if the board scores it: a succeeded, unflagged run and a
    metric compared with an experimental reference (relative error filled in if missing)."""
    if run["status"] != "succeeded" or run["flags"]:
        return None
    value = run["metrics"].get(metric)
    if value is None or value["level_of_theory"] != LEVEL or value["error"] is None:
        return None
    rel = value["rel_error"]
    if rel is None and value["reference"]:
        rel = value["error"] / abs(value["reference"])
    return {**value, "rel_error": rel}


def summarize(
    runs: list[dict[str, Any]], *, wall_s: float, cancelled: list[str], plan: dict[str, Any]
) -> dict[str, Any]:
    """MAEs per model, quantity and group; phonon stability; outcomes; median wall times."""
    runs = sorted(runs, key=lambda r: (r["model"], r["benchmark"], r["label"]))
    models = sorted({r["model"] for r in runs})
    return {
        "wall_s": round(wall_s, 1),
        "cancelled_campaigns": cancelled,
        "plan": plan,
        "by_status": dict(Counter(r["status"] for r in runs)),
        "failure_classes": dict(Counter(r["failure_class"] for r in runs if r["failure_class"])),
        "mae": mae_table(runs, models),
        "phonon_stability": phonon_stability(runs),
        "outcomes": outcomes(runs),
        "median_wall_s": median_wall(runs),
        "runs": runs,
    }


def mae_table(runs: list[dict[str, Any]], models: list[str]) -> list[dict[str, Any]]:
    """One row per model, quantity and group (n 0 where nothing was scored): MAE in the
    metric's unit with its 95 % bootstrap interval, mean signed error, MAPE, flagged runs."""
    keys = [(m, q, g) for m in models for q in QUANTITIES for g in GROUPS]
    found: dict[tuple[str, Quantity, str], list[dict[str, Any]]] = {k: [] for k in keys}
    flagged: Counter[tuple[str, Quantity, str]] = Counter()
    fitted = {(r["model"], name) for r in runs for name in r.get("fitted_to", ())}
    for run in runs:
        for q in QUANTITIES:
            if q.benchmark != run["benchmark"]:
                continue
            key = (run["model"], q, group_of(run))
            value = compared(run, q.metric)
            if value is not None:
                found[key].append({**value, "material": run["material"]})
            elif run["status"] == "succeeded" and run["flags"]:
                flagged[key] += 1
    errors = [[abs(v["error"]) for v in found[k]] for k in keys]
    intervals = ranking.mean_intervals(errors)
    rows = []
    for key, errs, interval in zip(keys, errors, intervals, strict=True):
        (model, q, group), values = key, found[key]
        rel = [abs(v["rel_error"]) for v in values if v["rel_error"] is not None]
        rows.append(
            {
                "model": model,
                "quantity": q.label,
                "benchmark": q.benchmark,
                "metric": q.metric,
                "unit": q.unit,
                "group": group,
                "n": len(errs),
                "mae": statistics.fmean(errs) if errs else None,
                "mae_interval": [interval.low, interval.high] if interval else None,
                "mean_signed_error": statistics.fmean(v["error"] for v in values)
                if values
                else None,
                "mape_percent": 100 * statistics.fmean(rel) if rel else None,
                "n_flagged_excluded": flagged[key],
                # the baselines' parameters are fitted per element: on compounds they predict
                "fitted": group == "elements" and (model, q.metric) in fitted,
                "materials": sorted(v["material"] for v in values),
            }
        )
    return rows


def phonon_stability(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model: phonon runs finished (succeeded or failed), those failed as dynamically
    unstable, and which structures."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run["benchmark"] != "phonons":
            continue
        cell = out.setdefault(run["model"], {"finished": 0, UNSTABLE: 0, "unstable_materials": []})
        cell["finished"] += run["status"] in RAN
        if run["status"] == "failed" and run["failure_class"] == UNSTABLE:
            cell[UNSTABLE] += 1
            cell["unstable_materials"].append(run["material"])
    return out


def outcomes(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and benchmark: runs by status and by failure class."""
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        cells.setdefault((run["model"], run["benchmark"]), []).append(run)
    return [
        {
            "model": model,
            "benchmark": key,
            "n_runs": len(group),
            "status": dict(Counter(r["status"] for r in group)),
            "failure_classes": dict(
                Counter(r["failure_class"] for r in group if r["failure_class"])
            ),
        }
        for (model, key), group in sorted(cells.items())
    ]


def median_wall(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """model -> benchmark -> median benchmark wall seconds per structure (runs that ran)."""
    times: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        if run["status"] in RAN and run["wall_s"] is not None:
            per = times.setdefault(run["model"], {})
            per.setdefault(run["benchmark"], []).append(run["wall_s"])
    return {
        model: {key: statistics.median(values) for key, values in sorted(per.items())}
        for model, per in sorted(times.items())
    }


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def markdown_report(report: dict[str, Any]) -> str:
    """The campaign as Markdown: MAE tables, phonon stability, outcomes, wall times."""
    plan = report["plan"]
    lines = [
        "# Solids campaign: elemental crystals and binary compounds",
        "",
        f"Wall time {report['wall_s']:.0f} s (budget {plan['budget_s']:.0f} s, "
        f"{plan['workers']} worker processes); rounds launched {plan['rounds_launched']} of "
        f"{plan['rounds_total']}; runs by status: {report['by_status']}; failure classes: "
        f"{report['failure_classes'] or '-'}.",
    ]
    if report["cancelled_campaigns"]:
        lines.append(f"Budget spent: cancelled {', '.join(report['cancelled_campaigns'])}.")
    lines += ["", f"Structures launched, in order: {', '.join(plan['launched']) or '-'}."]
    lines += ["", *(f"- {note}" for note in report.get("notes", []))]  # added by the operator
    lines += ["", *_mae_tables(report["mae"]), "", *_stability(report["phonon_stability"])]
    lines += ["", *_outcomes(report["outcomes"]), "", *_time_matrix(report["median_wall_s"])]
    lines += ["", *_failures(report["runs"])]
    return "\n".join(lines) + "\n"


def _mae_cell(row: dict[str, Any]) -> str:
    if not row["n"]:
        return "- (n 0)"
    low, high = row["mae_interval"]
    mape = f"; {row['mape_percent']:.1f} %" if row["mape_percent"] is not None else ""
    flagged = f"; {row['n_flagged_excluded']} flagged" if row["n_flagged_excluded"] else ""
    fitted = " fitted" if row["fitted"] else ""
    return f"{_num(row['mae'])} [{_num(low)}, {_num(high)}] (n {row['n']}{mape}{flagged}){fitted}"


def _mae_tables(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["## MAE against experiment, 95 % bootstrap interval",
             "",
             "Per quantity: MAE [interval] in the metric's unit (n scored; MAPE; flagged runs "
             "left out). Elements: structures of one element; compounds: the Sol58 binaries. "
             "*fitted*: the model was fitted to these experimental values (its card's "
             "fitted_to), so its MAE there measures the fit, not a prediction.",
             ]  # fmt: skip
    by = {(r["model"], r["quantity"], r["group"]): r for r in rows}
    models = sorted({r["model"] for r in rows})
    for q in QUANTITIES:
        lines += ["", f"### {q.label}: {q.metric} ({q.unit})", "",
                  "| model | elements | compounds |", "|---|---|---|"]  # fmt: skip
        for model in models:
            cells = [_mae_cell(by[(model, q.label, g)]) for g in GROUPS]
            lines.append(f"| {model} | {cells[0]} | {cells[1]} |")
    return lines


def _stability(cells: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["## Phonons: dynamically unstable", "",
             "| model | unstable / finished | unstable structures |", "|---|---|---|"]  # fmt: skip
    for model, c in sorted(cells.items()):
        which = ", ".join(c["unstable_materials"]) or "-"
        lines.append(f"| {model} | {c[UNSTABLE]} / {c['finished']} | {which} |")
    return lines


def _outcomes(cells: list[dict[str, Any]]) -> list[str]:
    lines = ["## Runs by status and failure class", "",
             "| model | benchmark | runs | succeeded | failed | skipped | cancelled | pending "
             "| failure classes |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in cells:
        s = c["status"]
        pending = s.get("queued", 0) + s.get("running", 0)
        failures = ", ".join(f"{k} x{n}" for k, n in sorted(c["failure_classes"].items()))
        lines.append(
            f"| {c['model']} | {c['benchmark']} | {c['n_runs']} | {s.get('succeeded', 0)} | "
            f"{s.get('failed', 0)} | {s.get('skipped', 0)} | {s.get('cancelled', 0)} | "
            f"{pending} | {failures or '-'} |"
        )
    return lines


def _time_matrix(medians: dict[str, dict[str, float]]) -> list[str]:
    keys = sorted({k for per in medians.values() for k in per})
    lines = ["## Median wall time per structure (s, runs that ran)", "",
             "| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]  # fmt: skip
    for model, per in sorted(medians.items()):
        lines.append(f"| {model} | " + " | ".join(_num(per.get(k)) for k in keys) + " |")
    return lines


def _failures(runs: list[dict[str, Any]]) -> list[str]:
    lines = ["## Failed runs", "", "| model | benchmark | structure | class | message |",
             "|---|---|---|---|---|"]  # fmt: skip
    for r in runs:
        if r["status"] == "failed":
            message = (r["failure_message"] or "-").replace("|", "/").replace("\n", " ")[:160]
            lines.append(
                f"| {r['model']} | {r['benchmark']} | {r['material']} | {r['failure_class']} | "
                f"{message} |"
            )
    return lines
