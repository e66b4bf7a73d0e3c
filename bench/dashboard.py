"""Dashboard render times in headless Chromium against a seeded database.

Seeds N models x B benchmarks x 5 metals into a fresh database (``tests/frontend/seed.py``),
serves the real API (uvicorn) and the dashboard, and prints, per page, the time from navigation
until the page's main content is drawn; the figures go to ``bench/results/dashboard.json``.

11 benchmarks are registered; ``--benchmarks 12`` (the issue's scale) adds synthetic ones, each
a copy of eos's headline metrics under another key, so every board and column is real data.

    .venv/bin/python bench/dashboard.py --models 200 --benchmarks 12 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import dbadmin
from backend.bootstrap import bootstrap
from backend.db.tables import Benchmark, Run
from tests.conftest import new_database_url
from tests.frontend.browser import chromium_driver, serve_dash, wait_for
from tests.frontend.seed import seed_dashboard
from tests.live import _serve_api, _stop

# page -> CSS selector that exists once the page's main content is drawn (AG Grid cells)
PAGES = {
    "leaderboard": ("/", "#leaderboard-table .ag-cell[col-id='model_link']"),
    "elements": (
        "/elements?model={model}",
        "#elements-error .heatmaplayer image, #elements-error .heatmaplayer .hm",
    ),
    "model": ("/models/{model}", "#model-results-table .ag-cell"),
    # the model page's last drawing: its six figures (curves, failures, parity) come after
    "model_figures": ("/models/{model}", "#model-parity .scatterlayer .trace"),
    "run": ("/runs/{run}", "#run-metrics td"),
    "campaigns": ("/campaigns", ".progress-bar"),
    "benchmark": ("/benchmarks/eos", "#board-table .ag-cell"),
    "benchmark_materials": (
        "/benchmarks/eos",
        "#board-materials .ag-row:not(.ag-row-loading) .ag-cell",
    ),
}


def _present(selector: str) -> Callable[[Any], Any]:
    return lambda driver: driver.find_elements(By.CSS_SELECTOR, selector)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--benchmarks", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/dashboard.json"))
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="skip the loads right after an API restart (the dashboard and browser stay warm)",
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    url = new_database_url("mlipm_bench_dash")
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        bootstrap(session)
        _add_synthetic_benchmarks(session, args.benchmarks)
        seeded = seed_dashboard(session, args.models)
        session.commit()
        n_bench = session.scalar(select(func.count(Benchmark.id)))
        n_runs = session.scalar(select(func.count(Run.id)))
    engine.dispose()
    print(
        f"seeded {args.models} models x {n_bench} benchmarks ({n_runs} runs) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    log_dir = Path(tempfile.mkdtemp(prefix="mlipm-bench-"))
    api_url, api = _serve_api(log_dir, {"DATABASE_URL": url})
    dash_url, stop = serve_dash(api_url)
    model, run = seeded.model_ids[0], seeded.run_ids[(0, "eos", "Cu")]
    results: dict[str, Any] = {
        "models": args.models,
        "benchmarks": n_bench,
        "runs": n_runs,
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "pages": {},
    }
    try:
        with chromium_driver() as driver:
            for name, (path, selector) in PAGES.items():
                target = dash_url + path.format(model=model, run=run)
                results["pages"][name] = _time_page(driver, name, target, selector, args.repeat)
                results["pages"][name]["path"] = path
            if not args.no_restart:
                # what a user sees right after the API restarts (a deploy): the dashboard
                # process and the browser keep what they had; the API starts from nothing
                for name, (path, selector) in PAGES.items():
                    target = dash_url + path.format(model=model, run=run)
                    _stop(api)
                    port = int(api_url.rsplit(":", 1)[1])
                    _, api = _serve_api(log_dir, {"DATABASE_URL": url}, port=port)
                    load = _load(driver, target, selector)
                    results["pages"][name]["after_api_restart_s"] = round(load, 3)
                    print(f"{name:20s} right after an API restart {load:5.2f} s")
    finally:
        stop()
        _stop(api)
        dbadmin.drop_database(url)
    results["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


def _load(driver: Any, target: str, selector: str) -> float:
    """Seconds from navigation to ``selector`` present (from a blank page)."""
    driver.get("about:blank")
    t0 = time.perf_counter()
    driver.get(target)
    wait_for(driver, _present(selector), 300)
    return time.perf_counter() - t0


def _time_page(driver: Any, name: str, target: str, selector: str, repeat: int) -> dict[str, Any]:
    """The first load (it warms caches and imports) and ``repeat`` more."""
    times = [_load(driver, target, selector) for _ in range(repeat + 1)]
    warm = times[1:]
    print(
        f"{name:20s} first {times[0]:6.2f} s"
        f"   then median {statistics.median(warm):5.2f} s"
        f"  (min {min(warm):.2f}, max {max(warm):.2f})"
    )
    return {
        "first_s": round(times[0], 3),
        "median_s": round(statistics.median(warm), 3),
        "min_s": round(min(warm), 3),
        "max_s": round(max(warm), 3),
    }


def _add_synthetic_benchmarks(session: Session, total: int) -> None:
    """Benchmarks up to ``total``: copies of eos's headline metrics under keys eos_copy_<n>."""
    eos = session.scalars(select(Benchmark).where(Benchmark.key == "eos")).one()
    registered = session.scalar(select(func.count(Benchmark.id))) or 0
    for n in range(1, total - registered + 1):
        session.execute(
            insert(Benchmark).values(
                key=f"eos_copy_{n}",
                version=eos.version,
                description="synthetic (bench/dashboard.py): eos's headline metrics, seeded",
                default_params={},
                headline_metrics=eos.headline_metrics,
            )
        )
    session.flush()


if __name__ == "__main__":
    main()
