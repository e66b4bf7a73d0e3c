"""Pure figure builders for a benchmark leaderboard: LeaderboardRead -> go.Figure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative

from backend.schemas.leaderboard import LeaderboardRead, MetricColumn

# Paul Tol's colour-blind-safe qualitative palette, as shipped with plotly.
PALETTE: tuple[str, ...] = tuple(qualitative.Safe)
IDENTITY_LINE_NAME = "y = x"
TEMPLATE = "plotly_white"
MAX_HIGHLIGHTED = 8  # models drawn in colour by default; the others share one grey trace
OTHERS_COLOR = "#BBBBBB"  # Tol's pale grey


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
    """The models drawn in colour: the ``chosen`` ids on the board, else the first ``best`` rows
    (the board's order: best first), so hundreds of models never make hundreds of traces."""
    on_board = [row.model_id for row in board.rows]
    if chosen:
        wanted = {str(c) for c in chosen}
        return [m for m in on_board if str(m) in wanted]
    return on_board[:best]


def column(board: LeaderboardRead, metric: str) -> MetricColumn:
    """The metric column named ``metric``; raises KeyError if the board has none."""
    for candidate in board.columns:
        if candidate.name == metric:
            return candidate
    raise KeyError(f"leaderboard {board.benchmark!r} has no metric {metric!r}")


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
        template=TEMPLATE,
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


def mape_figure(board: LeaderboardRead, highlight: Sequence[uuid.UUID] | None = None) -> go.Figure:
    """The highlighted models' mean absolute percentage error per metric, as grouped bars."""
    labels = model_labels(board)
    chosen = highlighted(board) if highlight is None else list(highlight)
    colors = model_colors(board, chosen)
    categories = [col.label for col in board.columns]
    rows = {row.model_id: row for row in board.rows}
    fig = go.Figure()
    for row in (rows[m] for m in chosen if m in rows):
        summaries = [row.metrics.get(col.name) for col in board.columns]
        mapes = [s.mape_percent if s is not None else None for s in summaries]
        if all(m is None for m in mapes):
            continue
        fig.add_trace(
            go.Bar(
                x=categories,
                y=mapes,
                name=labels[row.model_id],
                marker_color=colors[row.model_id],
                customdata=[s.n if s is not None else 0 for s in summaries],
                hovertemplate=(
                    f"{labels[row.model_id]}<br>%{{x}}: %{{y:.2f}} %"
                    "<br>materials: %{customdata}<extra></extra>"
                ),
            )
        )
    if not fig.data:
        _add_no_data_note(fig, "No errors against a reference yet")
    fig.update_layout(
        template=TEMPLATE,
        barmode="group",
        title=f"Mean absolute percentage error vs {board.level_of_theory}"
        + (f" ({len(chosen)} of {len(rows)} models)" if len(chosen) < len(rows) else ""),
        xaxis_title="metric",
        yaxis_title="MAPE (%)",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        height=380,
    )
    return fig


def _add_no_data_note(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
