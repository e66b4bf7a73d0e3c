"""Every dashboard page in headless Chromium against a real API on a seeded database.

The database holds ``N_SEEDED_MODELS`` synthetic models on every benchmark whose numbers follow
``tests/frontend/seed_formulas.py``; the expected values below come from those formulas and from the
reference table, not from the dashboard's code. Screenshots land in ``screenshots/``.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.frontend.browser import (
    page_text,
    screenshot,
    set_dropdown,
    severe_console_errors,
    wait_for,
)
from tests.frontend.conftest import N_SEEDED_MODELS, SeededApi
from tests.frontend.grid import page_rows, sort_by
from tests.frontend.seed_formulas import (
    ELEMENTS_PER_SET,
    FAILURE_CLASSES,
    model_name,
    relative_error,
)
from tests.frontend.seeded_values import board_scores, ranks, read_seed_inputs

pytestmark = pytest.mark.browser


def _table_models(driver: webdriver.Chrome) -> list[str]:
    """Model names in the leaderboard table, top to bottom (read in one script: no stale refs)."""
    return [r["model_link"] for r in page_rows(driver, "#leaderboard-table") if r["model_link"]]


def _wait_table(driver: webdriver.Chrome) -> list[str]:
    return wait_for(driver, lambda d: _table_models(d) or None)


def _single_benchmark_ranking(seeded_api: SeededApi, key: str) -> list[str]:
    """The seed's models in the order of their rank on one benchmark's standard board (ties by
    name), from the formulas."""
    inputs = read_seed_inputs(seeded_api.database_url)
    places = ranks(board_scores(inputs, key, N_SEEDED_MODELS))
    names = [model_name(m) for m in range(N_SEEDED_MODELS)]
    return sorted(names, key=lambda name: (places[names.index(name)] or 0, name))


def test_leaderboard_ranks_filters_sorts_and_keeps_weights_in_the_url(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    chromium.get(seeded_dash + "/")
    ranked = _wait_table(chromium)
    assert set(ranked) == {model_name(i) for i in range(N_SEEDED_MODELS)}
    text = page_text(chromium)
    assert "failure rate" in text
    assert "flagged" in text
    assert "score (%)" in text  # units of each benchmark's score in the headers
    assert "MAPE" not in text
    assert f"{N_SEEDED_MODELS} ranked" in text
    screenshot(chromium, "leaderboard")

    # Openness filter: seed model i has OPENNESS[i % 4]; OSOD -> models 0 and 4.
    set_dropdown(chromium, "leaderboard-openness", "OSOD")
    wait_for(chromium, lambda d: set(_table_models(d)) == {model_name(0), model_name(4)})
    wait_for(chromium, lambda d: "openness=OSOD" in d.current_url)

    # Prototype filter, from a shared link: the seeded metals are all fcc, no run is on a
    # rocksalt structure; choosing fcc brings every model back.
    chromium.get(seeded_dash + "/?prototype=rocksalt")
    wait_for(chromium, lambda d: "No model matches these filters." in page_text(d))
    set_dropdown(chromium, "leaderboard-prototype", "fcc")
    wait_for(chromium, lambda d: len(set(_table_models(d))) == N_SEEDED_MODELS)
    wait_for(chromium, lambda d: "prototype=fcc" in d.current_url)

    # Weights: only one benchmark counts -> its own ranking, and the URL carries the weights.
    chromium.get(seeded_dash + "/")
    before = _wait_table(chromium)
    only, expected = next(
        (key, ranking)
        for key in ("cohesive", "eos", "elastic", "relax")
        if (ranking := _single_benchmark_ranking(seeded_api, key)) != before
    )  # a benchmark whose own ranking differs from the combined one
    inputs = wait_for(
        chromium, lambda d: d.find_elements(By.CSS_SELECTOR, "input[id*='leaderboard-weight']")
    )
    for box in inputs:
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys("0")
    chosen = chromium.find_element(By.CSS_SELECTOR, f"input[id*='\"{only}\"']")
    chosen.send_keys(Keys.CONTROL, "a")
    chosen.send_keys("1")

    def url_weights(driver: webdriver.Chrome) -> dict[str, float] | None:
        query = parse_qs(urlparse(driver.current_url).query)
        if "weights" not in query:
            return None
        pairs = (part.split(":") for part in query["weights"][0].split(","))
        weights = {k: float(v) for k, v in pairs}
        only_one = weights.get(only) == 1 and sum(weights.values()) == 1
        return weights if only_one else None

    weights = wait_for(chromium, url_weights)
    assert weights["speed"] == 0
    after = wait_for(chromium, lambda d: _table_models(d) == expected and expected)

    # Sorting by the model column changes the order to alphabetical.
    sort_by(chromium, "#leaderboard-table", "model_link")
    wait_for(chromium, lambda d: _table_models(d) == sorted(_table_models(d)))

    # The shared URL restores the view.
    shared = chromium.current_url
    chromium.get(shared)
    restored = _wait_table(chromium)
    assert restored == after
    assert severe_console_errors(chromium) == []


def _model_id(seeded_api: SeededApi, index: int) -> str:
    return str(seeded_api.seeded.model_ids[index])


_CELL_VALUE = """
const root = document.querySelector(arguments[0]);
const gd = root && (root.classList.contains('js-plotly-plot')
    ? root : root.querySelector('.js-plotly-plot'));
