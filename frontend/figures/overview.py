"""Pure figure builders of the all-benchmark leaderboard: records -> go.Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from frontend.figures.text import escaped
from frontend.overview import Column, pareto_front

FRONT_COLOR = "#CC6677"  # Tol's muted rose: the Pareto front
OTHER_COLOR = "#4477AA"  # Tol's blue: every other model


@escaped
def accuracy_cost_figure(
    records: list[dict[str, Any]],
    costs: Mapping[str, float],
    *,
    cost_label: str,
    columns: Sequence[Column] = (),
) -> go.Figure:
    """Combined score against cost per model, the Pareto-optimal models highlighted and joined.

    ``costs`` maps model id -> cost; models without a cost or a score are left out (and
    counted in the title). When fewer than two models have a combined score (it needs every
    weighted benchmark), the accuracy is one benchmark's score instead: that of ``columns``
    (the cost's own benchmark excepted) on which the most models with a cost are scored,
    named on the axis.
    """
    accuracy, y_title, why = "score", "combined score (0 = best, 1 = worst)", ""
    points = _points(records, costs, accuracy)
    if len(points) < 2:
        fallback = max(
            (c for c in columns if c.benchmark != "speed"),
            key=lambda c: len(_points(records, costs, c.score_id)),
            default=None,
        )
        if fallback is not None and len(_points(records, costs, fallback.score_id)) >= 2:
            accuracy = fallback.score_id
            points = _points(records, costs, accuracy)
            unit = f", {fallback.unit}" if fallback.unit and fallback.unit != "1" else ""
            y_title = f"{fallback.benchmark} score ({fallback.metric} loss{unit}; 0 = best)"
            why = f": {fallback.benchmark}, as fewer than 2 models have a combined score"
    fig = go.Figure()
    if not points:
        fig.add_annotation(
            text="No two models have both a cost and a score yet",
            showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
        )  # fmt: skip
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    else:
        on_front = pareto_front([(c, s) for _, c, s in points])
        for front, name, color, size in (
            (False, "other models", OTHER_COLOR, 8),
            (True, "Pareto front", FRONT_COLOR, 12),
        ):
            chosen = [p for p, f in zip(points, on_front, strict=True) if f == front]
            if front:
                chosen.sort(key=lambda p: p[1])
            fig.add_trace(
                go.Scatter(
                    x=[c for _, c, _ in chosen],
                    y=[s for _, _, s in chosen],
                    mode="lines+markers" if front else "markers",
                    name=name,
                    marker={"color": color, "size": size, "line": {"width": 0.5, "color": "#333"}},
                    line={"color": color, "dash": "dot"},
                    text=[f"{r['model']} {r['version']}" for r, _, _ in chosen],
                    customdata=[r["model_id"] for r, _, _ in chosen],
                    hovertemplate=(
                        "<b>%{text}</b><br>"
                        f"{cost_label}: %{{x:.3g}}<br>"
                        f"{y_title.split(' (')[0]}: %{{y:.3g}}<extra></extra>"
                    ),
                )
            )
        fig.update_xaxes(type="log")
    left_out = len(records) - len(points)
    fig.update_layout(
        title="Accuracy vs cost"
        + why
        + (f" ({left_out} models without both left out)" if left_out else ""),
        xaxis_title=cost_label,
        yaxis_title=y_title,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        height=420,
    )
    return fig


def _points(
    records: list[dict[str, Any]], costs: Mapping[str, float], accuracy: str
) -> list[tuple[dict[str, Any], float, float]]:
    """(record, cost, accuracy) of the models that have both."""
    return [
        (r, costs[r["model_id"]], r[accuracy])
        for r in records
        if r["model_id"] in costs and r.get(accuracy) is not None and costs[r["model_id"]] > 0
    ]
