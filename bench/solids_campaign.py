"""The solids campaign: equation of state, relaxation, cohesive energy, elastic constants and
phonons of the elemental crystals and the Sol58 binary compounds, baselines and MLIPs.

Starts a private Postgres and Redis, the API (uvicorn) and one Celery worker (the `mlipm
worker` command, ``--workers`` pool processes), and launches campaigns through the REST API:
CHGNet-0.3.0, SevenNet-0, DIEP-r2SCAN and the baselines EMT, LJ-exp-fit, Morse-GW-exp-fit on
eos, relax, cohesive, elastic and phonons over "elemental crystals" and "binary compounds".
The structures go in rounds of a few elements and a few compounds (see ``structure_order``
and ``rounds``): each round runs every model on the static benchmarks, then on phonons, and
the next round is launched only while fewer than ``AHEAD`` are open, so that whatever the
budget every model x benchmark x group cell fills on the same first structures. The pair
baselines (LJ, Morse) have no mixing rules and run on the elements only. When the budget is
spent the campaigns still open are cancelled.

Reports (bench.solids_report), refreshed while the campaign runs: per model the MAE against
experiment with its 95 % bootstrap interval of V0, B0, cohesive energy and Debye temperature
(and relax's a and V, elastic's B_VRH), split into elements and compounds with n per cell;
phonon runs failed as dynamically unstable out of those finished; runs by status and failure
class; the median wall seconds per structure and benchmark. JSON (every run too) and Markdown.

    nice -n 10 .venv/bin/python -m bench.solids_campaign --budget-min 45

(``--out /tmp/solids.json`` for a trial run that leaves bench/results alone.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend.bootstrap import COMPOUNDS, ELEMENTAL_CRYSTALS
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
from bench.campaign import _kill, _prepare, _spawn, _up, _wait
from bench.solids_report import LEVEL, QUANTITIES, markdown_report, summarize
from bench.suite_campaign import _run_record

BASELINES = ("EMT", "LJ-exp-fit", "Morse-GW-exp-fit")
#: Single-element structures only (no mixing rules): left out of the compounds' campaigns,
#: where every run would fail as a setup error.
PAIR_BASELINES = ("LJ-exp-fit", "Morse-GW-exp-fit")
MLIPS = ("CHGNet-0.3.0", "SevenNet-0", "DIEP-r2SCAN")
STATIC = ("eos", "relax", "cohesive", "elastic")
PHONONS = "phonons"
#: Rounds open at once: the next is queued while one runs, so the workers never wait.
AHEAD = 2
DONE = ("finished", "cancelled")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-min", type=float, default=45.0, help="wall budget (minutes)")
    parser.add_argument("--workers", type=int, default=2, help="worker pool processes")
    parser.add_argument(
        "--round-size", type=int, default=2, help="elements, and compounds, per round"
    )
    parser.add_argument(
        "--models", default="", help="comma-separated names (default: baselines and MLIPs)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/solids_campaign.json"))
    args = parser.parse_args()
    # `kill` and Ctrl-C (also when started in the background, where SIGINT is ignored) stop
    # the campaign's processes and servers through run()'s cleanup.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    models = tuple(m for m in args.models.split(",") if m) or (*BASELINES, *MLIPS)
    report = run(
        budget_s=args.budget_min * 60,
        models=models,
        workers=args.workers,
        round_size=args.round_size,
        out=args.out,
    )
    print(markdown_report(report))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def interleave(structures: Iterable[tuple[str, str, int]]) -> list[str]:
    """Labels of (label, prototype, number of references): those with the most references
    first; among as many, round-robin over the prototypes (the most common first), each
    prototype's structures by label."""
    tiers: dict[int, list[tuple[str, str, int]]] = {}
    for item in structures:
        tiers.setdefault(item[2], []).append(item)
    out = []
    for _, tier in sorted(tiers.items(), reverse=True):
        groups: dict[str, list[str]] = {}
        for label, prototype, _ in sorted(tier):
            groups.setdefault(prototype, []).append(label)
        queues = [g for _, g in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))]
        while any(queues):
            out += [queue.pop(0) for queue in queues if queue]
    return out


def structure_order(url: str) -> tuple[list[str], list[str]]:
    """The labels of the elemental crystals and of the compounds, in launch order
    (``interleave``; references: the experimental ones of the reported quantities)."""
    wanted = {q.metric for q in QUANTITIES}
    engine = create_engine(url)
    with Session(engine) as session:
        refs: dict[str, set[str]] = {}
        for material, prop in session.execute(
            select(Reference.material, Reference.property).where(
                Reference.level_of_theory == LEVEL, Reference.property.in_(wanted)
            )
        ):
            refs.setdefault(material, set()).add(prop)
        orders = []
        for name in (ELEMENTAL_CRYSTALS, COMPOUNDS):
            found = ref_repo.get_structure_set_by_name(session, name)
            assert found is not None, name
            orders.append(
                interleave(
                    (s.label, _prototype(s.data), len(refs.get(s.material, ())))
                    for s in ref_repo.list_structures(session, found.id)
                )
            )
    engine.dispose()
    return orders[0], orders[1]


def _prototype(data: Any) -> str:
    info = (json.loads(data) if isinstance(data, str) else data).get("info", {})
    return str(info.get("crystal_structure", "?"))


