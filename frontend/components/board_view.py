"""The parts of a benchmark board page around its tables (pure: LeaderboardRead -> components):
header, the ranking in one sentence, notes, plots, the empty state and the error alert."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from dash.development.base_component import Component

from backend.schemas.leaderboard import LeaderboardRead
from backend.settings import get_settings
from frontend.figures.board import highlighted, mae_figure, parity_figure, score_figure


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


def protocol_text(board: LeaderboardRead) -> str:
    """The board's parameter set in words."""
    if board.is_default_protocol:
        return "the standard parameter set"
    shown = next((p for p in board.protocols if p.params_hash == board.params_hash), None)
    changed = ", ".join(f"{k}={v}" for k, v in sorted(shown.changed.items())) if shown else ""
    return f"{changed or board.params_hash[:8]} (not the standard parameter set)"


def ranking_text(board: LeaderboardRead) -> str:
    """The board's ranking in one sentence, from the API's own definition."""
    ranking = board.ranking
    if ranking is None:
        return "This board is not ranked."
    return (
        f"Ranking: {ranking.description}. {100 * ranking.confidence:g} % intervals from "
        f"{ranking.n_bootstrap} bootstrap resamples over materials ({board.n_materials} on "
        "this board); models of one tier are statistically tied."
    )


def board_view(board: LeaderboardRead) -> list[Component]:
    """Header, the ranking in one sentence and the board's notes; the empty state when no
    run has finished."""
    header = html.P(
        [
            f"Benchmark {board.benchmark} (version {board.version}), protocol: "
            f"{protocol_text(board)}, reference: {board.level_of_theory}. ",
            f"Last result: {board.updated_at:%Y-%m-%d %H:%M:%S %Z}." if board.updated_at else "",
        ],
        id="board-header",
        className="text-muted mb-1",
    )
    view: list[Component] = [
        header,
        html.P(ranking_text(board), id="board-ranking", className="small mb-2"),
    ]
    if board.notes:
        view.append(
            dbc.Alert(
                html.Ul([html.Li(note) for note in board.notes], className="mb-0"),
                id="board-notes",
                color="warning",
                className="py-2 small",
            )
        )
    if not has_results(board):
        view.append(empty_state(board))
    return view


def board_plots(board: LeaderboardRead, chosen: list[str] | None = None) -> list[Component]:
    """Parity plots, scores and MAEs (with their 95 % intervals) of the chosen models (default:
    the top ones by rank); nothing before a run has finished."""
    if not has_results(board):
        return []
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
        html.H4(f"Model vs {board.level_of_theory}", className="mt-4"),
        dbc.Row(parity, className="g-2"),
        dbc.Row(
            [
                dbc.Col(graph("board-score", score_figure(board, shown)), lg=5),
                dbc.Col(graph("board-mae", mae_figure(board, shown)), lg=7),
            ],
            className="g-2",
        ),
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
