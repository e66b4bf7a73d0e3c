"""One benchmark's board ("/benchmarks/<key>"): per-material values, parity plots, MAPE bars."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from backend.schemas.leaderboard import LeaderboardRead
from backend.settings import get_settings
from frontend.api_client import ApiError
from frontend.app import current_api_client
from frontend.components.leaderboard_tables import materials_table, summary_table
from frontend.figures.leaderboard import mape_figure, parity_figure, reference_label

dash.register_page(
    __name__,
    path_template="/benchmarks/<key>",
    path="/benchmarks/eos",
    name="Benchmark",
    title="Benchmark · MLIP Metrology",
    nav=False,
)

DEFAULT_LEVEL_OF_THEORY = "experiment"


def layout(
    key: str = "eos", level_of_theory: str = DEFAULT_LEVEL_OF_THEORY, **_query: Any
) -> Component:
    """A skeleton only: the data is read by the callbacks, never at import or layout time."""
    return html.Div(
        [
            html.H2(f"Benchmark: {key}", className="mt-3"),
            dcc.Interval(id="board-interval", interval=get_settings().dashboard_poll_ms),
            dcc.Store(id="board-query", data={"key": key, "level_of_theory": level_of_theory}),
            dcc.Store(id="board-data"),
            html.Div(id="board-status"),
            html.Div(
                html.P("Reading the leaderboard from the API…", className="text-muted"),
                id="board-content",
            ),
        ]
    )


def refresh(
    _n_intervals: int | None, query: dict[str, str], current: dict[str, Any] | None
) -> tuple[Any, Any]:
    """Re-read the board; the store changes (and the page re-renders) only when the data do."""
    try:
        board = current_api_client().leaderboard(query["key"], query["level_of_theory"])
    except ApiError as exc:
        return no_update, error_alert(exc.message, stale=current is not None)
    data = board.model_dump(mode="json")
    return (no_update if data == current else data), None


def render(data: dict[str, Any] | None) -> Component | list[Component]:
    """The whole board, or the empty state, from the stored LeaderboardRead JSON."""
    if data is None:
        return html.P("Waiting for the API…", className="text-muted")
    return board_view(LeaderboardRead.model_validate(data))


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app`` (called by ``frontend.app.create_app``)."""
    app.callback(
        Output("board-data", "data"),
        Output("board-status", "children"),
        Input("board-interval", "n_intervals"),
        State("board-query", "data"),
        State("board-data", "data"),
    )(refresh)
    app.callback(Output("board-content", "children"), Input("board-data", "data"))(render)


def error_alert(message: str, *, stale: bool = False) -> dbc.Alert:
    """The API's own message, shown (never swallowed); the page keeps retrying."""
    note = " Showing the last data read; retrying." if stale else " Retrying."
    return dbc.Alert(
        [
            html.Strong("Could not read the leaderboard from the API. "),
            html.Span(message, id="board-error"),
            note,
        ],
        color="danger",
        className="mt-2",
    )


def has_results(board: LeaderboardRead) -> bool:
    """True once any run of the board finished, successfully or not."""
    return bool(board.entries) or any(row.n_succeeded + row.n_failed for row in board.rows)


def board_view(board: LeaderboardRead) -> list[Component]:
    """Header, summary table, parity plots, MAPE bars and the per-material table."""
    header = html.P(
        [
            f"Benchmark {board.benchmark} (protocol {board.version}), "
            f"reference: {board.level_of_theory}. ",
            f"Last result: {board.updated_at:%Y-%m-%d %H:%M:%S %Z}." if board.updated_at else "",
        ],
        id="board-header",
        className="text-muted",
    )
    if not has_results(board):
        view: list[Component] = [header, empty_state(board)]
        if board.rows:
            view += [html.H4("Models"), summary_table(board, "board-table")]
        return view
    ref = reference_label(board.level_of_theory)
    parity = [
        dbc.Col(
            graph(f"board-parity-{col.name}", parity_figure(board, col.name)),
            lg=4,
            md=6,
        )
        for col in board.columns
    ]
    return [
        header,
        html.H4("Models"),
        summary_table(board, "board-table"),
        html.H4(f"Model vs {board.level_of_theory}", className="mt-4"),
        dbc.Row(parity, className="g-2"),
        graph("board-mape", mape_figure(board)),
        html.H4(f"Per material (model, {ref}, error)", className="mt-4"),
        materials_table(board, "board-materials"),
    ]


def graph(graph_id: str, figure: go.Figure) -> dcc.Graph:
    """A figure without the Plotly logo in its mode bar."""
    return dcc.Graph(id=graph_id, figure=figure, config={"displaylogo": False})


def empty_state(board: LeaderboardRead) -> dbc.Alert:
    """No finished runs yet: say so and explain how to start a campaign."""
    seconds = get_settings().dashboard_poll_ms / 1000
    return dbc.Alert(
        [
            html.H4("No results yet", className="alert-heading"),
            html.P(f"No run of the {board.benchmark} benchmark has finished. Start a campaign:"),
            html.Ul(
                [
                    html.Li(
                        [
                            html.Code("make demo"),
                            ": starts the local services and runs a demo campaign of the "
                            "baseline models;",
                        ]
                    ),
                    html.Li(
                        [
                            html.Code("POST /campaigns"),
                            " on the API with an admin token (header ",
                            html.Code("Authorization: Bearer <token>"),
                            ");",
                        ]
                    ),
                    html.Li([html.Code("mlipm campaigns start"), " from the command line."]),
                ]
            ),
            html.P(
                f"This page re-reads the API every {seconds:g} s and shows results as runs finish.",
                className="mb-0",
            ),
        ],
        id="board-empty",
        color="info",
        className="mt-2",
    )
