"""Leaderboard CSV export and the element difference map, clicked through in headless Chromium.

Against the seeded API of ``conftest.py``: the expected numbers come from ``seeded_values.py``
(seed_formulas.py's formulas on the seed's own inputs), never from the page or the dashboard's code.
Screenshots of each state land in ``screenshots/``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.frontend.browser import (
    chromium_driver,
    downloaded_file,
    screenshot,
    set_dropdown,
    severe_console_errors,
    wait_for,
)
from tests.frontend.conftest import N_SEEDED_MODELS, SeededApi
from tests.frontend.grid import (
    all_pages,
    column_ids,
    filter_box,
    page_rows,
    shown_number,
    sort_by,
    visible_headers,
)
from tests.frontend.seed_formulas import model_name
from tests.frontend.seeded_values import (
    SeedInputs,
    abs_error,
    expected_rows,
    read_seed_inputs,
)

pytestmark = pytest.mark.browser

TABLE = "#leaderboard-table"
TEXT_COLUMNS = ("model_link", "version", "family", "openness", "training_set", "missing")


@pytest.fixture
def downloading(tmp_path: Path) -> Iterator[tuple[webdriver.Chrome, Path]]:
    """A fresh headless Chromium that saves downloads in its own empty folder."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    with chromium_driver(download_dir=folder) as driver:
        yield driver, folder


@pytest.fixture(scope="module")
def seed_inputs(seeded_api: SeededApi) -> SeedInputs:
    return read_seed_inputs(seeded_api.database_url)


def _wait_models(driver: webdriver.Chrome, models: list[str]) -> list[dict[str, str]]:
    """Wait until the table's only page lists ``models`` in this order; its rows."""
    return wait_for(
        driver,
        lambda d: (r := page_rows(d, TABLE)) and [x["model_link"] for x in r] == models and r,
    )


def _export(driver: webdriver.Chrome, folder: Path) -> tuple[list[str], list[list[str]]]:
    """Click the export button; the downloaded CSV's header and rows (the file is then removed,
    so the next export can be told apart)."""
    driver.find_element(By.ID, "leaderboard-export").click()
    path = downloaded_file(folder)
    assert path.suffix == ".csv"
    # utf-8-sig: the grid starts its CSV with a byte-order mark (spreadsheets then read UTF-8)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header, *rows = list(csv.reader(handle))
    path.unlink()
    return header, rows


def _assert_as_shown(record: dict[str, str], shown: dict[str, str]) -> None:
    """A CSV row holds the values the table shows (numbers unrounded, text as is)."""
    assert record.keys() == shown.keys()
    for column, text in shown.items():
        if column in TEXT_COLUMNS:
            assert record[column] == text, column
            continue
        number = shown_number(text)
        if number is None:
            assert record[column] == "", column
        else:
            value, half_unit = number
            assert abs(float(record[column]) - value) <= half_unit * (1 + 1e-9), (column, text)


def _assert_seeded(record: dict[str, str], expected: dict[str, Any]) -> None:
    """A CSV row holds the numbers the seed's formulas give (the rank is checked by order)."""
    assert record.keys() == expected.keys()
    for column, value in expected.items():
        if column == "rank":
            continue
        if isinstance(value, str):
            assert record[column] == value, column
        elif value is None:
            assert record[column] == "", column
        else:
            assert float(record[column]) == pytest.approx(value, rel=1e-9, abs=1e-15), column


def _records(header: list[str], rows: list[list[str]], ids: list[str]) -> list[dict[str, str]]:
    assert all(len(row) == len(header) for row in rows)
    return [dict(zip(ids, row, strict=True)) for row in rows]


