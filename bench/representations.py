"""What the packaged models' latent spaces encode, measured as the platform measures it (issue 20).

CHGNet-0.3.0, SevenNet-0, DIEP-r2SCAN and CHGNet-random-weights (the control: CHGNet 0.3.0's
architecture, random weights) on the demo's elemental crystals (``demo_plan.REPRESENTATION_
CRYSTALS``, the cells the database stores), and ANI-1x (H, C, N, O only) with the same four on
the S22 complexes and their distinct monomers: the registered ``representation`` benchmark at
default parameters on every structure, each call timed (wall, process CPU), then the
platform's ``summarize`` on the rows it stored. Per crystal, each model's ``eos`` run gives the
summary its errors (mean |relative error| of V0, B, B' against the experimental reference of
the crystal's phase, as the platform compares), failures and flags. Also: the probes with plain
K-fold against grouped folds, and the probe R² over 20 random relabellings of the structure ids.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.representations [--rows /tmp/rows.json]

Writes bench/results/representations.json (the summaries less their maps, the costs) and .md;
``--rows`` also saves the stored rows and outcomes (to seed a database with the same summary).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from ase import Atoms

from backend.cli.demo_plan import REPRESENTATION_CRYSTALS
from backend.cli.main import one_math_thread_per_process
from backend.services.runs import choose_references
from shared_kernel.failures import FailureClass
from workers.adapters.baselines import BaselineModel
from workers.adapters.pretrained import control_models, pretrained_models
from workers.adapters.registry import make_calculator
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.representation import RepresentationResult
from workers.phases import space_group
from workers.reference_data import elemental_crystals, experimental_references
from workers.reference_s22 import s22_structures
from workers.representation_summary import CHEMISTRY, EmbeddingRow, StructureOutcome, summarize
from workers.representations import linear_probe_r2

CRYSTAL_MODELS = ("CHGNet-0.3.0", "SevenNet-0", "DIEP-r2SCAN", "CHGNet-random-weights")
MOLECULE_MODEL = "ANI-1x"
CONTROL_PARAM = "random_weights_seed"  # as backend.services.representations marks a control
ERROR_BENCHMARK = "eos"
T = TypeVar("T")
Probe = tuple[str, Atoms]  # (structure id: the label, atoms)


def crystal_probes() -> list[Probe]:
    """The demo's representation crystals, in its order, as the database stores them."""
    cells = {r.label: r.atoms for r in elemental_crystals()}
    missing = [s for s in REPRESENTATION_CRYSTALS if s not in cells]
    if missing:
        raise SystemExit(f"no elemental crystal for {missing}")
    return [(symbol, cells[symbol]) for symbol in REPRESENTATION_CRYSTALS]


def s22_probes() -> list[Probe]:
    """The 22 S22 complexes, then each distinct monomer (by formula) once, split at
    ``atoms.info["monomer_a"]`` from the first complex that has it."""
    dimers = [(r.label, r.atoms) for r in s22_structures()]
    monomers: dict[str, Probe] = {}
    for label, atoms in dimers:
        split = int(atoms.info["monomer_a"])
        for tag, part in (("A", atoms[:split]), ("B", atoms[split:])):
            formula = part.get_chemical_formula()
            monomers.setdefault(formula, (f"{label} monomer {tag}", part))
    return dimers + list(monomers.values())


