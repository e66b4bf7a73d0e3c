"""The representations page without a browser: its figures and table rows as pure functions of
a hand-made summary body, the client's read of it, the empty state, the links to the page."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import httpx
import pytest
from dash.development.base_component import Component

from backend.client import ApiClient, ApiError
from backend.schemas.models import ModelRead
from frontend.app import create_app
from frontend.figures import representations as figures
from tests.frontend.representations_body import (
    CKA,
    CKA_ORDER,
    CONTROL,
    NOVELTY,
    OTHER,
    TRAINED,
    summary_body,
)


@pytest.fixture
def body() -> dict[str, Any]:
    return summary_body()


@pytest.fixture
def page() -> ModuleType:
    """The page module as Dash imported it (pages register only once an app exists)."""
    create_app("http://127.0.0.1:9")
    return sys.modules["frontend.pages.representations"]


def _texts(component: Any) -> list[str]:
    """Every string under a Dash component, depth first."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, list | tuple):
        return [t for c in component for t in _texts(c)]
    if isinstance(component, Component):
        return _texts(getattr(component, "children", None))
    return []


def test_cka_heatmap_is_n_by_n_in_the_bodys_order_with_its_values_written() -> None:
    fig = figures.cka_figure(summary_body())
    (heatmap,) = fig.data
    assert list(heatmap.x) == list(heatmap.y) == list(CKA_ORDER)  # not the models' order
    assert [list(row) for row in heatmap.z] == [list(row) for row in CKA]
    assert len(heatmap.z) == 3
    assert all(len(row) == 3 for row in heatmap.z)
    assert heatmap.text[0][1] == "0.53"  # SevenNet-0 vs CHGNet-0.3.0, annotated in the cell
    assert heatmap.texttemplate == "%{text}"
    assert "42 common rows" in fig.layout.title.text
    assert "average-linkage" in fig.layout.xaxis.title.text


def test_cka_of_fewer_than_two_models_says_so_instead_of_a_heatmap(body: dict[str, Any]) -> None:
    body["cka"] = {"models": [TRAINED], "matrix": [[1.0]], "n_common": 7, "order": "x"}
    fig = figures.cka_figure(body)
    assert not fig.data
    assert "fewer than two models" in fig.layout.annotations[0].text


def test_novelty_scatter_has_one_point_per_novelty_point_and_rho_and_n_in_its_title(
    body: dict[str, Any],
) -> None:
    fig = figures.novelty_figure(body, TRAINED)
    (scatter,) = fig.data
    assert list(scatter.x) == [n for n, _e in NOVELTY.values()]
    assert list(scatter.y) == [e for _n, e in NOVELTY.values()]
    assert "Spearman rho = 1.00" in fig.layout.title.text
    assert "n = 4" in fig.layout.title.text
    body["novelty"][TRAINED]["spearman"] = None
    assert "rho n/a" in figures.novelty_figure(body, TRAINED).layout.title.text
    assert not figures.novelty_figure(body, OTHER).data  # no novelty of that model


def test_failure_atlas_draws_one_colour_per_failure_class_and_names_the_failures(
    body: dict[str, Any],
) -> None:
    fig = figures.projection_figure(body, TRAINED, "pca", "failure")
    names = [t.name for t in fig.data]
    assert names == [
        "dynamically_unstable",
        "no_convergence",
        "temperature_runaway",
        figures.NO_FAILURE,
        figures.NO_RUNS,
    ]
    colours = [t.marker.color for t in fig.data]
    assert len(set(colours)) == len(colours)
    assert sum(len(t.x) for t in fig.data) == 6  # each structure once
    by_name = {t.name: t for t in fig.data}
    # Al failed twice as dynamically_unstable and once as temperature_runaway: the former
    (al_hover,) = by_name["dynamically_unstable"].text
    assert "<b>Al</b>" in al_hover
    assert "phonons: dynamically_unstable" in al_hover
    assert "md_stability: temperature_runaway" in al_hover
    assert "Ar" in by_name[figures.NO_RUNS].text[0]
    assert fig.layout.title.text.startswith(f"Failure atlas of {TRAINED}: latent map (PCA)")