def rounds(
    elements: list[str], compounds: list[str], *, size: int, models: tuple[str, ...]
) -> list[tuple[list[str], list[CampaignCreate]]]:
    """Per round: its structures, and its campaigns in queue order (static benchmarks of the
    elements, of the compounds, then phonons of each)."""
    compound_models = tuple(m for m in models if m not in PAIR_BASELINES)
    out = []
    for k in range(0, max(len(elements), len(compounds)), size):
        mine = elements[k : k + size], compounds[k : k + size]
        n = k // size + 1
        specs = [
            _spec(f"round {n} {what}: {', '.join(labels)}", ms, keys, structure_set, labels)
            for what, keys in (("static", STATIC), ("phonons", (PHONONS,)))
            for structure_set, labels, ms in (
                (ELEMENTAL_CRYSTALS, mine[0], models),
                (COMPOUNDS, mine[1], compound_models),
            )
            if labels and ms
        ]
        out.append(([*mine[0], *mine[1]], specs))
    return out


def _spec(
    name: str, models: tuple[str, ...], keys: tuple[str, ...], structures: str, labels: list[str]
) -> CampaignCreate:
    return CampaignCreate(
        name=f"solids: {name}",
        models=[ModelRef(name=m) for m in models],
        benchmarks=[BenchmarkRef(key=k) for k in keys],
        structure_sets=[structures],
        materials=labels,
    )


def run(
    *, budget_s: float, models: tuple[str, ...], workers: int, round_size: int, out: Path
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="mlipm-solids-"))
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
        plan = rounds(*structure_order(postgres.url()), size=round_size, models=models)
        port = free_port()
        procs.append(
            _spawn(["-m", "uvicorn", "backend.main:app", "--port", str(port)], env, root, "api")
        )
        api = f"http://127.0.0.1:{port}"
        _wait(lambda: _up(api), 120)
        procs.append(_spawn(_worker_args(workers), env, root, "worker"))
        driver = _Driver(ApiClient(api, token, timeout=120), plan, postgres.url(), out)
        driver.info.update(budget_s=budget_s, workers=workers, round_size=round_size)
        driver.drive(time.perf_counter() + budget_s)
        return driver.write()
    finally:
        for proc in procs:
            _kill(proc)
        broker.stop()
        postgres.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _worker_args(workers: int) -> list[str]:
    return ["-m", "backend.cli", "worker", "--queue", "cpu", "--concurrency", str(workers),
            "--without-mingle", "--without-gossip", "-n", "solids@%h"]  # fmt: skip


class _Driver:
    """Launches the rounds (at most ``AHEAD`` open), cancels what is open past the deadline,
    and writes the report (every minute while running, and at the end)."""

    def __init__(
        self,
        client: ApiClient,
        plan: list[tuple[list[str], list[CampaignCreate]]],
        url: str,
        out: Path,
    ) -> None:
        self.client, self.plan, self.url, self.out = client, plan, url, out
        self.start = time.perf_counter()
        self.ids: list[Any] = []
        self.open: list[list[Any]] = []  # per open round, its campaigns not yet done
        self.cancelled: list[str] = []
        self.info: dict[str, Any] = {
            "rounds_total": len(plan),
            "rounds_launched": 0,
            "launched": [],
        }

    def drive(self, deadline: float) -> None:
        last_write, launched = time.perf_counter(), 0
        while True:
            self.open = [[i for i in ids if self._not_done(i)] for ids in self.open]
            self.open = [ids for ids in self.open if ids]
            now = time.perf_counter()
            if now > deadline:
                self._cancel_open()
                return
            while len(self.open) < AHEAD and launched < len(self.plan):
                labels, specs = self.plan[launched]
                ids = [self.client.create_campaign(spec).id for spec in specs]
                self.ids += ids
                self.open.append(ids)
                self.info["launched"] += labels
                launched += 1
            self.info["rounds_launched"] = launched
            if not self.open:
                return
            if now - last_write > 60:
                self.write()
                last_write = now
            time.sleep(5)

    def _not_done(self, campaign_id: Any) -> bool:
        return self.client.campaign(campaign_id).status not in DONE

    def _cancel_open(self) -> None:
        open_ = [campaign_id for ids in self.open for campaign_id in ids]
        self.cancelled += [self.client.cancel_campaign(i).name for i in open_]
        # Running runs see the cancellation at their next observer call: give them a minute.
        for _ in range(12):
            time.sleep(5)
            if not any(self.client.campaign(i).progress.running for i in open_):
                return

    def write(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.start
        report = summarize(
            records(self.url, self.ids), wall_s=wall, cancelled=self.cancelled, plan=self.info
        )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(report, indent=1))
        self.out.with_suffix(".md").write_text(markdown_report(report))
        return report


def records(url: str, ids: list[Any]) -> list[dict[str, Any]]:
    """Every run of the campaigns: suite_campaign's record plus the structure's label and
    elements and the metrics the model was fitted to (its card's ``fitted_to``)."""
    engine = create_engine(url)
    with Session(engine) as session:
        query = (
            select(Run, MlipModel.name, MlipModel.card, Benchmark, Structure)
            .join(CampaignRun, CampaignRun.run_id == Run.id)
            .join(MlipModel, MlipModel.id == Run.mlip_model_id)
            .join(Benchmark, Benchmark.id == Run.benchmark_id)
            .join(Structure, Structure.id == Run.structure_id)
            .where(CampaignRun.campaign_id.in_(ids))
        )
        rows = list(session.execute(query))
        metrics: dict[Any, list[tuple[Metric, Reference | None]]] = {}
        for metric, ref in session.execute(
            select(Metric, Reference)
            .outerjoin(Reference, Reference.id == Metric.reference_id)
            .where(Metric.run_id.in_([r[0].id for r in rows]))
        ):
            metrics.setdefault(metric.run_id, []).append((metric, ref))
        out = [
            {
                **_run_record(run, model, bench, structure.material, metrics.get(run.id, [])),
                "label": structure.label,
                "elements": sorted(structure.elements),
                "fitted_to": sorted((card or {}).get("fitted_to") or []),
            }
            for run, model, card, bench, structure in rows
        ]
    engine.dispose()
    return out


if __name__ == "__main__":
    main()