def _timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """``call()``, its wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    found = call()
    return found, time.perf_counter() - wall, time.process_time() - cpu


def _records() -> dict[str, BaselineModel]:
    return {r.name: r for r in (*pretrained_models(), *control_models())}


def embed(
    record: BaselineModel, probes: Sequence[Probe]
) -> tuple[list[EmbeddingRow], dict[str, Any]]:
    """Run ``representation`` (default params) of ``record`` on every probe.

    Returns the rows the platform would store (``model_id`` = the name; a database gives
    its uuid) and the costs: model load, and per structure wall and CPU seconds and atoms
    embedded (the 7 or 5 variants' atoms together).
    """
    spec = get_benchmark("representation")
    calc, load_s, _ = _timed(lambda: make_calculator(record.spec()))
    rows, calls = [], []
    for label, atoms in probes:
        found, wall, cpu = _timed(partial(spec.func, atoms, calc, spec.make_params()))
        result = cast("RepresentationResult", found)
        data = result.projections()[0].data
        rows.append(
            EmbeddingRow(
                model=record.name,
                model_id=record.name,
                structure_id=label,
                formula=result.formula,
                run_id=f"{record.name}/{label}",
                data=data,
                family=record.family,
                control=CONTROL_PARAM in record.params,
            )
        )
        calls.append(
            {"structure": label, "atoms": sum(result.n_atoms), "wall_s": wall, "cpu_s": cpu}
        )
    return rows, {"model_load_s": load_s, "calls": calls}


def cost(timing: dict[str, Any]) -> dict[str, float]:
    """Median seconds per structure and per embedded atom (wall and CPU), and the totals."""
    calls = timing["calls"]
    per_atom = [c["wall_s"] / c["atoms"] for c in calls]
    return {
        "structures": len(calls),
        "atoms_embedded": sum(c["atoms"] for c in calls),
        "median_wall_s_per_structure": statistics.median(c["wall_s"] for c in calls),
        "median_cpu_s_per_structure": statistics.median(c["cpu_s"] for c in calls),
        "median_wall_s_per_atom": statistics.median(per_atom),
        "median_cpu_s_per_atom": statistics.median(c["cpu_s"] / c["atoms"] for c in calls),
        "total_wall_s": sum(c["wall_s"] for c in calls),
        "total_cpu_s": sum(c["cpu_s"] for c in calls),
        "model_load_s": timing["model_load_s"],
    }


def eos_outcomes(record: BaselineModel, probes: Sequence[Probe]) -> list[StructureOutcome]:
    """``record``'s ``eos`` run on each crystal as the summary reads it: status, failure
    class, raised flags and the mean |relative error| of its reference-compared metrics, each
    compared with the reference the platform would choose (``choose_references``: an
    experimental value of the crystal's own phase, so diamond C is not set against graphite)."""
    spec = get_benchmark(ERROR_BENCHMARK)
    references = experimental_references()
    calc = make_calculator(record.spec())
    outcomes = []
    for label, atoms in probes:
        try:
            metrics = spec.func(atoms, calc, spec.make_params()).metrics()
        except Exception as exc:  # classified as the worker does: its class, else exception
            failure = str(getattr(exc, "failure_class", FailureClass.EXCEPTION))
            outcomes.append(
                StructureOutcome(record.name, label, ERROR_BENCHMARK, "failed", failure, [], None)
            )
            continue
        chosen = choose_references(
            [r for r in references if r.material == label], space_group(atoms)
        )
        errors = [
            abs(m.value - ref.value) / abs(ref.value)
            for m in metrics
            if m.compare_to_reference and (ref := chosen.get(m.name)) and ref.value
        ]
        flags = sorted(m.name for m in metrics if m.name.startswith("flag_") and m.value > 0.5)
        mean = sum(errors) / len(errors) if errors else None
        outcomes.append(
            StructureOutcome(record.name, label, ERROR_BENCHMARK, "succeeded", None, flags, mean)
        )
    return outcomes


def fold_contrast(rows: Sequence[EmbeddingRow]) -> dict[str, dict[str, dict[str, float]]]:
    """Per model and chemistry target, the probe R² from every variant's row (7 per structure)
    with plain shuffled ``KFold(5)`` and with 5 grouped folds over the structures: plain
    folds put a structure's strained copies on both sides, so recognising it is enough."""
    by_model: dict[str, list[EmbeddingRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    found: dict[str, dict[str, dict[str, float]]] = {}
    for name, mine in by_model.items():
        x = np.vstack([np.asarray(r.data["features"], dtype=float) for r in mine])
        groups = [r.structure_id for r in mine for _ in r.data["features"]]
        found[name] = {}
        for target in CHEMISTRY:
            values = [r.data["chemistry"][target] for r in mine]
            if any(v is None for v in values):
                continue
            y = np.repeat(np.asarray(values, dtype=float), [len(r.data["features"]) for r in mine])
            found[name][target] = {
                "plain": linear_probe_r2(x, y).r2_mean,
                "grouped": linear_probe_r2(x, y, groups=groups).r2_mean,
            }
    return found


def fold_spread(rows: Sequence[EmbeddingRow], repeats: int = 20) -> dict[str, dict[str, Any]]:
    """Per model and target, the summary's probe R² over ``repeats`` random relabellings of
    the structures (median, min, max): the summary deals structures to folds in a seeded order
    of their formulas, so the spread is zero unless the ids leak into the folds."""
    labels = sorted({r.structure_id for r in rows})
    rng = random.Random(0)
    found: dict[str, dict[str, list[float]]] = {}
    for _ in range(repeats):
        ids = {label: str(uuid.UUID(int=rng.getrandbits(128))) for label in labels}
        relabelled = [r._replace(structure_id=ids[r.structure_id]) for r in rows]
        r2 = summarize(relabelled, [], map_methods=("pca",))["probes"]["r2"]
        for name, per_target in r2.items():
            for target, cell in per_target.items():
                if cell is not None:
                    found.setdefault(name, {}).setdefault(target, []).append(cell["mean"])
    return {
        name: {
            t: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
            for t, v in per_target.items()
        }
        for name, per_target in found.items()
    }


def measure_set(
    models: Sequence[str], probes: Sequence[Probe], *, errors: bool
) -> tuple[dict[str, Any], list[EmbeddingRow], list[StructureOutcome]]:
    """Embeddings (timed), optional eos outcomes and the timed summary of one probe set."""
    records = _records()
    rows: list[EmbeddingRow] = []
    outcomes: list[StructureOutcome] = []
    costs = {}
    for name in models:
        found, timing = embed(records[name], probes)
        rows += found
        costs[name] = {**cost(timing), "calls": timing["calls"]}
        print(f"{name}: {costs[name]['total_wall_s']:.1f} s for {len(probes)} structures")
    if errors:
        for name in models:
            outcomes += eos_outcomes(records[name], probes)
    structures = dict(probes)
    # twice: the first call in a process compiles UMAP's and PHATE's numba code
    body, wall, cpu = _timed(lambda: summarize(rows, outcomes, structures=structures))
    _, warm_wall, warm_cpu = _timed(lambda: summarize(rows, outcomes, structures=structures))
    figures = {
        "structures": [label for label, _ in probes],
        "cost": costs,
        "summary_wall_s": wall,
        "summary_cpu_s": cpu,
        "summary_warm_wall_s": warm_wall,
        "summary_warm_cpu_s": warm_cpu,
        "summary": body,
        "fold_contrast": fold_contrast(rows),
        "fold_spread": fold_spread(rows),
    }
    return figures, rows, outcomes


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "numba_num_threads": os.environ.get("NUMBA_NUM_THREADS"),
        "load_average": list(os.getloadavg()),
    }


def measure(*, errors: bool = True, s22: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both probe sets: the result file's content and the raw rows and outcomes."""
    result: dict[str, Any] = {"machine_before": _machine()}
    raw: dict[str, Any] = {}
    sets: list[tuple[str, tuple[str, ...], list[Probe], bool]] = [
        ("crystals", CRYSTAL_MODELS, crystal_probes(), errors)
    ]
    if s22:
        sets.append(("s22", (MOLECULE_MODEL, *CRYSTAL_MODELS), s22_probes(), False))
    for key, models, probes, with_errors in sets:
        figures, rows, outcomes = measure_set(models, probes, errors=with_errors)
        result[key] = figures
        raw[key] = {
            "rows": [row._asdict() for row in rows],
            "outcomes": [outcome._asdict() for outcome in outcomes],
        }
    result["machine_after"] = _machine()
    return result, raw


def _slim(result: dict[str, Any]) -> dict[str, Any]:
    """The result without the summaries' per-point maps and per-call timings (kept small)."""
    slim = dict(result)
    for key in ("crystals", "s22"):
        if key not in result:
            continue
        body = {k: v for k, v in result[key]["summary"].items() if k not in ("maps",)}
        body["structure_map"] = None if body.get("structure_map") is None else "(omitted)"
        costs = {
            n: {k: v for k, v in c.items() if k != "calls"} for n, c in result[key]["cost"].items()
        }
        slim[key] = {**result[key], "summary": body, "cost": costs}
    return slim


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def probe_table(body: dict[str, Any]) -> list[str]:
    """Markdown: R² mean ± std per model and target, the random twin and the gain."""
    probes = body["probes"]
    targets = probes["targets"]
    lines = [
        "| model | random twin | " + " | ".join(f"{t} R² | gain" for t in targets) + " |",
        "|---|---|" + "---|---|" * len(targets),
    ]
    for name, per_target in probes["r2"].items():
        cells = []
        for target in targets:
            found = per_target[target]
            r2 = "n/a" if found is None else f"{found['mean']:.2f} ± {found['std']:.2f}"
            cells += [r2, _fmt(probes["gain"][name][target], "+.2f")]
        twin = probes["random_twin"][name] or "—"
        lines.append(f"| {name} | {twin} | " + " | ".join(cells) + " |")
    return lines


def cka_table(body: dict[str, Any]) -> list[str]:
    """Markdown: the CKA matrix in the summary's clustering order."""
    cka = body["cka"]
    names = cka["models"]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for name, row in zip(names, cka["matrix"], strict=True):
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    return lines


def cost_table(costs: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown: per model, median s per structure and per atom, and the set's totals."""
    lines = [
        "| model | structures | atoms embedded | median s/structure (wall, CPU) | "
        "median ms/atom (wall) | total wall s | total CPU s | model load s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in costs.items():
        lines.append(
            f"| {name} | {c['structures']} | {c['atoms_embedded']} | "
            f"{c['median_wall_s_per_structure']:.2f}, {c['median_cpu_s_per_structure']:.2f} | "
            f"{1000 * c['median_wall_s_per_atom']:.1f} | {c['total_wall_s']:.1f} | "
            f"{c['total_cpu_s']:.1f} | {c['model_load_s']:.1f} |"
        )
    return lines


def atlas_lines(body: dict[str, Any]) -> list[str]:
    """Markdown: per model, its structures' eos error, failures, flags and novelty rho."""
    lines = [
        "| model | mean abs rel error (eos) | worst 3 | failed | flagged "
        "| novelty vs error rho (n) |",
        "|---|---|---|---|---|---|",
    ]
    for name, entries in body["atlas"].items():
        scored = sorted(
            (e for e in entries if e["mean_abs_rel_error"] is not None),
            key=lambda e: -e["mean_abs_rel_error"],
        )
        mean = statistics.mean(e["mean_abs_rel_error"] for e in scored) if scored else None
        worst = ", ".join(f"{e['formula']} {e['mean_abs_rel_error']:.2f}" for e in scored[:3])
        failed = sum(1 for e in entries if e["failures"])
        flagged = sum(1 for e in entries if e["flags"])
        novelty = body["novelty"][name]
        lines.append(
            f"| {name} | {_fmt(mean, '.3f')} | {worst or '—'} | {failed} | {flagged} | "
            f"{_fmt(novelty['spearman'])} ({novelty['n']}) |"
        )
    return lines


def contrast_table(contrast: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Markdown: plain K-fold vs grouped-fold R² of the chemistry targets, per model."""
    targets = list(CHEMISTRY)
    lines = [
        "| model | " + " | ".join(f"{t} plain | {t} grouped" for t in targets) + " |",
        "|---|" + "---|---|" * len(targets),
    ]
    for name, per_target in contrast.items():
        cells = []
        for target in targets:
            found = per_target.get(target)
            cells += (
                ["n/a", "n/a"]
                if found is None
                else [
                    f"{found['plain']:.2f}",
                    f"{found['grouped']:.2f}",
                ]
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def spread_table(spread: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown: median [min, max] of each probe R² over random structure-id orders."""
    targets = sorted({t for per_target in spread.values() for t in per_target})
    lines = ["| model | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]
    for name, per_target in spread.items():
        cells = [
            "n/a"
            if (c := per_target.get(t)) is None
            else f"{c['median']:.2f} [{c['min']:.2f}, {c['max']:.2f}]"
            for t in targets
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _set_section(title: str, figures: dict[str, Any]) -> list[str]:
    body = figures["summary"]
    lines = [
        f"## {title}: {len(figures['structures'])} structures",
        "",
        f"Probe R² ({body['probes']['folds']}; mean ± std over folds; gain: R² less the "
        "random twin's):",
        "",
        *probe_table(body),
        "",
        f"Linear CKA on {body['cka']['n_common']} common (structure, variant) rows, "
        f"{body['cka']['order']} order:",
        "",
        *cka_table(body),
        "",
        "Why the folds hold whole structures out: the same ridge probe on every variant's row "
        "(all 7 per structure), plain shuffled KFold(5) against 5 folds of whole structures:",
        "",
        *contrast_table(figures["fold_contrast"]),
        "",
        "How much the folds matter: the summary's probe R² over 20 random orders of the "
        "structure ids (the folds follow the formulas, so they should not move), "
        "median [min, max]:",
        "",
        *spread_table(figures["fold_spread"]),
        "",
        "Embedding cost (one `representation` run per structure, loaded model, one process):",
        "",
        *cost_table(figures["cost"]),
        "",
        f"Summary (`summarize`, with UMAP, PHATE and SOAP maps): {figures['summary_wall_s']:.1f} "
        f"s wall ({figures['summary_cpu_s']:.1f} s CPU), then {figures['summary_warm_wall_s']:.1f} "
        f"s wall ({figures['summary_warm_cpu_s']:.1f} s CPU) on a second call (a process's "
        "first call also compiles UMAP's numba code).",
        "",
    ]
    if any(e["mean_abs_rel_error"] is not None for a in body["atlas"].values() for e in a):
        lines += ["Failure atlas (eos on the same crystals):", "", *atlas_lines(body), ""]
    return lines


def markdown(result: dict[str, Any]) -> str:
    before, after = result["machine_before"], result["machine_after"]
    lines = [
        "# Representations (issue 20): the platform's benchmark and summary",
        "",
        f"{before['cpus']} CPUs, OMP_NUM_THREADS={before['omp_num_threads']}, NUMBA_NUM_THREADS="
        f"{before['numba_num_threads']}; load average "
        f"(1, 5, 15 min) before {', '.join(f'{v:.2f}' for v in before['load_average'])}, "
        f"after {', '.join(f'{v:.2f}' for v in after['load_average'])}.",
        "",
        *_set_section("Elemental crystals", result["crystals"]),
    ]
    if "s22" in result:
        lines += _set_section("S22 complexes and their monomers", result["s22"])
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/representations.json"))
    parser.add_argument("--rows", type=Path, help="also save the stored rows and outcomes here")
    parser.add_argument("--no-errors", action="store_true", help="skip the eos runs")
    parser.add_argument("--no-s22", action="store_true", help="crystals only")
    args = parser.parse_args()
    # as the worker does: one math thread per process, numba's (UMAP, PHATE) included, whose
    # idle team would otherwise spin in every torch kernel after the first summary
    one_math_thread_per_process(os.environ)
    result, raw = measure(errors=not args.no_errors, s22=not args.no_s22)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_slim(result), indent=1))
    args.out.with_suffix(".md").write_text(markdown(result))
    if args.rows:
        args.rows.write_text(json.dumps(raw))
    print(markdown(result))


if __name__ == "__main__":
    main()
