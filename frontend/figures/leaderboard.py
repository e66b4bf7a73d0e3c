"""Pure figure builders for a benchmark leaderboard: LeaderboardRead -> go.Figure."""

from __future__ import annotations

import uuid

import plotly.graph_objects as go
from plotly.colors import qualitative

from backend.schemas.leaderboard import LeaderboardRead, MetricColumn

# Paul Tol's colour-blind-safe qualitative palette, as shipped with plotly.
PALETTE: tuple[str, ...] = tuple(qualitative.Safe)
IDENTITY_LINE_NAME = "y = x"
TEMPLATE = "plotly_white"


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


def model_colors(board: LeaderboardRead) -> dict[uuid.UUID, str]:
    """A stable colour per model id, in leaderboard order, so every figure agrees."""
    return {
        model_id: PALETTE[index % len(PALETTE)]
        for index, model_id in enumerate(model_labels(board))
    }


def column(board: LeaderboardRead, metric: str) -> MetricColumn:
    """The metric column named ``metric``; raises KeyError if the board has none."""
    for candidate in board.columns:
        if candidate.name == metric:
            return candidate
    raise KeyError(f"leaderboard {board.benchmark!r} has no metric {metric!r}")


def parity_figure(board: LeaderboardRead, metric: str) -> go.Figure:
    """Model value against the reference value per material, one trace per model, and y = x."""
    col = column(board, metric)
    ref = board.level_of_theory
    labels, colors = model_labels(board), model_colors(board)
    fig = go.Figure()
    lows: list[float] = []
    highs: list[float] = []
    for model_id, label in labels.items():
        points = [
            (entry.material, value.value, value.reference, value.error)
            for entry in board.entries
            if entry.model_id == model_id
            and (value := entry.values.get(metric)) is not None
            and value.reference is not None
        ]
        if not points:
            continue
        materials, values, references, errors = (list(part) for part in zip(*points, strict=True))
        lows.append(min(*values, *references))
        highs.append(max(*values, *references))
        fig.add_trace(
            go.Scatter(
                x=references,
                y=values,
                mode="markers",
                name=label,
                marker={"color": colors[model_id], "size": 9, "line": {"width": 0.5}},
                customdata=[[m, e] for m, e in zip(materials, errors, strict=True)],
                hovertemplate=(
                    f"<b>%{{customdata[0]}}</b> · {label}<br>"
                    f"value: %{{y:.4g}} {col.unit}<br>"
                    f"{ref}: %{{x:.4g}} {col.unit}<br>"
                    f"error: %{{customdata[1]:+.3g}} {col.unit}<extra></extra>"
                ),
            )
        )
    if lows:
        low, high = min(lows), max(highs)
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


def mape_figure(board: LeaderboardRead) -> go.Figure:
    """Each model's mean absolute percentage error per metric, as grouped bars."""
    labels, colors = model_labels(board), model_colors(board)
    categories = [col.label for col in board.columns]
    fig = go.Figure()
    for row in board.rows:
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
        title=f"Mean absolute percentage error vs {board.level_of_theory}",
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
