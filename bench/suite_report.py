"""Summary and Markdown tables of a suite campaign (see bench.suite_campaign): pure functions
of the per-run records, so a report can be rebuilt from the JSON alone."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

FINISHED = ("succeeded", "failed", "skipped", "cancelled")


def summarize(runs: list[dict[str, Any]], *, wall_s: float, cancelled: list[str]) -> dict[str, Any]:
    """Per (model, benchmark): outcomes, headline metric against its reference, flags, times."""
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in sorted(runs, key=lambda r: (r["model"], r["benchmark"], r["material"])):
        cells.setdefault((run["model"], run["benchmark"]), []).append(run)
    return {
        "wall_s": round(wall_s, 1),
        "cancelled_campaigns": cancelled,
        "by_status": dict(Counter(r["status"] for r in runs)),
        "cells": [_cell(model, key, group) for (model, key), group in cells.items()],
        "runs": runs,
    }


def _cell(model: str, key: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    headline = runs[0]["headline"][0] if runs[0]["headline"] else None
    values = [r["metrics"][headline] for r in runs if headline in r["metrics"]]
    compared = [v for v in values if v["rel_error"] is not None]
    timed = [r["wall_s"] for r in runs if r["wall_s"] is not None and r["status"] != "skipped"]
    return {
        "model": model,
        "benchmark": key,
        "version": runs[0]["version"],
        "n_runs": len(runs),
        "status": dict(Counter(r["status"] for r in runs)),
        "failure_classes": dict(
            Counter(r["failure_class"] for r in runs if r["status"] in ("failed", "cancelled"))
        ),
        "flags": dict(Counter(f for r in runs for f in r["flags"])),
        "headline": headline,
        "unit": values[0]["unit"] if values else None,
        "n_values": len(values),
        "mean_value": statistics.fmean(v["value"] for v in values) if values else None,
        "n_compared": len(compared),
        "level_of_theory": compared[0]["level_of_theory"] if compared else None,
        "mean_rel_error": statistics.fmean(v["rel_error"] for v in compared) if compared else None,
        "mape_percent": 100 * statistics.fmean(abs(v["rel_error"]) for v in compared)
        if compared
        else None,
        "wall_s_per_structure_mean": statistics.fmean(timed) if timed else None,
        "wall_s_per_structure_max": max(timed) if timed else None,
    }


def _unit(unit: str | None) -> str:
    return "" if unit in (None, "1") else f" {unit}"  # "1": dimensionless


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}"


def markdown_report(report: dict[str, Any]) -> str:
    """The campaign as Markdown: headline table, per-structure table, wall-time matrix."""
    lines = [
        "# Benchmark suite campaign",
        "",
        f"Wall time {report['wall_s']:.0f} s; runs by status: {report['by_status']}.",
    ]
    if report["cancelled_campaigns"]:
        lines.append(f"Budget spent: cancelled {', '.join(report['cancelled_campaigns'])}.")
    lines += ["", *(f"- {note}" for note in report.get("notes", []))]  # added by the operator
    lines += ["", "## Model x benchmark: headline metric", "",
              "| model | benchmark | runs (ok/fail/skip/other) | headline | mean value "
              "| vs reference "
              "(mean signed rel. error; MAPE; n) | flags raised | failure classes | wall s per "
              "structure (mean / max) |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in report["cells"]:
        status = c["status"]
        other = c["n_runs"] - sum(status.get(s, 0) for s in ("succeeded", "failed", "skipped"))
        counts = f"{status.get('succeeded', 0)}/{status.get('failed', 0)}/"
        counts += f"{status.get('skipped', 0)}/{other}"
        versus = "-"
        if c["n_compared"]:
            versus = (
                f"{100 * c['mean_rel_error']:+.1f} %; {c['mape_percent']:.1f} %; "
                f"{c['n_compared']} ({c['level_of_theory']})"
            )
        flags = ", ".join(f"{k.removeprefix('flag_')} x{n}" for k, n in c["flags"].items())
        failures = ", ".join(f"{k} x{n}" for k, n in c["failure_classes"].items())
        timing = f"{_num(c['wall_s_per_structure_mean'])} / {_num(c['wall_s_per_structure_max'])}"
        lines.append(
            f"| {c['model']} | {c['benchmark']} {c['version']} | {counts} | {c['headline']} | "
            f"{_num(c['mean_value'])}{_unit(c['unit'])} | {versus} | {flags or '-'} | "
            f"{failures or '-'} | {timing} |"
        )
    lines += ["", *_per_structure(report["runs"]), "", *_time_matrix(report["cells"])]
    return "\n".join(lines) + "\n"


def _per_structure(runs: list[dict[str, Any]]) -> list[str]:
    lines = ["## Per structure", "",
             "| model | benchmark | structure | status | headline value | reference | error "
             "(rel.) | flags | wall s |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    skipped: dict[tuple[str, str], list[str]] = {}
    for r in sorted(runs, key=lambda r: (r["benchmark"], r["model"], r["material"])):
        if r["status"] == "skipped":
            skipped.setdefault((r["model"], r["benchmark"]), []).append(r["material"])
            continue
        name = r["headline"][0] if r["headline"] else None
        v = r["metrics"].get(name) if name else None
        status = r["status"] + (f" ({r['failure_class']})" if r["failure_class"] else "")
        value = f"{_num(v['value'], 4)}{_unit(v['unit'])}" if v else "-"
        ref = _num(v["reference"], 4) if v else "-"
        err = "-"
        if v and v["error"] is not None:
            rel = f" ({100 * v['rel_error']:+.1f} %)" if v["rel_error"] is not None else ""
            err = f"{_num(v['error'], 3)}{rel}"
        flags = ", ".join(f.removeprefix("flag_") for f in r["flags"]) or "-"
        lines.append(
            f"| {r['model']} | {r['benchmark']} | {r['material']} | {status} | {value} | {ref} | "
            f"{err} | {flags} | {_num(r['wall_s'])} |"
        )
    if skipped:
        lines += ["", "Skipped (elements outside the model): " + "; ".join(
            f"{model} {key}: {', '.join(materials)}" for (model, key), materials in skipped.items()
        )]  # fmt: skip
    return lines


def _time_matrix(cells: list[dict[str, Any]]) -> list[str]:
    models = sorted({c["model"] for c in cells})
    keys = sorted({c["benchmark"] for c in cells})
    by = {(c["model"], c["benchmark"]): c["wall_s_per_structure_mean"] for c in cells}
    lines = ["## Mean wall time per structure (s)", "",
             "| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]  # fmt: skip
    for model in models:
        lines.append(f"| {model} | " + " | ".join(_num(by.get((model, k))) for k in keys) + " |")
    return lines
