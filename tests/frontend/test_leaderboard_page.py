"""The benchmark board page's layout and callbacks, called as plain functions."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from dash import no_update

from backend.schemas.leaderboard import LeaderboardRead
from frontend.app import create_app
from frontend.components.board_tables import (
    SUMMARY_ROW_STYLE,
    material_columns,
    material_records,
    summary_columns,
    summary_records,
)
from frontend.components.grid import headers, leaf_columns
from tests.frontend.conftest import OTHER_HASH, STANDARD_HASH

EN_DASH = "\u2013"


@pytest.fixture
def page() -> ModuleType:
    """The page module as Dash imported it (pages register only once an app exists)."""
    create_app("http://127.0.0.1:9")
    return sys.modules["frontend.pages.benchmark"]


def _nodes(component: object) -> Iterator[Any]:
    """Every component in a tree of components and lists of them."""
    stack = [component]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(node)
            continue
        yield node
        children = getattr(node, "children", None)
        if children is not None and not isinstance(children, str):
            stack.append(children)


def _ids(component: object) -> set[str]:
    return {node.id for node in _nodes(component) if isinstance(getattr(node, "id", None), str)}


def test_layout_is_a_skeleton_with_prefixed_ids(page: ModuleType):
    ids = _ids(page.layout())

    assert {"board-interval", "board-data", "board-content", "board-materials"} <= ids
    assert {"board-protocol", "board-lot", "board-models", "board-table", "board-plots"} <= ids
    assert all(i.startswith("board-") for i in ids)


def test_layout_takes_the_board_from_the_query_string(page: ModuleType):
    layout = page.layout("s22", level_of_theory="experiment", params_hash="abcdef12")

    store = _find(layout, "board-query")
    assert store.data == {"key": "s22", "level_of_theory": "experiment", "params_hash": "abcdef12"}
    # without one: the API's default board (the standard protocol, the benchmark's own level)
    default = _find(page.layout("s22"), "board-query").data
    assert default["level_of_theory"] is None
    assert default["params_hash"] is None
    assert "8" in _find(page.layout("s22"), "board-models").placeholder
    assert "MAPE" not in _find(page.layout("s22"), "board-models").placeholder


def test_board_view_states_the_ranking_and_shows_the_notes(
    page: ModuleType, board: LeaderboardRead
):
    view = page.board_view(board)

    ranking = _find(view, "board-ranking").children
    assert board.ranking is not None
    assert board.ranking.description in ranking
    assert "95 % intervals from 1000 bootstrap resamples over materials" in ranking
    assert "fitted to" in str(_find(view, "board-notes"))
    header = str(_find(view, "board-header").children)
    assert "the standard parameter set" in header
    assert "reference: experiment" in header
    assert "board-empty" not in _ids(view)


def test_board_plots_are_parity_score_and_mae(page: ModuleType, board: LeaderboardRead):
    ids = _ids(page.board_plots(board))

    assert {"board-score", "board-mae"} <= ids
    assert {"board-parity-volume_per_atom", "board-parity-bulk_modulus"} <= ids
    assert "board-mape" not in ids


def test_board_table_shows_ranks_scores_and_maes_with_their_intervals(board: LeaderboardRead):
    emt, lj = summary_records(board)  # the API's order: by rank

    assert emt["rank"] == f"1 ({1}{EN_DASH}{2})"
    assert emt["score"] == f"7.7 (5.1{EN_DASH}11.3)"
    assert emt["volume_per_atom"] == f"0.36 (0.34{EN_DASH}0.38)"
    assert emt["bulk_modulus"] == f"7.8 (7.3{EN_DASH}8.2)"
    assert emt["coverage"] == "2 / 2"
    assert emt["tier"] == lj["tier"] == "1 (2 tied)"
    assert lj["coverage"] == "1 / 2"
    assert lj["failures"] == "no_convergence 1"
    assert lj["fitted_to"] == "B0"
    assert emt["fitted_to"] == ""
    shown = headers(summary_columns(board))
    assert "Ranking score (%) (95 % interval)" in shown
    assert "V0 (Å³/atom) MAE (95 % interval)" in shown
    assert "Runs failures by class" in shown
    assert not any("MAPE" in h for h in shown)
    # every other tier shaded: tier 1 (both models, tied) is
    (shaded,) = SUMMARY_ROW_STYLE["styleConditions"]
    assert shaded == {
        "condition": "params.data.tier__key % 2 == 1",
        "style": {"backgroundColor": "#eef2f7"},
    }
    assert emt["tier__key"] % 2 == lj["tier__key"] % 2 == 1


def test_board_table_sorts_on_the_numbers_behind_the_texts(board: LeaderboardRead):
    many = board.model_copy(
        update={
            "rows": [
                row.model_copy(update={"model_name": f"m{rank}", "rank": rank, "score": 1.5 * rank})
                for rank, row in zip((2, 10, 1), [*board.rows, board.rows[0]], strict=True)
            ]
        }
    )
    records = summary_records(many)
    columns = {c["field"]: c for _, c in leaf_columns(summary_columns(many))}

    assert [r["model"] for r in records] == ["m2", "m10", "m1"]  # the API's order, as read
    assert [(r["rank"].split()[0], r["rank__key"]) for r in records] == [
        ("2", 2),
        ("10", 10),
        ("1", 1),
    ]
    assert [r["score__key"] for r in records] == [3.0, 15.0, 1.5]
    # each text with a number behind it sorts by that number (the grid's byKey comparator,
    # missing last): 1, 2, 10, not "1", "10", "2"
    for field in ("rank", "tier", "score", "coverage", "failures", "volume_per_atom"):
        assert columns[field]["comparator"] == {"function": f"byKey('{field}__key')"}
        assert all(f"{field}__key" in r for r in records)
    assert "comparator" not in columns["model"]  # sorted as text


def test_materials_table_keeps_failed_runs_with_their_class_and_protocol(board: LeaderboardRead):
    records = material_records(board)

    failed = [r for r in records if r["status"] == "failed"]
    assert failed == [
        {
            "model": "LJ-exp-fit",
            "material": "Al",
            "status": "failed",
            "failure_class": "no_convergence",
            "params": STANDARD_HASH[:8],
            "flags": "",
            "volume_per_atom__value": None,
            "volume_per_atom__reference": None,
            "volume_per_atom__error": None,
            "bulk_modulus__value": None,
            "bulk_modulus__reference": None,
            "bulk_modulus__error": None,
        }
    ]
    assert len(records) == len(board.entries)
    ids = [c["field"] for _, c in leaf_columns(material_columns(board))]
    assert ids[:5] == ["material", "model", "status", "failure_class", "params"]
    assert set(ids) <= set(records[0])


def test_protocol_chooser_lists_every_parameter_set_the_standard_one_marked(
    page: ModuleType, board: LeaderboardRead
):
    options = page.protocol_options(board)

    assert options == [
        {"label": "standard (6 runs)", "value": STANDARD_HASH},
        {"label": "n_points=7 (2 runs)", "value": OTHER_HASH},
    ]
    levels = page.level_options(board, "experiment")
    assert levels[0] == {"label": "experiment (the benchmark's own)", "value": "experiment"}


def test_refresh_reads_the_chosen_board_and_sends_no_default(
    page: ModuleType, board: LeaderboardRead, monkeypatch: pytest.MonkeyPatch
):
    asked: list[dict[str, Any]] = []
    monkeypatch.setattr(page, "read_board", lambda query: asked.append(query) or board)
    query = {"key": "eos", "level_of_theory": None, "params_hash": None}

    stamp, _, _, status, protocols, protocol, _, lot = page.refresh(1, None, None, query, None)

    assert asked[-1] == query  # the API's default board
    assert status is None
    assert (protocol, lot) == (STANDARD_HASH, "experiment")
    assert len(protocols) == 2
    # the chooser set to the default by the page: still the default request
    page.refresh(2, STANDARD_HASH, "experiment", query, stamp)
    assert asked[-1] == query
    page.refresh(3, OTHER_HASH, "ccsd(t)/cbs", query, stamp)
    assert asked[-1] == {"key": "eos", "level_of_theory": "ccsd(t)/cbs", "params_hash": OTHER_HASH}


def test_highlight_placeholder_never_promises_more_models_than_the_board_has(
    page: ModuleType, board: LeaderboardRead, monkeypatch: pytest.MonkeyPatch
):
    six = board.model_copy(
        update={
            "rows": [
                board.rows[i % 2].model_copy(update={"model_id": uuid.UUID(int=500 + i)})
                for i in range(6)
            ]
        }
    )
    monkeypatch.setattr(page, "read_board", lambda _query: six)

    out = page.refresh(1, None, None, {"key": "eos"}, None)

    assert out[2] == "the top 6 by rank"
    assert "best 8" not in out[2]


def test_board_view_of_empty_board_explains_how_to_start(
    page: ModuleType, empty_board: LeaderboardRead
):
    view = page.board_view(empty_board)
    assert page.board_plots(empty_board) == []

    assert "board-empty" in _ids(view)
    assert "make demo" in str(view)
    assert "POST /campaigns" in str(view)
    assert "mlipm campaigns start" in str(view)


def test_refresh_reports_unreachable_api(page: ModuleType, unused_tcp_url: str):
    app = create_app(unused_tcp_url)

    with app.server.app_context():
        data, options, _, status, *choosers = page.refresh(1, None, None, {"key": "eos"}, None)

    assert data is no_update
    assert options is no_update
    assert all(c is no_update for c in choosers)
    assert "board-error" in _ids(status)
    assert "Cannot reach the API" in str(status)


def test_render_without_a_stamp_waits(page: ModuleType):
    assert "Waiting for the API" in str(page.render(None))


def test_board_plots_draw_only_the_chosen_models(page: ModuleType, board: LeaderboardRead):
    lj = next(row for row in board.rows if row.model_name == "LJ-exp-fit")
    view = page.board_plots(board, [str(lj.model_id)])

    parity = _find(view, "board-parity-volume_per_atom").figure
    names = [trace.name for trace in parity.data]
    assert "LJ-exp-fit" in names
    assert "EMT" not in names
    assert any(name.startswith("other models") for name in names)
    mae = _find(view, "board-mae").figure
    assert all(list(trace.x) == ["LJ-exp-fit"] for trace in mae.data)
    score = _find(view, "board-score").figure
    assert list(score.data[0].y) == ["2. LJ-exp-fit"]


def _find(component: object, wanted: str) -> Any:
    return next(node for node in _nodes(component) if getattr(node, "id", None) == wanted)