if (!gd || !gd.data) { return null; }
for (const trace of gd.data) {
    if (!trace.customdata || !trace.z) { continue; }
    for (let i = 0; i < trace.customdata.length; i++) {
        const j = trace.customdata[i].indexOf(arguments[1]);
        if (j >= 0) { return [trace.z[i][j], (trace.hovertext || trace.text)[i][j]]; }
    }
}
return null;
"""


def _cell(driver: webdriver.Chrome, graph_id: str, symbol: str) -> list | None:
    return driver.execute_script(_CELL_VALUE, f"#{graph_id}", symbol)


def test_element_maps_show_the_seeded_values_and_list_runs_on_click(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    model = _model_id(seeded_api, 1)
    chromium.get(f"{seeded_dash}/elements?model={model}&metric=eos:bulk_modulus")
    # The training map is log-coloured: 10**z is the count from the card (model 1: OMat24).
    z, text = wait_for(chromium, lambda d: _cell(d, "elements-training", "Cu"), 90)
    assert 10**z == pytest.approx(ELEMENTS_PER_SET["OMat24"]["Cu"], rel=1e-6)
    assert "90,000" in text
    # The error map: |B0 - B0(exp)| of model 1 on Cu, from the seed's formula and the reference.
    runs = httpx.get(
        f"{seeded_api.url}/runs",
        params={"model_id": model, "benchmark": "eos", "element": "Cu", "include_metrics": "true"},
    ).json()["items"]
    (metric,) = [m for m in runs[0]["metrics"] if m["name"] == "bulk_modulus"]
    keys = sorted({b["key"] for b in httpx.get(f"{seeded_api.url}/benchmarks").json()["items"]})
    expected = abs(metric["reference_value"] * relative_error(1, 0, 1, keys.index("eos")))
    z, text = wait_for(chromium, lambda d: _cell(d, "elements-error", "Cu"), 60)
    assert z == pytest.approx(expected, rel=1e-6)
    assert "GPa" in text
    screenshot(chromium, "elements")

    chromium.execute_script(
        "document.querySelector('#elements-error .js-plotly-plot')"
        ".emit('plotly_click', {points: [{curveNumber: 2, customdata: 'Cu'}]});"
    )
    title = wait_for(chromium, lambda d: d.find_elements(By.ID, "elements-runs-title"), 30)
    assert "containing Cu" in title[0].text
    links = chromium.find_elements(By.CSS_SELECTOR, "#elements-runs a[href^='/runs/']")
    assert len(links) == len(keys) - 1  # one Cu structure per benchmark but s22 (complexes)
    assert severe_console_errors(chromium) == []


def test_model_page_shows_card_results_curves_parity_and_failures(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    model, other = _model_id(seeded_api, 0), _model_id(seeded_api, 1)
    chromium.get(f"{seeded_dash}/models/{model}?compare={other}")
    title = wait_for(chromium, lambda d: d.find_elements(By.ID, "model-title"), 60)
    assert model_name(0) in title[0].text
    wait_for(
        chromium, lambda d: d.find_elements(By.CSS_SELECTOR, "#model-results-table .ag-cell"), 60
    )
    text = page_text(chromium)
    assert "OSOD" in text
    assert "MPtrj" in text
    assert "Failure rate" in text
    # EOS curves of both models on the first material, and parity points with their source.
    eos_names = wait_for(
        chromium,
        lambda d: d.execute_script(
            "const g = document.querySelector('#model-eos .js-plotly-plot');"
            "return g && g.data && g.data.length >= 2 ? g.data.map(t => t.name) : null;"
        ),
        60,
    )
    assert any(model_name(0) in n for n in eos_names)
    assert any(model_name(1) in n for n in eos_names)
    sources = wait_for(
        chromium,
        lambda d: d.execute_script(
            "const g = document.querySelector('#model-parity .js-plotly-plot');"
            "if (!g || !g.data) return null;"
            "return g.data.filter(t => t.customdata).map(t => t.customdata.map(c => c[1])).flat();"
        ),
        60,
    )
    assert sources
    assert all(s for s in sources)
    failures = wait_for(
        chromium,
        lambda d: d.execute_script(
            "const g = document.querySelector('#model-failures .js-plotly-plot');"
            "return g && g.data && g.data.length ? g.data.map(t => t.name) : null;"
        ),
        60,
    )
    assert set(failures) <= set(FAILURE_CLASSES)
    screenshot(chromium, "model")
    assert severe_console_errors(chromium) == []


def test_run_page_shows_metrics_series_and_provenance(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    run_id = seeded_api.seeded.run_ids[(1, "eos", "Cu")]
    chromium.get(f"{seeded_dash}/runs/{run_id}")
    title = wait_for(chromium, lambda d: d.find_elements(By.ID, "run-title"), 60)
    assert "eos on Cu" in title[0].text
    text = page_text(chromium)
    assert "bulk_modulus" in text
    assert "Provenance" in text
    assert "seeded" in text
    assert wait_for(chromium, lambda d: d.find_elements(By.CSS_SELECTOR, "#run-content .main-svg"))
    assert chromium.find_elements(By.ID, "run-download-json")
    assert wait_for(
        chromium, lambda d: d.find_elements(By.CSS_SELECTOR, "#run-download-series button")
    )
    screenshot(chromium, "run")
    assert severe_console_errors(chromium) == []


def test_campaign_monitor_shows_progress_failures_and_cancels_with_a_token(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    chromium.get(f"{seeded_dash}/campaigns")
    wait_for(chromium, lambda d: d.find_elements(By.CSS_SELECTOR, ".progress-bar"), 60)
    text = page_text(chromium)
    assert "monitor: a campaign still running" in text
    assert "temperature_runaway" in text  # the failure, with its class
    running = str(seeded_api.seeded.running_campaign_id)
    button = chromium.find_element(By.CSS_SELECTOR, f"button[id*='{running}']")
    assert not button.is_enabled()  # no token yet
    screenshot(chromium, "campaigns")

    chromium.find_element(By.ID, "campaigns-token").send_keys(seeded_api.admin_token)
    chromium.find_element(By.ID, "campaigns-token-save").click()
    wait_for(
        chromium,
        lambda d: d.find_element(By.CSS_SELECTOR, f"button[id*='{running}']").is_enabled(),
        30,
    )
    # found and clicked in one poll: the monitor re-renders its rows while it refreshes
    wait_for(
        chromium,
        lambda d: d.find_element(By.CSS_SELECTOR, f"button[id*='{running}']").click() is None,
        30,
    )
    done = wait_for(chromium, lambda d: d.find_elements(By.ID, "campaigns-cancelled"), 30)
    assert "cancelled" in done[0].text
    state = httpx.get(f"{seeded_api.url}/campaigns/{running}").json()
    assert state["status"] == "cancelled"
    assert state["progress"]["cancelled"] == 3  # the three queued runs
    assert severe_console_errors(chromium) == []


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/", "#leaderboard-table .ag-cell"),
        ("/elements", "#elements-training .main-svg"),
        ("/campaigns", ".progress-bar"),
        ("/benchmarks/eos", "#board-table .ag-cell"),
        ("/models/{model}", "#model-results-table .ag-cell"),
        ("/runs/{run}", "#run-title"),
        ("/runs/00000000-0000-0000-0000-000000000000", "#run-error"),
    ],
)
def test_every_page_loads_without_console_errors(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi, path: str, ready: str
) -> None:
    url = seeded_dash + path.format(
        model=_model_id(seeded_api, 2), run=seeded_api.seeded.run_ids[(2, "speed", "Al")]
    )
    chromium.get(url)
    wait_for(chromium, lambda d: d.find_elements(By.CSS_SELECTOR, ready), 90)
    time.sleep(1)  # let the remaining callbacks land
    name = path.strip("/").split("/")[0] or "leaderboard"
    if "0000" in path:
        name = "run-not-found"
        assert "no run" in page_text(chromium)
    screenshot(chromium, f"page-{name}")
    assert severe_console_errors(chromium) == []
