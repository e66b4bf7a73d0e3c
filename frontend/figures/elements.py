"""Periodic-table heatmaps (pymatviz) with our own hover text and the element in customdata."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import pymatviz  # about 3 s to import: paid when the app starts, not by the first visitor

from frontend.element_stats import MIN_ELEMENTS_FOR_RHO, CountErrorComparison
from frontend.figures import TEMPLATE
from frontend.figures.text import escaped, plain

SEQUENTIAL = "viridis"  # colour-blind safe, monotone in lightness
DIVERGING = "RdBu_r"  # ColorBrewer diverging, colour-blind safe; red: the first model is worse
_SPAN = re.compile(r"<span[^>]*>(.*?)</span>")  # pymatviz's bold, sized element symbol
_CELL = re.compile(r"^(?P<name>[^(<]+) \((?P<symbol>[A-Z][a-z]?)\)")


@escaped
def element_map(
    values: Mapping[str, float],
    *,
    title: str,
    label: str,
    unit: str,
    log: bool = False,
    details: Mapping[str, str] | None = None,
    diverging: bool = False,
    empty_message: str | None = None,
    show_values: bool = True,
    notes: Sequence[str] = (),
) -> go.Figure:
    """A periodic table coloured by ``values`` (element symbol -> number).

    Hover shows the element, ``label: value unit`` and ``details[symbol]``; each cell's
    ``customdata`` is its symbol, so a click can name the element. ``log`` colours by
    log10 (values must be > 0); ``diverging`` centres a red-blue scale on zero.
    ``show_values=False`` marks the elements in one colour, without values or colour bar
    (hover: ``label``), for an element list without numbers. ``notes`` are lines written in
    the empty space above the transition metals.
    """
    finite = {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}
    if log:
        finite = {k: v for k, v in finite.items() if v > 0}
    if not finite:
        return _empty(title, empty_message or f"No {label} values for this choice", *notes)
    kwargs: dict[str, Any] = {"log": log, "colorscale": DIVERGING if diverging else SEQUENTIAL}
    if diverging:
        bound = max(abs(v) for v in finite.values()) or 1.0
        kwargs["cscale_range"] = (-bound, bound)
    fig = pymatviz.ptable_heatmap(
        finite, show_values=show_values, show_scale=show_values, fmt=".3g", **kwargs
    )
    _retext(fig, finite, label=label, unit=unit if show_values else None, details=details or {})
    _labels_into_cells(fig)
    for i, note in enumerate(notes):
        fig.add_annotation(
            text=note, showarrow=False, xref="paper", yref="paper", x=0.42, y=0.97 - 0.07 * i,
            font={"size": 11},
        )  # fmt: skip
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        height=430,
        width=None,
        autosize=True,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    fig.update_traces(
        colorbar={"title": {"text": f"{label} ({unit})" if unit else label}},
        selector={"hoverinfo": "text"},
    )
    return fig


def _retext(
    fig: go.Figure,
    values: Mapping[str, float],
    *,
    label: str,
    unit: str | None,
    details: Mapping[str, str],
) -> None:
    """Hover text of each cell; ``unit=None``: the label alone, no value."""
    trace = next(t for t in fig.data if t.hoverinfo == "text")
    texts = [list(row) for row in trace.text]
    symbols: list[list[str]] = [["" for _ in row] for row in texts]
    for i, row in enumerate(texts):
        for j, text in enumerate(row):
            match = _CELL.match(str(text or ""))
            if not match:
                continue
            symbol = match["symbol"]
            symbols[i][j] = symbol
            if symbol in values:
                lines = [
                    f"<b>{match['name'].strip()} ({symbol})</b>",
                    label if unit is None else f"{label}: {_fmt(values[symbol])} {unit}".rstrip(),
                ]
                if details.get(symbol):
                    lines.append(details[symbol])
                lines.append("click: list the runs")
                texts[i][j] = "<br>".join(lines)
            else:
                texts[i][j] = f"{match['name'].strip()} ({symbol}): no data"
    trace.text = texts
    trace.customdata = symbols
    # Plain nested lists (not a typed array), so the browser sees z[i][j] like the hover text.
    trace.z = [
        [None if v is None or not math.isfinite(v) else float(v) for v in row] for row in trace.z
    ]


def _labels_into_cells(fig: go.Figure) -> None:
    """Draw pymatviz's cell labels (symbol and value) as heatmap text, not as ~180 layout
    annotations: the browser draws the table several times faster, and looks the same.

    Cells with a value are labelled by the coloured trace (in a colour contrasting with the
    cell); the rest by the pale background trace under it.
    """
    background, colored = fig.data[-2], next(t for t in fig.data if t.hoverinfo == "text")
    rows, cols = len(colored.z), len(colored.z[0])
    labels = [["" for _ in range(cols)] for _ in range(rows)]
    for note in fig.layout.annotations:
        if note.text and note.xref == "x" and note.yref == "y":
            labels[int(note.y)][int(note.x)] = _SPAN.sub(r"<b>\1</b>", note.text)
    has_value = [[v is not None for v in row] for row in colored.z]
    colored.hovertext = colored.text
    colored.text = [
        [t if has_value[i][j] else "" for j, t in enumerate(r)] for i, r in enumerate(labels)
    ]
    background.text = [
        [t if not has_value[i][j] else "" for j, t in enumerate(r)] for i, r in enumerate(labels)
    ]
    for trace in (colored, background):
        trace.texttemplate = "%{text}"
        trace.textfont = {"size": 11}
    background.textfont = {"size": 11, "color": "#000000"}
    fig.layout.annotations = [a for a in fig.layout.annotations if a.xref != "x"]


def _fmt(value: float) -> str:
    """Counts in full with thousands separators, anything else to 4 significant digits."""
    if value.is_integer() and abs(value) < 1e9:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _empty(title: str, *lines: str) -> go.Figure:
    """Axes-free figure saying why it is empty, one annotation per line (each is escaped)."""
    fig = go.Figure()
    for i, line in enumerate(lines):
        fig.add_annotation(
            text=line, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.55 - 0.08 * i,
            font={"size": 13 if i == 0 else 11},
        )  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.01}, height=430)
    return fig


def clicked_element(click: Mapping[str, Any] | None) -> str | None:
    """The element symbol of a ``clickData`` from ``element_map`` (None: not on an element)."""
    for point in (click or {}).get("points", []):
        symbol = point.get("customdata")
        if isinstance(symbol, str) and symbol:
            return symbol
    return None


@escaped
def count_error_scatter(
    comparison: CountErrorComparison,
    *,
    title: str,
    metric: str,
    unit: str,
    why_empty: Sequence[str] = (),
) -> go.Figure:
    """Per-element mean |error| against the training count (log axis), one labelled point per
    element, with Spearman's rho and the number of elements written over the plot: does the
    error fall where the training set has more structures? Each point's ``customdata`` is its
    symbol, as on the maps. No points: an empty figure saying ``why_empty``.
    """
    if comparison.n == 0:
        return _empty(title, *(why_empty or ("No element has both a training count and an error",)))
    error_label = f"mean |{metric} error|"
    hover = [
        f"<b>{plain(s)}</b><br>training structures: {n:,}<br>"
        f"{plain(error_label)}: {e:.4g} {plain(unit)}<br>click: list the runs"
        for s, n, e in zip(comparison.symbols, comparison.counts, comparison.errors, strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=list(comparison.counts),
            y=list(comparison.errors),
            mode="markers+text",
            text=[plain(s) for s in comparison.symbols],
            textposition="top center",
            customdata=list(comparison.symbols),
            hovertext=hover,
            hoverinfo="text",
            marker={"size": 9, "color": "#3b528b", "line": {"width": 0.5, "color": "#ffffff"}},
            name="elements",
        )
    )
    fig.add_annotation(
        text=_rho_text(comparison), showarrow=False, xref="paper", yref="paper", x=0.0,
        y=1.0, xanchor="left", yanchor="bottom", font={"size": 13},
    )  # fmt: skip
    fig.update_xaxes(type="log", title_text="training structures containing the element")
    fig.update_yaxes(title_text=f"{error_label} ({unit})" if unit else error_label)
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        height=430,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        showlegend=False,
    )
    return fig


def _rho_text(comparison: CountErrorComparison) -> str:
    """Spearman's rho and the number of elements, or why there is no rho."""
    n = comparison.n
    elements = f"{n} element{'s' if n != 1 else ''}"
    if comparison.rho is not None:
        rho, p = comparison.rho, comparison.p_value
        return f"Spearman \N{GREEK SMALL LETTER RHO} = {rho:+.2f} (p = {p:.2g}), n = {elements}"
    if n < MIN_ELEMENTS_FOR_RHO:
        return f"n = {elements}: too few for a rank correlation"
    return f"n = {elements}: no rank correlation (all counts or all errors are equal)"
