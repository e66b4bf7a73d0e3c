"""Training-data maps of the built-in models and the error-against-training-count view of the
element page: the cards' published counts (or element lists), Spearman's rho against hand-worked
cases, the figures, and the page in headless Chromium on the seeded API."""

from __future__ import annotations

import json
import math
import sys
import uuid
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import httpx
import pytest
from selenium import webdriver

from backend.client import ApiClient
from backend.schemas.models import ModelCreate, ModelRead
from frontend.element_stats import (
    compare_counts_and_errors,
    listed_elements,
    training_counts,
    training_sources,
)
from frontend.figures.elements import count_error_scatter, element_map
from tests.frontend.browser import screenshot, severe_console_errors, wait_for
from tests.frontend.conftest import SeededApi
from tests.frontend.seed_formulas import ELEMENTS_PER_SET, TRAINING_SETS
from workers.adapters.ani import ANI1X_ELEMENTS
from workers.adapters.diep import MATPES_ELEMENTS, MATPES_R2SCAN_N_STRUCTURES
from workers.adapters.pretrained import pretrained_models

# Five elements whose counts grow by decades.
COUNTS = {"Cu": 10, "Al": 100, "Ag": 1_000, "Ni": 10_000, "Pt": 100_000}


def _card_model(name: str) -> ModelRead:
    """A built-in model as the API returns it: the card normalized by the submission schema."""
    record = next(r for r in pretrained_models() if r.name == name)
    checked = ModelCreate.model_validate(
        {
            "name": record.name,
            "version": record.version,
            "family": record.family,
            "params": record.params,
            "card": record.card,
            "elements": list(record.elements),
        }
    )
    return ModelRead(
        id=uuid.uuid4(),
        name=record.name,
        version=record.version,
        family=record.family,
        params=record.params,
        card=checked.card.model_dump(mode="json", exclude_none=True),
        elements=list(record.elements),
        is_baseline=False,
        status="approved",
        version_hash="0" * 64,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


# --- the cards -------------------------------------------------------------------------------


def test_diep_carries_the_matpes_r2scan_counts_its_authors_publish() -> None:
    """DIEP was trained on MatPES-R2SCAN-2025.1 (its export's 349,107 + 19,395 + 19,395); the
    MatPES authors publish the structures containing each element (r2scan_stats.json)."""
    model = _card_model("DIEP-r2SCAN")
    counts = training_counts(model)
    assert set(counts) == MATPES_ELEMENTS  # the 89 elements of DIEP's embedding
    assert MATPES_R2SCAN_N_STRUCTURES == 387_897
    assert max(counts.values()) < MATPES_R2SCAN_N_STRUCTURES  # structures, not atoms
    assert max(counts, key=counts.__getitem__) == "O"
    assert (counts["O"], counts["Fe"], counts["Ne"], counts["Ar"]) == (98_013, 31_496, 1, 3)
    (source,) = training_sources(model)
    assert "github.com/materialyzeai/matpes" in source
    assert "r2scan_stats.json" in source
    assert listed_elements(model) == ([], [])


def test_ani1x_lists_its_elements_with_the_data_set_paper_and_no_counts() -> None:
    model = _card_model("ANI-1x")
    assert training_counts(model) == {}
    elements, sources = listed_elements(model)
    assert elements == sorted(ANI1X_ELEMENTS) == ["C", "H", "N", "O"]
    assert sources == ["ANI-1x: https://doi.org/10.1038/s41597-020-0473-z"]
    (data,) = model.card["training_data"]
    assert "Sci. Data 7, 134 (2020)" in data["description"]


def test_the_shipped_count_files_are_documented_with_their_source() -> None:
    data = resources.files("workers").joinpath("data")
    readme = data.joinpath("README.md").read_text("utf-8")
    for name in (
        "mptrj-element-counts-by-occurrence.json",
        "matpes-r2scan-element-counts-by-occurrence.json",
    ):
        assert f"## {name}" in readme
        counts = json.loads(data.joinpath(name).read_text("utf-8"))
        assert all(isinstance(n, int) and n > 0 for n in counts.values())
    assert "materialyzeai/matpes" in readme
    assert "## ANI-1x: element list only" in readme


# --- Spearman's rho --------------------------------------------------------------------------


def test_errors_falling_exactly_with_the_count_give_rho_minus_one() -> None:
    errors = {"Cu": 9.0, "Al": 7.5, "Ag": 3.0, "Ni": 2.9, "Pt": 0.1}
    result = compare_counts_and_errors(COUNTS, errors)
    assert result.symbols == ("Cu", "Al", "Ag", "Ni", "Pt")  # by count
    assert result.counts == (10, 100, 1_000, 10_000, 100_000)
    assert result.rho == pytest.approx(-1.0)
    assert result.p_value is not None
    assert result.p_value < 0.05
    rising = compare_counts_and_errors(COUNTS, {s: -e for s, e in errors.items()})
    assert rising.rho == pytest.approx(1.0)


def test_a_non_monotone_control_gives_the_hand_computed_rho() -> None:
    # Error ranks by count: 3, 1, 4, 2, 5; d = -2, 1, -1, 2, 0; sum d^2 = 10;
    # rho = 1 - 6 * 10 / (5 * (25 - 1)) = 0.5.
    errors = {"Cu": 3.0, "Al": 1.0, "Ag": 4.0, "Ni": 2.0, "Pt": 5.0}
    assert compare_counts_and_errors(COUNTS, errors).rho == pytest.approx(0.5)


def test_only_elements_with_a_count_and_a_finite_error_are_points() -> None:
    counts = {**COUNTS, "Fe": 0, "O": 50}
    errors = {"Cu": 3.0, "Al": 1.0, "Ag": math.nan, "Fe": 1.0, "Zn": 2.0}
    result = compare_counts_and_errors(counts, errors)
    assert result.symbols == ("Cu", "Al")
    assert result.n == 2
    assert result.rho is None  # two points: no rank correlation
    flat = compare_counts_and_errors(COUNTS, dict.fromkeys(COUNTS, 1.0))
    assert (flat.n, flat.rho) == (5, None)  # constant errors: undefined, not nan


# --- figures ---------------------------------------------------------------------------------


def _notes(fig: Any) -> list[str]:
    return [a.text for a in fig.layout.annotations if a.xref == "paper"]


def test_the_scatter_has_one_labelled_point_per_element_and_prints_rho_and_n() -> None:
    errors = {"Cu": 9.0, "Al": 7.5, "Ag": 3.0, "Ni": 2.9, "Pt": 0.1}
    fig = count_error_scatter(
        compare_counts_and_errors(COUNTS, errors),
        title="|error| against count: <b>model</b>",
        metric="bulk_modulus",
        unit="GPa",
    )
    (trace,) = fig.data
    assert list(trace.x) == [10, 100, 1_000, 10_000, 100_000]
    assert list(trace.customdata) == list(trace.text) == ["Cu", "Al", "Ag", "Ni", "Pt"]
    assert fig.layout.xaxis.type == "log"
    assert "GPa" in fig.layout.yaxis.title.text
    assert "training structures: 10,000" in trace.hovertext[3]
    assert _notes(fig) == [
        "Spearman \N{GREEK SMALL LETTER RHO} = -1.00 (p = 1.4e-24), n = 5 elements"
    ]
    assert "&lt;b&gt;model&lt;/b&gt;" in fig.layout.title.text  # user text drawn literally


def test_without_points_the_scatter_says_why_instead_of_drawing_axes() -> None:
    fig = count_error_scatter(
        compare_counts_and_errors({}, {"Cu": 1.0}),
        title="t",
        metric="m",
        unit="",
        why_empty=["Training data: element list only (no published counts)", "source: <x>"],
    )
    assert not fig.data
    assert fig.layout.xaxis.visible is False
    assert _notes(fig) == [
        "Training data: element list only (no published counts)",
        "source: &lt;x&gt;",
    ]


def test_an_element_list_is_marked_on_the_table_without_values_or_colour_bar() -> None:
    fig = element_map(
        dict.fromkeys(ANI1X_ELEMENTS, 1.0),
        title="Training elements: ANI-1x",
        label="in the training set (count not published)",
        unit="",
        show_values=False,
        notes=["element list only (no published counts)", "source: ANI-1x: https://doi.org/x"],
    )
    colored = next(t for t in fig.data if t.hoverinfo == "text")
    marked = {
        colored.customdata[i][j]
        for i, row in enumerate(colored.z)
        for j, z in enumerate(row)
        if z is not None
    }
    assert marked == ANI1X_ELEMENTS
    assert colored.showscale is False
    hovers = [t for row in colored.hovertext for t in row if t and "<br>" in t]
    assert len(hovers) == len(ANI1X_ELEMENTS)
    assert all(t.split("<br>")[1] == "in the training set (count not published)" for t in hovers)
    assert _notes(fig)[0] == "element list only (no published counts)"


# --- the page in Chromium --------------------------------------------------------------------

_SCATTER = """
const g = document.querySelector('#elements-correlation .js-plotly-plot');
if (!g || !g.layout) { return null; }
const notes = (g.layout.annotations || []).map(a => a.text);
if (!notes.length) { return null; }
const points = g.data.length ? Array.from(g.data[0].customdata) : [];
return [points, Array.from(g.data.length ? g.data[0].x : []),
        Array.from(g.data.length ? g.data[0].y : []), notes];
"""


def _ranks(values: list[float]) -> list[int]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0] * len(values)
    for rank, i in enumerate(order, 1):
        ranks[i] = rank
    return ranks


