"""A benchmark board in headless Chromium against the seeded API (``tests/frontend/seed.py``):
the protocol and level-of-theory choosers, the ranked table with its intervals, and the
per-material table, paged, filtered and sorted on the server."""

from __future__ import annotations

import re

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
from tests.frontend.grid import all_pages, filter_box, page_rows, shown_number, sort_by
from tests.frontend.seed_compounds import COMPOUND_RUNS
from tests.frontend.seed_formulas import (
    ALT_EOS_PARAMS,
    FAILURE_CLASSES,
    MATERIALS,
    N_ALT_PROTOCOL_MODELS,
    S22_LEVEL,
    alt_protocol_models,
    is_failed,
    model_name,
)

pytestmark = pytest.mark.browser

TABLE = "#board-materials"
BOARD = "#board-table"
EN_DASH = "\u2013"
RANK = re.compile(
    rf"\d+( \(\d+{EN_DASH}\d+\))?"
)  # rank (best-worst), or the rank alone when certain
WITH_INTERVAL = re.compile(rf"\S+ \(\S+{EN_DASH}\S+\)")  # value (low-high)


def _key_index(seeded_api: SeededApi, key: str) -> int:
    keys = sorted({b["key"] for b in httpx.get(f"{seeded_api.url}/benchmarks").json()["items"]})
    return keys.index(key)


def _dropdown_text(driver: webdriver.Chrome, dropdown_id: str) -> str:
    """The text a ``dcc.Dropdown`` shows: its value's label, or its placeholder."""
    text: str = driver.execute_script(
        "const el = document.getElementById(arguments[0]);return el ? el.innerText.trim() : '';",
        dropdown_id,
    )
    return text


def _dropdown_options(driver: webdriver.Chrome, dropdown_id: str) -> list[str]:
    """Open the dropdown and read its options' labels (then close it again)."""
    driver.find_element(By.CSS_SELECTOR, f"#{dropdown_id}").click()
    options = wait_for(
        driver,
        lambda d: [o.text.strip() for o in d.find_elements(By.CSS_SELECTOR, "[role='option']")],
    )
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    return options


def _text_of(driver: webdriver.Chrome, element_id: str) -> str:
    """The text of the element with this id ("" while there is none; read in one script, so
    it cannot go stale while the page re-renders)."""
    text: str = driver.execute_script(
        "const el = document.getElementById(arguments[0]); return el ? el.innerText : '';",
        element_id,
    )
    return text


def _wait_text(driver: webdriver.Chrome, element_id: str, wanted: str) -> str:
    """Wait until the element shows ``wanted`` (the page's parts update one by one)."""
    return wait_for(driver, lambda d: wanted in (t := _text_of(d, element_id)) and t)


def _board_models(driver: webdriver.Chrome) -> list[str]:
    return [r["model"] for r in page_rows(driver, BOARD)]


