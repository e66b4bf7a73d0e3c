"""Energy landscapes ("/landscape"): a model's plane with its path, two models side by side and
their difference, and the global map of sampled configurations coloured by a choice.

Everything drawn was stored by the landscape runs (``/landscapes`` API): nothing is computed on
page load but the figure.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, dcc, html

from backend.schemas.landscapes import PlaneDifference, PlaneSummary, ProjectionRead
from frontend.api_client import ApiError, current_api_client
from frontend.figures.text import escaped

dash.register_page(
    __name__, path="/landscape", name="Landscape", title="Energy landscape · MLIP Metrology"
)

COLOURS = {
    "energy_per_atom_ev": "energy per atom (eV, relative to the origin)",
    "error_mev_atom": "error vs the plane's reference model (meV/atom)",
    "failed": "model failed on the configuration",
}
MAP_METHODS = ("pca", "umap", "phate")


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Energy landscape"),
            html.P(
                "Each model's energy on one plane through a cluster's minimum (defined once by a "
                "reference model), the sampled path projected on it, and a SOAP map of the "
                "sampled configurations."
            ),
            dcc.Store(id="landscape-planes"),
            dbc.Row(
                [
                    _labelled("Structure", dcc.Dropdown(id="landscape-structure", clearable=False)),
                    _labelled("Model A", dcc.Dropdown(id="landscape-run-a", clearable=False)),
                    _labelled("Model B", dcc.Dropdown(id="landscape-run-b", clearable=False)),
                    _labelled(
                        "Map",
                        dcc.Dropdown(
                            id="landscape-map-method",
                            options=[
                                *(
                                    {"label": f"SOAP + {m.upper()}", "value": m}
                                    for m in MAP_METHODS
                                ),
                                *(
                                    {
                                        "label": f"model embedding + {m.upper()}",
                                        "value": f"embedding_{m}",
                                    }
                                    for m in MAP_METHODS
                                ),
                            ],
                            value="pca",
                            clearable=False,
                        ),
                    ),
                    _labelled(
                        "Colour",
                        dcc.Dropdown(
                            id="landscape-colour",
                            options=[{"label": v, "value": k} for k, v in COLOURS.items()],
                            value="energy_per_atom_ev",
                            clearable=False,
                        ),
                    ),
                ],
                className="mb-3",
            ),
            html.Div(id="landscape-message"),
            # Hidden until a landscape run exists, so an empty page shows no bare axes.
            html.Div(
                [
                    dbc.Row(
                        [
                            dbc.Col(dcc.Graph(id="landscape-plane-a"), md=4),
                            dbc.Col(dcc.Graph(id="landscape-plane-b"), md=4),
                            dbc.Col(dcc.Graph(id="landscape-difference"), md=4),
                        ]
                    ),
                    dcc.Graph(id="landscape-map"),
                ],
                id="landscape-figures",
                style={"display": "none"},
            ),
        ]
    )


def empty_state() -> dbc.Alert:
    """No landscape run yet: what one shows and how to run it."""
    return dbc.Alert(
        [
            html.H4("No energy landscape yet", className="alert-heading"),
            html.P(
                "A landscape run relaxes a cluster, samples it by MD, and stores each model's "
                "energy on a plane through the minimum plus a map of the sampled configurations. "
                "Run one on the clusters set (Cu13 and Cu38):"
            ),
            html.Pre(
                html.Code(
                    "mlipm campaigns start -m EMT -m LJ-exp-fit -b landscape -s clusters "
                    "--name landscape"
                )
            ),
            html.P(
                [
                    "The map needs the ",
                    html.Code("landscape"),
                    " extra (",
                    html.Code("make install-mlip"),
                    "); ",
                    html.Code("make demo"),
                    " runs Cu13 for every model it has.",
                ],
                className="mb-0",
            ),
        ],
        color="info",
        id="landscape-empty",
    )


def _labelled(label: str, control: Any) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=control.id), control], md=2)


def load_planes(_: str) -> tuple[list[dict[str, Any]], list[dict[str, str]], str | None, Any, Any]:
    """The runs with a stored plane, and the structures they cover; the figures only if any."""
    hidden = {"display": "none"}
    try:
        planes = current_api_client().landscape_planes()
    except ApiError as exc:
        error = dbc.Alert(f"The API did not answer: {exc}", color="danger")
        return [], [], None, error, hidden
    if not planes:
        return [], [], None, empty_state(), hidden
    structures = {p.structure_id: f"{p.structure_label} ({p.material})" for p in planes}
    options = [{"label": label, "value": str(sid)} for sid, label in structures.items()]
    return (
        [p.model_dump(mode="json") for p in planes],
        options,
        options[0]["value"],
        "",
        {},
    )


def choose_runs(structure_id: str | None, planes: list[dict[str, Any]] | None) -> tuple[Any, ...]:
    """Models with a plane on the chosen structure (A: the first, B: the second if any)."""
    runs = [PlaneSummary.model_validate(p) for p in planes or []]
    options = [
        {"label": f"{p.model_name} {p.model_version} ({p.plane_source})", "value": str(p.run_id)}
        for p in runs
        if str(p.structure_id) == structure_id
    ]
    first = options[0]["value"] if options else None
    second = options[1]["value"] if len(options) > 1 else first
    return options, first, options, second


def draw_planes(run_a: str | None, run_b: str | None) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Contours of both models' planes with the path, and their difference."""
    if not run_a or not run_b:
        return _empty("Model A"), _empty("Model B"), _empty("A - B")
    client = current_api_client()
    try:
        plane_a = client.landscape_projection(run_a, "plane")
        plane_b = client.landscape_projection(run_b, "plane")
        diff = client.landscape_difference(run_a, run_b)
    except ApiError as exc:
        message = f"not comparable: {exc}"
        return _empty("Model A", message), _empty("Model B", message), _empty("A - B", message)
    return plane_figure(plane_a, "A"), plane_figure(plane_b, "B"), difference_figure(diff)


