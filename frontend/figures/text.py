"""Text that users wrote (material names, structure labels, set and training-set names) is drawn
literally in figures, never as Plotly's pseudo-HTML: a material named ``<a href=...>`` must not
become a live link in a chart title, a legend or a hover label.

``escaped`` is applied to every figure a builder returns; builders that splice user text into a
hover template (which may hold the builder's own ``<br>``) escape it there with ``plain``.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import Any, ParamSpec

import plotly.graph_objects as go

P = ParamSpec("P")


def plain(text: object) -> str:
    """``text`` with ``&``, ``<`` and ``>`` as entities, which Plotly shows as typed."""
    return html.escape(str(text), quote=False)


def escape_labels(fig: go.Figure) -> go.Figure:
    """Escape the figure's titles, axis titles, paper annotations, legend names, categorical
    x and y values and custom data (what hover templates substitute); in place, once (a
    builder may return another builder's figure)."""
    if getattr(fig, "_labels_escaped", False):
        return fig
    fig._labels_escaped = True
    layout = fig.layout
    if layout.title and layout.title.text:
        layout.title.text = plain(layout.title.text)
    for name in layout:
        if name.startswith(("xaxis", "yaxis")) and layout[name].title.text:
            layout[name].title.text = plain(layout[name].title.text)
    for note in layout.annotations or ():
        if note.text and note.xref in ("paper", None) and note.yref in ("paper", None):
            note.text = plain(note.text)
    for trace in fig.data:
        if getattr(trace, "name", None):
            trace.name = plain(trace.name)
        for axis in ("x", "y"):
            values = getattr(trace, axis, None)
            if values is not None and len(values) and all(isinstance(v, str) for v in values):
                setattr(trace, axis, [plain(v) for v in values])
        if getattr(trace, "customdata", None) is not None:
            trace.customdata = _plain_strings(trace.customdata)
    return fig


def _plain_strings(value: Any) -> Any:
    if isinstance(value, str):
        return plain(value)
    if isinstance(value, list | tuple):
        return [_plain_strings(v) for v in value]
    return value


def escaped(builder: Callable[P, go.Figure]) -> Callable[P, go.Figure]:
    """Decorate a figure builder so that what it returns has its labels escaped."""

    @functools.wraps(builder)
    def build(*args: P.args, **kwargs: P.kwargs) -> go.Figure:
        return escape_labels(builder(*args, **kwargs))

    return build
