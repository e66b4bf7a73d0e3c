"""The eos benchmark against a bare ASE loop doing the same science (issue 21).

For EMT (over its elements) and CHGNet-0.3.0 (over every elemental crystal it supports), on
``workers.reference_data.elemental_crystals``, time side by side in one process, alternating
bare and platform per crystal so that load on a shared machine hits both alike:

(a) bare: the loop a user writes with the package's own calculator (built as in
    ``bench.model_path``): the 11 volumes V (1 - 0.2) ... V (1 + 0.2) of the cell scaled
    isotropically, then ``ase.eos.EquationOfState(..., eos="birchmurnaghan").fit()``;
(b) platform: ``run_eos`` with default parameters and the registry's calculator
    (``workers.adapters.registry.make_calculator``), then ``metrics()``, ``series()`` and
    ``frames()`` as a worker stores them. Split by wrapping the functions ``run_eos`` calls
    (timers around ``_scaled``, ``fit_eos``, ``parameter_stderr``, ``inner_bulk_modulus``,
    ``check_forces`` and ``snapshot``) and the calculator's ``calculate`` (a call counter):
    ``scan`` (the 11 scaled cells with their model calls) + ``fit`` (the ase.eos fit) is the
    same science as (a); the rest is ``stderr`` (least-squares refit), ``snapshots``,
    ``roughness`` (the 21-point sub-grid), ``inner_fit``, ``checks`` (net force on the
    rattled 2x2x2 supercell, symmetry on the input), ``result`` (metrics, series, frames) and
    ``other`` (the loop around them). ``checks_two_calls`` times ``check_forces`` as it was
    before the symmetry check reused the scan's forces (its own call on the input);
(c) ``--end-to-end``: the same eos runs launched through the API and run by one real
    worker on a private Postgres and Redis (``bench.campaign``'s stack): wall time from
    launch to the last result, against the sum of the benchmark times inside the runs.

Figures: per model, the sums over the crystals (median over ``--repeats``), ratios
platform/bare overall and for the same science only, model calls per run by kind, and
``uptime`` before and after.

    python -m bench.bare_ase --out bench/results/bare_ase.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.eos import EquationOfState

from backend.cli.main import one_math_thread_per_process
from shared_kernel.failures import BenchmarkFailed
from workers.adapters.baselines import baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.adapters.registry import get_adapter, make_calculator
from workers.benchmarks import _eos_fit
from workers.benchmarks import eos as eos_module
from workers.benchmarks._checks import check_forces
from workers.benchmarks.eos import EosParams, run_eos
from workers.reference_data import elemental_crystals

MODELS = ("EMT", "CHGNet-0.3.0")
#: Parts of a platform run; SAME_SCIENCE is what the bare loop also does.
PARTS = (
    "scan",
    "fit",
    "stderr",
    "snapshots",
    "roughness",
    "inner_fit",
    "checks",
    "result",
    "other",
)
SAME_SCIENCE = ("scan", "fit")


def bare_eos(
    atoms: Atoms, calc: Calculator, *, volume_range: float = 0.2, n_points: int = 11
) -> tuple[float, float, float] | None:
    """The bare loop: E(V) over ``n_points`` volumes (+-``volume_range``) and a BM fit.

    Returns (V0 Å³, E0 eV, B0 eV/Å³), or None when the fit fails.
    """
    cell0 = atoms.get_cell()
    volumes, energies = [], []
    for x in np.linspace(1 - volume_range, 1 + volume_range, n_points):
        trial = atoms.copy()
        trial.set_cell(cell0 * x ** (1 / 3), scale_atoms=True)
        trial.calc = calc
        volumes.append(trial.get_volume())
        energies.append(trial.get_potential_energy())
    try:
        return EquationOfState(volumes, energies, eos="birchmurnaghan").fit(warn=False)
    except (RuntimeError, ValueError):
        return None


class Probe:
    """Times the parts of ``run_eos`` and counts model calls by kind while active."""

    def __init__(self, params: EosParams) -> None:
        self.n_scan = params.n_points
        self.seconds: dict[str, float] = {}
        self.calls: Counter[str] = Counter()
        self.atoms_per_call: dict[str, int] = {}
        self._phase = "scan"
        self._scaled_calls = 0

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self._scaled_calls = 0

    def _timed(
        self, part: str, func: Callable[..., Any], phase: str | None = None
    ) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outer = self._phase
            if phase is not None:
                self._phase = phase
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.seconds[part] = self.seconds.get(part, 0.0) + elapsed
                self._phase = outer

        return wrapper

    def _scaled(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            part = "scan" if self._scaled_calls < self.n_scan else "roughness"
            self._scaled_calls += 1
            return self._timed(part, func, phase=part)(*args, **kwargs)

        return wrapper

    def _counted(self, calculate: Callable[..., None]) -> Callable[..., None]:
        def wrapper(atoms: Atoms | None = None, *args: Any, **kwargs: Any) -> None:
            self.calls[self._phase] += 1
            if atoms is not None:
                self.atoms_per_call[self._phase] = len(atoms)
            calculate(atoms, *args, **kwargs)

        return wrapper

    @contextmanager
    def active(self, calc: Calculator) -> Iterator[Probe]:
        """Wrap what ``run_eos`` calls (and ``calc.calculate``); restore it on exit."""
        patches = [
            (eos_module, "_scaled", self._scaled(eos_module._scaled)),
            (eos_module, "fit_eos", self._timed("fit", eos_module.fit_eos)),
            (eos_module, "snapshot", self._timed("snapshots", eos_module.snapshot)),
            (
                eos_module,
                "inner_bulk_modulus",
                self._timed("inner_fit", eos_module.inner_bulk_modulus),
            ),
            (eos_module, "check_forces", self._timed("checks", eos_module.check_forces, "checks")),
            (_eos_fit, "parameter_stderr", self._timed("stderr", _eos_fit.parameter_stderr)),
        ]
        saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
        for module, name, replacement in patches:
            setattr(module, name, replacement)
        calc.calculate = self._counted(calc.calculate)  # type: ignore[method-assign]
        try:
            yield self
        finally:
            for module, name, original in saved:
                setattr(module, name, original)
            del calc.calculate  # the instance attribute: the class's method shows again


def platform_eos(
    atoms: Atoms, calc: Calculator, probe: Probe, params: EosParams
) -> tuple[dict[str, float], str | None]:
    """Seconds of each part of one platform run (``PARTS``) and its failure class, if any."""
    probe.reset()
    with probe.active(calc):
        start = time.perf_counter()
        error = None
        try:
            result = run_eos(atoms, calc, params)
        except BenchmarkFailed as exc:
            result, error = None, str(exc.failure_class)
        ran = time.perf_counter()
        if result is not None:  # what a worker stores
            result.metrics(), result.series(), result.frames()
        end = time.perf_counter()
    parts = {part: probe.seconds.get(part, 0.0) for part in PARTS}
    parts["fit"] -= parts["stderr"]  # fit_eos calls parameter_stderr
    parts["result"] = end - ran
    parts["other"] = (end - start) - sum(parts.values())
    return parts, error


def crystals_of(name: str, limit: int | None) -> tuple[list[tuple[str, Atoms]], list[str]]:
    """The elemental crystals model ``name`` supports (at most ``limit``), and those it does not."""
    spec = _records()[name].spec()
    supported = get_adapter(spec.family).supported_elements(spec)
    kept, left = [], []
    for record in elemental_crystals():
        if supported is None or record.label in supported:
            kept.append((record.label, record.atoms))
        else:
            left.append(record.label)
    return kept[:limit], left


def measure(name: str, crystals: list[tuple[str, Atoms]], repeats: int) -> dict[str, Any]:
    """Bare and platform seconds over ``crystals`` per repeat, alternating which goes first."""
    from bench.model_path import BARE

    platform_calc, bare_calc = make_calculator(_records()[name].spec()), BARE[name]()
    params = EosParams()
    probe = Probe(params)
    label, atoms = crystals[0]
    bare_eos(atoms, bare_calc), platform_eos(atoms, platform_calc, probe, params)  # warm-up
    totals: list[dict[str, float]] = []
    calls: Counter[str] = Counter()
    errors: dict[str, str] = {}
    bare_failed: list[str] = []
    for repeat in range(repeats):
        total: dict[str, float] = dict.fromkeys(("bare", *PARTS, "checks_two_calls"), 0.0)
        for label, atoms in crystals:
            for side in ("bare", "platform") if repeat % 2 == 0 else ("platform", "bare"):
                start = time.perf_counter()
                if side == "bare":
                    if bare_eos(atoms, bare_calc) is None and repeat == 0:
                        bare_failed.append(label)
                    total["bare"] += time.perf_counter() - start
                    continue
                parts, error = platform_eos(atoms, platform_calc, probe, params)
                for part, seconds in parts.items():
                    total[part] += seconds
                if repeat == 0:
                    calls.update(probe.calls)
                    if error is not None:
                        errors[label] = error
            platform_calc.reset()  # it holds the rattled cell's results, which would be reused
            start = time.perf_counter()
            check_forces(atoms, platform_calc)  # the checks as they were: two calls
            total["checks_two_calls"] += time.perf_counter() - start
        totals.append(dict(total))
    return _summary(totals, calls, len(crystals), probe, errors=errors, bare_failed=bare_failed)


def _summary(
    totals: list[dict[str, float]],
    calls: Counter[str],
    n_runs: int,
    probe: Probe,
    *,
    errors: dict[str, str],
    bare_failed: list[str],
) -> dict[str, Any]:
    keys = ("bare", *PARTS, "checks_two_calls")
    median = {k: statistics.median(t.get(k, 0.0) for t in totals) for k in keys}
    platform = sum(median[p] for p in PARTS)
    same = sum(median[p] for p in SAME_SCIENCE)
    return {
        "runs": n_runs,
        "repeats": len(totals),
        "bare_s": round(median["bare"], 3),
        "platform_s": round(platform, 3),
        "platform_same_science_s": round(same, 3),
        "ratio_platform_over_bare": round(platform / median["bare"], 3),
        "ratio_same_science_over_bare": round(same / median["bare"], 3),
        "platform_parts_s": {p: round(median[p], 3) for p in PARTS},
        "extras_s": round(platform - same, 3),
        "checks_two_calls_s": round(median["checks_two_calls"], 3),
        "model_calls_per_run": {k: round(v / n_runs, 2) for k, v in sorted(calls.items())},
        "atoms_per_call_last_crystal": dict(probe.atoms_per_call),
        "bare_calls_per_run": 11,
        "platform_failures": errors,
        "bare_fit_failures": bare_failed,
        "repeat_totals_s": [
            {"bare": round(t["bare"], 3), "platform": round(sum(t.get(p, 0) for p in PARTS), 3)}
            for t in totals
        ],
    }


def _records() -> dict[str, Any]:
    return {m.name: m for m in (*baseline_models(), *pretrained_models())}


def uptime() -> str:
    """``uptime`` (the load on this shared machine when a figure was taken)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def end_to_end(name: str, labels: list[str]) -> dict[str, Any]:
    """Default eos runs of ``name`` on ``labels`` through the API and one real worker.

    A private Postgres and Redis, the API (uvicorn) and one worker (``mlipm worker``,
    concurrency 1) as ``bench.campaign`` starts them; a warm-up campaign (Cu, 7 points, no
    sub-grid) loads the model into the worker first. ``wall_s`` runs from the launch request
    to the last result; ``sum_benchmark_s`` adds the benchmark times the runs recorded.
    """
    import shutil
    import tempfile

    from backend.cli.localservices import PostgresCluster, RedisServer, free_port
    from backend.client import ApiClient
    from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
    from bench import campaign as stack

    root = Path(tempfile.mkdtemp(prefix="mlipm-bare-ase-"))
    root.chmod(0o755)
    postgres, broker = PostgresCluster(root / "pg"), RedisServer(root / "redis")
    postgres.start()
    broker.start()
    env = {**os.environ, "DATABASE_URL": postgres.url(), "REDIS_URL": broker.url()}
    os.environ.update(env)
    procs = []
    try:
        token = stack._prepare(postgres.url())
        port = free_port()
        uvicorn = ["-m", "uvicorn", "backend.main:app", "--port", str(port)]
        procs.append(stack._spawn(uvicorn, env, root, "api"))
        api = f"http://127.0.0.1:{port}"
        stack._wait(lambda: stack._up(api), 60)
        procs.append(stack._worker(env, root, 0, 1))
        stack._wait(lambda: stack._ready(root, 0), 120)
        client = ApiClient(api, token)

        def launch(params: dict[str, Any], materials: list[str]) -> tuple[Any, float]:
            spec = CampaignCreate(
                name=f"bare_ase {name} {params}",
                models=[ModelRef(name=name)],
                benchmarks=[BenchmarkRef(key="eos", params=params)],
                structure_sets=["elemental crystals"],
                materials=materials,
            )
            start = time.time()
            campaign = client.create_campaign(spec)
            watch = stack._Watch(postgres.url(), campaign.id, broker)
            stack._wait(lambda: watch.unfinished() == 0, 3600)
            watch.engine.dispose()
            return campaign, start

        launch({"n_points": 7, "fine_points": 0}, ["Cu"])  # loads the model in the worker
        campaign, start = launch({}, labels)
        figures = stack._figures(postgres.url(), campaign.id, start, 1)
    finally:
        for proc in procs:
            stack._kill(proc)
        broker.stop()
        postgres.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
    keep = ("runs", "by_status", "wall_s", "sum_benchmark_s", "mean_run_s", "overhead_ratio")
    return {k: figures[k] for k in keep} | {"overhead_per_run_ms": figures["overhead_per_run_ms"]}


