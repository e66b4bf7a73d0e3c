"""Leaderboard tables built from a LeaderboardRead (pure: data -> component).

The board table shows the API's numbers with their 95 % intervals as text ("2 (1-4)", with an
en dash), so it sorts on the server (``sort_action="custom"``, ``sort_summary``) by the numbers
behind the text: sorting on "#" is the API's ranking, never a ranking of the page's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash.dash_table.DataTable import DataTable
from dash.dash_table.Format import Format, Scheme

from backend.schemas.leaderboard import Interval, LeaderboardRead, LeaderboardRow, Protocol
from frontend.components.paged_table import query_records
from frontend.figures.leaderboard import model_labels, reference_label, with_unit

# Loose on purpose: DataTable's generated stubs want TypedDicts and wide key types.
Record = dict[Any, Any]

NUMBER = Format(precision=2, scheme=Scheme.fixed).nully("n/a")
EN_DASH = "\u2013"  # between the ends of an interval (a hyphen would read as a minus)
KEY = "__key"  # suffix of the number a text cell of the board table sorts by
TIER_SHADE = "#eef2f7"

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


def number_text(value: float | None) -> str:
    """A number in 4 significant digits, "n/a" for none."""
    return "n/a" if value is None else f"{value:.4g}"


def with_interval(value: float | None, interval: Interval | None) -> str:
    """``"1.23 (0.98-1.51)"`` (an en dash): a value and its 95 % interval (alone without)."""
    if value is None:
        return "n/a"
    if interval is None:
        return number_text(value)
    return (
        f"{number_text(value)} ({number_text(interval.low)}{EN_DASH}{number_text(interval.high)})"
    )


def rank_text(row: LeaderboardRow) -> str:
    """``"2 (1-4)"`` (an en dash): the rank and its 95 % interval, or "not ranked"."""
    if row.rank is None:
        return "not ranked"
    if not row.rank_interval:
        return str(row.rank)
    best, worst = row.rank_interval[0], row.rank_interval[-1]
    return str(row.rank) if best == worst == row.rank else f"{row.rank} ({best}{EN_DASH}{worst})"


def tier_texts(rows: Sequence[LeaderboardRow]) -> dict[int, str]:
    """Tier -> its cell text, saying how many models it holds when they are tied."""
    sizes: dict[int, int] = {}
    for row in rows:
        if row.tier is not None:
            sizes[row.tier] = sizes.get(row.tier, 0) + 1
    return {t: f"{t} ({n} tied)" if n > 1 else str(t) for t, n in sizes.items()}


def failures_text(failures: dict[str, int]) -> str:
    """``"nan_or_inf 1, no_convergence 2"``: failed and skipped runs by class."""
    return ", ".join(f"{cls} {n}" for cls, n in sorted(failures.items()))


def protocol_label(protocol: Protocol) -> str:
    """The standard parameter set, or what differs from it, with its number of runs."""
    runs = f"{protocol.n_runs} run{'s' if protocol.n_runs != 1 else ''}"
    if protocol.is_default:
        return f"standard ({runs})"
    changed = ", ".join(f"{k}={v}" for k, v in sorted(protocol.changed.items()))
    return f"{changed or protocol.params_hash[:8]} ({runs})"


def compared_metrics(board: LeaderboardRead) -> set[str]:
    """Metrics with an error against the reference for any model (else their mean is shown)."""
    return {
        col.name
        for col in board.columns
        if any((m := r.metrics.get(col.name)) is not None and m.n > 0 for r in board.rows)
    }


def summary_records(board: LeaderboardRead) -> list[Record]:
    """One record per model in the API's order (by rank): display texts, and beside each text
    cell the number it sorts by (``<column>__key``)."""
    labels = {c.name: c.label for c in board.columns}
    compared = compared_metrics(board)
    tiers = tier_texts(board.rows)
    records = []
    for row in board.rows:
        record: Record = {
            "rank": rank_text(row),
            f"rank{KEY}": row.rank,
            "tier": tiers.get(row.tier, "n/a") if row.tier is not None else "n/a",
            f"tier{KEY}": row.tier,
            "model": row.model_name,
            "version": row.model_version,
            "family": row.family,
            "fitted_to": ", ".join(labels.get(m, m) for m in row.fitted_to),
            "score": with_interval(row.score, row.score_interval),
            f"score{KEY}": row.score,
            "coverage": f"{row.n_scored} / {row.n_materials}",
            f"coverage{KEY}": row.n_scored,
            "failures": failures_text(row.failures),
            f"failures{KEY}": sum(row.failures.values()),
            "n_flagged": row.n_flagged,
            "n_pending": row.n_pending,
        }
        for col in board.columns:
            summary = row.metrics.get(col.name)
            if col.name in compared:
                value = summary.mae if summary else None
                record[col.name] = with_interval(value, summary.mae_interval if summary else None)
            else:
                value = summary.mean if summary else None
                record[col.name] = number_text(value)
            record[f"{col.name}{KEY}"] = value
        records.append(record)
    return records


def summary_columns(board: LeaderboardRead) -> list[Any]:
    """Rank, tier and model; the score and coverage; failures by class, flags and pending
    runs; then per metric the MAE with its 95 % interval (or the mean without a reference)."""
    ranking = board.ranking
    score = with_unit("score", ranking.unit if ranking else "")
    columns = [
        _text("", "# (95 % interval)", "rank"),
        _text("", "Tier", "tier"),
        _text("", "Model", "model"),
        _text("", "Version", "version"),
        _text("", "Family", "family"),
        _text("", "Fitted to", "fitted_to"),
        _text("Ranking", f"{score} (95 % interval)", "score"),
        _text("Ranking", "coverage (scored / materials)", "coverage"),
        _text("Runs", "failures by class", "failures"),
        _number("Runs", "flagged", "n_flagged", Format()),
        _number("Runs", "pending", "n_pending", Format()),
    ]
    compared = compared_metrics(board)
    for col in board.columns:
        what = "MAE (95 % interval)" if col.name in compared else "mean"
        columns.append(_text(with_unit(col.label, col.unit), what, col.name))
    return columns


def sort_summary(records: list[Record], sort_by: Sequence[dict[str, str]] | None) -> list[Record]:
    """The records sorted as ``sort_by`` says, each text column by the number behind it
    (missing last); no sort: the API's order."""
    by_key = [
        {**s, "column_id": f"{s['column_id']}{KEY}"}
        if records and f"{s['column_id']}{KEY}" in records[0]
        else s
        for s in sort_by or []
    ]
    return query_records(records, None, by_key)


