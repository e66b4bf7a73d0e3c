"""Pure figure builders for a benchmark leaderboard: LeaderboardRead -> go.Figure.

Every number with a 95 % interval in the board (scores, MAEs) is drawn with it as error bars.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from backend.schemas.leaderboard import Interval, LeaderboardRead, LeaderboardRow, MetricColumn
from frontend.figures.text import escaped

# Paul Tol's colour-blind-safe qualitative palette, as shipped with plotly.
PALETTE: tuple[str, ...] = tuple(qualitative.Safe)
IDENTITY_LINE_NAME = "y = x"
MAX_HIGHLIGHTED = 8  # models drawn in colour by default; the others share one grey trace
OTHERS_COLOR = "#BBBBBB"  # Tol's pale grey


#: The levels of theory a board can be compared with (the API's references).
LEVELS_OF_THEORY = ("experiment", "ccsd(t)/cbs", "dft-pbe")


def reference_label(level_of_theory: str) -> str:
    """Short name of the reference, e.g. ``exp`` for experiment."""
    return "exp" if level_of_theory == "experiment" else level_of_theory


def with_unit(text: str, unit: str) -> str:
    """``"V0 (Å³/atom)"``, or just ``"B'"`` for a dimensionless metric."""
    return f"{text} ({unit})" if unit else text


def model_labels(board: LeaderboardRead) -> dict[uuid.UUID, str]:
    """A legend label per model id: its name, with the version when names repeat."""
    labels = {row.model_id: row.model_name for row in board.rows}
    versions = {row.model_id: row.model_version for row in board.rows}
    for entry in board.entries:
        labels.setdefault(entry.model_id, entry.model_name)
    names = list(labels.values())
    return {
        model_id: f"{name} {versions[model_id]}"
        if names.count(name) > 1 and model_id in versions
        else name
        for model_id, name in labels.items()
    }


def model_colors(
    board: LeaderboardRead, highlight: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, str]:
    """A stable colour per highlighted model id (default: every model, in leaderboard order),
    so every figure of a board agrees."""
    ids = list(model_labels(board)) if highlight is None else list(highlight)
    return {model_id: PALETTE[index % len(PALETTE)] for index, model_id in enumerate(ids)}


def highlighted(
    board: LeaderboardRead, chosen: Sequence[str] | None = None, best: int = MAX_HIGHLIGHTED
) -> list[uuid.UUID]:
    """The models drawn in colour: the ``chosen`` ids on the board, else (none chosen, or none
    of them on this board) the first ``best`` rows in the API's order (by rank), so hundreds
    of models never make hundreds of traces."""
    on_board = [row.model_id for row in board.rows]
    wanted = {str(c) for c in chosen or ()}
    picked = [m for m in on_board if str(m) in wanted]
    return picked or on_board[:best]


def highlight_placeholder(n_rows: int, best: int = MAX_HIGHLIGHTED) -> str:
    """What the model chooser says it shows when nothing is chosen."""
    return f"the top {min(best, n_rows)} by rank"


def column(board: LeaderboardRead, metric: str) -> MetricColumn:
    """The metric column named ``metric``; raises KeyError if the board has none."""
    for candidate in board.columns:
        if candidate.name == metric:
            return candidate
    raise KeyError(f"leaderboard {board.benchmark!r} has no metric {metric!r}")


@escaped
def parity_figure(
    board: LeaderboardRead, metric: str, highlight: Sequence[uuid.UUID] | None = None
) -> go.Figure:
    """Model value against the reference value per material: one trace per highlighted model
    (default ``highlighted(board)``), every other model in one grey trace, and y = x."""
    col = column(board, metric)
    ref = board.level_of_theory
    labels = model_labels(board)
    chosen = highlighted(board) if highlight is None else list(highlight)
    colors = model_colors(board, chosen)
    points: dict[uuid.UUID, list[tuple[str, float, float, float | None, str]]] = {}
    for entry in board.entries:
        value = entry.values.get(metric)
        if value is not None and value.reference is not None:
            points.setdefault(entry.model_id, []).append(
                (entry.material, value.value, value.reference, value.error, labels[entry.model_id])
            )
    fig = go.Figure()
    others = [p for model_id, group in points.items() if model_id not in colors for p in group]
    if others:
        fig.add_trace(_parity_trace(others, f"other models ({len(others)} points)", col.unit, ref))
        fig.data[-1].marker.update(color=OTHERS_COLOR, size=6, line={"width": 0})
    for model_id in chosen:
        if model_id in points:
            fig.add_trace(_parity_trace(points[model_id], labels[model_id], col.unit, ref))
            fig.data[-1].marker.update(color=colors[model_id], size=9, line={"width": 0.5})
    everything = [x for group in points.values() for p in group for x in (p[1], p[2])]
    if everything:
        low, high = min(everything), max(everything)
        pad = 0.05 * (high - low) or 0.05 * abs(high) or 1.0
        span = [low - pad, high + pad]
        fig.add_trace(
            go.Scatter(
                x=span,
                y=span,
                mode="lines",
                name=IDENTITY_LINE_NAME,
                line={"color": "#777777", "dash": "dash", "width": 1},
                hoverinfo="skip",
            )
        )
        fig.update_xaxes(range=span)
        fig.update_yaxes(range=span, scaleanchor="x", scaleratio=1)
    else:
        _add_no_data_note(fig, f"No {col.label} values with a {ref} reference yet")
    fig.update_layout(
        title=f"{col.label}: model vs {ref}",
        xaxis_title=with_unit(f"{col.label} {ref}", col.unit),
        yaxis_title=with_unit(f"{col.label} model", col.unit),
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        height=440,
    )
    return fig


def _parity_trace(
    points: list[tuple[str, float, float, float | None, str]], name: str, unit: str, ref: str
) -> go.Scatter:
    """One marker per (material, value, reference, error, model label)."""
    materials, values, references, errors, models = (list(p) for p in zip(*points, strict=True))
    return go.Scatter(
        x=references,
        y=values,
        mode="markers",
        name=name,
        customdata=[list(c) for c in zip(materials, errors, models, strict=True)],
        hovertemplate=(
            "<b>%{customdata[0]}</b> · %{customdata[2]}<br>"
            f"value: %{{y:.4g}} {unit}<br>"
            f"{ref}: %{{x:.4g}} {unit}<br>"
            f"error: %{{customdata[1]:+.3g}} {unit}<extra></extra>"
        ),
    )


def _error_bars(values: list[float | None], intervals: list[Interval | None]) -> dict[str, object]:
    """Plotly's asymmetric error bars from 95 % intervals around ``values`` (0 where none)."""
    plus = [
        i.high - v if v is not None and i is not None else 0.0
        for v, i in zip(values, intervals, strict=True)
    ]
    minus = [
        v - i.low if v is not None and i is not None else 0.0
        for v, i in zip(values, intervals, strict=True)
    ]
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}


