"""The all-benchmark leaderboard's table, summary line, empty state and CSV export (pure:
data -> components), used by the leaderboard page (``frontend/pages/leaderboard.py``)."""

from __future__ import annotations

import csv
import io
from typing import Any

import dash_bootstrap_components as dbc
from dash import html, no_update
from dash.dash_table.Format import Format, Scheme
from dash.development.base_component import Component

from backend.schemas.leaderboard import LeaderboardRead
from frontend.overview import SPEED_BENCHMARK, View, speed_cost

NUMBER = Format(precision=3, scheme=Scheme.decimal_or_exponent).nully("n/a")


def costs_of(data: dict[str, Any]) -> tuple[dict[str, float], str]:
    board = data["boards"].get(SPEED_BENCHMARK)
    costs = speed_cost(board)
    unit = (
        next((c.unit for c in board.columns if c.name == "time_per_atom_step"), "") if board else ""
    )
    return costs, f"time per atom-step ({unit}), speed benchmark"


def displayed(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "model_id"}


def table_columns(view: View) -> list[dict[str, Any]]:
    """Combined rank and score, the model and its runs first; then per benchmark the rank and
    the score on its standard board."""
    rate = Format(precision=1, scheme=Scheme.percentage).nully("n/a")
    score = Format(precision=2, scheme=Scheme.fixed).nully("n/a")
    columns: list[dict[str, Any]] = [
        {"name": ["", "#"], "id": "rank", "type": "numeric", "format": Format().nully("n/a")},
        {"name": ["", "Model"], "id": "model_link", "presentation": "markdown", "type": "text"},
        {"name": ["", "Version"], "id": "version", "type": "text"},
        {"name": ["", "Family"], "id": "family", "type": "text"},
        {"name": ["", "Openness"], "id": "openness", "type": "text"},
        {"name": ["", "Training set"], "id": "training_set", "type": "text"},
        {
            "name": ["Combined", "score (0 best)"],
            "id": "score",
            "type": "numeric",
            "format": score,
        },
        {"name": ["Combined", "not ranked"], "id": "missing", "type": "text"},
        {"name": ["Combined", "benchmarks scored"], "id": "n_benchmarks", "type": "numeric"},
        {"name": ["Runs", "total"], "id": "n_runs", "type": "numeric"},
        {"name": ["Runs", "failed"], "id": "n_failed", "type": "numeric"},
        {"name": ["Runs", "failure rate"], "id": "failure_rate", "type": "numeric", "format": rate},
        {"name": ["Runs", "flagged"], "id": "n_flagged", "type": "numeric"},
    ]
    for col in view.columns:
        columns.append(
            {
                "name": [col.benchmark, "rank"],
                "id": col.rank_id,
                "type": "numeric",
                "format": Format().nully("n/a"),
            }
        )
        columns.append(
            {
                "name": [col.benchmark, col.score_title],
                "id": col.score_id,
                "type": "numeric",
                "format": NUMBER,
            }
        )
    return columns


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
            "weighted are ranked. Run counts and flags are those of the standard boards.",
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


def export_csv(
    _clicks: int | None, rows: list[dict[str, Any]] | None, columns: list[dict[str, Any]]
) -> Any:
    """The rows as shown (after the table's own sorting and filtering), the columns as shown."""
    if not rows:
        return no_update
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([" ".join(p for p in c["name"] if p) for c in columns])
    for row in rows:
        writer.writerow([_csv_value(row.get(c["id"]), c["id"], row) for c in columns])
    return {"content": buffer.getvalue(), "filename": "mlip-leaderboard.csv", "type": "text/csv"}


def _csv_value(value: Any, column_id: str, row: dict[str, Any]) -> Any:
    if column_id == "model_link":
        return row.get("model", "")
    return "" if value is None else value
