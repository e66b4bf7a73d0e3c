"""The benchmark suite campaign: baselines and real MLIPs on every benchmark, through the stack.

Starts a private Postgres and Redis, the API (uvicorn) and one Celery worker (the `mlipm worker`
command), and launches campaigns through the REST API: the baselines (EMT, LJ, Morse) and the
MLIPs (CHGNet, SevenNet-0, DIEP; ANI-1x only on s22) on every benchmark, ordered (see
``phases``) so that whatever the budget the cells of the table fill evenly. Crystals: a small
subset of "elemental crystals"; s22 runs on the S22 set. When the budget is spent the
campaigns still open are cancelled, and every run is reported with what happened to it.

Writes JSON (every run: status, failure class, wall time, headline metrics with reference and
signed/relative error, raised flags) and a Markdown report (model x benchmark headline table,
wall time per structure), refreshed while the campaign runs.

    nice -n 10 python -m bench.suite_campaign --budget-min 60
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend.bootstrap import ELEMENTAL_CRYSTALS, S22
from backend.cli.localservices import PostgresCluster, RedisServer, free_port
from backend.client import ApiClient
from backend.db.tables import (
    Benchmark,
    CampaignRun,
    Metric,
    MlipModel,
    Reference,
    Run,
    Structure,
)
from backend.repositories import references as ref_repo
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from backend.services import catalog
from bench.campaign import _kill, _prepare, _spawn, _up, _wait
from bench.suite_report import markdown_report, summarize

# MLIPs take them in this order (Al last: EMT and the pair potentials cover it too)
CRYSTALS = ("Cu", "Si", "Fe", "W", "Al")
CRYSTAL_SET = "suite crystals"
BASELINES = ("EMT", "LJ-exp-fit", "Morse-GW-exp-fit")
MLIPS = ("CHGNet-0.3.0", "SevenNet-0", "DIEP-r2SCAN")
MOLECULAR = ("ANI-1x",)
MD = ("nve", "md_stability", "thermal_expansion")
# The standard suite of issue 4 (the landscape maps are their own study: --benchmarks adds them).
SUITE = ("cohesive", "diatomics", "elastic", "eos", "md_stability", "nve", "relax", "s22",
         "speed", "thermal_expansion")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-min", type=float, default=90.0, help="wall budget (minutes)")
    parser.add_argument("--benchmarks", default="", help="comma-separated keys (default: SUITE)")
    parser.add_argument("--no-mlips", action="store_true", help="baselines only")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool size")
    parser.add_argument("--out", type=Path, default=Path("bench/results/suite_campaign.json"))
    args = parser.parse_args()
    # `kill` and Ctrl-C (also when started in the background, where SIGINT is ignored) stop
    # the campaign's processes and servers through run()'s cleanup.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    keys = [k for k in args.benchmarks.split(",") if k] or None
    report = run(
        budget_s=args.budget_min * 60,
        keys=keys,
        with_mlips=not args.no_mlips,
        concurrency=args.concurrency,
        out=args.out,
    )
    print(markdown_report(report))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def phases(keys: list[str], *, with_mlips: bool) -> list[tuple[CampaignCreate, str | None]]:
    """The campaigns, cheapest first (the queue is first in, first out), each with the crystal
    it is restricted to (None: its whole structure set).

    The baselines' static benchmarks and s22 come first; then the crystals one by one: the
    MLIPs' static benchmarks, the baselines' MD, the MLIPs' MD, so that a budget that runs out
    leaves every model x benchmark cell filled on the first crystals rather than one model
    or one kind of benchmark done and the others not started.
    """
    static = [k for k in keys if k not in MD and k != "s22"]
    md = [k for k in keys if k in MD]
    specs: list[tuple[CampaignCreate, str | None]] = [
        (_spec("baselines static", BASELINES, static, CRYSTAL_SET), None)
    ]
    if with_mlips and "s22" in keys:  # no baseline has parameters for H, C, N and O
        specs.append((_spec("s22", (*MOLECULAR, *MLIPS), ["s22"], S22), None))
    for crystal in CRYSTALS:
        one = f"{CRYSTAL_SET}: {crystal}"
        if with_mlips:
            specs.append((_spec(f"MLIPs static on {crystal}", MLIPS, static, one), crystal))
        specs.append((_spec(f"baselines MD on {crystal}", BASELINES, md, one), crystal))
        if with_mlips:
            specs.append((_spec(f"MLIPs MD on {crystal}", MLIPS, md, one), crystal))
    return [(s, c) for s, c in specs if s.benchmarks]


def _spec(name: str, models: tuple[str, ...], keys: list[str], structures: str) -> CampaignCreate:
    return CampaignCreate(
        name=f"suite: {name}",
        models=[ModelRef(name=m) for m in models],
        benchmarks=[BenchmarkRef(key=k) for k in keys],
        structure_sets=[structures],
    )


def run(
    *, budget_s: float, keys: list[str] | None, with_mlips: bool, concurrency: int, out: Path
) -> dict[str, Any]:
    keys = keys or list(SUITE)
    root = Path(tempfile.mkdtemp(prefix="mlipm-suite-"))
    root.chmod(0o755)
    postgres, broker = PostgresCluster(root / "pg"), RedisServer(root / "redis")
    postgres.start()
    broker.start()
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url(),
        "REDIS_URL": broker.url(),
        "OMP_NUM_THREADS": "1",  # the pool's processes share the cores; one math thread each
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    procs = []
    try:
        token = _prepare(postgres.url())
        plan = phases(keys, with_mlips=with_mlips)
        _crystal_subset(postgres.url(), CRYSTAL_SET, CRYSTALS)
        for spec, crystal in plan:
            if crystal is not None:
                _crystal_subset(postgres.url(), spec.structure_sets[0], (crystal,))
        port = free_port()
        procs.append(
            _spawn(["-m", "uvicorn", "backend.main:app", "--port", str(port)], env, root, "api")
        )
        api = f"http://127.0.0.1:{port}"
        _wait(lambda: _up(api), 120)
        procs.append(_spawn(_worker_args(concurrency), env, root, "worker"))
        client = ApiClient(api, token, timeout=120)
        start = time.perf_counter()
        campaigns = [client.create_campaign(spec) for spec, _ in plan]
        ids = [c.id for c in campaigns]
        cancelled = _drive(client, ids, start + budget_s, postgres.url(), out, start)
        report = _report(postgres.url(), ids, time.perf_counter() - start, cancelled)
        _write(report, out)
        return report
    finally:
        for proc in procs:
            _kill(proc)
        broker.stop()
        postgres.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _worker_args(concurrency: int) -> list[str]:
    return ["-m", "backend.cli", "worker", "--queue", "cpu", "--concurrency", str(concurrency),
            "--without-mingle", "--without-gossip", "-n", "suite@%h"]  # fmt: skip


def _crystal_subset(url: str, name: str, labels: tuple[str, ...]) -> None:
    """Crystals of "elemental crystals", stored as they are in a set of their own."""
    engine = create_engine(url)
    with Session(engine) as session:
        source = ref_repo.get_structure_set_by_name(session, ELEMENTAL_CRYSTALS)
        assert source is not None
        picked = [s for s in ref_repo.list_structures(session, source.id) if s.label in labels]
        catalog.load_structure_set(
            session,
            name=name,
            description=f"{', '.join(labels)} from {ELEMENTAL_CRYSTALS}",
            source=ELEMENTAL_CRYSTALS,
            structures=[
                catalog.StructureIn(s.label, s.material, s.formula, s.elements, s.n_atoms, s.data)
                for s in picked
            ],
        )
        session.commit()
    engine.dispose()


def _drive(
    client: ApiClient, ids: list[Any], deadline: float, url: str, out: Path, start: float
) -> list[str]:
    """Wait for the campaigns; past the deadline cancel those still open. Refresh the files."""
    last_write = 0.0
    while True:
        open_ = [i for i in ids if client.campaign(i).status not in ("finished", "cancelled")]
        if not open_:
            return []
        now = time.perf_counter()
        if now > deadline:
            names = []
            for campaign_id in open_:
                names.append(client.cancel_campaign(campaign_id).name)
            time.sleep(5)  # running runs see the cancellation at their next observer call
            return names
        if now - last_write > 60:
            _write(_report(url, ids, now - start, []), out)
            last_write = now
        time.sleep(5)


def _report(url: str, ids: list[Any], wall: float, cancelled: list[str]) -> dict[str, Any]:
    engine = create_engine(url)
    with Session(engine) as session:
        query = (
            select(Run, MlipModel.name, Benchmark, Structure.material)
            .join(CampaignRun, CampaignRun.run_id == Run.id)
            .join(MlipModel, MlipModel.id == Run.mlip_model_id)
            .join(Benchmark, Benchmark.id == Run.benchmark_id)
            .join(Structure, Structure.id == Run.structure_id)
            .where(CampaignRun.campaign_id.in_(ids))
        )
        rows = list(session.execute(query))
        run_ids = [r[0].id for r in rows]
        metrics: dict[Any, list[tuple[Metric, Reference | None]]] = {}
        for metric, ref in session.execute(
            select(Metric, Reference)
            .outerjoin(Reference, Reference.id == Metric.reference_id)
            .where(Metric.run_id.in_(run_ids))
        ):
            metrics.setdefault(metric.run_id, []).append((metric, ref))
        runs = [_run_record(run, model, bench, material, metrics.get(run.id, []))
                for run, model, bench, material in rows]  # fmt: skip
    engine.dispose()
    return summarize(runs, wall_s=wall, cancelled=cancelled)


def _run_record(
    run: Run,
    model: str,
    benchmark: Benchmark,
    material: str,
    metrics: list[tuple[Metric, Reference | None]],
) -> dict[str, Any]:
    headline = [h["name"] for h in benchmark.headline_metrics]
    values = {}
    for metric, ref in metrics:
        if metric.name in headline:
            values[metric.name] = {
                "value": metric.value,
                "unit": metric.unit,
                "reference": ref.value if ref is not None else None,
                "level_of_theory": ref.level_of_theory if ref is not None else None,
                "error": metric.error,
                "rel_error": metric.rel_error,
            }
    return {
        "model": model,
        "benchmark": benchmark.key,
        "version": benchmark.version,
        "headline": headline,
        "material": material,
        "status": run.status.value,
        "failure_class": run.failure_class,
        "failure_message": (run.failure_message or "")[:300] or None,
        "wall_s": run.wall_s,
        "peak_memory_mb": run.peak_memory_mb,
        "metrics": values,
        "flags": sorted(m.name for m, _ in metrics if m.name.startswith("flag_") and m.value > 0.5),
    }


def _write(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown_report(report))


if __name__ == "__main__":
    main()
