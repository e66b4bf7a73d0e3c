"""Figure builders and page registration, called as plain functions (no browser, no API)."""

from __future__ import annotations

import uuid

import dash
import plotly.graph_objects as go
import pytest

from backend.schemas.leaderboard import LeaderboardRead
from frontend.app import create_app
from frontend.figures.leaderboard import (
    IDENTITY_LINE_NAME,
    MAX_HIGHLIGHTED,
    PALETTE,
    mape_figure,
    parity_figure,
)


def _trace(fig: go.Figure, name: str) -> go.Scatter:
    return next(trace for trace in fig.data if trace.name == name)


def test_parity_figure_has_one_trace_per_model_and_identity_line(board: LeaderboardRead):
    fig = parity_figure(board, "volume_per_atom")

    assert [trace.name for trace in fig.data] == ["EMT", "LJ-exp-fit", IDENTITY_LINE_NAME]
    emt = _trace(fig, "EMT")
    assert sorted(zip(emt.x, emt.y, strict=True)) == [(11.95, 11.57), (16.27, 15.93)]
    assert [row[0] for row in emt.customdata] == ["Cu", "Al"]
    assert emt.customdata[0][1] == pytest.approx(11.57 - 11.95)
    for needle in ("customdata[0]", "value", "experiment", "error", "Å³/atom"):
        assert needle in emt.hovertemplate


def test_parity_figure_identity_line_spans_all_points(board: LeaderboardRead):
    fig = parity_figure(board, "volume_per_atom")

    line = _trace(fig, IDENTITY_LINE_NAME)
    assert list(line.x) == list(line.y)
    assert line.x[0] < 11.57
    assert line.x[1] > 16.27
    assert fig.layout.xaxis.range == fig.layout.yaxis.range


def test_parity_figure_axis_titles_carry_units(board: LeaderboardRead):
    fig = parity_figure(board, "bulk_modulus")

    assert fig.layout.xaxis.title.text == "B0 experiment (GPa)"
    assert fig.layout.yaxis.title.text == "B0 model (GPa)"


def test_parity_figure_colours_are_colour_blind_safe_and_stable(board: LeaderboardRead):
    v0 = parity_figure(board, "volume_per_atom")
    b0 = parity_figure(board, "bulk_modulus")

    assert _trace(v0, "EMT").marker.color == _trace(b0, "EMT").marker.color == PALETTE[0]
    assert _trace(v0, "LJ-exp-fit").marker.color == PALETTE[1]


def test_parity_figure_without_data_says_so(empty_board: LeaderboardRead):
    fig = parity_figure(empty_board, "volume_per_atom")

    assert len(fig.data) == 0
    assert "No V0 values" in fig.layout.annotations[0].text


def test_parity_figure_rejects_unknown_metric(board: LeaderboardRead):
    with pytest.raises(KeyError, match="no metric"):
        parity_figure(board, "nope")


def test_mape_figure_has_one_bar_trace_per_model(board: LeaderboardRead):
    fig = mape_figure(board)

    assert [trace.name for trace in fig.data] == ["EMT", "LJ-exp-fit"]
    assert all(isinstance(trace, go.Bar) for trace in fig.data)
    assert list(fig.data[0].x) == ["V0", "B0"]
    assert list(fig.data[0].y) == [2.9, 8.1]
    assert fig.layout.yaxis.title.text == "MAPE (%)"


def test_page_registry_contains_leaderboard_after_create_app():
    create_app("http://127.0.0.1:9")

    paths = {page["path"]: page for page in dash.page_registry.values()}
    assert "/" in paths
    assert paths["/"]["name"] == "Leaderboard"


def _many_models(board: LeaderboardRead, n: int) -> LeaderboardRead:
    """``n`` copies of the board's first model and its entries, each a model of its own."""
    row, entries = board.rows[0], [e for e in board.entries if e.model_id == board.rows[0].model_id]
    rows, new_entries = [], []
    for i in range(n):
        model_id = uuid.UUID(int=10_000 + i)
        rows.append(row.model_copy(update={"model_id": model_id, "model_name": f"m{i:03d}"}))
        new_entries += [
            e.model_copy(update={"model_id": model_id, "model_name": f"m{i:03d}"}) for e in entries
        ]
    return board.model_copy(update={"rows": rows, "entries": new_entries})


def test_parity_figure_of_many_models_colours_the_best_and_greys_the_rest(board: LeaderboardRead):
    many = _many_models(board, 30)

    fig = parity_figure(many, "volume_per_atom")

    names = [trace.name for trace in fig.data]
    assert names[0] == "other models (44 points)"  # 22 models x 2 materials
    assert names[1:-1] == [f"m{i:03d}" for i in range(MAX_HIGHLIGHTED)]
    assert names[-1] == IDENTITY_LINE_NAME
    assert sum(len(trace.x) for trace in fig.data[:-1]) == 60  # every point is drawn once
    assert fig.data[0].customdata[0][2] == f"m{MAX_HIGHLIGHTED:03d}"  # hover names the model


def test_mape_figure_of_many_models_shows_the_chosen_ones(board: LeaderboardRead):
    many = _many_models(board, 30)
    chosen = [many.rows[5].model_id, many.rows[29].model_id]

    fig = mape_figure(many, chosen)

    assert [trace.name for trace in fig.data] == ["m005", "m029"]
    assert "(2 of 30 models)" in fig.layout.title.text