def _expected_points(api: str, model_id: str) -> dict[str, float]:
    """Mean |B0 error| per element of the model's eos runs, read from the API (not the page)."""
    runs = httpx.get(
        f"{api}/runs",
        params={"model_id": model_id, "benchmark": "eos", "include_metrics": "true"},
    ).json()["items"]
    errors: dict[str, list[float]] = {}
    for run in runs:
        for metric in run.get("metrics") or []:
            if metric["name"] == "bulk_modulus" and metric["error"] is not None:
                for symbol in run["elements"]:
                    errors.setdefault(symbol, []).append(abs(metric["error"]))
    return {s: sum(v) / len(v) for s, v in errors.items()}


@pytest.mark.browser
def test_the_page_plots_error_against_training_count_with_rho(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    index = 1  # its card: OMat24 counts of the five seed metals
    model = str(seeded_api.seeded.model_ids[index])
    counts = ELEMENTS_PER_SET[TRAINING_SETS[index % len(TRAINING_SETS)]]
    errors = _expected_points(seeded_api.url, model)
    expected = sorted(errors.keys() & counts.keys(), key=counts.__getitem__)
    assert len(expected) >= 3
    chromium.get(f"{seeded_dash}/elements?model={model}&metric=eos:bulk_modulus")
    points, xs, ys, notes = wait_for(chromium, lambda d: d.execute_script(_SCATTER), 90)
    assert points == expected
    assert xs == [counts[s] for s in expected]
    assert ys == pytest.approx([errors[s] for s in expected], rel=1e-9)
    # Spearman without ties: 1 - 6 sum d^2 / (n (n^2 - 1)), worked out here from the API's numbers.
    n = len(expected)
    d2 = sum(
        (a - b) ** 2
        for a, b in zip(
            _ranks([counts[s] for s in expected]),
            _ranks([errors[s] for s in expected]),
            strict=True,
        )
    )
    rho = 1 - 6 * d2 / (n * (n * n - 1))
    (note,) = notes
    assert f"\N{GREEK SMALL LETTER RHO} = {rho:+.2f}" in note
    assert f"n = {n} elements" in note
    screenshot(chromium, "elements-error-vs-count")
    assert severe_console_errors(chromium) == []


@pytest.mark.browser
def test_a_model_with_only_an_element_list_says_so_on_the_map_and_the_scatter(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    ani = next(m for m in ApiClient(seeded_api.url).models() if m.name == "ANI-1x")
    chromium.get(f"{seeded_dash}/elements?model={ani.id}&metric=eos:bulk_modulus")
    points, _, _, notes = wait_for(chromium, lambda d: d.execute_script(_SCATTER), 90)
    assert points == []
    assert notes[0] == "Training data: element list only (no published counts)"
    assert any("doi.org/10.1038/s41597-020-0473-z" in n for n in notes)
    training_notes = wait_for(
        chromium,
        lambda d: d.execute_script(
            "const g = document.querySelector('#elements-training .js-plotly-plot');"
            "const a = g && g.layout && g.layout.annotations;"
            "return a && a.length ? a.map(n => n.text) : null;"
        ),
        60,
    )
    assert "element list only (no published counts)" in training_notes
    screenshot(chromium, "elements-element-list-only")
    assert severe_console_errors(chromium) == []


def test_the_scatter_says_why_it_is_empty(unused_tcp_url: str) -> None:
    from frontend.app import create_app

    create_app(unused_tcp_url)  # pages register only once an app exists
    why = sys.modules["frontend.pages.elements"]._why_no_scatter
    ani = ["ANI-1x: https://doi.org/x"]
    assert why({}, {"C": 1.0}, ["C", "H"], ani, "eos b")[0].endswith(
        "element list only (no published counts)"
    )
    assert why({}, {"C": 1.0}, ["C", "H"], ani, "eos b")[-1] == "source: " + ani[0]
    assert "no training-set element counts" in why({}, {}, [], [], "eos b")[0]
    assert (
        why({"Cu": 5}, {}, [], [], "eos b")[0]
        == "No per-element errors of eos b for this model yet"
    )
    assert "both a training count and an error" in why({"Cu": 5}, {"Al": 1.0}, [], [], "eos b")[0]
