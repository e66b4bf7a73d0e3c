"""Leaderboard tables built from a LeaderboardRead (pure: data -> component).

The board table shows the API's numbers with their 95 % intervals as text ("2 (1-4)", with an
en dash); each such column sorts by the number behind its text (``<column>__key``, with the
grid's ``byKey`` comparator): sorting on "#" is the API's ranking, never a ranking of the
page's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash_ag_grid import AgGrid

from backend.schemas.leaderboard import Interval, LeaderboardRead, LeaderboardRow, Protocol
from frontend.components.grid import (
    ORANGE,
    RED,
    Column,
    data_grid,
    grouped,
    highlight,
    number_column,
    text_column,
)
from frontend.figures.board import model_labels, reference_label, with_unit

Record = dict[str, Any]

NUMBER = ".2f"  # d3 format of the per-material numbers
EN_DASH = "\u2013"  # between the ends of an interval (a hyphen would read as a minus)
KEY = "__key"  # suffix of the number a text cell of the board table sorts by
TIER_SHADE = "#eef2f7"
SUMMARY_PAGE_SIZE = 20  # the browser draws one page, whatever the number of models
MATERIALS_PAGE_SIZE = 25


def _text(name: str, column_id: str, *, by_key: bool = False, **extra: Any) -> Column:
    """A text column; with ``by_key`` sorted by the number beside it (missing last)."""
    if by_key:
        extra["comparator"] = {"function": f"byKey('{column_id}{KEY}')"}
    return text_column(name, column_id, **extra)


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


def summary_columns(board: LeaderboardRead) -> list[Column]:
    """Rank, tier and model; the score and coverage; failures by class, flags and pending
    runs; then per metric the MAE with its 95 % interval (or the mean without a reference).
    A text with a number behind it sorts by that number."""
    ranking = board.ranking
    score = with_unit("score", ranking.unit if ranking else "")
    fitted = {"styleConditions": [{"condition": "params.value", "style": {"color": RED}}]}
    flagged = highlight("params.value > 0", ORANGE)
    columns = [
        ("", _text("# (95 % interval)", "rank", by_key=True)),
        ("", _text("Tier", "tier", by_key=True)),
        ("", _text("Model", "model")),
        ("", _text("Version", "version")),
        ("", _text("Family", "family")),
        ("", _text("Fitted to", "fitted_to", cellStyle=fitted)),
        ("Ranking", _text(f"{score} (95 % interval)", "score", by_key=True)),
        ("Ranking", _text("coverage (scored / materials)", "coverage", by_key=True)),
        ("Runs", _text("failures by class", "failures", by_key=True)),
        ("Runs", number_column("flagged", "n_flagged", None, cellStyle=flagged)),
        ("Runs", number_column("pending", "n_pending", None)),
    ]
    compared = compared_metrics(board)
    for col in board.columns:
        what = "MAE (95 % interval)" if col.name in compared else "mean"
        columns.append((with_unit(col.label, col.unit), _text(what, col.name, by_key=True)))
    return grouped(columns)


#: Every other tier shaded (tied models share a shade).
SUMMARY_ROW_STYLE = {
    "styleConditions": [
        {"condition": f"params.data.tier{KEY} % 2 == 1", "style": {"backgroundColor": TIER_SHADE}}
    ]
}


def summary_table(table_id: str) -> AgGrid:
    """The one-row-per-model board, empty: a callback fills it in the API's order (by rank)."""
    return data_grid(
        table_id,
        page_size=SUMMARY_PAGE_SIZE,
        filters=False,
        getRowStyle=SUMMARY_ROW_STYLE,
        dashGridOptions={"alwaysMultiSort": True},
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


def material_columns(board: LeaderboardRead) -> list[Column]:
    """Material, model, status, failure class and protocol, then model value, reference and
    error per metric, then the quality flags."""
    ref = reference_label(board.level_of_theory)
    columns = [
        ("", _text("Material", "material")),
        ("", _text("Model", "model")),
        ("Run", _text("status", "status")),
        ("Run", _text("failure class", "failure_class")),
        ("Run", _text("params", "params")),
    ]
    for col in board.columns:
        group = with_unit(col.label, col.unit)
        columns += [
            (group, number_column(col.label, f"{col.name}__value", NUMBER)),
            (group, number_column(f"{col.label} {ref}", f"{col.name}__reference", NUMBER)),
            (group, number_column("error", f"{col.name}__error", NUMBER)),
        ]
    columns.append(("", _text("Quality flags", "flags")))
    return grouped(columns)


def materials_table(table_id: str) -> AgGrid:
    """The sortable, filterable model x material table, empty: the grid asks for one page at a
    time (``getRowsRequest``), filtered and sorted on the server
    (``frontend.components.paged_table``), so the browser never holds every (model, material)
    row of hundreds of models."""
    return data_grid(
        table_id,
        page_size=MATERIALS_PAGE_SIZE,
        infinite=True,
        dashGridOptions={"alwaysMultiSort": True},
    )
