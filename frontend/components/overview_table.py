"""The all-benchmark leaderboard's table (with its CSV export), summary line and empty state
(pure: data -> components), used by the leaderboard page (``frontend/pages/overview.py``)."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html
from dash.development.base_component import Component
from dash_ag_grid import AgGrid

from backend.schemas.leaderboard import LeaderboardRead
from frontend.components.grid import (
    ORANGE,
    RED,
    Column,
    csv_export,
    data_grid,
    grouped,
    highlight,
    number_column,
    text_column,
)
from frontend.overview import SPEED_BENCHMARK, View, speed_cost

NUMBER = ".3g"  # d3 format of a benchmark's score
PAGE_SIZE = 25
MUTED = {"color": "#6c757d", "fontStyle": "italic"}


def costs_of(data: dict[str, Any]) -> tuple[dict[str, float], str]:
    board = data["boards"].get(SPEED_BENCHMARK)
    costs = speed_cost(board)
    unit = (
        next((c.unit for c in board.columns if c.name == "time_per_atom_step"), "") if board else ""
    )
    return costs, f"time per atom-step ({unit}), speed benchmark"


def displayed(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "model_id"}


def table_columns(view: View) -> list[Column]:
    """Combined rank and score, the model and its runs first; then per benchmark the rank and
    the score on its standard board. Failed runs in red, flagged ones in orange."""
    link = text_column(
        "Model",
        "model_link",
        cellRenderer="markdown",  # "[name](/models/<id>)": a link to the model's page
        comparator={"function": "byKey('model')"},
        filterValueGetter={"function": "params.data.model"},
    )
    columns: list[tuple[str, Column]] = [
        ("", number_column("#", "rank")),
        ("", link),
        ("", text_column("Version", "version")),
        ("", text_column("Family", "family")),
        ("", text_column("Openness", "openness")),
        ("", text_column("Training set", "training_set")),
        ("Combined", number_column("score (0 best)", "score", ".2f")),
        ("Combined", text_column("not ranked", "missing", cellStyle=MUTED)),
        ("Combined", number_column("benchmarks scored", "n_benchmarks", None)),
        ("Runs", number_column("total", "n_runs", None)),
        ("Runs", number_column("failed", "n_failed", None)),
        (
            "Runs",
            number_column(
                "failure rate", "failure_rate", ".1%", cellStyle=highlight("params.value > 0", RED)
            ),
        ),
        (
            "Runs",
            number_column(
                "flagged", "n_flagged", None, cellStyle=highlight("params.value > 0", ORANGE)
            ),
        ),
    ]
    for col in view.columns:
        columns.append((col.benchmark, number_column("rank", col.rank_id)))
        columns.append((col.benchmark, number_column(col.score_title, col.score_id, NUMBER)))
    return grouped(columns)


def overview_table(table_id: str) -> AgGrid:
    """The leaderboard's grid, empty (a callback fills it): sorted and filtered in the
    browser, 25 models a page, its CSV export the rows after sort and filter."""
    return data_grid(
        table_id, page_size=PAGE_SIZE, csvExportParams=csv_export("mlip-leaderboard.csv")
    )


def summary(view: View, boards: dict[str, LeaderboardRead], filters: dict[str, str]) -> Component:
    """One line on what is shown, or the empty state."""
    if not any(b.rows for b in boards.values()):
        return (
            empty_state()
            if not filters
            else html.P(
                "No model matches these filters.",
                id="leaderboard-summary-text",
                className="text-muted",
            )
        )
    scored = ", ".join(view.scored_benchmarks) or "none (every weight is 0)"
    active = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in filters.items())
    ranked = sum(r["rank"] is not None for r in view.records)
    return html.P(
        [
            html.Strong(f"{len(view.records)} models"),
            f" ({ranked} ranked)",
            f" · combined score over: {scored}",
            f" · filters: {active}" if active else "",
            ". Each benchmark ranks the models on its standard protocol by its own rank "
            "metric (see the benchmark's page), failed, flagged and missing materials counting "
            "as the worst result there; the combined score is the weighted mean of those ranks, "
            "normalized to 0 (best) .. 1 (worst), and only models scored on every benchmark "
            "weighted are ranked. Unless the link names weights, they start at 1 on the "
            "largest block of models scored on every benchmark in it and 0 elsewhere. Run "
            "counts and flags are those of the standard boards.",
            html.Br(),
            html.Span(f"API: {view.method}", id="leaderboard-method") if view.method else "",
            html.Br(),
            "Boards: ",
            *_board_links(list(boards)),
        ],
        id="leaderboard-summary-text",
        className="small text-muted",
    )


def _board_links(keys: list[str]) -> list[Any]:
    """A link to each benchmark's board page, separated by dots."""
    links: list[Any] = []
    for key in keys:
        if links:
            links.append(" · ")
        links.append(html.A(key, href=f"/benchmarks/{key}"))
    return links


def empty_state() -> dbc.Alert:
    """No results yet: how to get some."""
    return dbc.Alert(
        [
            html.H4("No results yet", className="alert-heading"),
            html.P("No benchmark run has finished. Start a campaign:"),
            html.Ul(
                [
                    html.Li(
                        [
                            html.Code("make demo"),
                            ": local services and a demo campaign of the baseline models;",
                        ]
                    ),
                    html.Li([html.Code("POST /campaigns"), " on the API with an admin token;"]),
                    html.Li([html.Code("mlipm campaigns start"), " from the command line."]),
                ]
            ),
            html.P(
                "Progress shows on the Campaigns page; this page updates by itself.",
                className="mb-0",
            ),
        ],
        id="leaderboard-empty",
        color="info",
    )


def error_alert(message: str) -> dbc.Alert:
    """The API's own message, shown (never swallowed); the page keeps retrying."""
    return dbc.Alert(
        [
            html.Strong("Could not read the leaderboard from the API. "),
            html.Span(message, id="leaderboard-error"),
            " Retrying.",
        ],
        color="danger",
        className="mt-2",
    )
