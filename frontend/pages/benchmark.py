"""One benchmark's board ("/benchmarks/<key>"): one protocol, ranked with intervals.

A board is one parameter set of the benchmark (the standard one unless another is chosen)
compared with one level of theory (the benchmark's own unless another is chosen): the API
ranks it (``ranking`` in the body) and the page shows that ranking as it is, with its 95 %
intervals, tiers of tied models, coverage and failures; the plots draw the chosen models
(default: the top eight by rank) and the tables are paged.

The board (every model's entries) stays on the server, in the client's ETag cache; the browser
holds only a stamp of it, so hundreds of models cost the browser no more than a few.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from backend.schemas.leaderboard import LeaderboardRead
from backend.settings import get_settings
from frontend.api_client import ApiError, current_api_client
from frontend.components.board_tables import (
    material_columns,
    material_records,
    materials_table,
    protocol_label,
    summary_columns,
    summary_records,
    summary_table,
)
from frontend.components.board_view import board_plots, board_view, error_alert
from frontend.components.grid import fit_widths
from frontend.components.paged_table import rows_response
from frontend.figures.board import (
    LEVELS_OF_THEORY,
    MAX_HIGHLIGHTED,
    highlight_placeholder,
    model_labels,
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


#: A table section before its board has rows: laid out but not shown, so its grid measures its
#: rows and columns as it will show them (a grid in a ``display: none`` section cannot).
COLLAPSED = {"visibility": "hidden", "height": 0, "overflow": "hidden"}
SHOWN: dict[str, str] = {}


def _control(label: str, control: Any, width: int) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=control.id), control], md=width)


def layout(
    key: str = "eos",
    level_of_theory: str | None = None,
    params_hash: str | None = None,
    **_query: Any,
) -> Component:
    """A skeleton only: the data is read by the callbacks, never at import or layout time.

    ``level_of_theory`` and ``params_hash`` (query string): the board to open; default the
    benchmark's own level and its standard parameter set.
    """
    query = {"key": key, "level_of_theory": level_of_theory, "params_hash": params_hash}
    controls = dbc.Row(
        [
            _control(
                "Protocol (parameter set)",
                dcc.Dropdown(id="board-protocol", clearable=False, placeholder="standard"),
                4,
            ),
            _control(
                "Reference (level of theory)",
                dcc.Dropdown(id="board-lot", clearable=False, placeholder="the benchmark's own"),
                3,
            ),
            _control(
                "Models in the plots",
                dcc.Dropdown(
                    id="board-models",
                    multi=True,
                    placeholder=f"the top {MAX_HIGHLIGHTED} by rank",
                ),
                5,
            ),
        ],
        className="g-2 mb-2",
    )
    return html.Div(
        [
            html.H2(f"Benchmark: {key}", className="mt-3"),
            dcc.Interval(id="board-interval", interval=get_settings().dashboard_poll_ms),
            dcc.Store(id="board-query", data=query),
            dcc.Store(id="board-data"),
            html.Div(id="board-status"),
            controls,
            html.Div(
                html.P("Reading the leaderboard from the API…", className="text-muted"),
                id="board-content",
            ),
            html.Div(
                [html.H4("Models"), summary_table("board-table")],
                id="board-table-section",
                style=COLLAPSED,
            ),
            html.Div(id="board-plots"),
            html.Div(
                [
                    html.H4(id="board-materials-title", className="mt-4"),
                    materials_table("board-materials"),
                    html.Div(id="board-materials-sink", hidden=True),
                ],
                id="board-materials-section",
                style=COLLAPSED,
            ),
        ]
    )


def read_board(query: dict[str, Any]) -> LeaderboardRead:
    """The board with every model's entries (a 304 from the API while it is unchanged)."""
    return current_api_client().leaderboard(
        query["key"],
        level_of_theory=query.get("level_of_theory"),
        params_hash=query.get("params_hash"),
    )


def wanted_board(
    query: dict[str, Any], protocol: str | None, lot: str | None, current: dict[str, Any] | None
) -> dict[str, Any]:
    """The board to read: the one chosen in the dropdowns, else the URL's; a choice equal to
    the benchmark's default is not sent, so the default board is read under one request."""
    params_hash = protocol or query.get("params_hash")
    level = lot or query.get("level_of_theory")
    if current is not None:
        if params_hash == current.get("default_params_hash"):
            params_hash = None
        if level == current.get("default_level"):
            level = None
    return {"key": query["key"], "level_of_theory": level, "params_hash": params_hash}