def test_structure_space_places_the_soap_points_coloured_by_the_models_outcomes(
    body: dict[str, Any],
) -> None:
    latent = figures.projection_figure(body, TRAINED, "pca", "failure")
    soap = figures.projection_figure(body, TRAINED, "pca", "failure", "structure")
    # the same structures in the same classes, at the structure map's coordinates
    assert [t.name for t in soap.data] == [t.name for t in latent.data]
    assert sorted(x for t in soap.data for x in t.x) == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert soap.layout.title.text.startswith(
        f"Failure atlas of {TRAINED}: structure map (SOAP) (PCA)"
    )
    assert [o["disabled"] for o in figures.space_options(body)] == [False, False]
    options = figures.method_options(body, TRAINED, "structure")
    assert [o["value"] for o in options if not o["disabled"]] == ["pca"]
    without = {**body, "structure_map": None}
    assert [o["disabled"] for o in figures.space_options(without)] == [False, True]
    assert not figures.projection_figure(without, TRAINED, "pca", "group", "structure").data


def test_failure_colours_stay_distinct_beyond_the_known_classes() -> None:
    classes = ["no_representation", "worker_lost", "nan_or_inf", "a", "b", "c", "d"]
    colours = figures.category_colours(classes)
    assert len(set(colours.values())) == len(classes)


def test_map_coloured_by_flags_error_and_chemistry(body: dict[str, Any]) -> None:
    flags = figures.projection_figure(body, TRAINED, "umap", "flags")
    assert {t.name for t in flags.data} == {
        "fitted_to",
        "fitted_to + outlier",
        figures.NO_FLAG,
        figures.NO_RUNS,
    }
    assert "(UMAP)" in flags.layout.title.text
    error = figures.projection_figure(body, TRAINED, "pca", "error")
    coloured, missing = error.data
    assert list(coloured.marker.color) == [0.05, 0.4, 0.1, 0.2]  # Cu, Al, NaCl, Fe
    assert len(missing.x) == 2  # Ar (no run) and Si (no error)
    assert missing.name == figures.NO_VALUE
    chem = figures.projection_figure(body, TRAINED, "pca", "electronegativity")
    coloured, missing = chem.data
    assert coloured.marker.color[2] == pytest.approx((0.93 + 3.16) / 2)  # Cu, Al, NaCl
    assert ["Ar" in text for text in missing.text] == [True]  # noble gas: no Pauling X
    group = figures.projection_figure(body, TRAINED, "pca", "group").data[0]
    assert list(group.marker.color) == [11, 13, 18, 9, 8, 14]


def test_methods_the_summary_lacks_are_disabled(body: dict[str, Any]) -> None:
    options = figures.method_options(body, TRAINED)
    assert [(o["value"], o["disabled"]) for o in options] == [
        ("pca", False),
        ("umap", False),
        ("phate", True),
    ]
    control = figures.method_options(body, CONTROL)
    assert [o["value"] for o in control if not o["disabled"]] == ["pca"]
    assert figures.chosen_method(control, "umap") == "pca"
    assert figures.chosen_method(options, "umap") == "umap"
    assert figures.chosen_method(figures.method_options(body, "unknown"), "pca") is None
    empty = figures.projection_figure(body, CONTROL, "phate", "group")
    assert not empty.data
    assert "no phate map" in empty.layout.annotations[0].text


def test_default_model_is_the_asked_one_else_the_first_trained(body: dict[str, Any]) -> None:
    assert figures.default_model(body, CONTROL) == CONTROL
    assert figures.default_model(body, "no such model") == TRAINED
    body["models"] = body["models"][1:]  # the control first
    assert figures.default_model(body) == OTHER
    labels = [o["label"] for o in figures.model_options(body)]
    assert labels[0] == f"{CONTROL} (control: random weights)"


