"""Pure parts of the leaderboard, element maps and page registry, called as plain functions."""

from __future__ import annotations

import sys

import dash
import pytest

from frontend.app import create_app
from frontend.figures.elements import clicked_element, element_map
from frontend.overview import elements_of, format_weights, pareto_front, parse_weights


def test_weights_round_trip_through_the_url_and_ignore_bad_parts() -> None:
    weights = parse_weights("eos:2,elastic:0.5,bad,speed:-1,nan:x,cohesive:0")
    assert weights == {"eos": 2.0, "elastic": 0.5, "cohesive": 0.0}
    assert parse_weights(format_weights(weights)) == weights
    assert format_weights({"b": 1.0, "a": 2.0}) == "a:2,b:1"


def test_pareto_front_keeps_only_undominated_points() -> None:
    # (cost, error): the third is dominated by the first; the last ties the first on cost only
    points = [(1.0, 5.0), (10.0, 1.0), (2.0, 6.0), (1.0, 7.0), (5.0, 3.0)]
    assert pareto_front(points) == [True, True, False, False, True]


@pytest.mark.parametrize(
    ("material", "elements"),
    [("Cu", ["Cu"]), ("NaCl", ["Cl", "Na"]), ("Al2O3", ["Al", "O"]), ("water dimer", []),
     ("Xx", [])],
)  # fmt: skip
def test_elements_of_a_material_name(material: str, elements: list[str]) -> None:
    assert elements_of(material) == elements


def test_element_map_puts_the_value_and_the_symbol_on_the_element_cell() -> None:
    fig = element_map({"Cu": 12.5, "Al": 3.0}, title="t", label="|error|", unit="GPa")
    trace = next(t for t in fig.data if t.customdata is not None)
    cells = {
        trace.customdata[i][j]: (trace.z[i][j], trace.text[i][j])
        for i in range(len(trace.customdata))
        for j in range(len(trace.customdata[i]))
        if trace.customdata[i][j]
    }
    assert cells["Cu"][0] == 12.5
    assert "|error|: 12.5 GPa" in cells["Cu"][1]
    assert "no data" in cells["Fe"][1]
    assert clicked_element({"points": [{"customdata": "Cu"}]}) == "Cu"
    assert clicked_element({"points": [{"customdata": ""}]}) is None


def test_page_registry_has_every_page_and_the_navbar_links_landscape() -> None:
    app = create_app("http://127.0.0.1:9")
    paths = {page["path"] for page in dash.page_registry.values()}
    assert {"/", "/elements", "/campaigns"} <= paths
    templates = {page.get("path_template") for page in dash.page_registry.values()}
    assert {"/models/<model_id>", "/runs/<run_id>", "/benchmarks/<key>"} <= templates
    navbar = str(app.layout)
    assert "/landscape" in navbar
    assert "/models/<model_id>" not in navbar


def test_csv_export_writes_the_rows_and_columns_as_shown() -> None:
    create_app("http://127.0.0.1:9")
    page = sys.modules["frontend.pages.leaderboard"]
    columns = [
        {"name": ["", "Model"], "id": "model_link"},
        {"name": ["Runs", "failed"], "id": "n_failed"},
    ]
    rows = [{"model": "b", "model_link": "[b](/models/2)", "n_failed": 3},
            {"model": "a", "model_link": "[a](/models/1)", "n_failed": None}]  # fmt: skip
    out = page.export_csv(1, rows, columns)
    assert out["content"].splitlines() == ["Model,Runs failed", "b,3", "a,"]
