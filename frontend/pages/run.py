"""Run page ("/runs/<run_id>"): parameters, provenance, metrics, series as plots, artifacts
(trajectories, served through ``frontend.downloads``), downloads."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from backend.schemas.runs import RunDetail
from frontend.api_client import ApiError, current_api_client
from frontend.components.run_artifacts import artifacts_table
from frontend.figures.model import series_overlay

dash.register_page(
    __name__, path_template="/runs/<run_id>", name="Run", title="Run · MLIP Metrology", nav=False
)


def layout(run_id: str = "", **_q: Any) -> Component:
    """Skeleton; the callback reads the run."""
    return html.Div(
        [
            dcc.Store(id="run-id", data=run_id),
            dcc.Download(id="run-download"),
            dcc.Loading(html.Div(id="run-content"), type="dot", delay_show=300),
            html.H5("Downloads", className="mt-3"),
            html.Div(
                [
                    dbc.Button(
                        "Run record (JSON)",
                        id="run-download-json",
                        size="sm",
                        color="secondary",
                        className="me-2",
                    ),
                    html.Span(id="run-download-series"),
                ],
                className="mb-3",
            ),
        ]
    )


def _pre(data: Any) -> html.Pre:
    return html.Pre(
        json.dumps(data, indent=2, sort_keys=True, default=str),
        className="small bg-light p-2 border rounded",
        style={"maxHeight": "320px", "overflow": "auto"},
    )


def render(run_id: str) -> tuple[Component, list[Component]]:
    """The whole run and one CSV button per series, or the API's error."""
    try:
        run = current_api_client().run(run_id)
    except ApiError as exc:
        alert = dbc.Alert(
            [html.Strong("Could not read the run. "), html.Span(exc.message, id="run-error")],
            color="danger",
            className="mt-3",
        )
        return alert, []
    buttons = [
        dbc.Button(
            f"{s.name} (CSV)",
            id={"type": "run-download-series", "name": s.name},
            size="sm",
            color="secondary",
            className="me-2",
        )
        for s in run.series
    ]
    return run_view(run), buttons


def run_view(run: RunDetail) -> Component:
    """Header, status, metrics table, series plots, parameters and provenance, downloads."""
    return html.Div(
        [
            _header(run),
            _failure(run),
            _timings(run),
            html.H5("Metrics"),
            _metrics_table(run),
            _flags(run),
            html.H5("Series"),
            _series_plots(run),
            html.H5("Artifacts"),
            artifacts_table(str(run.id), run.artifacts),
            _attempts(run),
            _params_and_provenance(run),
        ]
    )


def _header(run: RunDetail) -> html.Div:
    """Title with the status badge, and the model, protocol, structure and worker line."""
    color = {"succeeded": "success", "failed": "danger", "running": "primary"}.get(
        run.status, "secondary"
    )
    return html.Div(
        [
            html.H2(
                [
                    f"{run.benchmark_key} on {run.material} ",
                    dbc.Badge(run.status, color=color, className="align-middle"),
                ],
                id="run-title",
            ),
            html.P(
                [
                    "Model ",
                    dcc.Link(
                        f"{run.model_name} {run.model_version}", href=f"/models/{run.mlip_model_id}"
                    ),
                    f" · protocol {run.benchmark_key} {run.benchmark_version} · structure set "
                    f"{run.structure_set} ({run.formula}, {run.n_atoms} atoms)"
                    f" · attempt {run.attempt}"
                    f" · worker {run.worker or 'n/a'}",
                ],
                className="text-muted",
            ),
        ],
        className="mt-3",
    )


def _failure(run: RunDetail) -> dbc.Alert | None:
    """The failure class and message of a failed run."""
    if run.status != "failed":
        return None
    return dbc.Alert(
        [
            html.Strong(f"Failure: {run.failure_class or 'unclassified'}. "),
            run.failure_message or "",
        ],
        color="danger",
        id="run-failure",
    )


def _timings(run: RunDetail) -> html.P:
    return html.P(
        f"wall {_num(run.wall_s, 's')} · cpu {_num(run.cpu_s, 's')} · peak memory "
        f"{_num(run.peak_memory_mb, 'MB')} · started {run.started_at or 'n/a'} · finished "
        f"{run.finished_at or 'n/a'}",
        className="small",
    )


