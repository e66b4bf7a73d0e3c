"""Leaderboard ("/"): every model version against every benchmark, with a combined score.

The view (level of theory, filters, weights) is kept in the query string, so a view can be
shared: ``/?lot=experiment&weights=eos:2,elastic:1&openness=OSOD&element=Cu``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from backend.schemas.models import ModelRead
from backend.settings import get_settings
from frontend.api_client import ApiError
from frontend.components.grid import fit_widths
from frontend.components.overview_table import (
    costs_of,
    displayed,
    error_alert,
    overview_table,
    summary,
    table_columns,
)
from frontend.figures.overview import accuracy_cost_figure
from frontend.overview import (
    STANDARD_LEVEL,
    build_view,
    default_weights,
    element_options,
    format_weights,
    parse_weights,
    training_sets,
)
from frontend.reads import combined_for, data_for, fingerprint

dash.register_page(__name__, path="/", name="Leaderboard", title="Leaderboard · MLIP Metrology")

LEVELS_OF_THEORY = (
    {"label": "each benchmark's own", "value": STANDARD_LEVEL},
    {"label": "experiment", "value": "experiment"},
    {"label": "ccsd(t)/cbs", "value": "ccsd(t)/cbs"},
    {"label": "dft-pbe", "value": "dft-pbe"},
)
OPENNESS = ("OSOD", "OSCD", "CSOD", "CSCD")


def _labelled(label: str, control: Any, width: int = 2) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=control.id), control], md=width)


def layout(
    lot: str = STANDARD_LEVEL,
    weights: str = "",
    training_set: str = "",
    openness: str = "",
    element: str = "",
    structure_set: str = "",
    prototype: str = "",
    **_query: Any,
) -> Component:
    """The controls, set from the query string; every number is read by the callbacks."""
    filters = _filters(
        lot=lot,
        training_set=training_set,
        openness=openness,
        element=element,
        structure_set=structure_set,
        prototype=prototype,
    )
    return html.Div(
        [
            html.H2("Leaderboard", className="mt-3"),
            html.P(
                "One row per model version, in the order of the combined rank. Per benchmark: "
                "the model's rank and score on the benchmark's standard board (each board, "
                "linked below, shows its protocols, intervals and per-material numbers). "
                "Click a model for its page; sort by any column header.",
                className="text-muted",
            ),
            dcc.Interval(id="leaderboard-interval", interval=get_settings().dashboard_poll_ms),
            dcc.Store(id="leaderboard-data"),
            dcc.Store(id="leaderboard-initial-weights", data=parse_weights(weights)),
            dcc.Store(id="leaderboard-search"),
            dcc.Store(id="leaderboard-rendered"),
            html.Div(id="leaderboard-url-sink", hidden=True),
            dbc.Card(dbc.CardBody(filters), className="mb-2"),
            _weights_card(),
            html.Div(id="leaderboard-status"),
            dcc.Loading(html.Div(id="leaderboard-summary"), type="dot", delay_show=300),
            html.Div(
                [
                    dbc.Button(
                        "Download CSV of this view",
                        id="leaderboard-export",
                        color="secondary",
                        size="sm",
                        className="mb-2",
                    ),
                ]
            ),
            overview_table("leaderboard-table"),
            dcc.Loading(
                dcc.Graph(id="leaderboard-pareto", config={"displaylogo": False}),
                type="dot",
                delay_show=300,
            ),
        ]
    )


def _filters(
    *,
    lot: str,
    training_set: str,
    openness: str,
    element: str,
    structure_set: str,
    prototype: str,
) -> dbc.Row:
    """The filter dropdowns; each list of options holds only the URL's value until the
    callbacks read the real ones."""
    return dbc.Row(
        [
            _labelled(
                "Reference (level of theory)",
                dcc.Dropdown(
                    id="leaderboard-lot",
                    options=list(LEVELS_OF_THEORY),
                    value=lot,
                    clearable=False,
                ),
            ),
            _labelled(
                "Training set",
                dcc.Dropdown(
                    id="leaderboard-training-set",
                    options=[training_set] if training_set else [],
                    value=training_set or None,
                    placeholder="any",
                ),
            ),
            _labelled(
                "Openness",
                dcc.Dropdown(
                    id="leaderboard-openness",
                    options=list(OPENNESS),
                    value=openness or None,
                    placeholder="any",
                ),
            ),
            _labelled(
                "Element",
                dcc.Dropdown(
                    id="leaderboard-element",
                    options=[element] if element else [],
                    value=element or None,
                    placeholder="any",
                ),
            ),
            _labelled(
                "Structure set",
                dcc.Dropdown(
                    id="leaderboard-structure-set",
                    options=[structure_set] if structure_set else [],
                    value=structure_set or None,
                    placeholder="any",
                ),
            ),
            _labelled(
                "Prototype",
                dcc.Dropdown(
                    id="leaderboard-prototype",
                    options=[prototype] if prototype else [],
                    value=prototype or None,
                    placeholder="any",
                ),
            ),
        ],
        className="g-2",
    )


def _weights_card() -> dbc.Card:
    """The card the weight inputs are drawn into once the benchmarks are read."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.H6("Combined score weights", className="card-title"),
                html.Div(
                    id="leaderboard-weights",
                    children=html.Span("Reading benchmarks…", className="text-muted"),
                ),
            ]
        ),
        className="mb-2",
    )


