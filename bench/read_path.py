"""Read path: latency of the leaderboards with 10^6 metric rows, under concurrent clients.

Seeds a throwaway database (migrated and bootstrapped like a real one) with 200 approved
models, 5 benchmarks x 100 structures with experimental references, 10^5 runs (96 %
succeeded, 3 % failed, 1 % queued) and about 10^6 metric rows, written with COPY (so the
leaderboard summaries are filled by the same triggers as in production). Then it starts the
API (`mlipm api --workers 2`) on loopback and drives it with a bounded asyncio load generator
(20 clients, each sending its next request as soon as the previous answer arrives, one
keep-alive connection each), and reports p50/p95/p99 per endpoint:

- ``GET /leaderboards/eos`` (first page of 100 rows, the default),
- ``GET /leaderboards?benchmarks=eos,elastic,cohesive,relax,thermal_expansion`` (combined),
- the same board revalidated with ``If-None-Match``, each client sending the ETag of its last
  200 as a browser does (a 304 until a write changes the board),
- both boards with a query that differs per request (``nonce``), so no stored body is reused:
  each answer goes through the route (validation, sorting, paging, JSON); the board's rows are
  kept per process until a write touches them (``backend/services/board_rows.py``).

Results land on every benchmark while the stored boards are read (``--writes-per-s``, 2 by
default), and each phase reports the server's CPU per request.

    python -m bench.read_path [--clients 20] [--requests 2000] [--runs 100000] [--workers 2]

The API is started as it ships (``mlipm api --workers N``, no access log) on a free port, on
a private Postgres cluster started here (``--shared-postgres``: MLIPM_BENCH_POSTGRES instead);
the result names the ports and the connections each API process held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from backend import dbadmin
from backend.cli.localservices import PostgresCluster
from bench.board_builds import build_times
from bench.http_load import ResultWriter, board_etag, fetch_body, load, wait_up
from shared_kernel.hashing import model_version_hash, params_hash

SERVER = os.environ.get(
    "MLIPM_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCHMARKS = ("eos", "elastic", "cohesive", "relax", "thermal_expansion")
ELEMENTS = ("Cu", "Al", "Ni", "Ag", "Au", "Pd", "Pt", "Fe", "Si", "Mo")
METRICS_PER_RUN = 10
#: Every bench model is EMT without parameters, file or element list: one version hash.
EMT_HASH = model_version_hash("emt", {}, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--out", type=Path, default=Path("bench/results/read_path.json"))
    parser.add_argument("--repeats", type=int, default=20, help="in-process builds per board")
    parser.add_argument(
        "--build-only", action="store_true", help="in-process build times only, no HTTP load"
    )
    parser.add_argument(
        "--writes-per-s",
        type=float,
        default=2.0,
        help="results landing per second while the stored boards are read (0: none)",
    )
    parser.add_argument(
        "--shared-postgres",
        action="store_true",
        help="use MLIPM_BENCH_POSTGRES (default: a private cluster started here, as shipped)",
    )
    args = parser.parse_args()
    # stopped (timeout, kill): unwind, so the API and the private cluster stop too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="mlipm-read-path-") as scratch:
        Path(scratch).chmod(0o755)  # the private cluster runs as the postgres user
        cluster = None if args.shared_postgres else PostgresCluster(Path(scratch) / "pg")
        if cluster is not None:
            cluster.start()
        server = SERVER if cluster is None else cluster.url("postgres")
        try:
            _measure_on(server, args)
        finally:
            if cluster is not None:
                cluster.stop()


def _measure_on(server: str, args: argparse.Namespace) -> None:
    url = (
        make_url(server)
        .set(database=f"mlipm_bench_read_{uuid.uuid4().hex[:8]}")
        .render_as_string(hide_password=False)
    )
    dbadmin.ensure_database(url)
    try:
        dbadmin.upgrade(url)
        _bootstrap(url)
        seeded = seed(url, n_models=args.models, n_runs=args.runs)
        figures = {
            **seeded,
            "in_process_build_ms": build_times(url, BENCHMARKS, args.repeats),
            **(
                {}
                if args.build_only
                else serve_and_measure(
                    url,
                    clients=args.clients,
                    requests=args.requests,
                    workers=args.workers,
                    writes_per_s=args.writes_per_s,
                )
            ),
            "postgres": f"{'shared' if args.shared_postgres else 'private'} ({make_url(url).port})",
            "machine": f"{platform.node()} ({os.cpu_count()} CPUs, {platform.processor()})",
            "python": platform.python_version(),
        }
    finally:
        dbadmin.drop_database(url)
    print(json.dumps(figures, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")


def _bootstrap(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from backend.bootstrap import bootstrap

    engine = create_engine(url)
    with Session(engine) as session:
        bootstrap(session)
        session.commit()
    engine.dispose()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def seed(url: str, *, n_models: int, n_runs: int) -> dict[str, Any]:
    """Models, structures, references, runs and metrics, bulk-loaded; returns the counts."""
    start = time.perf_counter()
    with psycopg.connect(_libpq(url)) as conn:
        benchmarks = _benchmarks(conn)
        n_structures = max(1, n_runs // (n_models * len(benchmarks)))
        structures = _copy_structures(conn, n_structures)
        references = _copy_references(conn, structures, benchmarks)
        models = _copy_models(conn, n_models)
        run_rows = _runs(models, benchmarks, structures)
        with conn.cursor().copy(
            "COPY run (id, mlip_model_id, benchmark_id, structure_id, params, params_hash, "
            "status, attempt, finished_at, provenance, model_hash) FROM STDIN"
        ) as copy:
            for row in run_rows:
                copy.write_row((*row[:10], EMT_HASH))
        n_metrics = _metrics(conn, run_rows, benchmarks, references)
        conn.commit()
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {
        "models": n_models,
        "benchmarks": len(benchmarks),
        "structures_per_benchmark": n_structures,
        "runs": len(run_rows),
        "metric_rows": n_metrics,
        "seed_s": round(time.perf_counter() - start, 1),
    }


def _benchmarks(conn: psycopg.Connection[Any]) -> dict[str, tuple[uuid.UUID, list[str], str]]:
    """Each bootstrapped benchmark of BENCHMARKS (newest version): its id, headline metric
    names and the hash of its default parameters."""
    return {
        key: (bid, [m["name"] for m in headline], params_hash(key, version, defaults))
        for key, bid, headline, version, defaults in conn.execute(
            "SELECT DISTINCT ON (key) key, id, headline_metrics, version, default_params "
            "FROM benchmark WHERE key = ANY(%s) ORDER BY key, created_at DESC",
            (list(BENCHMARKS),),
        )
    }


def _copy_structures(
    conn: psycopg.Connection[Any], n_structures: int
) -> list[tuple[uuid.UUID, str]]:
    """A structure set of ``n_structures`` one-element structures (the data of a bootstrapped
    one), each its own material; returns (id, material) per structure."""
    template = conn.execute("SELECT data FROM structure LIMIT 1").fetchone()
    assert template is not None, "bootstrap first"
    set_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO structure_set (id, name, description, source) VALUES (%s, %s, '', '')",
        (set_id, "read-path bench"),
    )
    structures = []
    with conn.cursor().copy(
        "COPY structure (id, structure_set_id, label, material, formula, elements, n_atoms, "
        "content_hash, data) FROM STDIN"
    ) as copy:
        for i in range(n_structures):
            sid, element = uuid.uuid4(), ELEMENTS[i % len(ELEMENTS)]
            structures.append((sid, f"bench-{i:03d}"))
            copy.write_row(
                (
                    sid,
                    set_id,
                    f"bench-{i:03d}",
                    f"bench-{i:03d}",
                    element,
                    [element],
                    1,
                    uuid.uuid4().hex,
                    template[0],
                )
            )
    return structures


def _copy_references(
    conn: psycopg.Connection[Any],
    structures: list[tuple[uuid.UUID, str]],
    benchmarks: dict[str, tuple[uuid.UUID, list[str], str]],
) -> dict[tuple[str, str], tuple[uuid.UUID, float]]:
    """One experimental reference per (material, headline metric), its value a deterministic
    function of the pair; returns (id, value) by (material, metric name)."""
    references: dict[tuple[str, str], tuple[uuid.UUID, float]] = {}
    with conn.cursor().copy(
        "COPY reference (id, material, property, value, unit, level_of_theory, conditions, "
        "source, dataset) FROM STDIN"
    ) as copy:
        names = sorted({n for _, headline, _ in benchmarks.values() for n in headline})
        for _, material in structures:
            for name in names:
                rid = uuid.uuid4()
                value = 10.0 + zlib.crc32(f"{material}/{name}".encode()) % 1000 / 10
                references[(material, name)] = (rid, value)
                copy.write_row(
                    (rid, material, name, value, "1", "experiment", "{}", "bench", "bench")
                )
    return references


def _copy_models(conn: psycopg.Connection[Any], n_models: int) -> list[uuid.UUID]:
    """``n_models`` approved EMT model versions, cycling openness and training set."""
    models = []
    with conn.cursor().copy(
        "COPY mlip_model (id, name, version, family, params, card, status, is_baseline, "
        "version_hash) FROM STDIN"
    ) as copy:
        for i in range(n_models):
            mid = uuid.uuid4()
            models.append(mid)
            card = {
                "openness": ("OSOD", "OSCD", "CSOD", "CSCD")[i % 4],
                "training_data": [
                    {"name": ("MPtrj", "OMat24", "Alex")[i % 3], "level_of_theory": "PBE"}
                ],
            }
            copy.write_row(
                (mid, f"bench-model-{i:03d}", "1", "emt", "{}", json.dumps(card), "approved", False,
                 EMT_HASH)
            )  # fmt: skip
    return models


def _runs(
    models: list[uuid.UUID],
    benchmarks: dict[str, tuple[uuid.UUID, list[str], str]],
    structures: list[tuple[uuid.UUID, str]],
) -> list[tuple[Any, ...]]:
    """One run per (model, benchmark, structure), all of each benchmark's standard protocol
    (the boards show one protocol), 3 % failed and 1 % queued."""
    rows = []
    i = 0
    for mid in models:
        for bid, headline, digest in benchmarks.values():
            for sid, material in structures:
                i += 1
                status = "failed" if i % 33 == 0 else "queued" if i % 100 == 1 else "succeeded"
                finished = None if status == "queued" else "2026-11-25 12:00:00+00"
                rows.append(
                    (
                        uuid.uuid4(),
                        mid,
                        bid,
                        sid,
                        "{}",
                        digest,
                        status,
                        1,
                        finished,
                        "{}",
                        material,
                        headline,
                    )
                )
    return rows


def _metrics(
    conn: psycopg.Connection[Any],
    runs: list[tuple[Any, ...]],
    benchmarks: dict[str, tuple[uuid.UUID, list[str], str]],
    references: dict[tuple[str, str], tuple[uuid.UUID, float]],
) -> int:
    """Headline metrics compared with the references, then other metrics and some flags."""
    n = 0
    with conn.cursor().copy(
        "COPY metric (id, run_id, name, value, unit, reference_id, error) FROM STDIN"
    ) as copy:
        for k, (run_id, *_rest) in enumerate(runs):
            status, material, headline = _rest[5], _rest[9], _rest[10]
            if status != "succeeded":
                continue
            for j in range(METRICS_PER_RUN):
                if j < len(headline):
                    rid, ref = references[(material, headline[j])]
                    value = ref * (1 + ((k * 7 + j) % 21 - 10) / 100)
                    copy.write_row(
                        (uuid.uuid4(), run_id, headline[j], value, "1", rid, value - ref)
                    )
                else:
                    copy.write_row((uuid.uuid4(), run_id, f"extra_{j}", float(j), "1", None, None))
                n += 1
            if k % 2 == 0:
                copy.write_row(
                    (uuid.uuid4(), run_id, "flag_window_sensitive", 1.0, "1", None, None)
                )
                n += 1
    return n


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_and_measure(
    url: str, *, clients: int, requests: int, workers: int, writes_per_s: float = 0.0
) -> dict[str, Any]:
    """Start ``mlipm api`` as it ships (``--workers``, no access log) on a free port and load
    it; also how the clients' connections spread over its processes."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MLIPM_LOG_LEVEL": "warning",
        "MLIPM_API_HOST": "127.0.0.1",
        "MLIPM_API_PORT": str(port),
    }
    command = [sys.executable, "-m", "backend.cli", "api", "--workers", str(workers)]
    server = subprocess.Popen(command, env=env)
    try:
        wait_up(port)
        combined = "/leaderboards?benchmarks=" + ",".join(BENCHMARKS)
        board = "/leaderboards/eos"
        results: dict[str, Any] = {
            "clients": clients,
            "results_landing_per_s": writes_per_s,
            "api_command": " ".join(["mlipm", *command[3:]]),
            "api_port": port,
            # other work on the machine inflates every figure: keep its measure beside them
            "load_average_1min_before": round(os.getloadavg()[0], 2),
            "uptime_before": _uptime(),
        }
        # "{i}": a query parameter that differs per request, so no stored body is reused
        # and every answer goes through the route
        for name, path, headers in (
            ("leaderboard_eos", board, {}),
            ("leaderboard_combined", combined, {}),
            ("leaderboard_eos_if_none_match", board, {"If-None-Match": "{latest}"}),
            ("leaderboard_eos_built", board + "?nonce={i}", {}),
            ("leaderboard_combined_built", combined + "&nonce={i}", {}),
        ):
            warm = min(requests, 3 * clients if "built" in name else 200)
            asyncio.run(load(port, path, headers, clients=clients, total=warm))
            with ResultWriter(_libpq(url), writes_per_s if "built" not in name else 0.0) as writer:
                # a build takes ~1.5 s of CPU at 10^6 rows: fewer of those
                total = min(requests, 3 * clients) if "built" in name else requests
                results[name] = asyncio.run(
                    load(port, path, headers, clients=clients, total=total, server=server.pid)
                )
            results[name]["results_written"] = writer.written
            results[name]["path"] = path
            results[name]["single_client_p50_ms"] = asyncio.run(
                load(port, path, headers, clients=1, total=10 if "built" in name else 100)
            )["p50_ms"]
        results["limit"] = bare_limits(
            port, {"eos": board, "combined": combined}, clients=clients, requests=requests
        )
        results["load_average_1min_after"] = round(os.getloadavg()[0], 2)
        results["uptime_after"] = _uptime()
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def bare_limits(
    api_port: int, paths: dict[str, str], *, clients: int, requests: int, workers: int = 2
) -> dict[str, Any]:
    """What the server allows at best: each board's bytes, as the API just served them, from
    a bare Starlette endpoint (bench/bare_server.py: same uvicorn options and processes, no
    database or middleware), loaded by the same clients, and its 304."""
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlipm-bare-") as scratch:
        for name, path in paths.items():
            body = Path(scratch) / f"{name}.json"
            body.write_bytes(asyncio.run(fetch_body(api_port, path)))
            port = _free_port()
            env = {**os.environ, "MLIPM_BENCH_BODY": str(body), "MLIPM_LOG_LEVEL": "warning"}
            command = [sys.executable, "-m", "bench.bare_server", str(port), str(workers)]
            server = subprocess.Popen(command, env=env)
            try:
                wait_up(port)
                etag = asyncio.run(board_etag(port, "/body"))
                for label, headers in (("", {}), ("_if_none_match", {"If-None-Match": etag})):
                    asyncio.run(load(port, "/body", headers, clients=clients, total=200))
                    found[f"{name}{label}"] = asyncio.run(
                        load(port, "/body", headers, clients=clients, total=requests)
                    )
            finally:
                server.terminate()
                server.wait(timeout=30)
    return found


if __name__ == "__main__":
    main()
