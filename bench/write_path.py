"""Write path: metric rows ingested per second by the result writer.

Seeds a throwaway database with one model, one benchmark version and the elemental crystals,
creates N claimed runs, then records each run's result exactly as a worker does
(``services.runs.record_success``: look up the references, then one statement, committed on
its own, that finishes the run and inserts its metrics and series) and reports metric rows
per second. The benchmark compute is not part of it; the figure is the writer's own
throughput, with 1 or more writer processes. Commits are asynchronous as in a worker
(MLIPM_WORKER_SYNCHRONOUS_COMMIT); ``--synchronous-commit`` waits for each WAL flush.

The limit, measured the same way beside each case: the same rows (the run's update, its
metric rows and its series, one statement a run, committed on its own, asynchronously) written
with bare psycopg into tables without the platform's indexes, foreign keys and triggers: what
Postgres on this machine allows for that shape of write.

    python -m bench.write_path --runs 2000 --metrics 20,100 --writers 1,2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from backend import dbadmin
from backend.db.session import reset_engine_cache, session_scope
from backend.db.tables import Benchmark, Metric, MlipModel, Structure
from backend.repositories import runs as run_repo
from backend.schemas.results import MetricIn, RunTimings, SeriesIn
from backend.services import runs
from backend.settings import get_settings
from workers.tasks.runs import statement_scope, use_worker_session_options

SERVER = os.environ.get(
    "MLIPM_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument(
        "--metrics", default="20,100", help="metric rows per run (a comma-separated list)"
    )
    parser.add_argument("--series", type=int, default=1, help="series (50 points) per run")
    parser.add_argument(
        "--writers", default="1,2", help="writer processes (a comma-separated list)"
    )
    parser.add_argument(
        "--synchronous-commit",
        action="store_true",
        help="commit as the API does (wait for the WAL flush), not as workers do",
    )
    parser.add_argument("--quick", action="store_true", help="--runs 500")
    parser.add_argument("--out", type=Path, default=Path("bench/results/write_path.json"))
    args = parser.parse_args(argv)
    n_runs = 500 if args.quick else args.runs
    cases = []
    for n_metrics in (int(n) for n in args.metrics.split(",")):
        for n_writers in (int(n) for n in args.writers.split(",")):
            case = measure(n_runs, n_metrics, args.series, n_writers, sync=args.synchronous_commit)
            print(json.dumps(case))
            cases.append(case)
    figures = {"cases": cases, "load_average": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))


def measure(
    n_runs: int, n_metrics: int, n_series: int, n_writers: int, *, sync: bool = False
) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    url = (
        make_url(SERVER)
        .set(database=f"mlipm_bench_write_{uuid.uuid4().hex[:8]}")
        .render_as_string(hide_password=False)
    )
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    reset_engine_cache()
    try:
        from backend.bootstrap import bootstrap

        engine = create_engine(url)
        with Session(engine) as session:
            bootstrap(session)
            session.commit()
            job_ids = _claimed_runs(session, n_runs)
            session.commit()
        engine.dispose()
        chunks = [job_ids[i::n_writers] for i in range(n_writers)]
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager, ctx.Pool(n_writers) as pool:
            ready = manager.Barrier(n_writers)  # writers start together, once set up
            spans = pool.starmap(
                _write, [(url, chunk, n_metrics, n_series, sync, ready) for chunk in chunks]
            )
        # From the writers' common start to the last one's last result.
        wall = max(end for _, end in spans) - min(start for start, _ in spans)
        engine = create_engine(url)
        with Session(engine) as session:
            stored = session.scalar(select(func.count()).select_from(Metric)) or 0
        engine.dispose()
        limit_wall = _limit(url, chunks, n_metrics, n_series, sync)
    finally:
        reset_engine_cache(close=True)
        dbadmin.drop_database(url)
    return {
        "runs": n_runs,
        "metrics_per_run": n_metrics,
        "series_per_run": n_series,
        "writers": n_writers,
        "synchronous_commit": sync,
        "metric_rows_stored": stored,
        "wall_s": round(wall, 3),
        "metric_rows_per_s": round(stored / wall, 1),
        "runs_per_s": round(n_runs / wall, 1),
        "limit_metric_rows_per_s": round(n_runs * n_metrics / limit_wall, 1),
        "writer_busy_s": [round(end - start, 3) for start, end in spans],
        "machine": os.uname().nodename,
        "cpus": os.cpu_count(),
    }


def _claimed_runs(session: Session, n: int) -> list[uuid.UUID]:
    model = session.scalars(select(MlipModel).where(MlipModel.name == "EMT")).one()
    benchmark = session.scalars(select(Benchmark).where(Benchmark.key == "eos")).first()
    assert benchmark is not None
    structures = list(session.scalars(select(Structure.id)))
    rows = [
        {
            "mlip_model_id": model.id,
            "model_hash": model.version_hash,
            "benchmark_id": benchmark.id,
            "structure_id": structures[i % len(structures)],
            "params": {"i": i},
            "params_hash": f"write-bench-{i}",
            "status": "running",
            "attempt": 1,
        }
        for i in range(n)
    ]
    ids: list[uuid.UUID] = []
    for start in range(0, n, 1000):
        ids += run_repo.insert_runs(session, rows[start : start + 1000])
    return ids


def _write(
    url: str, run_ids: list[uuid.UUID], n_metrics: int, n_series: int, sync: bool, ready: Any
) -> tuple[float, float]:
    os.environ["DATABASE_URL"] = url
    os.environ["MLIPM_WORKER_SYNCHRONOUS_COMMIT"] = str(sync).lower()
    get_settings.cache_clear()
    reset_engine_cache()
    use_worker_session_options()  # as a worker process does
    metrics = [
        MetricIn(
            name="volume_per_atom" if k == 0 else f"metric_{k}",
            value=11.5 + k,
            unit="Å³/atom",
            compare_to_reference=k == 0,
        )
        for k in range(n_metrics)
    ]
    series = [
        SeriesIn(
            name=f"curve_{k}",
            x=[float(i) for i in range(50)],
            y=[float(i * i) for i in range(50)],
            x_label="x",
            x_unit="1",
            y_label="y",
            y_unit="1",
        )
        for k in range(n_series)
    ]
    timings = RunTimings(wall_s=0.1, cpu_s=0.1, peak_memory_mb=100.0)
    # What the worker holds after claiming (read before the clock starts).
    with session_scope() as session:
        jobs = [runs.job_of(session, run_id) for run_id in run_ids]
    ready.wait()
    start = time.time()
    for job in jobs:
        with statement_scope() as session:  # as the worker records a result
            runs.record_success(
                session,
                job,
                metrics=metrics,
                series=series,
                timings=timings,
                provenance={"bench": "write_path"},
            )
    return start, time.time()


_BARE_TABLES = """
CREATE TABLE bare_run (id uuid PRIMARY KEY, status text, finished_at timestamptz);
CREATE TABLE bare_metric (run_id uuid, name text, value float8, unit text);
CREATE TABLE bare_series (run_id uuid, name text, x jsonb, y jsonb);
"""
_BARE_WRITE = """
WITH done AS (
    UPDATE bare_run SET status = 'succeeded', finished_at = now() WHERE id = %(id)s RETURNING id
), metrics AS (
    INSERT INTO bare_metric SELECT done.id, m.name, m.value, m.unit
    FROM done, unnest(%(names)s::text[], %(values)s::float8[], %(units)s::text[])
        AS m(name, value, unit)
)
INSERT INTO bare_series SELECT done.id, s.name, s.x, s.y
FROM done, jsonb_to_recordset(%(series)s::jsonb) s(name text, x jsonb, y jsonb)
"""


def _limit(
    url: str, chunks: list[list[uuid.UUID]], n_metrics: int, n_series: int, sync: bool
) -> float:
    """Seconds the bare writes of the same rows take with as many writers (module docstring)."""
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(_BARE_TABLES)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO bare_run (id) VALUES (%s)", [(i,) for c in chunks for i in c]
            )
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(len(chunks)) as pool:
        ready = manager.Barrier(len(chunks))
        spans = pool.starmap(
            _write_bare, [(conninfo, chunk, n_metrics, n_series, sync, ready) for chunk in chunks]
        )
    return max(end for _, end in spans) - min(start for start, _ in spans)


def _write_bare(
    conninfo: str, run_ids: list[uuid.UUID], n_metrics: int, n_series: int, sync: bool, ready: Any
) -> tuple[float, float]:
    import psycopg

    names = ["volume_per_atom" if k == 0 else f"metric_{k}" for k in range(n_metrics)]
    series = json.dumps(
        [
            {
                "name": f"curve_{k}",
                "x": [float(i) for i in range(50)],
                "y": [float(i * i) for i in range(50)],
            }
            for k in range(n_series)
        ]
    )
    options = "" if sync else "-c synchronous_commit=off"
    with psycopg.connect(conninfo, autocommit=True, options=options) as conn:
        ready.wait()
        start = time.time()
        for run_id in run_ids:
            params = {
                "id": run_id,
                "names": names,
                "values": [11.5 + k for k in range(n_metrics)],
                "units": ["Å³/atom"] * n_metrics,
                "series": series,
            }
            conn.execute(_BARE_WRITE, params, prepare=True)
        return start, time.time()


if __name__ == "__main__":
    main()