def test_materials_table_pages_filters_and_sorts_every_run(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    b = _key_index(seeded_api, "eos")
    every = {(material, model_name(m)) for m in range(N_SEEDED_MODELS) for material in MATERIALS}
    every |= {(c, model_name(m)) for m, compounds in COMPOUND_RUNS.items() for c in compounds}
    failed = {
        (material, model_name(m))
        for m in range(N_SEEDED_MODELS)
        for j, material in enumerate(MATERIALS)
        if is_failed(m, j, b)
    }
    assert failed, "the seed must fail some eos runs"
    assert len(every) > 25, "the seed must fill more than one page"
    chromium.get(seeded_dash + "/benchmarks/eos")
    wait_for(chromium, lambda d: page_rows(d, TABLE), 90)

    rows, pages = all_pages(chromium, TABLE)
    assert pages == 2
    assert len(rows) == len(every)  # each run once, failed ones too, none lost between pages
    assert {(r["material"], r["model"]) for r in rows} == every
    shown_failed = [r for r in rows if r["status"] == "failed"]
    assert {(r["material"], r["model"]) for r in shown_failed} == failed
    assert all(r["failure_class"] in FAILURE_CLASSES for r in shown_failed)
    assert all(r["volume_per_atom__value"] == "n/a" for r in shown_failed)
    assert {r["params"] for r in rows} == {seeded_api.seeded.standard_hashes["eos"][:8]}

    chromium.get(seeded_dash + "/benchmarks/eos")
    wait_for(chromium, lambda d: page_rows(d, TABLE), 90)
    filter_box(chromium, TABLE, "material").send_keys("Pt", Keys.ENTER)
    platinum = {pair for pair in every if pair[0] == "Pt"}
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
    sort_by(chromium, TABLE, column)  # ascending

    def ascending(driver: webdriver.Chrome) -> list[float] | None:
        numbers = [shown_number(r[column]) for r in page_rows(driver, TABLE)]
        values = [n[0] for n in numbers if n is not None]
        ordered = len(page_rows(driver, TABLE)) == len(platinum) and values == sorted(values)
        return values if ordered and len(set(values)) > 1 else None

    wait_for(chromium, ascending)
    screenshot(chromium, "benchmark-materials-filtered-sorted")
    assert severe_console_errors(chromium) == []


def test_board_table_shows_ranks_scores_and_maes_with_intervals_in_rank_order(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    board = httpx.get(f"{seeded_api.url}/leaderboards/eos").json()
    chromium.get(seeded_dash + "/benchmarks/eos")
    rows = wait_for(chromium, lambda d: len(r := page_rows(d, BOARD)) == N_SEEDED_MODELS and r, 90)

    assert [r["model"] for r in rows] == [r["model_name"] for r in board["rows"]]  # by rank
    assert [int(r["rank"].split()[0]) for r in rows] == [r["rank"] for r in board["rows"]]
    assert all(RANK.fullmatch(r["rank"]) for r in rows), [r["rank"] for r in rows]
    assert any(EN_DASH in r["rank"] for r in rows), "the seed's ranks must be uncertain"
    assert all(WITH_INTERVAL.fullmatch(r["score"]) for r in rows), [r["score"] for r in rows]
    assert all(WITH_INTERVAL.fullmatch(r["bulk_modulus"]) for r in rows)
    for row, api in zip(rows, board["rows"], strict=True):
        assert row["coverage"] == f"{api['n_scored']} / {api['n_materials']}"
        assert row["n_flagged"] == str(api["n_flagged"])
        for cls, n in api["failures"].items():
            assert f"{cls} {n}" in row["failures"]
    fitted = [r for r in rows if r["fitted_to"]]
    assert [r["model"] for r in fitted] == [model_name(3)]  # its card: fitted to B0
    assert fitted[0]["fitted_to"] == "B0"

    ranking = _wait_text(chromium, "board-ranking", "absolute percentage error of bulk_modulus")
    assert "95 % intervals from 1000 bootstrap resamples over materials" in ranking
    _wait_text(chromium, "board-notes", "fitted to")
    text = page_text(chromium)
    assert "MAPE" not in text

    # Sorting on "#" is the API's ranking (numbers, not texts), both ways.
    sort_by(chromium, BOARD, "rank")
    ranked = [r["model_name"] for r in board["rows"]]
    wait_for(chromium, lambda d: _board_models(d) == ranked)  # ties keep the API's order
    sort_by(chromium, BOARD, "rank")
    wait_for(
        chromium,
        lambda d: (
            [int(r["rank"].split()[0]) for r in page_rows(d, BOARD)]
            == sorted((r["rank"] for r in board["rows"]), reverse=True)
        ),
    )
    screenshot(chromium, "benchmark-board")
    assert severe_console_errors(chromium) == []


def test_highlight_placeholder_counts_the_models_on_the_board(
    chromium: webdriver.Chrome, seeded_dash: str
) -> None:
    assert N_SEEDED_MODELS < 8
    chromium.get(seeded_dash + "/benchmarks/eos")
    wait_for(chromium, lambda d: len(page_rows(d, BOARD)) == N_SEEDED_MODELS, 90)

    text = wait_for(
        chromium,
        lambda d: (
            (t := _dropdown_text(d, "board-models")) == f"the top {N_SEEDED_MODELS} by rank" and t
        ),
    )
    assert "best 8" not in text
    assert "MAPE" not in text
    score = wait_for(
        chromium,
        lambda d: d.execute_script(
            "const g = document.querySelector('#board-score .js-plotly-plot');"
            "return g && g.data && g.data.length ? g.data[0].y : null;"
        ),
    )
    assert len(score) == N_SEEDED_MODELS  # every model's score, with its interval
    assert severe_console_errors(chromium) == []


def test_protocol_chooser_lists_both_parameter_sets_and_switches_the_board(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    chromium.get(seeded_dash + "/benchmarks/eos")
    wait_for(chromium, lambda d: len(page_rows(d, BOARD)) == N_SEEDED_MODELS, 90)
    wait_for(chromium, lambda d: _dropdown_text(d, "board-protocol").startswith("standard"))

    options = _dropdown_options(chromium, "board-protocol")
    (key, value), *_ = ALT_EOS_PARAMS.items()
    alt_label = f"{key}={value} ({N_ALT_PROTOCOL_MODELS * len(MATERIALS)} runs)"
    n_standard = N_SEEDED_MODELS * len(MATERIALS) + sum(map(len, COMPOUND_RUNS.values()))
    assert options == [f"standard ({n_standard} runs)", alt_label]

    set_dropdown(chromium, "board-protocol", alt_label)
    alt = {model_name(m) for m in alt_protocol_models(N_SEEDED_MODELS)}
    wait_for(chromium, lambda d: set(_board_models(d)) == alt)
    _wait_text(chromium, "board-header", f"{key}={value} (not the standard parameter set)")
    _wait_text(chromium, "board-notes", "Not the standard protocol")
    wait_for(
        chromium,
        lambda d: (
            (r := page_rows(d, TABLE))
            and {row["params"] for row in r} == {seeded_api.seeded.alt_eos_hash[:8]}
        ),
    )
    screenshot(chromium, "benchmark-board-other-protocol")

    set_dropdown(chromium, "board-protocol", options[0])
    wait_for(chromium, lambda d: len(page_rows(d, BOARD)) == N_SEEDED_MODELS)
    assert severe_console_errors(chromium) == []


def test_s22_board_opens_on_ccsd_t(chromium: webdriver.Chrome, seeded_dash: str) -> None:
    chromium.get(seeded_dash + "/benchmarks/s22")
    rows = wait_for(chromium, lambda d: len(r := page_rows(d, BOARD)) == N_SEEDED_MODELS and r, 90)

    wait_for(chromium, lambda d: _dropdown_text(d, "board-lot").startswith(S22_LEVEL))
    _wait_text(chromium, "board-header", f"reference: {S22_LEVEL}")
    # errors against CCSD(T)/CBS, so the complexes are scored and every model is ranked
    assert all(WITH_INTERVAL.fullmatch(r["interaction_energy"]) for r in rows)
    assert all(r["rank"] != "not ranked" for r in rows)

    options = _dropdown_options(chromium, "board-lot")
    assert f"{S22_LEVEL} (the benchmark's own)" in options
    set_dropdown(chromium, "board-lot", "experiment")
    # no experimental reference of an interaction energy: nothing scored, nobody ranked
    wait_for(chromium, lambda d: {r["rank"] for r in page_rows(d, BOARD)} == {"not ranked"})
    _wait_text(chromium, "board-header", "reference: experiment")
    screenshot(chromium, "benchmark-s22-experiment")
    assert severe_console_errors(chromium) == []
