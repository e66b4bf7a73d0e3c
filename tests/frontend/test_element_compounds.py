"""The element page's choice of structures (all, elemental crystals, compounds): per-element
errors and coverage worked out by hand on hand-built runs, and the page in headless Chromium on
the seeded API, whose model 1 also ran eos on two binary compounds (``COMPOUND_RUNS``)."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from backend.schemas.runs import RunSummary
from frontend.element_stats import (
    coverage,
    element_errors,
    of_kind,
    over,
    structure_kind,
)
from tests.frontend.browser import page_text, screenshot, severe_console_errors, wait_for
from tests.frontend.conftest import SeededApi
from tests.frontend.seed_compounds import COMPOUND_RELATIVE_ERROR, COMPOUND_RUNS
from tests.frontend.seed_formulas import model_name
from tests.frontend.seeded_values import SeedInputs, abs_error, read_seed_inputs


def _run(
    material: str, elements: list[str], error: float | None, *, benchmark: str = "eos"
) -> RunSummary:
    """A succeeded run whose bulk modulus is off its reference by ``error`` GPa."""
    metrics = None
    if error is not None:
        metrics = [
            {
                "name": "bulk_modulus",
                "value": 100.0 + error,
                "unit": "GPa",
                "reference_id": str(uuid.uuid4()),
                "error": error,
                "reference_value": 100.0,
            }
        ]
    return RunSummary.model_validate(
        {
            "id": str(uuid.uuid4()),
            "mlip_model_id": str(uuid.uuid4()),
            "model_hash": "0" * 64,
            "benchmark_id": str(uuid.uuid4()),
            "structure_id": str(uuid.uuid4()),
            "params": {},
            "params_hash": "a" * 64,
            "status": "succeeded",
            "attempt": 1,
            "failure_class": None,
            "failure_message": None,
            "worker": None,
            "started_at": None,
            "finished_at": None,
            "wall_s": None,
            "cpu_s": None,
            "peak_memory_mb": None,
            "provenance": {},
            "model_name": "m",
            "model_version": "1",
            "benchmark_key": benchmark,
            "benchmark_version": "1",
            "material": material,
            "formula": material,
            "elements": elements,
            "n_atoms": 2,
            "structure_set": "s",
            "metrics": metrics,
        }
    )


# NaCl off by +2 GPa, Na by +1, Cl by -1; the error map averages |error| per element.
RUNS = [_run("NaCl", ["Cl", "Na"], 2.0), _run("Na", ["Na"], 1.0), _run("Cl", ["Cl"], -1.0)]


def test_all_structures_average_a_compounds_error_into_each_of_its_elements() -> None:
    means, details, unit = element_errors(RUNS, "eos", "bulk_modulus")
    # Na: (|2| + |1|) / 2 = 1.5; Cl: (|2| + |-1|) / 2 = 1.5 (|error|, not the signed 0.5)
    assert means == {"Na": pytest.approx(1.5), "Cl": pytest.approx(1.5)}
    assert unit == "GPa"
    assert details["Na"] == "mean over 2 structures containing Na"
    assert element_errors(RUNS, "eos", "bulk_modulus", "all")[0] == means


def test_elemental_crystals_leave_the_compound_out() -> None:
    means, details, _ = element_errors(RUNS, "eos", "bulk_modulus", "elements")
    assert means == {"Na": pytest.approx(1.0), "Cl": pytest.approx(1.0)}
    assert details == {
        "Na": "mean over 1 elemental structure containing Na",
        "Cl": "mean over 1 elemental structure containing Cl",
    }


def test_compounds_count_only_the_compound_for_both_its_elements() -> None:
    means, details, _ = element_errors(RUNS, "eos", "bulk_modulus", "compounds")
    assert means == {"Na": pytest.approx(2.0), "Cl": pytest.approx(2.0)}
    assert details["Cl"] == "mean over 1 compound containing Cl"


def test_other_benchmarks_and_runs_without_the_metric_are_left_out() -> None:
    runs = [*RUNS, _run("KCl", ["Cl", "K"], 9.0, benchmark="relax"), _run("KBr", ["Br", "K"], None)]
    assert set(element_errors(runs, "eos", "bulk_modulus", "compounds")[0]) == {"Na", "Cl"}
    assert element_errors(runs, "eos", "bulk_modulus", "compounds")[0]["Cl"] == 2.0


def test_coverage_counts_the_runs_of_the_chosen_structures() -> None:
    runs = [*RUNS, _run("KCl", ["Cl", "K"], 9.0, benchmark="relax")]
    assert coverage(runs)[0] == {"Na": 2, "Cl": 3, "K": 1}
    assert coverage(runs, "elements")[0] == {"Na": 1, "Cl": 1}
    counts, details = coverage(runs, "compounds")
    assert counts == {"Na": 1, "Cl": 2, "K": 1}
    assert details["Cl"] == "succeeded 2, failed 0 on compounds<br>benchmarks: eos, relax"


def test_a_structure_is_a_compound_by_its_distinct_elements() -> None:
    doubled = _run("Cu2", ["Cu", "Cu"], 1.0)  # one element, listed twice: elemental
    assert of_kind([doubled], "elements") == [doubled]
    assert of_kind([doubled], "compounds") == []
    assert structure_kind("compounds") == "compounds"
    assert structure_kind("<script>") == structure_kind(None) == "all"  # e.g. a bad URL
    assert (over("all"), over("compounds"), over("elements")) == (
        "",
        " over compounds",
        " over elemental structures",
    )


def test_the_scatter_says_what_to_run_when_a_choice_has_no_errors(unused_tcp_url: str) -> None:
    from frontend.app import create_app

    create_app(unused_tcp_url)  # pages register only once an app exists
    why = sys.modules["frontend.pages.elements"]._why_no_scatter
    lines = why({"Cu": 5}, {}, [], [], "eos b", kind="compounds")
    assert lines[0] == "No per-element errors of eos b over compounds for this model yet"
    assert '"binary compounds" structure set' in lines[1]
    assert (
        why({"Cu": 5}, {}, [], [], "eos b")[0]
        == "No per-element errors of eos b for this model yet"
    )


# --- the page in Chromium --------------------------------------------------------------------

MODEL = 1  # COMPOUND_RUNS: eos on GaAs (elements no seed metal has) and NiAl
assert COMPOUND_RUNS[MODEL] == ("GaAs", "NiAl")

_MAP = """
const root = document.querySelector(arguments[0]);
const gd = root && root.querySelector('.js-plotly-plot');
if (!gd || !gd.data || !gd.layout) { return null; }
const values = {};
const hovers = {};
for (const trace of gd.data) {
    if (!trace.customdata || !trace.z || !trace.hovertext) { continue; }
    for (let i = 0; i < trace.customdata.length; i++) {
        for (let j = 0; j < trace.customdata[i].length; j++) {
            const s = trace.customdata[i][j];
            if (!s || trace.z[i][j] === null) { continue; }
            values[s] = trace.z[i][j];
            hovers[s] = trace.hovertext[i][j];
        }
    }
}
const notes = (gd.layout.annotations || []).map(a => a.text);
const title = (gd.layout.title && gd.layout.title.text) || '';
return {title: title, values: values, hovers: hovers, notes: notes};
"""

_SCATTER_POINTS = """
const g = document.querySelector('#elements-correlation .js-plotly-plot');
if (!g || !g.layout || !g.layout.title) { return null; }
return {title: g.layout.title.text, points: g.data.length ? Array.from(g.data[0].customdata) : []};
"""


def _map(driver: webdriver.Chrome, view: str) -> dict[str, Any] | None:
    drawn: dict[str, Any] | None = driver.execute_script(_MAP, f"#elements-{view}")
    return drawn


def _wait_map(driver: webdriver.Chrome, view: str, title_part: str) -> dict[str, Any]:
    """The map once its title holds ``title_part`` (the callback has drawn that choice)."""
    return wait_for(driver, lambda d: (m := _map(d, view)) and title_part in m["title"] and m, 60)


def _choose(driver: webdriver.Chrome, label: str) -> None:
    """Click the structures choice labelled ``label``."""
    option = next(
        o
        for o in driver.find_elements(By.CSS_SELECTOR, "#elements-structures label")
        if o.text.strip() == label
    )
    option.click()


def _expected(inputs: SeedInputs, symbols: dict[str, list[str]]) -> dict[str, float]:
    """Mean |B0 error| per element of model ``MODEL``: each element's list names the metals
    (seed formula) and compounds (``COMPOUND_RELATIVE_ERROR`` of the reference) averaged."""
    out = {}
    for symbol, materials in symbols.items():
        errors = []
        for material in materials:
            if material in COMPOUND_RELATIVE_ERROR:
                reference = inputs.references[(material, "bulk_modulus")]
                errors.append(abs(reference * COMPOUND_RELATIVE_ERROR[material]))
            else:
                error = abs_error(inputs, MODEL, "eos", "bulk_modulus", material)
                assert error is not None, f"the seed must not fail model {MODEL} on {material}"
                errors.append(error)
        out[symbol] = sum(errors) / len(errors)
    return out


@pytest.mark.browser
def test_choosing_compounds_or_elemental_crystals_changes_the_maps_and_the_url(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    inputs = read_seed_inputs(seeded_api.database_url)
    model = str(seeded_api.seeded.model_ids[MODEL])
    chromium.get(f"{seeded_dash}/elements?model={model}&metric=eos:bulk_modulus")
    every = _wait_map(chromium, "error", "|error| of eos bulk_modulus:")
    want = _expected(inputs, {"Ni": ["Ni", "NiAl"], "Ga": ["GaAs"], "Cu": ["Cu"]})
    for symbol in ("Ni", "Ga", "Cu"):
        assert every["values"][symbol] == pytest.approx(want[symbol], rel=1e-9), symbol
    assert "mean over 2 structures containing Ni" in every["hovers"]["Ni"]
    wait_for(chromium, lambda d: "structures=all" in d.current_url)

    _choose(chromium, "compounds (two or more elements)")
    compounds = _wait_map(chromium, "error", "over compounds")
    want = _expected(inputs, {"Ni": ["NiAl"], "Al": ["NiAl"], "Ga": ["GaAs"], "As": ["GaAs"]})
    assert set(compounds["values"]) == set(want)  # Cu, Ag, Pt: no compound holds them
    for symbol, value in want.items():
        assert compounds["values"][symbol] == pytest.approx(value, rel=1e-9), symbol
    assert "mean over 1 compound containing Ga" in compounds["hovers"]["Ga"]
    covered = _wait_map(chromium, "coverage", "over compounds")
    # every benchmark's runs: the eos compounds and the S22 dimers (H, C, N, O: compounds too)
    assert {"Ni", "Al", "Ga", "As", "H", "O"} <= set(covered["values"])
    assert not {"Cu", "Ag", "Pt"} & set(covered["values"])
    # the scatter: the compounds' elements with an OMat24 count, by count (Ni, then Al)
    scatter = wait_for(
        chromium,
        lambda d: (s := d.execute_script(_SCATTER_POINTS)) and "over compounds" in s["title"] and s,
        60,
    )
    assert scatter["points"] == ["Ni", "Al"]
    wait_for(chromium, lambda d: "structures=compounds" in d.current_url)
    screenshot(chromium, "elements-compounds")

    # A shared link opens on the choice: elemental crystals drop GaAs and NiAl.
    chromium.get(chromium.current_url.replace("structures=compounds", "structures=elements"))
    elemental = _wait_map(chromium, "error", "over elemental structures")
    assert "Ga" not in elemental["values"]
    want = _expected(inputs, {"Ni": ["Ni"]})
    assert elemental["values"]["Ni"] == pytest.approx(want["Ni"], rel=1e-9)
    checked = chromium.find_element(By.CSS_SELECTOR, "#elements-structures input:checked")
    assert checked.get_attribute("value") == "elements"
    assert severe_console_errors(chromium) == []


@pytest.mark.browser
def test_a_click_lists_only_the_runs_of_the_chosen_structures(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    model = str(seeded_api.seeded.model_ids[MODEL])
    chromium.get(
        f"{seeded_dash}/elements?model={model}&metric=eos:bulk_modulus&structures=compounds"
    )
    _wait_map(chromium, "error", "over compounds")
    chromium.execute_script(
        "document.querySelector('#elements-error .js-plotly-plot')"
        ".emit('plotly_click', {points: [{curveNumber: 2, customdata: 'Ni'}]});"
    )
    title = wait_for(chromium, lambda d: d.find_elements(By.ID, "elements-runs-title"), 30)
    assert title[0].text == "1 run on compounds containing Ni"
    links = chromium.find_elements(By.CSS_SELECTOR, "#elements-runs a[href^='/runs/']")
    assert [(a.get_attribute("href") or "").rsplit("/", 1)[-1] for a in links] == [
        str(seeded_api.seeded.run_ids[(MODEL, "eos", "NiAl")])
    ]
    assert severe_console_errors(chromium) == []


@pytest.mark.browser
def test_compounds_of_a_model_that_ran_none_say_what_to_run(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    other = 2
    assert other not in COMPOUND_RUNS
    model = str(seeded_api.seeded.model_ids[other])
    chromium.get(
        f"{seeded_dash}/elements?model={model}&metric=eos:bulk_modulus&structures=compounds"
    )
    error = wait_for(chromium, lambda d: (m := _map(d, "error")) and m["notes"] and m, 60)
    assert error["values"] == {}
    assert any('run the "binary compounds" structure set' in n for n in error["notes"])
    status = wait_for(
        chromium,
        lambda d: "binary compounds" in (t := d.find_element(By.ID, "elements-status").text) and t,
        30,
    )
    assert f"mlipm campaigns start -m '{model_name(other)}' -b eos -s 'binary compounds'" in status
    # the elemental crystals of the same model are there
    _choose(chromium, "elemental crystals (one element)")
    elemental = _wait_map(chromium, "error", "over elemental structures")
    assert "Cu" in elemental["values"]
    assert "binary compounds" not in page_text(chromium)
    assert severe_console_errors(chromium) == []