def test_csv_export_of_the_default_view_is_the_table_on_all_its_pages(
    downloading: tuple[webdriver.Chrome, Path], seeded_dash: str, seed_inputs: SeedInputs
) -> None:
    driver, folder = downloading
    expected = expected_rows(seed_inputs, N_SEEDED_MODELS)
    driver.get(seeded_dash + "/")
    wait_for(driver, lambda d: len(page_rows(d, TABLE)) == N_SEEDED_MODELS, 90)
    # Fewer rows per page than models, so the export must hold rows of pages not on screen.
    driver.execute_script(
        "dash_ag_grid.getApi('leaderboard-table').setGridOption('paginationPageSize', 4);"
    )
    wait_for(driver, lambda d: len(page_rows(d, TABLE)) == 4)
    shown, pages = all_pages(driver, TABLE)
    assert pages == 2
    screenshot(driver, "leaderboard-export-last-page")

    header, rows = _export(driver, folder)
    ids = column_ids(driver, TABLE)
    assert header == visible_headers(driver, TABLE)
    records = _records(header, rows, ids)
    assert [r["model_link"] for r in records] == [r["model_link"] for r in shown]
    for record, row in zip(records, shown, strict=True):
        _assert_as_shown(record, row)
    # The API's combined ranks (equal scores share the smaller rank), every model ranked.
    assert [r["rank"] for r in records] == [str(r["rank"]) for r in expected]
    assert all(r["missing"] == "" for r in records)
    # Same models in the same order as the combined scores rank them (equal scores: by name,
    # see the test below), each with the seeded numbers.
    by_name = {r["model_link"]: r for r in expected}
    assert [round(float(r["score"]), 9) for r in records] == [
        round(r["score"], 9) for r in expected
    ]
    for record in records:
        _assert_seeded(record, by_name[record["model_link"]])
    assert severe_console_errors(driver) == []


def test_csv_export_follows_the_tables_sort_and_filter(
    downloading: tuple[webdriver.Chrome, Path], seeded_dash: str, seed_inputs: SeedInputs
) -> None:
    driver, folder = downloading
    column = "eos__score"
    expected = [
        r
        for r in expected_rows(seed_inputs, N_SEEDED_MODELS)
        if "os" in r["openness"].lower()  # the table's filter: case-insensitive "contains"
    ]
    expected.sort(key=lambda r: r[column], reverse=True)
    assert len({r[column] for r in expected}) == len(expected), "the sort must not tie"
    assert {r["openness"] for r in expected} == {"OSOD", "OSCD"}
    driver.get(seeded_dash + "/")
    wait_for(driver, lambda d: len(page_rows(d, TABLE)) == N_SEEDED_MODELS, 90)

    sort_by(driver, TABLE, column)  # ascending
    sort_by(driver, TABLE, column)  # descending
    filter_box(driver, TABLE, "openness").send_keys("os", Keys.ENTER)
    shown = _wait_models(driver, [r["model_link"] for r in expected])
    screenshot(driver, "leaderboard-export-sorted-filtered")

    header, rows = _export(driver, folder)
    assert header == visible_headers(driver, TABLE)
    records = _records(header, rows, column_ids(driver, TABLE))
    assert [r["model_link"] for r in records] == [r["model_link"] for r in expected]
    for record, row, seeded in zip(records, shown, expected, strict=True):
        _assert_as_shown(record, row)
        _assert_seeded(record, seeded)
    assert severe_console_errors(driver) == []


def test_equal_combined_scores_are_ranked_by_model_name(
    chromium: webdriver.Chrome, seeded_dash: str, seed_inputs: SeedInputs
) -> None:
    expected = expected_rows(seed_inputs, N_SEEDED_MODELS)
    scores = [round(r["score"], 9) for r in expected]
    assert len(set(scores)) < len(scores), "the seed must give two models the same score"
    chromium.get(seeded_dash + "/")
    shown = wait_for(chromium, lambda d: len(r := page_rows(d, TABLE)) == N_SEEDED_MODELS and r, 90)
    assert [r["model_link"] for r in shown] == [r["model_link"] for r in expected]


