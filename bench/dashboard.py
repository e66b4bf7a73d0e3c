"""Dashboard render times in headless Chromium against a seeded database.

Seeds N models x every registered benchmark (12 with the landscape one) x 5 metals into a fresh
database (``tests/frontend/seed.py``), serves the real API (uvicorn) and the dashboard, and
prints, per page, the time from navigation until the page's main content is drawn.

    .venv/bin/python bench/dashboard.py --models 200 --repeat 3
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import dbadmin
from backend.bootstrap import bootstrap
from backend.db.models import Benchmark, Run
from tests.conftest import new_database_url
from tests.frontend.browser import chromium_driver, serve_dash, wait_for
from tests.frontend.seed import seed_dashboard
from tests.live import _serve_api, _stop

# page -> CSS selector that exists once the page's main content is drawn
PAGES = {
    "leaderboard": ("/", "#leaderboard-table td[data-dash-column='model_link']"),
    "elements": (
        "/elements?model={model}",
        "#elements-error .heatmaplayer image, #elements-error .heatmaplayer .hm",
    ),
    "model": ("/models/{model}", "#model-results-table td"),
    "run": ("/runs/{run}", "#run-metrics td"),
    "campaigns": ("/campaigns", ".progress-bar"),
    "benchmark": ("/benchmarks/eos", "#board-table td"),
}


def _present(selector: str) -> Callable[[Any], Any]:
    return lambda driver: driver.find_elements(By.CSS_SELECTOR, selector)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    url = new_database_url("mlipm_bench_dash")
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        bootstrap(session)
        seeded = seed_dashboard(session, args.models)
        session.commit()
        n_bench = session.scalar(select(func.count(Benchmark.id)))
        n_runs = session.scalar(select(func.count(Run.id)))
    engine.dispose()
    print(
        f"seeded {args.models} models x {n_bench} benchmarks ({n_runs} runs) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    api_url, api = _serve_api(Path(tempfile.mkdtemp(prefix="mlipm-bench-")), {"DATABASE_URL": url})
    dash_url, stop = serve_dash(api_url)
    model, run = seeded.model_ids[0], seeded.run_ids[(0, "eos", "Cu")]
    try:
        with chromium_driver() as driver:
            for name, (path, selector) in PAGES.items():
                target = dash_url + path.format(model=model, run=run)
                times = []
                for _ in range(args.repeat + 1):  # the first load warms caches and imports
                    driver.get("about:blank")
                    t0 = time.perf_counter()
                    driver.get(target)
                    wait_for(driver, _present(selector), 300)
                    times.append(time.perf_counter() - t0)
                warm = times[1:]
                print(
                    f"{name:12s} first {times[0]:6.2f} s"
                    f"   then median {statistics.median(warm):5.2f} s"
                    f"  (min {min(warm):.2f}, max {max(warm):.2f})"
                )
    finally:
        stop()
        _stop(api)
        dbadmin.drop_database(url)


if __name__ == "__main__":
    main()
