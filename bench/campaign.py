"""Campaign overhead and fault tolerance at scale.

Runs the baselines on ``eos`` over the elemental crystals with several parameter sets (>= 500
runs) on a private Postgres and Redis, through the real API and N real Celery workers, and
reports: wall time, the sum of the pure benchmark times measured inside the runs, the overhead
ratio wall x workers / sum, and (with --chaos) SIGKILLs of every worker at 25, 50 and 75 % of
the executed runs (those not skipped at launch) plus a Redis restart at 50 %, after which it
counts lost and duplicated runs and metric rows.

Queue figures: every message published to Redis (``LPUSH`` calls, read from Redis' own
command statistics, so the count does not depend on the code under test; before the Redis
restart and at the end), the platform's own count of messages it sent
(``mlipm:<db>:messages-sent``, where the code keeps one), messages redelivered by the
transport (``RPUSH``), deliveries that found nothing to do, and per kill the recovery time:
from the SIGKILL until every run the killed workers were running was claimed again.

    python -m bench.campaign --workers 1,2 --out bench/results/campaign.json
    python -m bench.campaign --workers 2 --chaos --out bench/results/campaign-chaos.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from backend import dbadmin
from backend.cli.localservices import PostgresCluster, RedisServer, free_port
from backend.client import ApiClient
from backend.db.tables import CampaignRun, Metric, Run
from backend.domain.statuses import Role, RunStatus
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from backend.services import users
from bench.process_cpu import ProcessCpu, postmaster_pid

MODELS = ("EMT", "LJ-exp-fit", "Morse-GW-exp-fit")
N_POINTS = (7, 9, 11, 13, 15)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        default="1",
        help="worker processes; a comma-separated list (1,2) runs the campaign once per count "
        "and reports the speedup over the first",
    )
    parser.add_argument("--concurrency", type=int, default=1, help="pool size per worker")
    parser.add_argument("--chaos", action="store_true", help="kill workers, restart Redis")
    parser.add_argument(
        "--n-points",
        default=",".join(map(str, N_POINTS)),
        help="eos parameter sets (one per value); the default gives 945 runs, 560 executed",
    )
    parser.add_argument("--quick", action="store_true", help="--n-points 7,9 (378 runs)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/campaign.json"))
    args = parser.parse_args(argv)
    n_points = (7, 9) if args.quick else tuple(int(n) for n in args.n_points.split(","))
    counts = [int(n) for n in str(args.workers).split(",")]
    results = [run(n, args.concurrency, args.chaos, n_points=n_points) for n in counts]
    figures: dict[str, Any] = results[0] if len(results) == 1 else {"campaigns": results}
    if len(results) > 1:
        base = results[0]
        figures["speedup"] = {
            f"{r['workers']}_vs_{base['workers']}": round(base["wall_s"] / r["wall_s"], 2)
            for r in results[1:]
        }
        # The goal's scaling: the same ratio had each campaign's runs taken as long as the
        # first's (two busy processes on two vCPUs each compute slower, which no platform
        # code changes).
        figures["speedup_normalised"] = {
            f"{r['workers']}_vs_{base['workers']}": round(
                base["wall_s"] / r["wall_s"] * r["mean_run_s"] / base["mean_run_s"], 2
            )
            for r in results[1:]
            if r["mean_run_s"] and base["mean_run_s"]
        }
    figures["load_average"] = os.getloadavg()
    print(json.dumps(figures, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))


def run(
    n_workers: int, concurrency: int, chaos: bool, *, n_points: tuple[int, ...] = N_POINTS
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="mlipm-bench-"))
    root.chmod(0o755)
    postgres, broker = PostgresCluster(root / "pg"), RedisServer(root / "redis")
    postgres.start()
    broker.start()
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url(),
        "REDIS_URL": broker.url(),
        # A private store too: frames of earlier campaigns in a shared one made each first
        # sweep walk (and remove, as orphans) all of them, a cost that grew with every run.
        "MLIPM_ARTIFACT_URL": (root / "artifacts").as_uri(),
        # Celery's per-task lines (off as shipped, 0.2-0.3 ms a run) count deliveries and
        # busy retries: on only for the fault runs, whose queue figures need them.
        "MLIPM_WORKER_LOG_TASKS": "true" if chaos else "false",
    }
    if chaos:
        # Killed workers' runs recovered within seconds, not a minute: a short lease and a
        # sweep every 2 s. The overhead runs keep the shipped 60 s and 30 s (a sweep reads
        # every queued run and its message: ~15 ms of the worker's CPU each, 7 ms a second at
        # this interval, which a platform as shipped does not pay).
        env.update(
            MLIPM_RUN_LEASE_S="5",
            MLIPM_SWEEP_INTERVAL_S="2",
            MLIPM_BROKER_VISIBILITY_TIMEOUT_S="30",
        )
    os.environ.update(env)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        token = _prepare(postgres.url())
        port = free_port()
        procs.append(
            _spawn(["-m", "uvicorn", "backend.main:app", "--port", str(port)], env, root, "api")
        )
        api = f"http://127.0.0.1:{port}"
        _wait(lambda: _up(api), 60)
        workers = [_worker(env, root, i, concurrency) for i in range(n_workers)]
        # Workers of a running platform are up before a campaign starts: their start-up
        # (imports, connections) is not part of any campaign's cost.
        _wait(lambda: all(_ready(root, i) for i in range(n_workers)), 120)
        client = ApiClient(api, token)
        spec = CampaignCreate(
            name="bench",
            models=[ModelRef(name=m) for m in MODELS],
            benchmarks=[BenchmarkRef(key="eos", params={"n_points": n}) for n in n_points],
            structure_sets=["elemental crystals"],
        )
        cpu = _process_cpu(root, broker, workers, api_pid=procs[0].pid)
        start = time.time()
        campaign = client.create_campaign(spec)
        launched = time.time() - start
        watch = _Watch(postgres.url(), campaign.id, broker)
        events = _drive(watch, workers, broker, env, root, concurrency, chaos)
        cpu.stop()
        figures = _figures(postgres.url(), campaign.id, start, n_workers * concurrency)
        # Per executed run, by process; not with faults (killed workers' CPU is not counted).
        runs_cpu_s = figures.pop("_runs_cpu_s")
        executed = figures["by_status"].get(RunStatus.SUCCEEDED.value, 0)
        figures["cpu_per_run_ms"] = None if chaos else cpu.per_run_ms(executed, runs_cpu_s)
        figures.update(
            workers=n_workers,
            concurrency=concurrency,
            launch_request_s=round(launched, 3),
            chaos_events=events,
            queue=watch.queue_figures(root, task_lines=chaos),
        )
        return figures
    finally:
        for proc in [*procs, *_ALL_WORKERS]:
            _kill(proc)
        broker.stop()
        postgres.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _process_cpu(
    root: Path, broker: RedisServer, workers: list[subprocess.Popen[bytes]], *, api_pid: int
) -> ProcessCpu:
    assert broker.proc is not None
    return ProcessCpu(
        workers=[w.pid for w in workers],
        postgres=postmaster_pid(root / "pg"),
        redis=broker.proc.pid,
        api=[api_pid],
    )


def _prepare(url: str) -> str:
    from backend.bootstrap import bootstrap

    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        bootstrap(session)
        token = users.ensure_user_with_token(session, name="bench", role=Role.ADMIN).token
        session.commit()
    engine.dispose()
    return token


class _Watch:
    """What the bench reads while the campaign runs: progress over executed runs, Redis'
    command counts (kept across the restart), and the recovery after each kill."""

    def __init__(self, url: str, campaign_id: Any, broker: RedisServer) -> None:
        self.engine = create_engine(url)
        self.campaign_id, self.broker = campaign_id, broker
        self.counted = {"lpush": 0, "rpush": 0, "platform": 0}
        self.platform_counter = False
        # Executed runs: those not skipped at launch (a fresh database reuses nothing).
        self.executed = self._count(Run.status != RunStatus.SKIPPED)
        self.kills: list[tuple[float, dict[Any, int]]] = []
        self.recoveries: list[dict[str, Any]] = []

    def _count(self, *where: Any) -> int:
        with Session(self.engine) as session:
            query = (
                select(func.count())
                .select_from(Run)
                .join(CampaignRun, CampaignRun.run_id == Run.id)
                .where(CampaignRun.campaign_id == self.campaign_id, *where)
            )
            return int(session.scalar(query) or 0)

    def unfinished(self) -> int:
        return self._count(Run.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]))

    def executed_fraction(self) -> float:
        done = self._count(Run.attempt >= 1, Run.status.not_in(UNFINISHED))
        return done / max(self.executed, 1)

    def running(self) -> dict[Any, int]:
        with Session(self.engine) as session:
            query = (
                select(Run.id, Run.attempt)
                .join(CampaignRun, CampaignRun.run_id == Run.id)
                .where(CampaignRun.campaign_id == self.campaign_id)
                .where(Run.status == RunStatus.RUNNING)
            )
            return {row[0]: row[1] for row in session.execute(query)}

    def killed(self, running: dict[Any, int]) -> None:
        self.kills.append((time.time(), running))

    def check_recoveries(self) -> None:
        """A kill is recovered once each run it interrupted was claimed again: the time is
        that of the last such claim (the database's clock, on this host)."""
        for kill in list(self.kills):
            at, interrupted = kill
            with Session(self.engine) as session:
                rows = session.execute(
                    select(Run.id, Run.attempt, Run.started_at).where(Run.id.in_(list(interrupted)))
                ).all()
            if all(attempt > interrupted[run_id] for run_id, attempt, _ in rows):
                last = max((s.timestamp() for _, _, s in rows if s), default=at)
                self.recoveries.append(
                    {"runs_interrupted": len(rows), "recovery_s": round(max(last - at, 0), 2)}
                )
                self.kills.remove(kill)

    def count_commands(self) -> None:
        """Add up what Redis counted so far (call before it restarts, and at the end)."""
        client = redis.Redis.from_url(self.broker.url())
        try:
            stats = client.info("commandstats")
            for name in ("lpush", "rpush"):
                self.counted[name] += int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
            value = client.get("mlipm:mlipm:messages-sent")
            self.platform_counter |= value is not None
            self.counted["platform"] += int(value or 0)
        finally:
            client.close()

    def queue_figures(self, root: Path, *, task_lines: bool) -> dict[str, Any]:
        """``deliveries`` and ``busy_retries`` are read from Celery's per-task lines: None
        without them (``MLIPM_WORKER_LOG_TASKS`` off)."""
        self.count_commands()
        self.engine.dispose()
        logs = b"".join(p.read_bytes() for p in sorted(root.glob("worker-*.log")))
        per_run = self.counted["lpush"] / max(self.executed, 1)
        return {
            "executed_runs": self.executed,
            "messages_published": self.counted["lpush"],
            "messages_per_executed_run": round(per_run, 3),
            "messages_sent_by_platform": self.counted["platform"]
            if self.platform_counter
            else None,
            "messages_redelivered": self.counted["rpush"],
            "deliveries": logs.count(b"] received") if task_lines else None,
            "no_op_deliveries": logs.count(b"is finished or unknown; nothing to do"),
            "busy_retries": logs.count(b"] retry:") if task_lines else None,
            "resent_by_sweeper": sum(int(n) for n in re.findall(rb"re-enqueued (\d+) run", logs)),
            "sweeper_lines": [m.decode() for m in re.findall(rb"re-enqueued [^\n]*", logs)],
            "recoveries": self.recoveries,
            "unrecovered_kills": len(self.kills),
            "max_recovery_s": max((r["recovery_s"] for r in self.recoveries), default=None),
        }


UNFINISHED = (RunStatus.QUEUED, RunStatus.RUNNING)


def _drive(
    watch: _Watch,
    workers: list[subprocess.Popen[bytes]],
    broker: RedisServer,
    env: dict[str, str],
    root: Path,
    concurrency: int,
    chaos: bool,
) -> list[str]:
    events: list[str] = []
    pending = [0.25, 0.5, 0.75] if chaos else []
    while True:
        watch.check_recoveries()
        if watch.unfinished() == 0:
            watch.check_recoveries()
            return events
        if pending and watch.executed_fraction() >= pending[0]:
            point = pending.pop(0)
            running = watch.running()
            for i, worker in enumerate(workers):
                _kill(worker)
                workers[i] = _worker(env, root, len(_ALL_WORKERS), concurrency)
            watch.killed(running)
            events.append(f"SIGKILL all workers at {point:.0%} of executed runs")
            if point == 0.5:
                watch.count_commands()
                broker.stop()
                time.sleep(1)
                broker.start()
                events.append("Redis restarted empty at 50%")
        # The campaign's end is read from the runs' own timestamps, so this poll (a query
        # that competes with the workers for the CPUs) can be infrequent.
        time.sleep(1.0)


def _figures(url: str, campaign_id: Any, start: float, slots: int) -> dict[str, Any]:
    engine = create_engine(url)
    with Session(engine) as session:
        runs = list(
            session.scalars(
                select(Run)
                .join(CampaignRun, CampaignRun.run_id == Run.id)
                .where(CampaignRun.campaign_id == campaign_id)
            )
        )
        executed = [r for r in runs if r.status == RunStatus.SUCCEEDED]
        ids = [r.id for r in executed]
        metric_rows = session.scalar(select(func.count()).where(Metric.run_id.in_(ids))) or 0
        distinct_rows = (
            session.scalar(
                select(func.count(func.distinct(func.concat(Metric.run_id, Metric.name)))).where(
                    Metric.run_id.in_(ids)
                )
            )
            or 0
        )
        runs_with_core = session.scalar(
            select(func.count(func.distinct(Metric.run_id))).where(
                Metric.run_id.in_(ids), Metric.name == "fit_residual_rms"
            )
        )
    engine.dispose()
    compute = sum(r.wall_s or 0.0 for r in executed)
    runs_cpu = sum(r.cpu_s or 0.0 for r in executed)
    # Wall time: from the launch request until the last run finished (the database's clock,
    # on this same host).
    wall = max(r.finished_at.timestamp() for r in runs if r.finished_at) - start
    by_status: dict[str, int] = {}
    for r in runs:
        by_status[r.status.value] = by_status.get(r.status.value, 0) + 1
    return {
        "runs": len(runs),
        "by_status": by_status,
        "runs_lost": sum(r.status in (RunStatus.QUEUED, RunStatus.RUNNING) for r in runs),
        "metric_rows": metric_rows,
        "metric_rows_duplicated": metric_rows - distinct_rows,
        "succeeded_runs_missing_metrics": len(executed) - (runs_with_core or 0),
        "max_attempt": max(r.attempt for r in runs),
        "wall_s": round(wall, 2),
        "sum_benchmark_s": round(compute, 2),
        "overhead_ratio": round(wall * slots / compute, 3) if compute else None,
        "mean_run_s": round(compute / len(executed), 4) if executed else None,
        "_runs_cpu_s": runs_cpu,
        **_where_time_went(runs, start, wall, slots, compute),
    }


def _where_time_went(
    runs: list[Run], start: float, wall: float, slots: int, compute: float
) -> dict[str, Any]:
    """Split wall x slots into the runs' benchmark time and the rest, per worker process.

    ``in_run_s``: from the claim's transaction start to the result's timestamp, less the
    benchmark; ``between_runs_s``: from a run's result timestamp to the next claim on the same
    worker. A pool process writes a result while Celery hands it the next message
    (``workers.tasks.recorder``), so the split between them is loose (``between`` can be
    negative); their sum per run (``overhead_per_run_ms["all"]``) is from claim to claim, less
    the benchmark. ``idle_s``: the rest (launch, the first message, workers waiting at the
    end). Only meaningful with one process per worker (``--concurrency 1``)."""
    # (worker, claimed at, result at, benchmark seconds) of every run that ran to its end
    timed = [
        (r.worker, r.started_at.timestamp(), r.finished_at.timestamp(), r.wall_s or 0.0)
        for r in runs
        if r.started_at and r.finished_at and r.worker
    ]
    in_run = sum(end - begin - bench for _, begin, end, bench in timed)
    between = 0.0
    for name in {t[0] for t in timed}:
        mine = sorted((t for t in timed if t[0] == name), key=lambda t: t[1])
        between += sum(b[1] - a[2] for a, b in itertools.pairwise(mine))
    n = max(len(timed), 1)
    first_claim = min((t[1] for t in timed), default=start)
    return {
        # from the launch request to the first claim (the runs inserted, the first message sent)
        "first_claim_s": round(first_claim - start, 3),
        "overhead_s": {
            "in_run_s": round(in_run, 2),
            "between_runs_s": round(between, 2),
            "idle_s": round(wall * slots - compute - in_run - between, 2),
        },
        "overhead_per_run_ms": {
            "in_run": round(1000 * in_run / n, 2),
            "between_runs": round(1000 * between / n, 2),
            "all": round(1000 * (in_run + between) / n, 2),
        },
    }


_ALL_WORKERS: list[subprocess.Popen[bytes]] = []


def _worker(
    env: dict[str, str], root: Path, index: int, concurrency: int
) -> subprocess.Popen[bytes]:
    proc = _spawn(
        # the `mlipm worker` command the demo and docker compose run
        [
            "-m",
            "backend.cli",
            "worker",
            "--queue",
            "cpu",
            "--concurrency",
            str(concurrency),
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"bench-{index}@%h",
        ],
        env,
        root,
        f"worker-{index}",
    )
    _ALL_WORKERS.append(proc)
    return proc


def _ready(root: Path, index: int) -> bool:
    log = root / f"worker-{index}.log"
    return log.exists() and b" ready." in log.read_bytes()


def _spawn(args: list[str], env: dict[str, str], root: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        start_new_session=True,
        stdout=(root / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(predicate: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