_CELL = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!gd || !gd._fullData || !gd._fullLayout || !gd._fullLayout.xaxis) { return null; }
for (const trace of gd._fullData) {  // decoded: z may have been sent as a typed array
    const cd = trace.customdata;
    if (!Array.isArray(cd) || !trace.z) { continue; }
    for (let i = 0; i < cd.length; i++) {
        for (let j = 0; j < cd[i].length; j++) {
            const c = cd[i][j];
            if (c !== arguments[1] && !(Array.isArray(c) && c[0] === arguments[1])) { continue; }
            const x = trace.x ? trace.x[j] : (trace.x0 || 0) + j * (trace.dx || 1);
            const y = trace.y ? trace.y[i] : (trace.y0 || 0) + i * (trace.dy || 1);
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const box = gd.getBoundingClientRect();
            return {z: trace.z[i][j], left: box.left + xa._offset + xa.c2p(x),
                    top: box.top + ya._offset + ya.c2p(y)};
        }
    }
}
return null;
"""


def _cell(driver: webdriver.Chrome, graph_id: str, symbol: str) -> dict[str, Any] | None:
    """The value of ``symbol``'s cell of a periodic-table map and its centre in the viewport."""
    cell: dict[str, Any] | None = driver.execute_script(_CELL, f"#{graph_id}", symbol)
    return cell if cell and cell["z"] is not None else None


def _pointer_at(driver: webdriver.Chrome, cell: dict[str, Any]) -> ActionChains:
    """Actions that move the real mouse pointer to the centre of ``cell`` (viewport pixels)."""
    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(round(cell["left"]), round(cell["top"]))
    return actions


def test_difference_map_is_model_a_minus_model_b_and_a_click_lists_the_runs(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi, seed_inputs: SeedInputs
) -> None:
    mine, theirs, symbol = 1, 2, "Cu"
    errors = [abs_error(seed_inputs, m, "eos", "bulk_modulus", symbol) for m in (mine, theirs)]
    assert errors[0] is not None
    assert errors[1] is not None
    expected = errors[0] - errors[1]  # one Cu structure per model: the mean is that run's error
    assert abs(expected) > 1, "the seed must give the two models different errors on Cu"

    model = seeded_api.seeded.model_ids[mine]
    chromium.get(f"{seeded_dash}/elements?model={model}&metric=eos:bulk_modulus")
    wait_for(chromium, lambda d: _cell(d, "elements-error", symbol), 90)
    assert _cell(chromium, "elements-difference", symbol) is None  # nothing to compare yet
    set_dropdown(chromium, "elements-compare", f"{model_name(theirs)} 1")

    chromium.execute_script(
        "document.getElementById('elements-difference').scrollIntoView({block: 'center'});"
    )
    cell = wait_for(chromium, lambda d: _cell(d, "elements-difference", symbol), 60)
    assert cell["z"] == pytest.approx(expected, rel=1e-9)

    _pointer_at(chromium, cell).perform()
    hover = wait_for(
        chromium,
        lambda d: [
            e.text for e in d.find_elements(By.CSS_SELECTOR, "#elements-difference .hovertext")
        ],
        10,
    )
    text = " ".join(hover)
    assert f"({symbol})" in text
    shown = re.search(r"(-?[\d.]+(?:e[+-]?\d+)?) GPa", text)
    assert shown is not None, text
    assert float(shown[1]) == pytest.approx(expected, rel=5e-4)  # 4 significant digits
    screenshot(chromium, "elements-difference")

    chromium.execute_script(
        "document.getElementById('elements-difference').scrollIntoView({block: 'center'});"
    )
    cell = wait_for(chromium, lambda d: _cell(d, "elements-difference", symbol), 10)
    _pointer_at(chromium, cell).click().perform()
    title = wait_for(chromium, lambda d: d.find_elements(By.ID, "elements-runs-title"), 30)
    assert f"containing {symbol}" in title[0].text
    links = chromium.find_elements(By.CSS_SELECTOR, "#elements-runs a[href^='/runs/']")
    # one Cu structure per benchmark but s22 (its complexes)
    assert len(links) == len(seed_inputs.benchmarks) - 1
    materials = chromium.execute_script(
        "return Array.from(document.querySelectorAll('#elements-runs tbody tr'))"
        ".map(tr => tr.cells[1].textContent.trim());"
    )
    assert set(materials) == {symbol}
    screenshot(chromium, "elements-difference-runs")
    assert severe_console_errors(chromium) == []
