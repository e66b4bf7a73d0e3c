"""Model path: what our adapter costs, what loading a model costs, and the eos B0 it gives.

For CHGNet-0.3.0, SevenNet-0 and DIEP-r2SCAN, with EMT as a control:

(a) time per atom-step of energy + forces on 64- and 216-atom cells (fcc Cu, diamond Si)
    through our path (``workers.adapters.registry.make_calculator(spec)``, then what the
    benchmarks do: ``atoms.calc = calc``, ``get_potential_energy()``, ``get_forces()`` on
    freshly displaced positions each step) against the package's own calculator built the
    documented way, in the same loop; adapter and bare repeats alternate so that load on a
    shared machine hits both alike; median of the repeats after a warm-up; ratio adapter/bare;
(b) model load time (a fresh process: imports + first ``make_calculator``; then a second
    ``make_calculator`` with the modules imported) against the time of one eos run on 1-atom
    Cu with the calculator already loaded: why workers keep one calculator per model;
(c) B0 from ``run_eos`` (default parameters) for Cu, Al, Si, Fe and W, beside the
    experimental dcdft B0.

    python -m bench.model_path --out bench/results/model_path.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, UnsupportedElementsError
from workers.adapters.baselines import BaselineModel, baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.adapters.registry import get_adapter, make_calculator
from workers.benchmarks.eos import EosParams, run_eos
from workers.reference_data import elemental_crystals, experimental_references

MODELS = ("EMT", "CHGNet-0.3.0", "SevenNet-0", "DIEP-r2SCAN")
ELEMENTS = ("Cu", "Al", "Si", "Fe", "W")


def _bare_emt() -> Calculator:
    from ase.calculators.emt import EMT

    return EMT()


def _bare_chgnet() -> Calculator:
    from chgnet.model import CHGNet, CHGNetCalculator

    calc: Calculator = CHGNetCalculator(model=CHGNet.load(), use_device="cpu")
    return calc


def _bare_sevennet() -> Calculator:
    from sevenn.calculator import SevenNetCalculator

    calc: Calculator = SevenNetCalculator("7net-0", device="cpu")
    return calc


def _bare_diep() -> Calculator:
    from diep.pretrained import make_calculator as diep_calculator

    calc: Calculator = diep_calculator(device="cpu")
    return calc


#: The package's own calculator, built as its documentation shows.
BARE: dict[str, Callable[[], Calculator]] = {
    "EMT": _bare_emt,
    "CHGNet-0.3.0": _bare_chgnet,
    "SevenNet-0": _bare_sevennet,
    "DIEP-r2SCAN": _bare_diep,
}


def cells() -> dict[str, Atoms]:
    """64- and 216-atom fcc Cu (primitive 4^3, 6^3) and diamond Si (cubic 2^3, 3^3)."""
    cu, si = bulk("Cu", "fcc", a=3.61), bulk("Si", "diamond", a=5.431, cubic=True)
    return {
        "Cu-64": cu.repeat(4),
        "Cu-216": cu.repeat(6),
        "Si-64": si.repeat(2),
        "Si-216": si.repeat(3),
    }


def time_steps(calc: Calculator, atoms: Atoms, n_steps: int, rng: np.random.Generator) -> float:
    """Seconds per atom-step of energy + forces on freshly displaced positions."""
    base = atoms.positions.copy()
    trial = atoms.copy()
    trial.calc = calc
    start = time.perf_counter()
    for _ in range(n_steps):
        trial.positions = base + rng.normal(0.0, 0.01, base.shape)
        trial.get_potential_energy()
        trial.get_forces()
    return (time.perf_counter() - start) / (n_steps * len(atoms))


def step_times(
    adapter: Calculator, bare: Calculator, atoms: Atoms, *, repeats: int, n_steps: int
) -> dict[str, Any]:
    """Median (and spread) per atom-step through the adapter and bare, alternating."""
    rng = np.random.default_rng(0)
    for calc in (adapter, bare):  # warm-up: first-call allocation, TorchScript profiling
        time_steps(calc, atoms, 2, rng)
    runs: dict[str, list[float]] = {"adapter": [], "bare": []}
    for _ in range(repeats):
        runs["adapter"].append(time_steps(adapter, atoms, n_steps, rng))
        runs["bare"].append(time_steps(bare, atoms, n_steps, rng))
    out: dict[str, Any] = {"n_atoms": len(atoms), "repeats": repeats, "steps_per_repeat": n_steps}
    for path, values in runs.items():
        out[f"{path}_ms_per_atom_step"] = 1e3 * statistics.median(values)
        out[f"{path}_ms_per_atom_step_min_max"] = [1e3 * min(values), 1e3 * max(values)]
    out["ratio_adapter_over_bare"] = out["adapter_ms_per_atom_step"] / out["bare_ms_per_atom_step"]
    return out


_COLD_LOAD = """
import json, time
t0 = time.perf_counter()
from workers.adapters.baselines import baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.adapters.registry import make_calculator
t1 = time.perf_counter()
spec = {{m.name: m for m in (*baseline_models(), *pretrained_models())}}[{name!r}].spec()
t2 = time.perf_counter()
make_calculator(spec)
t3 = time.perf_counter()
make_calculator(spec)
t4 = time.perf_counter()
print(json.dumps({{"first_make_calculator_s": t3 - t2, "second_make_calculator_s": t4 - t3,
                  "import_workers_s": t1 - t0}}))