def test_probe_rows_keep_negative_r2_with_twin_and_gain(
    body: dict[str, Any], page: ModuleType
) -> None:
    rows = {r["model"]: r for r in figures.probe_rows(body)}
    assert list(rows) == [TRAINED, CONTROL, OTHER]
    assert rows[CONTROL]["r2_electronegativity"] == -4.26  # shown as its value, not clipped
    assert rows[CONTROL]["control"] == "yes"
    assert rows[TRAINED]["twin"] == CONTROL
    assert rows[TRAINED]["gain_electronegativity"] == pytest.approx(0.64 + 4.26)
    assert rows[TRAINED]["std_volume_strain"] == 0.05
    assert rows[OTHER]["r2_group"] is None
    columns = page.probe_columns(["electronegativity", "volume_strain"])
    groups = [c["headerName"] for c in columns]
    assert groups == ["", "electronegativity", "volume strain (within structure)"]
    r2 = columns[1]["children"][0]
    assert "worse than predicting" in r2["headerTooltip"]
    assert "worse than predicting" in r2["tooltipValueGetter"]["function"]
    assert "params.value < 0" in str(r2["cellStyle"])
    cka, _columns, table, note = page.draw_summary(body)
    assert len(table) == 3
    assert "below 0 means" in note
    assert len(cka.data[0].z) == 3


def _client(status: int, payload: Any) -> ApiClient:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/representations"
        return httpx.Response(status, json=payload)

    return ApiClient("http://api.test", transport=httpx.MockTransport(answer))


def test_client_reads_the_summary_and_none_when_there_is_none() -> None:
    body = {**summary_body(), "summary_id": str(uuid.uuid4()), "created_at": "2026-12-05"}
    assert _client(200, body).representations() == body
    missing = {"error": {"code": "not_found", "message": "No summary yet: run ..."}}
    assert _client(404, missing).representations() is None
    with pytest.raises(ApiError) as err:
        _client(500, {"error": {"code": "internal", "message": "boom"}}).representations()
    assert err.value.status_code == 500
    with pytest.raises(ApiError, match="did not return an object"):
        _client(200, [1, 2]).representations()


class _FakeClient:
    def __init__(self, body: dict[str, Any] | None) -> None:
        self.body = body

    def representations(self) -> dict[str, Any] | None:
        return self.body


def test_without_a_summary_the_page_says_what_to_run(
    page: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(page, "current_api_client", lambda: _FakeClient(None))
    body, options, model, message, style = page.load_summary(None)
    assert (body, options, model, style) == (None, [], None, {"display": "none"})
    text = " ".join(_texts(message))
    assert (
        "mlipm campaigns start -m CHGNet-0.3.0 -m CHGNet-random-weights -b representation "
        "-s 'elemental crystals'" in text
    )
    assert "mlipm representations summarize" in text
    monkeypatch.setattr(page, "current_api_client", lambda: _FakeClient(summary_body()))
    body, options, model, message, style = page.load_summary(CONTROL)
    assert (model, message, style) == (CONTROL, "", {})
    assert len(options) == 3


def test_navbar_and_model_pages_link_to_the_page(page: ModuleType) -> None:
    app = create_app("http://127.0.0.1:9")
    assert "/representations" in str(app.layout)
    model_page = sys.modules["frontend.pages.model"]
    model = ModelRead(
        id=uuid.uuid4(),
        name="CHGNet-0.3.0",
        version="0.3.0",
        family="chgnet",
        params={},
        card={},
        elements=["Cu"],
        is_baseline=False,
        status="approved",
        version_hash="0" * 64,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    card = str(model_page.card(model, []))
    assert "/representations?model=CHGNet-0.3.0" in card
    stores = {c.id: c for c in page.layout(model=TRAINED).children if hasattr(c, "data")}
    assert stores["representations-wanted"].data == TRAINED  # the ?model= choice kept