def summary_styles(records: list[Record]) -> list[Record]:
    """Shade every other tier (tied models share a shade); flagged runs in orange."""
    odd = sorted({r["tier"] for r in records if (r[f"tier{KEY}"] or 0) % 2 == 1})
    return [
        *(
            {"if": {"filter_query": f'{{tier}} = "{text}"'}, "backgroundColor": TIER_SHADE}
            for text in odd
        ),
        {
            "if": {"filter_query": "{n_flagged} > 0", "column_id": "n_flagged"},
            "color": "#b35806",
            "fontWeight": "bold",
        },
        {"if": {"filter_query": '{fitted_to} != ""', "column_id": "fitted_to"}, "color": "#b2182b"},
    ]


def summary_table(table_id: str) -> DataTable:
    """The one-row-per-model board, empty: a callback fills it and sorts it on the server."""
    return DataTable(
        id=table_id,
        columns=[],
        data=[],
        sort_by=[],
        **{**_TABLE_STYLE, "sort_action": "custom"},
    )


def material_records(board: LeaderboardRead) -> list[Record]:
    """One record per (model, material), failed and skipped runs too: the run's status and
    failure class, its protocol (short hash), then value, reference and error per metric."""
    labels = model_labels(board)
    records = []
    for entry in sorted(board.entries, key=lambda e: (e.material, labels[e.model_id])):
        record: Record = {
            "model": labels[entry.model_id],
            "material": entry.material,
            "status": entry.status,
            "failure_class": entry.failure_class or "",
            "params": entry.params_hash[:8],
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
    """Material, model, status, failure class and protocol, then model value, reference and
    error per metric, then the quality flags."""
    ref = reference_label(board.level_of_theory)
    columns = [
        _text("", "Material", "material"),
        _text("", "Model", "model"),
        _text("Run", "status", "status"),
        _text("Run", "failure class", "failure_class"),
        _text("Run", "params", "params"),
    ]
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
