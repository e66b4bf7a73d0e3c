"""Sortable leaderboard tables built from a LeaderboardRead (pure: data -> component)."""

from __future__ import annotations

import math
from typing import Any

from dash.dash_table.DataTable import DataTable
from dash.dash_table.Format import Format, Scheme

from backend.schemas.leaderboard import LeaderboardRead, LeaderboardRow
from frontend.figures.leaderboard import model_labels, reference_label, with_unit

# Loose on purpose: DataTable's generated stubs want TypedDicts and wide key types.
Record = dict[Any, Any]

NUMBER = Format(precision=2, scheme=Scheme.fixed).nully("n/a")
PERCENT = Format(precision=1, scheme=Scheme.fixed).nully("n/a")
RATE = Format(precision=1, scheme=Scheme.percentage).nully("n/a")

_TABLE_STYLE: dict[str, Any] = {
    "sort_action": "native",
    "sort_mode": "multi",
    "merge_duplicate_headers": True,
    "page_action": "native",  # the browser draws one page, whatever the number of models
    "page_size": 20,
    "style_table": {"overflowX": "auto"},
    "style_cell": {
        "fontFamily": "var(--bs-body-font-family)",
        "fontSize": "0.9rem",
        "padding": "4px 8px",
    },
    "style_header": {"fontWeight": "bold", "backgroundColor": "#f1f3f5", "textAlign": "center"},
    "style_cell_conditional": [
        {"if": {"column_type": "text"}, "textAlign": "left"},
    ],
}


def _text(group: str, name: str, column_id: str) -> Record:
    return {"name": [group, name], "id": column_id, "type": "text"}


def _number(group: str, name: str, column_id: str, fmt: Format = NUMBER) -> Record:
    return {"name": [group, name], "id": column_id, "type": "numeric", "format": fmt}


def _mean_mape(row: LeaderboardRow) -> float:
    mapes = [m.mape_percent for m in row.metrics.values() if m.mape_percent is not None]
    return sum(mapes) / len(mapes) if mapes else math.inf


def summary_records(board: LeaderboardRead) -> list[Record]:
    """One record per model, best mean MAPE first; failure rate always present (None: no runs)."""
    records = []
    for rank, row in enumerate(sorted(board.rows, key=_mean_mape), start=1):
        record: Record = {
            "rank": rank,
            "model": row.model_name,
            "version": row.model_version,
            "family": row.family,
            "n_succeeded": row.n_succeeded,
            "n_failed": row.n_failed,
            "n_skipped": row.n_skipped,
            "n_pending": row.n_pending,
            "failure_rate": row.failure_rate,
            "n_flagged": row.n_flagged,
        }
        for col in board.columns:
            summary = row.metrics.get(col.name)
            record[f"{col.name}__mae"] = summary.mae if summary else None
            record[f"{col.name}__mape"] = summary.mape_percent if summary else None
        records.append(record)
    return records


def summary_columns(board: LeaderboardRead) -> list[Any]:
    """Model, runs and failure rate, then MAE (in the metric's unit) and MAPE per metric."""
    columns = [
        _number("", "#", "rank", Format()),
        _text("", "Model", "model"),
        _text("", "Version", "version"),
        _text("", "Family", "family"),
        _number("Runs", "succeeded", "n_succeeded", Format()),
        _number("Runs", "failed", "n_failed", Format()),
        _number("Runs", "skipped", "n_skipped", Format()),
        _number("Runs", "pending", "n_pending", Format()),
        _number("Runs", "failure rate", "failure_rate", RATE),
        _number("Runs", "flagged", "n_flagged", Format()),
    ]
    for col in board.columns:
        group = with_unit(col.label, col.unit)
        columns.append(_number(group, "MAE", f"{col.name}__mae"))
        columns.append(_number(group, "MAPE %", f"{col.name}__mape", PERCENT))
    return columns


def summary_table(board: LeaderboardRead, table_id: str) -> DataTable:
    """The sortable one-row-per-model leaderboard."""
    return DataTable(
        id=table_id,
        columns=summary_columns(board),
        data=summary_records(board),
        style_data_conditional=[
            {
                "if": {"filter_query": "{failure_rate} > 0", "column_id": "failure_rate"},
                "color": "#b2182b",
                "fontWeight": "bold",
            },
        ],
        **_TABLE_STYLE,
    )


def material_records(board: LeaderboardRead) -> list[Record]:
    """One record per (model, material): value, reference and error per metric."""
    labels = model_labels(board)
    records = []
    for entry in sorted(board.entries, key=lambda e: (e.material, labels[e.model_id])):
        record: Record = {
            "model": labels[entry.model_id],
            "material": entry.material,
            "flags": ", ".join(f.removeprefix("flag_") for f in sorted(entry.flags)),
        }
        for col in board.columns:
            value = entry.values.get(col.name)
            record[f"{col.name}__value"] = value.value if value else None
            record[f"{col.name}__reference"] = value.reference if value else None
            record[f"{col.name}__error"] = value.error if value else None
        records.append(record)
    return records


def material_columns(board: LeaderboardRead) -> list[Any]:
    """Model and material, then model value, reference and error per metric."""
    ref = reference_label(board.level_of_theory)
    columns = [_text("", "Material", "material"), _text("", "Model", "model")]
    for col in board.columns:
        group = with_unit(col.label, col.unit)
        columns.append(_number(group, col.label, f"{col.name}__value"))
        columns.append(_number(group, f"{col.label} {ref}", f"{col.name}__reference"))
        columns.append(_number(group, "error", f"{col.name}__error"))
    columns.append(_text("", "Quality flags", "flags"))
    return columns


MATERIALS_PAGE_SIZE = 25


def materials_table(table_id: str) -> DataTable:
    """The sortable, filterable model x material table, empty: a callback fills it one page
    at a time, filtered and sorted on the server (``frontend.components.paged_table``), so
    the browser never holds every (model, material) row of hundreds of models."""
    style = {
        **_TABLE_STYLE,
        "page_action": "custom",
        "sort_action": "custom",
        "page_size": MATERIALS_PAGE_SIZE,
    }
    return DataTable(
        id=table_id,
        columns=[],
        data=[],
        page_current=0,
        page_count=1,
        sort_by=[],
        filter_query="",
        filter_action="custom",
        filter_options={"case": "insensitive", "placeholder_text": "filter…"},
        **style,
    )
