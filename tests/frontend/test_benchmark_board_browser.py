"""The per-material table of a benchmark board, paged, filtered and sorted on the server, in
headless Chromium against the seeded API (``tests/frontend/seed.py``)."""

from __future__ import annotations

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.frontend.browser import screenshot, severe_console_errors, wait_for
from tests.frontend.conftest import N_SEEDED_MODELS, SeededApi
from tests.frontend.datatable import all_pages, page_rows, shown_number
from tests.frontend.seed import MATERIALS, is_failed, model_name

pytestmark = pytest.mark.browser

TABLE = "#board-materials"


def _expected(seeded_api: SeededApi, key: str) -> set[tuple[str, str]]:
    """(material, model) of every succeeded seeded run on ``key``, from the seed's formulas."""
    keys = sorted({b["key"] for b in httpx.get(f"{seeded_api.url}/benchmarks").json()["items"]})
    b = keys.index(key)
    return {
        (material, model_name(m))
        for m in range(N_SEEDED_MODELS)
        for j, material in enumerate(MATERIALS)
        if not is_failed(m, j, b)
    }


def test_materials_table_pages_filters_and_sorts_every_row(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    expected = _expected(seeded_api, "eos")
    assert len(expected) > 25, "the seed must fill more than one page"
    chromium.get(seeded_dash + "/benchmarks/eos")
    wait_for(chromium, lambda d: page_rows(d, TABLE), 90)

    rows, pages = all_pages(chromium, TABLE)
    assert pages == 2
    assert len(rows) == len(expected)  # each row once, none lost between pages
    assert {(r["material"], r["model"]) for r in rows} == expected

    chromium.get(seeded_dash + "/benchmarks/eos")
    wait_for(chromium, lambda d: page_rows(d, TABLE), 90)
    box = chromium.find_element(
        By.CSS_SELECTOR, f"{TABLE} th.dash-filter[data-dash-column='material'] input"
    )
    chromium.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.send_keys("Pt", Keys.ENTER)
    platinum = {pair for pair in expected if pair[0] == "Pt"}
    shown = wait_for(
        chromium,
        lambda d: (
            len(r := page_rows(d, TABLE)) == len(platinum)
            and all(row["material"] == "Pt" for row in r)
            and r
        ),
    )
    assert {(r["material"], r["model"]) for r in shown} == platinum

    column = "volume_per_atom__value"
    sort = f"{TABLE} th.dash-header[data-dash-column='{column}'] .column-header--sort"
    button = chromium.find_element(By.CSS_SELECTOR, sort)
    chromium.execute_script("arguments[0].click();", button)  # ascending

    def ascending(driver: webdriver.Chrome) -> list[float] | None:
        numbers = [shown_number(r[column]) for r in page_rows(driver, TABLE)]
        values = [n[0] for n in numbers if n is not None]
        ordered = len(values) == len(platinum) and values == sorted(values) and values
        return ordered if ordered and len(set(values)) > 1 else None

    wait_for(chromium, ascending)
    screenshot(chromium, "benchmark-materials-filtered-sorted")
    assert severe_console_errors(chromium) == []