def run(models: list[str], repeats: int, limit: int | None, e2e: bool) -> dict[str, Any]:
    import torch

    figures: dict[str, Any] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        },
        "params": "eos defaults: 11 volumes +-20 %, birchmurnaghan, 21-point sub-grid +-4 %",
        "models": {},
    }
    for name in models:
        crystals, left_out = crystals_of(name, limit)
        print(f"[{name}] {len(crystals)} crystals x {repeats} repeats ...", flush=True)
        entry: dict[str, Any] = {"uptime_before": uptime()}
        entry |= measure(name, crystals, repeats)
        entry["unsupported_crystals"] = left_out
        entry["uptime_after"] = uptime()
        if e2e:
            print(f"[{name}] end to end (API + 1 worker) ...", flush=True)
            through = end_to_end(name, [label for label, _ in crystals])
            through["ratio_wall_over_bare"] = round(through["wall_s"] / entry["bare_s"], 3)
            through["ratio_wall_over_in_process"] = round(
                through["wall_s"] / entry["platform_s"], 3
            )
            through["uptime_after"] = uptime()
            entry["end_to_end"] = through
        figures["models"][name] = entry
    return figures


def table(figures: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    lines = [
        f"{'model':<14}{'runs':>5}{'bare s':>9}{'platf s':>9}{'ratio':>7}"
        f"{'same s':>9}{'ratio':>7}{'extras s':>10}{'e2e s':>8}"
    ]
    for name, e in figures["models"].items():
        e2e = e.get("end_to_end", {}).get("wall_s")
        lines.append(
            f"{name:<14}{e['runs']:>5}{e['bare_s']:>9.2f}{e['platform_s']:>9.2f}"
            f"{e['ratio_platform_over_bare']:>7.2f}{e['platform_same_science_s']:>9.2f}"
            f"{e['ratio_same_science_over_bare']:>7.2f}{e['extras_s']:>10.2f}"
            + (f"{e2e:>8.2f}" if e2e is not None else f"{'-':>8}")
        )
    for name, e in figures["models"].items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in e["platform_parts_s"].items())
        lines.append(f"{name} parts (s): {parts}")
        lines.append(f"{name} model calls per run: {e['model_calls_per_run']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the crystals")
    parser.add_argument("--limit", type=int, default=None, help="first N crystals per model")
    parser.add_argument("--end-to-end", action="store_true", help="also through API + worker")
    parser.add_argument("--out", type=Path, default=Path("bench/results/bare_ase.json"))
    args = parser.parse_args(argv)
    # As a worker runs (``mlipm worker``): one math thread, before torch is imported. With
    # torch's default (one thread per core) on these 2 shared cores a CHGNet call took 10x
    # longer in this process than in the worker.
    one_math_thread_per_process(os.environ)
    figures = run(args.models, args.repeats, args.limit, args.end_to_end)
    print(table(figures))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