def _metrics_table(run: RunDetail) -> Component:
    """One row per metric (quality flags excluded), with its reference and error."""
    metrics = [m for m in run.metrics if not m.name.startswith("flag_")]
    if not metrics:
        return html.P("No metrics (the run did not succeed).", className="text-muted")
    head = ("Metric", "Value", "Unit", "Reference", "Error", "Source")
    rows = [
        html.Tr(
            [
                html.Td(m.name),
                html.Td(f"{m.value:.6g}"),
                html.Td(m.unit),
                html.Td(f"{m.reference_value:.6g}" if m.reference_value is not None else ""),
                html.Td(f"{m.error:+.4g}" if m.error is not None else ""),
                html.Td(m.reference_source or "", className="small"),
            ]
        )
        for m in metrics
    ]
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        size="sm",
        striped=True,
        id="run-metrics",
    )


def _flags(run: RunDetail) -> html.P | None:
    """The quality flags the run raised (metrics named ``flag_*`` above 0.5)."""
    flags = [
        m.name.removeprefix("flag_")
        for m in run.metrics
        if m.name.startswith("flag_") and m.value > 0.5
    ]
    if not flags:
        return None
    return html.P(["Quality flags raised: ", ", ".join(flags)], className="text-warning")


def _series_plots(run: RunDetail) -> Component:
    """One plot per stored series, two to a row on large screens."""
    if not run.series:
        return html.P("No series stored for this run.", className="text-muted")
    return dbc.Row(
        [
            dbc.Col(
                dcc.Graph(
                    figure=series_overlay([(s.name, s)], title=s.name),
                    config={"displaylogo": False},
                ),
                lg=6,
            )
            for s in run.series
        ]
    )


def _params_and_provenance(run: RunDetail) -> dbc.Row:
    """The run's parameters with their hashes, beside its provenance record."""
    return dbc.Row(
        [
            dbc.Col(
                [
                    html.H5("Parameters"),
                    _pre(run.params),
                    html.P(
                        f"params hash {run.params_hash} · model version hash {run.model_hash}",
                        className="small text-muted",
                    ),
                ],
                lg=6,
            ),
            dbc.Col([html.H5("Provenance"), _pre(run.provenance)], lg=6),
        ]
    )


def _attempts(run: RunDetail) -> Component | None:
    """Earlier attempts (reruns, hard time limit kills, stalled workers), if there were any."""
    if not run.attempts:
        return None
    head = ("Attempt", "Outcome", "Class", "Message", "Worker", "Ended")
    rows = [
        html.Tr(
            [
                html.Td(a.attempt),
                html.Td(a.status),
                html.Td(a.failure_class or ""),
                html.Td(a.failure_message or "", className="small"),
                html.Td(a.worker or "", className="small"),
                html.Td(str(a.finished_at or ""), className="small"),
            ]
        )
        for a in run.attempts
    ]
    table = dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        size="sm",
        striped=True,
        id="run-attempts",
    )
    return html.Div([html.H5("Earlier attempts"), table])


def _num(value: float | None, unit: str) -> str:
    return f"{value:.3g} {unit}" if value is not None else "n/a"


def download(json_clicks: Any, series_clicks: Any, run_id: str) -> Any:
    """The run record as JSON, or one series as CSV (x, y with their units)."""
    trigger = dash.ctx.triggered_id
    if trigger is None or not (json_clicks or any(series_clicks or [])):
        return no_update
    run = current_api_client().run(run_id)
    if trigger == "run-download-json":
        return {
            "content": run.model_dump_json(indent=2),
            "filename": f"run-{run_id}.json",
            "type": "application/json",
        }
    series = next(s for s in run.series if s.name == trigger["name"])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f"{series.x_label} ({series.x_unit})", f"{series.y_label} ({series.y_unit})"])
    writer.writerows(zip(series.x, series.y, strict=True))
    return {
        "content": buffer.getvalue(),
        "filename": f"run-{run_id}-{series.name}.csv",
        "type": "text/csv",
    }


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app``."""
    app.callback(
        Output("run-content", "children"),
        Output("run-download-series", "children"),
        Input("run-id", "data"),
    )(render)
    app.callback(
        Output("run-download", "data"),
        Input("run-download-json", "n_clicks"),
        Input({"type": "run-download-series", "name": dash.ALL}, "n_clicks"),
        State("run-id", "data"),
        prevent_initial_call=True,
    )(download)
