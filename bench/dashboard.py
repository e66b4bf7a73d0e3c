"""Dashboard render times in headless Chromium against a seeded database.

Seeds N models x B benchmarks x 5 metals into a fresh database (``tests/frontend/seed.py``),
serves the API and the dashboard as they ship (``mlipm api``: 2 uvicorn processes;
``mlipm dashboard``: gunicorn, 2 gevent workers), and prints, per page, the time from navigation
to the first frame painted after the page's main content is in it (timed inside the page); the
figures go to ``bench/results/dashboard.json``.

The limit of the model page's drawing: its seven figures, built by the page's own callbacks,
drawn by plotly.js alone in a blank page in the same browser (no Dash, no server), timed from
navigation to the last figure drawn.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import plotly
import plotly.io as pio
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import dbadmin
from backend.bootstrap import bootstrap
from backend.cli.localservices import free_port
from backend.db.tables import Benchmark, Run
from tests.conftest import new_database_url
from tests.frontend.browser import chromium_driver, wait_for
from tests.frontend.seed import seed_dashboard
from tests.live import _spawn, _stop, wait_until

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--benchmarks", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/dashboard.json"))
    parser.add_argument(
        "--pages",
        default=",".join(PAGES),
        help="comma-separated subset of the pages (default: all of them)",
    )
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="skip the loads right after an API restart (the dashboard and browser stay warm)",
    )
    parser.add_argument(
        "--restarts", type=int, default=3, help="API restarts before loading each page"
    )
    args = parser.parse_args()
    pages = {name: PAGES[name] for name in args.pages.split(",")}
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
    api_port = free_port()
    api_url, api = _serve_shipped_api(log_dir, url, api_port)
    dash_url, dash = _serve_shipped_dashboard(log_dir, api_url)
    model, run = seeded.model_ids[0], seeded.run_ids[(0, "eos", "Cu")]
    results: dict[str, Any] = {
        "models": args.models,
        "benchmarks": n_bench,
        "runs": n_runs,
        "cpus": os.cpu_count(),
        "servers": "mlipm api (2 uvicorn processes), mlipm dashboard (gunicorn, 2 gevent workers)",
        "load_average_before": os.getloadavg(),
        "pages": {},
    }
    try:
        with chromium_driver() as driver:
            for name, (path, selector) in pages.items():
                target = dash_url + path.format(model=model, run=run)
                results["pages"][name] = _time_page(driver, name, target, selector, args.repeat)
                results["pages"][name]["path"] = path
            if not args.no_restart:
                # what a user sees right after the API restarts (a deploy): the dashboard
                # process and the browser keep what they had; the API starts from nothing
                for name, (path, selector) in pages.items():
                    target = dash_url + path.format(model=model, run=run)
                    api, loads = _after_restarts(
                        driver, api, (log_dir, url, api_port), target, selector, args.restarts
                    )
                    results["pages"][name]["after_api_restart_s"] = loads
            if "model_figures" in pages:
                results["model_figures_limit"] = _figures_limit(driver, api_url, model, args.repeat)
    finally:
        _stop(dash)
        _stop(api)
        dbadmin.drop_database(url)
    results["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


def _after_restarts(
    driver: Any,
    api: subprocess.Popen[bytes],
    how: tuple[Path, str, int],
    target: str,
    selector: str,
    restarts: int,
) -> tuple[subprocess.Popen[bytes], list[float]]:
    """Load ``target`` right after each of ``restarts`` API restarts (``how``: the log folder,
    database URL and port); the API now serving and the seconds of each load."""
    loads = []
    for _ in range(restarts):
        _stop(api)
        _, api = _serve_shipped_api(*how)
        loads.append(round(_load(driver, target, selector), 3))
    name = target.rsplit("/", 1)[-1][:20]
    print(
        f"{name:20s} right after an API restart: median"
        f" {statistics.median(loads):5.2f} s (max {max(loads):.2f})"
    )
    return api, loads


def _serve_shipped_api(
    log_dir: Path, database_url: str, port: int
) -> tuple[str, subprocess.Popen[bytes]]:
    """``mlipm api`` as shipped (its default processes) on ``port``; each start its own log."""
    log = log_dir / f"api-{time.monotonic_ns()}.log"
    env = {"DATABASE_URL": database_url, "MLIPM_API_PORT": str(port)}
    api = _spawn(["-m", "backend.cli", "api"], log, env)
    api_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(api, log, f"{api_url}/health"), 60, "the API to answer")
    return api_url, api


def _serve_shipped_dashboard(log_dir: Path, api_url: str) -> tuple[str, subprocess.Popen[bytes]]:
    """``mlipm dashboard`` as shipped (gunicorn, gevent workers) on a free port."""
    port, log = free_port(), log_dir / "dashboard.log"
    env = {"MLIPM_API_URL": api_url, "MLIPM_DASH_PORT": str(port)}
    dash = _spawn(["-m", "backend.cli", "dashboard"], log, env)
    dash_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(dash, log, f"{dash_url}/"), 90, "the dashboard to answer")
    return dash_url, dash


def _answers(proc: subprocess.Popen[bytes], log: Path, url: str) -> bool:
    assert proc.poll() is None, log.read_text()
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _figures_limit(driver: Any, api_url: str, model: Any, repeat: int) -> dict[str, Any]:
    """The model page's seven figures, made by its callbacks in this process, drawn by
    plotly.js alone in a blank page: seconds from navigation to the last one drawn."""
    from frontend.app import create_app

    app = create_app(api_url)
    page = sys.modules["frontend.pages.model"]
    with app.server.test_request_context():
        panels = page.material_figures(str(model), None, None)[:5]
        panels += page.breakdowns(str(model))
    figures = {panel.id: json.loads(pio.to_json(panel.figure)) for panel in panels}
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    boxes = "".join(f'<div id="{name}"></div>' for name in figures)
    html = (
        f'<html><head><script src="{plotly_js.as_uri()}"></script></head><body>{boxes}<script>'
        f"const FIGURES = {json.dumps(figures)};"
        "for (const [id, f] of Object.entries(FIGURES)) Plotly.newPlot(id, f.data, f.layout);"
        "window.drawnAt = performance.now();</script></body></html>"
    )
    target = Path(tempfile.mkdtemp(prefix="mlipm-bench-figures-")) / "figures.html"
    target.write_text(html)
    times = []
    for _ in range(repeat + 1):
        driver.get("about:blank")
        driver.get(target.as_uri())
        drawn = wait_for(driver, lambda d: d.execute_script("return window.drawnAt"), 60)
        times.append(drawn / 1000)
    warm = times[1:]
    print(
        f"{'model figures, bare':20s} first {times[0]:6.2f} s"
        f"   then median {statistics.median(warm):5.2f} s"
    )
    return {
        "what": "the model page's 7 figures drawn by plotly.js alone in a blank page",
        "first_s": round(times[0], 3),
        "median_s": round(statistics.median(warm), 3),
    }


# In every page before its own scripts: the time (ms from navigation) of the first animation
# frame after the watched selector matched, i.e. when its content is painted. Polling from
# here instead (WebDriver, every 0.2 s) added up to 0.2 s and a round trip to each figure.
WATCH = """
window.__drawnAt = null;
const watch = new MutationObserver(() => {
  if (window.__watched && document.querySelector(window.__watched)) {
    watch.disconnect();
    requestAnimationFrame(() => { window.__drawnAt = performance.now(); });
  }
});
watch.observe(document, {subtree: true, childList: true});
"""


def _load(driver: Any, target: str, selector: str) -> float:
    """Seconds from navigation (from a blank page) to the first frame painted after
    ``selector`` matched."""
    driver.get("about:blank")
    script = driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": f"window.__watched = {json.dumps(selector)};" + WATCH},
    )
    try:
        driver.get(target)
        drawn = wait_for(driver, lambda d: d.execute_script("return window.__drawnAt"), 300)
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", script)
    return float(drawn) / 1000


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
