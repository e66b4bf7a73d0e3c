"""What the packaged models' latent spaces encode, measured as the platform measures it (issue 20).

For CHGNet-0.3.0, SevenNet-0, DIEP-r2SCAN and CHGNet-random-weights (CHGNet 0.3.0's
architecture with random weights, the control) on the demo's probe set of elemental crystals
(``backend.cli.demo_plan.REPRESENTATION_CRYSTALS``, the cells of
``workers.reference_data.elemental_crystals``, which the database stores), and for ANI-1x and
the same four on the S22 complexes and their distinct monomers (ANI-1x knows H, C, N and O
only), this runs the registered ``representation`` benchmark at its default parameters on every
structure, timing each call (wall and process CPU), then the platform's cross-run summary
(``workers.representation_summary.summarize``) on the rows it stored. With the errors step
(default), each model's ``eos`` run on each crystal supplies the summary's per-structure error
(mean |relative error| of V0, B and B' against the dcdft experimental references, as the
platform computes it), failures and flags, for the failure atlas and novelty vs error.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.representations [--rows /tmp/rows.json]

Writes bench/results/representations.json (the two summary bodies, less their maps, and the
costs) and representations.md; ``--rows`` also saves the stored rows and outcomes (for seeding
a database with the same summary).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from ase import Atoms

from backend.cli.demo_plan import REPRESENTATION_CRYSTALS
from shared_kernel.failures import FailureClass
from workers.adapters.baselines import BaselineModel
from workers.adapters.pretrained import control_models, pretrained_models
from workers.adapters.registry import make_calculator
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.representation import RepresentationResult
from workers.reference_data import elemental_crystals, experimental_references, reference_lookup
from workers.reference_s22 import s22_structures
from workers.representation_summary import EmbeddingRow, StructureOutcome, summarize

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
    class, raised flags and the mean |relative error| of its reference-compared metrics."""
    spec = get_benchmark(ERROR_BENCHMARK)
    references = reference_lookup(
        [r for r in experimental_references() if r.dataset == "ase.collections.dcdft"]
    )
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
        errors = [
            abs(m.value - ref.value) / abs(ref.value)
            for m in metrics
            if m.compare_to_reference and (ref := references.get((label, m.name))) and ref.value
        ]
        flags = sorted(m.name for m in metrics if m.name.startswith("flag_") and m.value > 0.5)
        mean = sum(errors) / len(errors) if errors else None
        outcomes.append(
            StructureOutcome(record.name, label, ERROR_BENCHMARK, "succeeded", None, flags, mean)
        )
    return outcomes


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
    }
    return figures, rows, outcomes


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
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
        f"{before['cpus']} CPUs, OMP_NUM_THREADS={before['omp_num_threads']}; load average "
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
    result, raw = measure(errors=not args.no_errors, s22=not args.no_s22)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_slim(result), indent=1))
    args.out.with_suffix(".md").write_text(markdown(result))
    if args.rows:
        args.rows.write_text(json.dumps(raw))
    print(markdown(result))


if __name__ == "__main__":
    main()
