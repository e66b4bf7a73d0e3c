"""A visitor's tour of every dashboard page after the demo: each main panel has data.

``tour`` opens every page the demo's summary names, waits until each main panel is drawn and
asserts that it holds data (plotted points, not only axes; rows, not only headers). It reads
what the demo ran from the API, so the same tour serves the baselines-only demo in CI and the
full demo with MLIPs; with ``shots`` it saves a full-page screenshot of each page there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By

from frontend.api_client import DashboardClient
from tests.frontend.browser import page_text, severe_console_errors, wait_for

#: Finite values a ``dcc.Graph`` draws: the non-null entries of each trace's z (heatmaps,
#: contours), or else of its numeric axis (y, or x for horizontal bars and category y), as
#: Plotly holds them after decoding (typed arrays included).
POINTS_JS = """
const el = document.querySelector(arguments[0]);
const data = el && (el._fullData || el.data);
if (!data) return -1;
const finite = v => v !== null && v !== undefined && v !== '' && Number.isFinite(Number(v));
const count = a => Array.from(a ?? []).filter(finite).length;
let n = 0;
for (const t of data) {
  if (t.visible === false) continue;
  n += t.z ? count(Array.from(t.z).flatMap(row => Array.from(row ?? [])))
           : Math.max(count(t.x), count(t.y));
}
return n;
"""


@dataclass
class Visit:
    """One page of the tour: what was asserted, with the numbers found."""

    path: str
    found: dict[str, int] = field(default_factory=dict)


def points(driver: webdriver.Chrome, graph_id: str) -> int:
    """Finite values drawn in the graph ``graph_id`` (-1 while it is not drawn)."""
    count: int = driver.execute_script(
        POINTS_JS, f"#{graph_id}.js-plotly-plot, #{graph_id} .js-plotly-plot"
    )
    return count


def _graphs_hold_data(
    driver: webdriver.Chrome, minimum: dict[str, int], timeout: float
) -> dict[str, int]:
    """Wait until every graph in ``minimum`` draws at least that many values; their counts."""

    def drawn(d: webdriver.Chrome) -> dict[str, int] | None:
        found = {g: points(d, g) for g in minimum}
        return found if all(found[g] >= n for g, n in minimum.items()) else None

    try:
        found: dict[str, int] = wait_for(driver, drawn, timeout)
    except Exception as exc:
        found = {g: points(driver, g) for g in minimum}
        raise AssertionError(f"{driver.current_url}: panels short of data {found}") from exc
    return found


def tour(
    driver: webdriver.Chrome,
    dash_url: str,
    api_url: str,
    *,
    shots: Path | None = None,
    timeout: float = 90,
) -> list[Visit]:
    """Visit every page; raise AssertionError naming the first panel without data."""
    api = DashboardClient(api_url)
    boards = sorted(
        b["key"]
        for b in api.benchmarks()
        if api.runs(benchmark=b["key"], status="succeeded", limit=1, max_pages=1)
    )
    models = {m.name: m for m in api.models()}
    emt = models["EMT"]
    visits: list[Visit] = []

    def visit(path: str, name: str, check: Callable[[Visit], None]) -> None:
        driver.get(f"{dash_url.rstrip('/')}{path}")
        seen = Visit(path)
        check(seen)
        errors = severe_console_errors(driver)
        assert not errors, f"{path}: console errors {errors}"
        if shots is not None:
            _screenshot(driver, shots / f"{name}.png")
        visits.append(seen)

    def overview(seen: Visit) -> None:
        seen.found |= _graphs_hold_data(driver, {"leaderboard-pareto": 2}, timeout)
        wait_for(driver, lambda d: "EMT" in page_text(d), timeout)
        seen.found["benchmarks"] = len(boards)
        # the default weights rank models (all ones ranks none after the demo: only the
        # cheap baselines run MD, only the MLIPs are scored on S22)
        text = driver.find_element(By.ID, "leaderboard-summary-text").text
        ranked = re.search(r"\((\d+) ranked\)", text)
        assert ranked, text
        assert int(ranked[1]) >= 2, text
        seen.found["ranked"] = int(ranked[1])

    visit("/", "overview", overview)
    for key in boards:
        visit(
            f"/benchmarks/{key}",
            f"benchmark-{key}",
            lambda seen: seen.found.update(_graphs_hold_data(driver, {"board-score": 1}, timeout)),
        )

    def elements(seen: Visit) -> None:
        seen.found |= _graphs_hold_data(
            driver, {"elements-coverage": 3, "elements-error": 3}, timeout
        )

    visit("/elements", "elements", elements)

    def model_page(minimum: dict[str, int]) -> Callable[[Visit], None]:
        def check(seen: Visit) -> None:
            seen.found |= _graphs_hold_data(driver, minimum, timeout)

        return check

    md = {"nve", "md_stability", "thermal_expansion"} & set(boards)
    emt_panels = {"model-eos": 5, "model-diatomics": 5, "model-speed": 1, "model-parity": 1}
    if md:
        emt_panels["model-survival"] = 1
    visit(f"/models/{emt.id}", "model-emt", model_page(emt_panels))
    for name in ("CHGNet", "SevenNet-0"):
        mlip = next((m for n, m in models.items() if n.startswith(name)), None)
        if mlip is not None and api.runs(
            model_id=str(mlip.id), status="succeeded", limit=1, max_pages=1
        ):
            visit(
                f"/models/{mlip.id}",
                f"model-{name.lower()}",
                model_page({"model-eos": 5, "model-speed": 1}),
            )

    (run,) = api.runs(
        model_id=str(emt.id), benchmark="eos", status="succeeded", limit=1, max_pages=1
    )

    def run_page(seen: Visit) -> None:
        wait_for(driver, lambda d: d.find_elements(By.ID, "run-metrics"), timeout)
        metrics = driver.find_element(By.ID, "run-metrics").text
        assert "bulk_modulus" in metrics, metrics
        seen.found["series points"] = wait_for(
            driver,
            lambda d: max(
                [points_of(d, el) for el in d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")]
                or [0]
            ),
            timeout,
        )

    visit(f"/runs/{run.id}", "run", run_page)

    def campaigns(seen: Visit) -> None:
        bars = wait_for(
            driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#campaigns-list .progress"), timeout
        )
        assert "demo:" in page_text(driver)
        seen.found["campaigns"] = len(bars)

    visit("/campaigns", "campaigns", campaigns)

    if "landscape" in boards:

        def landscape(seen: Visit) -> None:
            seen.found |= _graphs_hold_data(
                driver,
                {"landscape-plane-a": 10, "landscape-difference": 10, "landscape-map": 5},
                timeout,
            )

        visit("/landscape", "landscape", landscape)
    return visits


def points_of(driver: webdriver.Chrome, element: object) -> int:
    """Finite values drawn in one ``.js-plotly-plot`` element."""
    count: int = driver.execute_script(
        POINTS_JS.replace("document.querySelector(arguments[0])", "arguments[0]"), element
    )
    return max(count, 0)


def _screenshot(driver: webdriver.Chrome, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(900, min(int(height) + 50, 6000)))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1800)


def main() -> None:
    """``python -m tests.frontend.tour DASH_URL API_URL [SHOTS_DIR]``: the tour of a running
    dashboard (e.g. after ``make demo``), with screenshots of every page in SHOTS_DIR."""
    import sys

    from tests.frontend.browser import chromium_driver

    dash_url, api_url, *rest = sys.argv[1:]
    with chromium_driver() as driver:
        for seen in tour(driver, dash_url, api_url, shots=Path(rest[0]) if rest else None):
            print(f"{seen.path}: {seen.found}")


if __name__ == "__main__":
    main()
