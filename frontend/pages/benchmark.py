"""One benchmark's board ("/benchmarks/<key>"): per-material values, parity plots, MAPE bars.

The board (every model's entries) stays on the server, in the client's ETag cache; the browser
holds only its ETag-like stamp, the plots draw the chosen models (default: the best eight) and
the tables are paged, so hundreds of models cost the browser no more than a few.
"""

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
from frontend.components.leaderboard_tables import (
    MATERIALS_PAGE_SIZE,
    material_columns,
    material_records,
    materials_table,
    summary_table,
)
from frontend.components.paged_table import page_of
from frontend.figures.leaderboard import (
    MAX_HIGHLIGHTED,
    highlighted,
    mape_figure,
    model_labels,
    parity_figure,
    reference_label,
)

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
            dbc.Row(
                dbc.Col(
                    [
                        dbc.Label("Models in the plots", html_for="board-models"),
                        dcc.Dropdown(
                            id="board-models",
                            multi=True,
                            placeholder=f"the best {MAX_HIGHLIGHTED} (by the first metric's MAPE)",
                        ),
                    ],
                    md=8,
                ),
                className="mb-2",
            ),
            html.Div(
                html.P("Reading the leaderboard from the API…", className="text-muted"),
                id="board-content",
            ),
            html.Div(
                [
                    html.H4(id="board-materials-title", className="mt-4"),
                    materials_table("board-materials"),
                ],
                id="board-materials-section",
                hidden=True,
            ),
        ]
    )


def read_board(query: dict[str, str]) -> LeaderboardRead:
    """The board with every model's entries (a 304 from the API while it is unchanged)."""
    return current_api_client().leaderboard(query["key"], query["level_of_theory"])


def stamp_of(query: dict[str, str], board: LeaderboardRead) -> dict[str, Any]:
    """What the browser keeps: enough to notice a change, not the board itself."""
    return {
        **query,
        "updated_at": str(board.updated_at),
        "runs": [(str(r.model_id), r.n_runs, r.n_pending, r.n_failed) for r in board.rows],
        "n_entries": len(board.entries),
    }


def refresh(
    _n_intervals: int | None, query: dict[str, str], current: dict[str, Any] | None
) -> tuple[Any, Any, Any]:
    """Re-read the board; the stamp (and the page) change only when the data do."""
    try:
        board = read_board(query)
    except ApiError as exc:
        return no_update, no_update, error_alert(exc.message, stale=current is not None)
    stamp = stamp_of(query, board)
    if stamp == current:
        return no_update, no_update, None
    labels = model_labels(board)
    options = [{"label": labels[row.model_id], "value": str(row.model_id)} for row in board.rows]
    return stamp, options, None


def render(
    stamp: dict[str, Any] | None, chosen: list[str] | None = None
) -> Component | list[Component]:
    """The whole board, or the empty state, for the models chosen for the plots."""
    if stamp is None:
        return html.P("Waiting for the API…", className="text-muted")
    try:
        board = read_board(stamp)
    except ApiError as exc:
        return error_alert(exc.message, stale=False)
    return board_view(board, chosen)


def materials_page(
    page_current: int | None,
    page_size: int | None,
    sort_by: list[dict[str, str]] | None,
    filter_query: str | None,
    stamp: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """One page of the per-material table (filtered and sorted over every row), its columns
    and title; hidden until the board has results."""
    if stamp is None:
        return (no_update,) * 5
    try:
        board = read_board(stamp)
    except ApiError:
        return (no_update,) * 5  # the status line shows the error
    if not board.entries:
        return [], 1, [], "", True
    rows, pages = page_of(
        material_records(board),
        filter_query,
        sort_by,
        page_current,
        page_size or MATERIALS_PAGE_SIZE,
    )
    ref = reference_label(board.level_of_theory)
    title = f"Per material (model, {ref}, error)"
    return rows, pages, material_columns(board), title, False


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app`` (called by ``frontend.app.create_app``)."""
    app.callback(
        Output("board-data", "data"),
        Output("board-models", "options"),
        Output("board-status", "children"),
        Input("board-interval", "n_intervals"),
        State("board-query", "data"),
        State("board-data", "data"),
    )(refresh)
    app.callback(
        Output("board-content", "children"),
        Input("board-data", "data"),
        Input("board-models", "value"),
    )(render)
    app.callback(
        Output("board-materials", "data"),
        Output("board-materials", "page_count"),
        Output("board-materials", "columns"),
        Output("board-materials-title", "children"),
        Output("board-materials-section", "hidden"),
        Input("board-materials", "page_current"),
        Input("board-materials", "page_size"),
        Input("board-materials", "sort_by"),
        Input("board-materials", "filter_query"),
        Input("board-data", "data"),
    )(materials_page)


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


def board_view(board: LeaderboardRead, chosen: list[str] | None = None) -> list[Component]:
    """Header, summary table, parity plots and MAPE bars of the chosen models (default: the
    best ones), and the per-material table."""
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
    shown = highlighted(board, chosen)
    parity = [
        dbc.Col(
            graph(f"board-parity-{col.name}", parity_figure(board, col.name, shown)),
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
        graph("board-mape", mape_figure(board, shown)),
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