def _chosen_rows(
    board: LeaderboardRead, highlight: Sequence[uuid.UUID] | None
) -> list[LeaderboardRow]:
    chosen = highlighted(board) if highlight is None else list(highlight)
    rows = {row.model_id: row for row in board.rows}
    return [rows[m] for m in chosen if m in rows]


@escaped
def score_figure(board: LeaderboardRead, highlight: Sequence[uuid.UUID] | None = None) -> go.Figure:
    """The highlighted models' scores (the ranking's number) with their 95 % intervals, in
    rank order, best at the top."""
    labels = model_labels(board)
    rows = [r for r in _chosen_rows(board, highlight) if r.score is not None]
    colors = model_colors(board, [r.model_id for r in rows])
    ranking = board.ranking
    unit = ranking.unit if ranking else ""
    fig = go.Figure()
    if rows:
        scores = [r.score for r in rows]
        fig.add_trace(
            go.Scatter(
                x=scores,
                y=[_rank_label(r, labels) for r in rows],
                mode="markers",
                name="score",
                marker={"color": [colors[r.model_id] for r in rows], "size": 11},
                error_x=_error_bars(scores, [r.score_interval for r in rows]),
                customdata=[[r.n_scored, r.n_materials, r.tier] for r in rows],
                hovertemplate=(
                    f"%{{y}}<br>score: %{{x:.4g}} {unit}<br>scored on %{{customdata[0]}} of "
                    "%{customdata[1]} materials<br>tier %{customdata[2]}<extra></extra>"
                ),
                showlegend=False,
            )
        )
        fig.update_yaxes(autorange="reversed", type="category")
    else:
        _add_no_data_note(fig, "No model is ranked on this board yet")
    total = sum(r.score is not None for r in board.rows)
    fig.update_layout(
        title="Score with its 95 % interval (lower is better)"
        + (f" ({len(rows)} of {total} ranked models)" if len(rows) < total else ""),
        xaxis_title=with_unit(f"score: {ranking.metric}" if ranking else "score", unit),
        margin={"l": 160, "r": 20, "t": 50, "b": 40},
        height=max(260, 60 + 34 * len(rows)),
    )
    return fig


def _rank_label(row: LeaderboardRow, labels: dict[uuid.UUID, str]) -> str:
    return f"{row.rank}. {labels[row.model_id]}" if row.rank is not None else labels[row.model_id]


@escaped
def mae_figure(board: LeaderboardRead, highlight: Sequence[uuid.UUID] | None = None) -> go.Figure:
    """The highlighted models' MAE per metric (one panel per metric with an error, in its own
    unit), each bar with its 95 % interval as an error bar."""
    labels = model_labels(board)
    rows = _chosen_rows(board, highlight)
    colors = model_colors(board, [r.model_id for r in rows])
    panels = [
        col
        for col in board.columns
        if any((s := r.metrics.get(col.name)) is not None and s.mae is not None for r in rows)
    ]
    if not panels:
        fig = go.Figure()
        _add_no_data_note(fig, "No errors against a reference yet")
    else:
        fig = make_subplots(
            rows=1, cols=len(panels), subplot_titles=[with_unit(c.label, c.unit) for c in panels]
        )
        for n, col in enumerate(panels, start=1):
            summaries = [r.metrics.get(col.name) for r in rows]
            maes = [s.mae if s is not None else None for s in summaries]
            fig.add_trace(
                go.Bar(
                    x=[labels[r.model_id] for r in rows],
                    y=maes,
                    name=col.label,
                    marker_color=[colors[r.model_id] for r in rows],
                    error_y=_error_bars(maes, [s.mae_interval if s else None for s in summaries]),
                    customdata=[s.n if s is not None else 0 for s in summaries],
                    hovertemplate=(
                        f"%{{x}}<br>{col.label} MAE: %{{y:.4g}} {col.unit}"
                        "<br>materials: %{customdata}<extra></extra>"
                    ),
                    showlegend=False,
                ),
                row=1,
                col=n,
            )
        fig.update_yaxes(title_text="MAE", row=1, col=1)
    total = len(board.rows)
    fig.update_layout(
        title=f"Mean absolute error vs {board.level_of_theory}, with 95 % intervals"
        + (f" ({len(rows)} of {total} models)" if len(rows) < total else ""),
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
        height=400,
    )
    return fig


def _add_no_data_note(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
