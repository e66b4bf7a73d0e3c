"""Pure figure builders of the model and run pages: API run lists -> go.Figure."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.schemas.runs import RunSummary, SeriesRead
from frontend.figures.board import PALETTE, with_unit
from frontend.figures.text import escaped, plain

# (benchmark, metric, label, unit) compared with experiment on the model page
PARITY = (
    ("eos", "volume_per_atom", "V0", "Å³/atom"),
    ("eos", "bulk_modulus", "B0", "GPa"),
    ("cohesive", "cohesive_energy", "E_coh", "eV/atom"),
    ("elastic", "bulk_modulus", "B_VRH", "GPa"),
    ("elastic", "shear_modulus", "G_VRH", "GPa"),
    ("elastic", "youngs_modulus", "E", "GPa"),
    ("thermal_expansion", "linear_thermal_expansion_coefficient", "alpha(300 K)", "1/K"),
)
FAILURE_COLORS = dict(
    zip(
        (
            "nan_or_inf",
            "exception",
            "atoms_too_close",
            "temperature_runaway",
            "cell_collapse",
            "no_convergence",
            "timeout",
            "unsupported_elements",
            "setup_error",
        ),
        PALETTE,
        strict=False,
    )
)
# The palette has 11 colours: the later classes take Tol's vibrant scheme, none of them in it.
FAILURE_COLORS |= {
    "dynamically_unstable": "#EE7733",
    "no_interaction": "#0077BB",
    "no_representation": "#EE3377",
}


def _layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 45},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


@escaped
def empty_figure(title: str, message: str, height: int = 380) -> go.Figure:
    """A titled figure that says why it is empty."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height)


@escaped
def series_overlay(
    curves: Sequence[tuple[str, SeriesRead]], *, title: str, log: bool = False
) -> go.Figure:
    """Several curves of one kind (same axes), one trace each, labelled."""
    if not curves:
        return empty_figure(title, "No curve for this choice yet")
    fig = go.Figure()
    for index, (label, s) in enumerate(curves):
        fig.add_trace(
            go.Scatter(
                x=s.x,
                y=s.y,
                mode="lines+markers",
                name=label,
                line={"color": PALETTE[index % len(PALETTE)], "width": 2},
                marker={"size": 5},
                hovertemplate=f"{plain(label)}<br>{s.x_label}: %{{x:.4g}} {s.x_unit}"
                f"<br>{s.y_label}: %{{y:.4g}} {s.y_unit}<extra></extra>",
            )
        )
    first = curves[0][1]
    fig.update_xaxes(title=with_unit(first.x_label, _unit(first.x_unit)))
    fig.update_yaxes(title=with_unit(first.y_label, _unit(first.y_unit)))
    if log:
        fig.update_xaxes(type="log")
        fig.update_yaxes(type="log")
    return _layout(fig, title)


def _unit(unit: str) -> str:
    return "" if unit == "1" else unit


@escaped
def parity_grid(runs: Iterable[RunSummary], model_label: str) -> go.Figure:
    """Model vs experiment for each property of ``PARITY`` that has points; citation on hover."""
    runs = [r for r in runs if r.metrics]
    panels = []
    for benchmark, metric, label, unit in PARITY:
        points = [
            (r.material, m.value, m.reference_value, m.reference_source or "")
            for r in runs
            if r.benchmark_key == benchmark
            for m in r.metrics or []
            if m.name == metric
            and m.reference_value is not None
            and m.reference_level_of_theory == "experiment"
        ]
        if points:
            panels.append((f"{benchmark}: {label}", unit, points))
    title = f"{model_label} against experiment"
    if not panels:
        return empty_figure(title, "No result with an experimental reference yet")
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[p[0] for p in panels],
        horizontal_spacing=0.09,
        vertical_spacing=0.16,
    )
    for index, (name, unit, points) in enumerate(panels):
        row, col = divmod(index, cols)
        materials, values, refs, sources = (list(p) for p in zip(*points, strict=True))
        low, high = min(*values, *refs), max(*values, *refs)
        pad = 0.05 * (high - low) or 0.05 * abs(high) or 1.0
        fig.add_trace(
            go.Scatter(
                x=[low - pad, high + pad],
                y=[low - pad, high + pad],
                mode="lines",
                line={"color": "#888", "dash": "dash", "width": 1},
                hoverinfo="skip",
                showlegend=False,
            ),
            row=row + 1,
            col=col + 1,
        )
        fig.add_trace(
            go.Scatter(
                x=refs,
                y=values,
                mode="markers",
                name=name,
                showlegend=False,
                marker={"color": PALETTE[0], "size": 9, "line": {"width": 0.5, "color": "#333"}},
                customdata=[[m, s] for m, s in zip(materials, sources, strict=True)],
                hovertemplate=f"<b>%{{customdata[0]}}</b><br>model: %{{y:.4g}} {unit}"
                f"<br>experiment: %{{x:.4g}} {unit}<br>source: %{{customdata[1]}}<extra></extra>",
            ),
            row=row + 1,
            col=col + 1,
        )
        fig.update_xaxes(title_text=f"experiment ({unit})", row=row + 1, col=col + 1)
        fig.update_yaxes(title_text=f"model ({unit})", row=row + 1, col=col + 1)
    return _layout(fig, title, height=330 * rows + 60)


@escaped
def failure_breakdown(runs: Iterable[RunSummary], model_label: str) -> go.Figure:
    """Failed runs per benchmark, stacked by failure class."""
    failed = [r for r in runs if r.status == "failed"]
    title = f"Failures of {model_label} by class"
    if not failed:
        return empty_figure(title, "No failed run", height=320)
    counts = Counter((r.benchmark_key, r.failure_class or "unclassified") for r in failed)
    benchmarks = sorted({b for b, _ in counts})
    fig = go.Figure()
    for index, cls in enumerate(sorted({c for _, c in counts})):
        fig.add_trace(
            go.Bar(
                x=benchmarks,
                y=[counts.get((b, cls), 0) for b in benchmarks],
                name=cls,
                marker_color=FAILURE_COLORS.get(cls, PALETTE[index % len(PALETTE)]),
                hovertemplate=f"%{{x}}<br>{cls}: %{{y}} runs<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack", xaxis_title="benchmark", yaxis_title="failed runs")
    return _layout(fig, title, height=320)
