"""Inside the models ("/representations"): each model's latent map (PCA, UMAP, PHATE) coloured
by chemistry, error, failure class (the failure atlas) or flags; linear CKA between models; the
linear probes' R^2 with each model's random-weight twin; latent novelty vs error.

Everything drawn comes from the latest cross-run summary of the ``representation`` runs
(``GET /representations``), read once per page load and kept in the browser; nothing is
computed on page load but the figures (``frontend/figures/representations.py``).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update

from frontend.api_client import ApiError, current_api_client
from frontend.components.grid import (
    RED,
    Column,
    data_grid,
    fit_widths,
    grouped,
    highlight,
    number_column,
    text_column,
)
from frontend.figures import representations as figures

dash.register_page(
    __name__,
    path="/representations",
    name="Representations",
    title="Representations · MLIP Metrology",
)

RUN_COMMANDS = (
    "mlipm campaigns start -m CHGNet-0.3.0 -m CHGNet-random-weights -b representation "
    "-s 'elemental crystals'",
    "mlipm representations summarize",
)
TARGET_LABELS = {"volume_strain": "volume strain (within structure)"}
BELOW_ZERO = "below 0: worse than predicting the target's mean"


def layout(model: str = "", **_: Any) -> html.Div:
    """Skeleton; the callbacks read the summary (``?model=<name>`` chooses the model)."""
    return html.Div(
        [
            html.H2("Representations"),
            html.P(
                "What the models' learned embeddings encode: each model's per-structure pooled "
                "embedding projected to a plane, how similar the models' embeddings are, what a "
                "linear probe reads from them (against the same architecture with random "
                "weights), and whether latent novelty tracks the model's error."
            ),
            dcc.Store(id="representations-wanted", data=model or None),
            dcc.Store(id="representations-body"),
            html.Div(id="representations-message"),
            # Hidden until a summary exists, so an empty page shows no bare axes.
            html.Div(_panels(), id="representations-figures", style={"display": "none"}),
        ]
    )


def _panels() -> list[Any]:
    colours = [{"label": label, "value": key} for key, label in figures.COLOURS.items()]
    return [
        dbc.Row(
            [
                _labelled("Model", dcc.Dropdown(id="representations-model", clearable=False), 3),
                _labelled(
                    "Points in",
                    dcc.Dropdown(
                        id="representations-space",
                        # shown from the start; the summary disables structure space without SOAP
                        options=[{"label": v, "value": k} for k, v in figures.SPACES.items()],
                        value="latent",
                        clearable=False,
                    ),
                    3,
                ),
                _labelled(
                    "Projection", dcc.Dropdown(id="representations-method", clearable=False), 2
                ),
                _labelled(
                    "Colour by",
                    dcc.Dropdown(
                        id="representations-colour",
                        options=colours,
                        value="group",
                        clearable=False,
                    ),
                    3,
                ),
            ],
            className="mb-2",
        ),
        dcc.Graph(id="representations-map", config={"displaylogo": False}),
        dbc.Row(
            [
                dbc.Col(dcc.Graph(id="representations-cka", config={"displaylogo": False}), lg=6),
                dbc.Col(
                    dcc.Graph(id="representations-novelty", config={"displaylogo": False}), lg=6
                ),
            ],
            className="g-2",
        ),
        html.H4("Linear probes", className="mt-3"),
        html.P(id="representations-probe-note", className="text-muted"),
        data_grid(
            "representations-probes",
            filters=False,
            dashGridOptions={"tooltipShowDelay": 200},
        ),
    ]


def _labelled(label: str, control: Any, width: int) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=control.id), control], md=width)


def empty_state() -> dbc.Alert:
    """No summary yet: what the page shows once there is one, and how to make it."""
    return dbc.Alert(
        [
            html.H4("No representation summary yet", className="alert-heading"),
            html.P(
                "The representation benchmark stores each model's pooled embeddings of a probe "
                "set (strained and sheared cells of each structure); a summary of all such runs "
                "draws this page. Run a trained model and its random-weight control on the "
                "elemental crystals, then summarize:"
            ),
            html.Pre(html.Code("\n".join(RUN_COMMANDS))),
            html.P(
                "Classical potentials (EMT, Lennard-Jones) have no latent space and are skipped.",
                className="mb-0",
            ),
        ],
        color="info",
        id="representations-empty",
    )


def load_summary(wanted: str | None) -> tuple[Any, ...]:
    """The summary, the model choice (``wanted`` or the first trained model), and the message
    or the figures."""
    hidden = {"display": "none"}
    try:
        body = current_api_client().representations()
    except ApiError as exc:
        error = dbc.Alert(f"The API did not answer: {exc}", color="danger")
        return None, [], None, error, hidden
    if not body or not body.get("models"):
        return None, [], None, empty_state(), hidden
    options = figures.model_options(body)
    return body, options, figures.default_model(body, wanted), "", {}


def choose_method(
    model: str | None, space: str | None, body: dict[str, Any] | None, current: str | None
) -> tuple[Any, Any, Any]:
    """The spaces (structure space disabled without a SOAP map) and the projections of
    ``model`` there, those the summary lacks disabled; keeps ``current`` if it has it."""
    if not body:
        return no_update, no_update, no_update
    options = figures.method_options(body, model, space or "latent")
    return (
        figures.space_options(body),
        options,
        figures.chosen_method(options, current or "pca"),
    )


def draw_map(
    model: str | None,
    method: str | None,
    colour: str,
    space: str | None,
    body: dict[str, Any] | None,
) -> go.Figure:
    """The chosen model's latent map, or the structure map, in the chosen colour."""
    if not body:
        return no_update
    return figures.projection_figure(body, model, method, colour, space or "latent")


