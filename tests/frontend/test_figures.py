"""Figure builders and page registration, called as plain functions (no browser, no API)."""

from __future__ import annotations

import uuid

import dash
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from backend.schemas.leaderboard import LeaderboardRead
from frontend.app import create_app
from frontend.figures.board import (
    IDENTITY_LINE_NAME,
    MAX_HIGHLIGHTED,
    PALETTE,
    highlight_placeholder,
    highlighted,
    mae_figure,
    parity_figure,
    score_figure,
)
from frontend.figures.model import empty_figure
from frontend.figures.phonons import phonon_figure


def _trace(fig: go.Figure, name: str) -> go.Scatter:
    return next(trace for trace in fig.data if trace.name == name)


def test_parity_figure_has_one_trace_per_model_and_identity_line(board: LeaderboardRead):
    fig = parity_figure(board, "volume_per_atom")

    assert [trace.name for trace in fig.data] == ["EMT", "LJ-exp-fit", IDENTITY_LINE_NAME]
    assert len(_trace(fig, "LJ-exp-fit").x) == 1  # its failed run has no point
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


def test_mae_figure_draws_each_metric_in_its_unit_with_95_percent_error_bars(
    board: LeaderboardRead,
):
    fig = mae_figure(board)

    assert [trace.name for trace in fig.data] == ["V0", "B0"]  # one panel per metric
    assert all(isinstance(trace, go.Bar) for trace in fig.data)
    v0, b0 = fig.data
    assert list(v0.x) == ["EMT", "LJ-exp-fit"]  # the board's order: by rank
    assert list(b0.y) == [7.8, 46.3]
    # asymmetric bars from the intervals: EMT's B0 MAE 7.8 in [7.3, 8.2]
    assert b0.error_y.arrayminus[0] == pytest.approx(0.5)
    assert b0.error_y.array[0] == pytest.approx(0.4)
    assert not b0.error_y.symmetric
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["V0 (Å³/atom)", "B0 (GPa)"]
    assert "95 %" in fig.layout.title.text


def test_score_figure_shows_ranked_models_in_rank_order_with_intervals(board: LeaderboardRead):
    fig = score_figure(board)

    (trace,) = fig.data
    assert list(trace.y) == ["1. EMT", "2. LJ-exp-fit"]
    assert list(trace.x) == [7.7, 26.2]
    assert trace.error_x.arrayminus[1] == pytest.approx(26.2 - 12.0)
    assert trace.error_x.array[1] == pytest.approx(32.8 - 26.2)
    assert fig.layout.xaxis.title.text == "score: bulk_modulus (%)"


def test_highlighted_defaults_to_the_top_by_rank_and_the_placeholder_counts_the_rows(
    board: LeaderboardRead,
):
    assert highlighted(board) == [row.model_id for row in board.rows]
    assert highlighted(board, [str(board.rows[1].model_id)]) == [board.rows[1].model_id]
    assert highlighted(board, ["not-on-this-board"]) == [row.model_id for row in board.rows]
    assert highlight_placeholder(6) == "the top 6 by rank"
    assert highlight_placeholder(200) == f"the top {MAX_HIGHLIGHTED} by rank"
    assert "MAPE" not in highlight_placeholder(6)


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


def test_mae_figure_of_many_models_shows_the_chosen_ones(board: LeaderboardRead):
    many = _many_models(board, 30)
    chosen = [many.rows[5].model_id, many.rows[29].model_id]

    fig = mae_figure(many, chosen)

    assert all(list(trace.x) == ["m005", "m029"] for trace in fig.data)
    assert "(2 of 30 models)" in fig.layout.title.text


def test_every_failure_class_of_a_benchmark_run_has_its_own_colour() -> None:
    from frontend.figures.model import FAILURE_COLORS
    from shared_kernel.failures import FailureClass

    # the platform's refusals and lost workers are not drawn: a run's own outcomes are
    platform = {
        FailureClass.CANCELLED,
        FailureClass.MODEL_NOT_APPROVED,
        FailureClass.MODEL_CHANGED,
        FailureClass.ENVIRONMENT_MISMATCH,
        FailureClass.WORKER_LOST,
        FailureClass.WORKER_STALLED,
    }
    drawn = {c.value for c in FailureClass if c not in platform}
    assert {"dynamically_unstable", "no_interaction", "no_representation"} <= drawn
    assert drawn <= set(FAILURE_COLORS)
    assert len(set(FAILURE_COLORS.values())) == len(FAILURE_COLORS)


def test_every_figure_gets_the_white_template_without_naming_it(board: LeaderboardRead):
    # The template is Plotly's default, set once by frontend.figures (naming it again in each
    # figure validated and copied it, ~6 ms a figure); the figures must still carry all of it.
    white = pio.templates["plotly_white"].to_plotly_json()
    figures = {
        "parity": parity_figure(board, "volume_per_atom"),
        "mae": mae_figure(board),
        "empty": empty_figure("t", "nothing yet"),
        "phonons": phonon_figure([], title="t", hint="run it"),
    }
    for name, fig in figures.items():
        assert fig.layout.template.to_plotly_json() == white, name
        assert fig.to_plotly_json()["layout"]["template"]["layout"]["plot_bgcolor"] == "white"


def test_browsers_keep_plotly_js_an_hour_and_revalidate_the_rest() -> None:
    server = create_app("http://127.0.0.1:9").server.test_client()
    plotly_js = server.get("/_dash-component-suites/plotly/package_data/plotly.min.js")
    assert plotly_js.status_code == 200
    assert plotly_js.headers["Cache-Control"] == "public, max-age=3600"
    again = server.get(
        "/_dash-component-suites/plotly/package_data/plotly.min.js",
        headers={"If-None-Match": plotly_js.headers["ETag"]},
    )
    assert (again.status_code, again.headers["Cache-Control"]) == (304, "public, max-age=3600")
    other = server.get("/_dash-component-suites/dash/dcc/async-graph.js")
    assert other.status_code == 200
    assert "max-age" not in other.headers.get("Cache-Control", "")  # unversioned: revalidated