def draw_map(run_a: str | None, method: str, colour: str) -> go.Figure:
    """The global map of model A's run, coloured by the chosen quantity."""
    if not run_a:
        return _empty("global map")
    try:
        projection = current_api_client().landscape_projection(run_a, f"map_{method}")
    except ApiError as exc:
        return _empty("global map", f"no {method} map stored for this run ({exc})")
    return map_figure(projection, colour, run_a)


@escaped
def plane_figure(plane: ProjectionRead, tag: str) -> go.Figure:
    """Contour of relative energy (meV/atom) with the projected path and the grid minima."""
    data, n = plane.data, int(plane.settings["n_atoms"])
    z = [[None if e is None else 1000 * e / n for e in row] for row in data["energy_ev"]]
    path = data["path"]
    fig = go.Figure(
        [
            go.Contour(x=data["a"], y=data["b"], z=z, colorbar={"title": "meV/atom"}),
            go.Scatter(
                x=_by_stage(path["a"], path["stage"]),
                y=_by_stage(path["b"], path["stage"]),
                mode="lines+markers",
                marker={"size": 3, "color": "white"},
                line={"width": 1, "color": "white"},
                text=_by_stage([f"{s}#{i}" for i, s in enumerate(path["stage"])], path["stage"]),
                hovertemplate="%{text}<extra>path</extra>",
                name="path",
            ),
            go.Scatter(
                x=[m[0] for m in data["minima"]],
                y=[m[1] for m in data["minima"]],
                mode="markers",
                marker={"symbol": "star", "size": 12, "color": "red"},
                name="grid minima",
            ),
        ]
    )
    return _axes(fig, f"{tag}: run {str(plane.run_id)[:8]} (plane {plane.plane_hash})")


def _by_stage(values: list[Any], stages: list[str]) -> list[Any]:
    """``values`` with a None (a gap in the line) wherever the stage changes."""
    out: list[Any] = []
    for i, (value, stage) in enumerate(zip(values, stages, strict=True)):
        if i and stage != stages[i - 1]:
            out.append(None)
        out.append(value)
    return out


@escaped
def difference_figure(diff: PlaneDifference) -> go.Figure:
    """A - B in meV/atom with the RMSE in the title."""
    z = [
        [None if e is None else 1000 * e / diff.n_atoms for e in row] for row in diff.difference_ev
    ]
    fig = go.Figure(
        go.Contour(
            x=diff.a, y=diff.b, z=z, colorscale="RdBu", zmid=0, colorbar={"title": "meV/atom"}
        )
    )
    rmse = "n/a" if diff.rmse_mev_atom is None else f"{diff.rmse_mev_atom:.2f}"
    return _axes(fig, f"A - B: RMSE {rmse} meV/atom")


@escaped
def map_figure(projection: ProjectionRead, colour: str, run_id: str) -> go.Figure:
    """Scatter of the map; hovering names the configuration and the run."""
    data = projection.data
    values = [float(v) if v is not None else None for v in data.get(colour, [])]
    fig = go.Figure(
        go.Scatter(
            x=data["x"],
            y=data["y"],
            mode="markers",
            marker={"color": values, "colorscale": "Viridis", "showscale": True, "size": 7},
            text=[f"{label} · run {run_id[:8]}" for label in data["label"]],
            hovertemplate="%{text}<br>%{marker.color}<extra></extra>",
        )
    )
    method = projection.method.upper()
    fig.update_layout(
        title=f"{_descriptor(projection)} + {method}: {COLOURS.get(colour, colour)}",
        xaxis_title=f"{projection.method.upper()} 1",
        yaxis_title=f"{projection.method.upper()} 2",
    )
    return fig


def _descriptor(projection: ProjectionRead) -> str:
    descriptor = projection.settings.get("descriptor", {})
    if descriptor.get("descriptor") == "model_embedding":
        return f"model embedding ({descriptor.get('source', '?')})"
    return "SOAP"


def _axes(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        xaxis_title="PC1 (Å·amu^1/2)",
        yaxis_title="PC2 (Å·amu^1/2)",
        showlegend=False,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
    )
    return fig


@escaped
def _empty(title: str, message: str = "nothing to draw for this choice") -> go.Figure:
    """A titled figure that says why it is empty, without bare axes."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=title)
    return fig


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app`` (called by ``frontend.app.create_app``)."""
    app.callback(
        Output("landscape-planes", "data"),
        Output("landscape-structure", "options"),
        Output("landscape-structure", "value"),
        Output("landscape-message", "children"),
        Output("landscape-figures", "style"),
        Input("landscape-planes", "id"),
    )(load_planes)
    app.callback(
        Output("landscape-run-a", "options"),
        Output("landscape-run-a", "value"),
        Output("landscape-run-b", "options"),
        Output("landscape-run-b", "value"),
        Input("landscape-structure", "value"),
        Input("landscape-planes", "data"),
    )(choose_runs)
    app.callback(
        Output("landscape-plane-a", "figure"),
        Output("landscape-plane-b", "figure"),
        Output("landscape-difference", "figure"),
        Input("landscape-run-a", "value"),
        Input("landscape-run-b", "value"),
    )(draw_planes)
    app.callback(
        Output("landscape-map", "figure"),
        Input("landscape-run-a", "value"),
        Input("landscape-map-method", "value"),
        Input("landscape-colour", "value"),
    )(draw_map)