def refresh(
    _n: int | None,
    lot: str,
    current: dict[str, Any] | None,
    initial: dict[str, float] | None = None,
) -> tuple[Any, ...]:
    """Re-read the API; options and the data stamp change only when the data do. The first
    time, the combined score of the URL's weights is read alongside, ready for the drawing."""
    try:
        # the first time, and only when the URL names weights (else they depend on the boards)
        data = data_for(lot, prefetch_weights=initial if current is None and initial else None)
    except ApiError as exc:
        return no_update, no_update, no_update, no_update, no_update, error_alert(exc.message)
    stamp = fingerprint(data, lot) | {"default_weights": default_weights(data["boards"])}
    if stamp == current:
        return no_update, no_update, no_update, no_update, no_update, None
    models: dict[str, ModelRead] = data["models"]
    train = sorted({t for m in models.values() for t in training_sets(m)})
    return (
        stamp,
        train,
        element_options(data["boards"].values()),
        data["structure_sets"],
        data["prototypes"],
        None,
    )


def weight_inputs(
    stamp: dict[str, Any] | None, initial: dict[str, float], current: Sequence[Any]
) -> Any:
    """One labelled number input per benchmark (re-drawn only when the benchmarks change)."""
    if not stamp:
        return no_update
    keys: list[str] = stamp["benchmarks"]
    if not keys:
        return html.Span("No benchmarks are registered yet.", className="text-muted")
    if len(current) == len(keys):
        return no_update
    start = starting_weights(stamp, initial)
    return dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label(key, html_for=f"leaderboard-weight-{key}", className="small mb-0"),
                    dbc.Input(
                        id={"type": "leaderboard-weight", "benchmark": key},
                        type="number",
                        min=0,
                        max=10,
                        step=0.5,
                        size="sm",
                        value=start[key],
                    ),
                ],
                xs=4,
                md=1,
            )
            for key in keys
        ],
        className="g-2",
    )


def starting_weights(stamp: dict[str, Any], initial: dict[str, float] | None) -> dict[str, float]:
    """The URL's weights (1 for a benchmark it does not name) or, when it names none, the
    default: 1 on the largest block of models all scored on every benchmark in it."""
    keys: list[str] = stamp["benchmarks"]
    if initial:
        return {k: initial.get(k, 1.0) for k in keys}
    defaults = stamp.get("default_weights") or {}
    return {k: defaults.get(k, 1.0) for k in keys}


def _weights(values: Sequence[Any], ids: Sequence[dict[str, str]]) -> dict[str, float]:
    weights = {}
    for value, ident in zip(values, ids, strict=True):
        try:
            weights[ident["benchmark"]] = max(0.0, float(value))
        except (TypeError, ValueError):
            weights[ident["benchmark"]] = 0.0
    return weights