"""


def load_times(name: str) -> dict[str, float]:
    """Load times of ``name`` measured in a fresh interpreter (imports of torch and the
    package fall in the first ``make_calculator``, as in a freshly started worker)."""
    out = subprocess.run(
        [sys.executable, "-c", _COLD_LOAD.format(name=name)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def eos_run_time(calc: Calculator, repeats: int) -> float:
    """Median seconds of one default eos run (11 volumes) on 1-atom fcc Cu, model loaded."""
    atoms = bulk("Cu", "fcc", a=3.61)
    run_eos(atoms, calc, EosParams())  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_eos(atoms, calc, EosParams())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bulk_moduli(record: BaselineModel, calc: Calculator) -> dict[str, Any]:
    """B0 (GPa) from the default eos run on each experimental crystal, or why there is none."""
    crystals = {c.label: c.atoms for c in elemental_crystals()}
    spec = record.spec()
    supported = get_adapter(spec.family).supported_elements(spec)
    out: dict[str, Any] = {}
    for symbol in ELEMENTS:
        if supported is not None and symbol not in supported:
            out[symbol] = {"error": "unsupported element"}
            continue
        try:
            result = run_eos(crystals[symbol], calc, EosParams())
        except (BenchmarkFailed, UnsupportedElementsError) as exc:
            out[symbol] = {"error": f"{exc.__class__.__name__}: {exc}"}
            continue
        out[symbol] = {
            "bulk_modulus_gpa": result.bulk_modulus_gpa,
            "bulk_modulus_pressure_derivative": result.bulk_modulus_pressure_derivative,
            "v0_a3_per_atom": result.v0_a3_per_atom,
        }
    return out


def run(models: tuple[str, ...], repeats: int, n_steps: int, cell_names: list[str]) -> dict:
    records = {m.name: m for m in (*baseline_models(), *pretrained_models())}
    structures = {k: v for k, v in cells().items() if k in cell_names}
    experiment = {
        r.material: r.value
        for r in experimental_references()
        if r.property == "bulk_modulus" and r.material in ELEMENTS
    }
    figures: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_start": list(os.getloadavg()),
        },
        "experiment_bulk_modulus_gpa": experiment,
        "experiment_source": "ase.collections.dcdft (Lejaeghere et al. 2016), experimental B0",
        "models": {},
    }
    import torch

    figures["machine"]["torch_threads"] = torch.get_num_threads()
    for name in models:
        print(f"[{name}] load times (fresh process) ...", flush=True)
        entry: dict[str, Any] = {"load": load_times(name)}
        record = records[name]
        entry["packages"] = get_adapter(record.family).package_versions()
        adapter, bare = make_calculator(record.spec()), BARE[name]()
        entry["eos_run_s_1atom_cu"] = eos_run_time(adapter, repeats=3)
        entry["load_over_eos_run"] = (
            entry["load"]["first_make_calculator_s"] / entry["eos_run_s_1atom_cu"]
        )
        entry["step_time"] = {}
        for label, atoms in structures.items():
            if name == "EMT" and label.startswith("Si"):
                continue  # EMT has no Si
            print(f"[{name}] {label} step times ...", flush=True)
            entry["step_time"][label] = step_times(
                adapter, bare, atoms, repeats=repeats, n_steps=n_steps
            )
        print(f"[{name}] eos B0 ...", flush=True)
        entry["bulk_modulus"] = bulk_moduli(record, adapter)
        figures["models"][name] = entry
    figures["machine"]["load_average_end"] = list(os.getloadavg())
    return figures


def table(figures: dict[str, Any]) -> str:
    """The figures as plain-text tables."""
    lines = ["(a) energy + forces, ms per atom-step (median; adapter vs bare)"]
    lines.append(f"{'model':<14}{'cell':<8}{'adapter':>10}{'bare':>10}{'ratio':>8}")
    for name, entry in figures["models"].items():
        for label, t in entry["step_time"].items():
            lines.append(
                f"{name:<14}{label:<8}{t['adapter_ms_per_atom_step']:>10.3f}"
                f"{t['bare_ms_per_atom_step']:>10.3f}{t['ratio_adapter_over_bare']:>8.3f}"
            )
    lines += ["", "(b) model load vs one eos run (1-atom Cu, 11 volumes, model loaded)"]
    lines.append(f"{'model':<14}{'1st load s':>11}{'2nd load s':>11}{'eos run s':>11}{'ratio':>8}")
    for name, entry in figures["models"].items():
        load = entry["load"]
        lines.append(
            f"{name:<14}{load['first_make_calculator_s']:>11.2f}"
            f"{load['second_make_calculator_s']:>11.2f}{entry['eos_run_s_1atom_cu']:>11.3f}"
            f"{entry['load_over_eos_run']:>8.1f}"
        )
    lines += ["", "(c) B0 (GPa) from eos vs experiment (dcdft)"]
    exp = figures["experiment_bulk_modulus_gpa"]
    lines.append(f"{'model':<14}" + "".join(f"{s:>9}" for s in ELEMENTS))
    lines.append(f"{'experiment':<14}" + "".join(f"{exp[s]:>9.1f}" for s in ELEMENTS))
    for name, entry in figures["models"].items():
        cells_ = []
        for symbol in ELEMENTS:
            b0 = entry["bulk_modulus"][symbol].get("bulk_modulus_gpa")
            cells_.append(f"{b0:>9.1f}" if b0 is not None else f"{'-':>9}")
        lines.append(f"{name:<14}" + "".join(cells_))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/model_path.json"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--cells", nargs="+", default=list(cells()), choices=list(cells()))
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (>= 5)")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed repeat")
    args = parser.parse_args()
    figures = run(tuple(args.models), args.repeats, args.steps, args.cells)
    print(table(figures))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