def draw_novelty(model: str | None, body: dict[str, Any] | None) -> go.Figure:
    if not body:
        return no_update
    return figures.novelty_figure(body, model)


def draw_summary(body: dict[str, Any] | None) -> tuple[Any, ...]:
    """The CKA heatmap, the probe table and its note."""
    if not body:
        return no_update, no_update, no_update, no_update
    probes = body.get("probes") or {}
    note = (
        f"Ridge regression from the pooled embeddings, R² cross-validated with "
        f"{probes.get('folds', 'folds of whole base structures')} (whole structures held out, "
        "so an embedding cannot score by recognising the element). R² is shown as computed: "
        "below 0 means the probe predicts worse than the target's mean would. Gain: R² minus "
        "that of the model's random twin (same architecture, random weights); n/a: fewer "
        "than 6 structures or a constant target."
    )
    rows = figures.probe_rows(body)
    columns = fit_widths(probe_columns(probes.get("targets") or []), rows)
    return figures.cka_figure(body), columns, rows, note


def probe_columns(targets: list[str]) -> list[Column]:
    """Model, control, twin, then per target its R^2 (red below 0, with a tooltip) and gain."""
    pairs: list[tuple[str, Column]] = [
        ("", text_column("Model", "model")),
        ("", text_column("Control", "control")),
        ("", text_column("Random twin", "twin")),
    ]
    for target in targets:
        label = TARGET_LABELS.get(target, target)
        r2 = number_column(
            "R²",
            f"r2_{target}",
            ".2f",
            cellStyle=highlight("params.value != null && params.value < 0", RED),
            headerTooltip=f"cross-validated R² of {label}; {BELOW_ZERO}",
            tooltipValueGetter={"function": _r2_tooltip(target)},
        )
        gain = number_column("gain vs twin", f"gain_{target}", "+.2f")
        pairs += [(label, r2), (label, gain)]
    return grouped(pairs)


def _r2_tooltip(target: str) -> str:
    """JavaScript: the R^2 with its spread and count, and what a negative value means."""
    spread = (
        f"'R² ' + d3.format('.3f')(params.value) + ' ± ' + "
        f"d3.format('.2f')(params.data.std_{target} ?? 0) + "
        f"' (n = ' + params.data.n_{target} + ')'"
    )
    return (
        f"params.value == null ? 'not probed' : {spread} + "
        f"(params.value < 0 ? '; {BELOW_ZERO}' : '')"
    )


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app`` (called by ``frontend.app.create_app``)."""
    app.callback(
        Output("representations-body", "data"),
        Output("representations-model", "options"),
        Output("representations-model", "value"),
        Output("representations-message", "children"),
        Output("representations-figures", "style"),
        Input("representations-wanted", "data"),
    )(load_summary)
    app.callback(
        Output("representations-space", "options"),
        Output("representations-method", "options"),
        Output("representations-method", "value"),
        Input("representations-model", "value"),
        Input("representations-space", "value"),
        State("representations-body", "data"),
        State("representations-method", "value"),
    )(choose_method)
    app.callback(
        Output("representations-map", "figure"),
        Input("representations-model", "value"),
        Input("representations-method", "value"),
        Input("representations-colour", "value"),
        Input("representations-space", "value"),
        State("representations-body", "data"),
    )(draw_map)
    app.callback(
        Output("representations-novelty", "figure"),
        Input("representations-model", "value"),
        State("representations-body", "data"),
    )(draw_novelty)
    app.callback(
        Output("representations-cka", "figure"),
        Output("representations-probes", "columnDefs"),
        Output("representations-probes", "rowData"),
        Output("representations-probe-note", "children"),
        Input("representations-body", "data"),
    )(draw_summary)