def render(
    stamp: dict[str, Any] | None,
    weight_values: Sequence[Any],
    training: str | None,
    openness: str | None,
    element: str | None,
    structure_set: str | None,
    prototype: str | None,
    weight_ids: Sequence[dict[str, str]],
    initial: dict[str, float],
    rendered: list[Any] | None = None,
) -> tuple[Any, ...]:
    """The table, the accuracy-vs-cost plot, a summary line and the shareable query string;
    nothing when the data and the view are those already drawn (e.g. the weight inputs
    appearing with the values the page was drawn with)."""
    if not stamp or (stamp["benchmarks"] and not weight_ids):
        return (no_update,) * 6  # drawn once the weight inputs exist (they trigger this)
    weights = (
        _weights(weight_values, weight_ids) if weight_ids else starting_weights(stamp, initial)
    )
    filters = {
        k: v
        for k, v in {
            "training_set": training,
            "openness": openness,
            "element": element,
            "structure_set": structure_set,
            "prototype": prototype,
        }.items()
        if v
    }
    search = "?" + urlencode({"lot": stamp["lot"], "weights": format_weights(weights), **filters})
    drawn = [stamp, search]
    if drawn == rendered:
        return (no_update,) * 6
    try:
        data = data_for(stamp["lot"], filters)
        combined = combined_for(stamp["lot"], weights, filters)
    except ApiError as exc:
        return no_update, no_update, no_update, error_alert(exc.message), no_update, no_update
    view = build_view(data["boards"], data["models"], combined)
    costs, cost_label = costs_of(data)
    rows = [displayed(r) for r in view.records]
    return (
        fit_widths(table_columns(view), rows),
        rows,
        accuracy_cost_figure(view.records, costs, cost_label=cost_label, columns=view.columns),
        summary(view, data["boards"], filters),
        search,
        drawn,
    )


EXPORT_SCRIPT = "function(clicks) { return true; }"
URL_SCRIPT = """
function(search) {
    if (search && window.location.search !== search) {
        window.history.replaceState(null, "", window.location.pathname + search);
    }
    return "";
}
"""


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app`` (called by ``frontend.app.create_app``)."""
    app.callback(
        Output("leaderboard-data", "data"),
        Output("leaderboard-training-set", "options"),
        Output("leaderboard-element", "options"),
        Output("leaderboard-structure-set", "options"),
        Output("leaderboard-prototype", "options"),
        Output("leaderboard-status", "children"),
        Input("leaderboard-interval", "n_intervals"),
        Input("leaderboard-lot", "value"),
        State("leaderboard-data", "data"),
        State("leaderboard-initial-weights", "data"),
    )(refresh)
    app.callback(
        Output("leaderboard-weights", "children"),
        Input("leaderboard-data", "data"),
        State("leaderboard-initial-weights", "data"),
        State({"type": "leaderboard-weight", "benchmark": ALL}, "value"),
    )(weight_inputs)
    app.callback(
        Output("leaderboard-table", "columnDefs"),
        Output("leaderboard-table", "rowData"),
        Output("leaderboard-pareto", "figure"),
        Output("leaderboard-summary", "children"),
        Output("leaderboard-search", "data"),
        Output("leaderboard-rendered", "data"),
        Input("leaderboard-data", "data"),
        Input({"type": "leaderboard-weight", "benchmark": ALL}, "value"),
        Input("leaderboard-training-set", "value"),
        Input("leaderboard-openness", "value"),
        Input("leaderboard-element", "value"),
        Input("leaderboard-structure-set", "value"),
        Input("leaderboard-prototype", "value"),
        State({"type": "leaderboard-weight", "benchmark": ALL}, "id"),
        State("leaderboard-initial-weights", "data"),
        State("leaderboard-rendered", "data"),
    )(render)
    app.clientside_callback(  # the grid writes the CSV of what it shows, every page
        EXPORT_SCRIPT,
        Output("leaderboard-table", "exportDataAsCsv"),
        Input("leaderboard-export", "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        URL_SCRIPT, Output("leaderboard-url-sink", "children"), Input("leaderboard-search", "data")
    )