def stamp_of(
    wanted: dict[str, Any], board: LeaderboardRead, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the browser keeps: the request, the board's defaults, and enough to notice a
    change, not the board itself."""
    default_hash = next((p.params_hash for p in board.protocols if p.is_default), None)
    default_level = (
        board.level_of_theory
        if wanted.get("level_of_theory") is None
        else (current or {}).get("default_level")
    )
    return {
        **wanted,
        "default_params_hash": default_hash,
        "default_level": default_level,
        "board_params_hash": board.params_hash,
        "board_level": board.level_of_theory,
        "updated_at": str(board.updated_at),
        "runs": [(str(r.model_id), r.n_runs, r.n_pending, r.n_failed) for r in board.rows],
        "n_entries": len(board.entries),
    }


def level_options(board: LeaderboardRead, default_level: str | None) -> list[dict[str, str]]:
    """The levels of theory to compare with, the benchmark's own marked."""
    levels = list(dict.fromkeys([*LEVELS_OF_THEORY, board.level_of_theory]))
    return [
        {"label": f"{lot} (the benchmark's own)" if lot == default_level else lot, "value": lot}
        for lot in levels
    ]


def protocol_options(board: LeaderboardRead) -> list[dict[str, str]]:
    """Every parameter set with runs, the standard one first and marked."""
    return [{"label": protocol_label(p), "value": p.params_hash} for p in board.protocols]


def refresh(
    _n_intervals: int | None,
    protocol: str | None,
    lot: str | None,
    query: dict[str, Any],
    current: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """Re-read the board chosen; the stamp, the choosers and the page change only when the
    data or the choice do."""
    wanted = wanted_board(query, protocol, lot, current)
    try:
        board = read_board(wanted)
    except ApiError as exc:
        alert = error_alert(exc.message, stale=current is not None)
        return no_update, no_update, no_update, alert, *(no_update,) * 4
    stamp = stamp_of(wanted, board, current)
    if stamp == current:
        return no_update, no_update, no_update, None, *(no_update,) * 4
    labels = model_labels(board)
    options = [{"label": labels[row.model_id], "value": str(row.model_id)} for row in board.rows]
    return (
        stamp,
        options,
        highlight_placeholder(len(board.rows)),
        None,
        protocol_options(board),
        board.params_hash,
        level_options(board, stamp["default_level"]),
        board.level_of_theory,
    )


def render(stamp: dict[str, Any] | None, chosen: list[str] | None = None) -> tuple[Any, Any]:
    """The board's header, ranking and notes (or the empty state), and the plots of the
    models chosen."""
    if stamp is None:
        return html.P("Waiting for the API…", className="text-muted"), []
    try:
        board = read_board(stamp)
    except ApiError as exc:
        return error_alert(exc.message, stale=False), []
    return board_view(board), board_plots(board, chosen)


def table(stamp: dict[str, Any] | None) -> tuple[Any, ...]:
    """The board table in the API's order (each column sorts in the browser, by the numbers
    behind its texts) and its columns; hidden while the board has no rows."""
    if stamp is None:
        return (no_update,) * 3
    try:
        board = read_board(stamp)
    except ApiError:
        return (no_update,) * 3  # the status line shows the error
    if not board.rows:
        return [], [], COLLAPSED
    records = summary_records(board)
    return records, fit_widths(summary_columns(board), records), SHOWN


def materials_frame(stamp: dict[str, Any] | None) -> tuple[Any, ...]:
    """The per-material table's columns and title; hidden until the board has results."""
    if stamp is None:
        return (no_update,) * 3
    try:
        board = read_board(stamp)
    except ApiError:
        return (no_update,) * 3  # the status line shows the error
    if not board.entries:
        return [], "", COLLAPSED
    ref = reference_label(board.level_of_theory)
    title = f"Per material and run (model, {ref}, error; failed runs with their class)"
    return fit_widths(material_columns(board), []), title, SHOWN


def materials_page(request: dict[str, Any] | None, stamp: dict[str, Any] | None) -> Any:
    """The rows the per-material table asks for (one page of every row, filtered and sorted
    as its filter boxes and headers say) and how many rows pass its filters."""
    if request is None or stamp is None:
        return no_update  # asked again once the board is read (REFRESH_SCRIPT)
    try:
        board = read_board(stamp)
    except ApiError:
        return no_update  # the status line shows the error
    return rows_response(material_records(board), request)


#: A new board: the per-material table asks for its rows again (it keeps its page, filters
#: and sort).
REFRESH_SCRIPT = """
function(stamp) {
    if (stamp) {
        dash_ag_grid.getApiAsync("board-materials").then(api => api.refreshInfiniteCache());
    }
    return "";
}
"""


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app`` (called by ``frontend.app.create_app``)."""
    app.callback(
        Output("board-data", "data"),
        Output("board-models", "options"),
        Output("board-models", "placeholder"),
        Output("board-status", "children"),
        Output("board-protocol", "options"),
        Output("board-protocol", "value"),
        Output("board-lot", "options"),
        Output("board-lot", "value"),
        Input("board-interval", "n_intervals"),
        Input("board-protocol", "value"),
        Input("board-lot", "value"),
        State("board-query", "data"),
        State("board-data", "data"),
    )(refresh)
    app.callback(
        Output("board-content", "children"),
        Output("board-plots", "children"),
        Input("board-data", "data"),
        Input("board-models", "value"),
    )(render)
    app.callback(
        Output("board-table", "rowData"),
        Output("board-table", "columnDefs"),
        Output("board-table-section", "style"),
        Input("board-data", "data"),
    )(table)
    app.callback(
        Output("board-materials", "columnDefs"),
        Output("board-materials-title", "children"),
        Output("board-materials-section", "style"),
        Input("board-data", "data"),
    )(materials_frame)
    app.callback(
        Output("board-materials", "getRowsResponse"),
        Input("board-materials", "getRowsRequest"),
        State("board-data", "data"),
    )(materials_page)
    app.clientside_callback(
        REFRESH_SCRIPT,
        Output("board-materials-sink", "children"),
        Input("board-data", "data"),
    )
