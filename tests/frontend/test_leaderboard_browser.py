"""The per-benchmark board page ("/benchmarks/eos") in headless Chromium against the real API.

Needs the fixture ``live_api_url`` from ``tests/conftest.py``: the base URL of a running API whose
database holds a finished campaign of "EMT", "LJ-exp-fit" and "Morse-GW-exp-fit" on ``eos``.
"""

from __future__ import annotations

import re

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.frontend.browser import (
    page_text,
    plotted_trace_count,
    serve_dash,
    severe_console_errors,
    wait_for,
)
from tests.frontend.grid import page_cells

pytestmark = pytest.mark.browser

MODELS = ("EMT", "LJ-exp-fit", "Morse-GW-exp-fit")


def _materials_row(driver: webdriver.Chrome, model: str, material: str) -> list[str]:
    """The cell texts of the (model, material) row of the per-material table."""
    for cells in page_cells(driver, "#board-materials"):
        if cells[:2] == [material, model]:
            return cells
    return []


def test_leaderboard_shows_models_values_and_parity(chromium: webdriver.Chrome, dash_url: str):
    chromium.get(dash_url + "/benchmarks/eos")
    wait_for(chromium, lambda d: d.find_elements(By.CSS_SELECTOR, "#board-table .ag-cell"))

    text = page_text(chromium)
    for model in MODELS:
        assert model in text
    assert "Å³/atom" in text
    assert "failures by class" in text
    assert "coverage" in text

    cu = wait_for(chromium, lambda d: _materials_row(d, "EMT", "Cu"))
    assert cu[2] == "succeeded"
    # Material, Model, status, failure class, params, then V0 (model), V0 exp, error, ...
    v0_text = cu[5]
    assert re.fullmatch(r"11\.[56]\d*", v0_text), cu

    traces = wait_for(chromium, lambda d: plotted_trace_count(d, "board-parity-volume_per_atom"))
    assert traces >= len(MODELS) + 1  # one per model, plus y = x
    assert chromium.find_elements(
        By.CSS_SELECTOR, "#board-parity-volume_per_atom .scatterlayer .trace"
    )

    assert severe_console_errors(chromium) == []


def test_leaderboard_empty_state(chromium: webdriver.Chrome, request: pytest.FixtureRequest):
    # NEEDS the fixture ``empty_api_url`` in tests/conftest.py: the base URL of a running real API
    # whose database holds no eos results (e.g. a freshly migrated database). Skipped until then.
    try:
        empty_api_url: str = request.getfixturevalue("empty_api_url")
    except pytest.FixtureLookupError:
        pytest.skip("needs the fixture empty_api_url (a real API with an empty database)")
    base_url, stop = serve_dash(empty_api_url)
    try:
        chromium.get(base_url + "/benchmarks/eos")
        empty = wait_for(chromium, lambda d: d.find_elements(By.ID, "board-empty"))
        text = empty[0].text
        assert "No results yet" in text
        assert "make demo" in text
        assert "POST /campaigns" in text
        assert severe_console_errors(chromium) == []
    finally:
        stop()


def test_leaderboard_shows_api_error(chromium: webdriver.Chrome, unused_tcp_url: str):
    """An unreachable API is reported in an alert, not swallowed (needs no live API)."""
    base_url, stop = serve_dash(unused_tcp_url)
    try:
        chromium.get(base_url + "/benchmarks/eos")
        error = wait_for(chromium, lambda d: d.find_elements(By.ID, "board-error"))
        assert "Cannot reach the API" in error[0].text
        assert unused_tcp_url in error[0].text
        assert severe_console_errors(chromium) == []
    finally:
        stop()


#: Texts a grid cuts: a cell value wider than its box (clipped, or ended by an ellipsis), or a
#: word of a cell or header wider than its box (a header wraps, so a long word breaks).
CUT = """
const grid = arguments[0], cut = [];
const probe = document.createElement('span');
probe.style.cssText = 'position: absolute; visibility: hidden; white-space: nowrap';
document.body.appendChild(probe);
for (const el of document.querySelectorAll(grid + ' .ag-cell-value, '
                                           + grid + ' .ag-header-cell-text')) {
    if (el.scrollWidth > el.clientWidth + 1) { cut.push(el.textContent); continue; }
    probe.style.font = getComputedStyle(el).font;
    for (const word of el.textContent.split(/\\s+/)) {
        probe.textContent = word;
        if (probe.getBoundingClientRect().width > el.clientWidth + 1) cut.push(word);
    }
}
probe.remove();
return cut;
"""


@pytest.mark.parametrize(
    ("path", "grid"),
    [("/", "#leaderboard-table"), ("/benchmarks/eos", "#board-table")],
)
def test_every_column_is_as_wide_as_what_it_shows(
    chromium: webdriver.Chrome, dash_url: str, path: str, grid: str
) -> None:
    """Widths come with the columns (frontend/components/grid.py fit_widths), not from the
    browser measuring cells: no cell or header word may be cut."""
    chromium.get(dash_url + path)
    wait_for(chromium, lambda d: d.find_elements(By.CSS_SELECTOR, f"{grid} .ag-cell"))
    cells = chromium.find_elements(By.CSS_SELECTOR, f"{grid} .ag-cell")
    assert len(cells) > 10
    assert chromium.execute_script(CUT, grid) == []
