"""Text users wrote is drawn literally in figures: a material named like a link stays text
(Plotly would otherwise render its pseudo-HTML ``<a href>`` as a live link)."""

from __future__ import annotations

import json

import plotly.graph_objects as go

from backend.schemas.runs import SeriesRead
from frontend.figures.model import series_overlay
from frontend.figures.text import escape_labels, plain

EVIL = "<a href='https://evil.example/'>Cu</a>"


def _json(fig: go.Figure) -> str:
    return json.dumps(fig.to_plotly_json(), default=str)


def _curve() -> SeriesRead:
    return SeriesRead(
        name="energy_volume",
        x=[10.0, 11.0, 12.0],
        y=[-3.0, -3.2, -3.1],
        x_label="volume",
        x_unit="Å³/atom",
        y_label="energy",
        y_unit="eV/atom",
    )


def test_a_material_named_like_a_link_is_shown_as_text_in_titles_legends_and_hovers() -> None:
    fig = series_overlay([(f"EMT 1 {EVIL} eos", _curve())], title=f"Energy vs volume ({EVIL})")
    drawn = _json(fig)
    assert "<a href" not in drawn  # nowhere: title, legend name, hover template
    assert fig.layout.title.text == f"Energy vs volume ({plain(EVIL)})"
    assert fig.data[0].name == f"EMT 1 {plain(EVIL)} eos"
    assert fig.data[0].hovertemplate.startswith(f"EMT 1 {plain(EVIL)} eos<br>")  # ours kept


def test_categories_and_custom_data_are_escaped_once() -> None:
    fig = go.Figure(go.Bar(x=[EVIL, "Ag"], y=[1, 2], customdata=[[EVIL, 1], ["Ag", 2]]))
    fig.update_layout(title=EVIL)
    escape_labels(escape_labels(fig))  # a builder returning another builder's figure
    assert list(fig.data[0].x) == [plain(EVIL), "Ag"]
    assert fig.data[0].customdata[0][0] == plain(EVIL)
    assert fig.layout.title.text == plain(EVIL)  # not "&amp;lt;..."
    assert "<a href" not in _json(fig)
