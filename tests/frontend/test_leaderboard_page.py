"""The benchmark board page's layout and callbacks, called as plain functions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from dash import no_update

from backend.schemas.leaderboard import LeaderboardRead
from frontend.app import create_app


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
    assert all(i.startswith("board-") for i in ids)


def test_board_view_shows_tables_and_parity_plots(page: ModuleType, board: LeaderboardRead):
    ids = _ids(page.board_view(board))

    assert {"board-table", "board-mape"} <= ids
    assert {"board-parity-volume_per_atom", "board-parity-bulk_modulus"} <= ids
    assert "board-empty" not in ids


def test_board_view_of_empty_board_explains_how_to_start(
    page: ModuleType, empty_board: LeaderboardRead
):
    view = page.board_view(empty_board)

    assert "board-empty" in _ids(view)
    assert "make demo" in str(view)
    assert "POST /campaigns" in str(view)
    assert "mlipm campaigns start" in str(view)


def test_refresh_reports_unreachable_api(page: ModuleType, unused_tcp_url: str):
    app = create_app(unused_tcp_url)

    with app.server.app_context():
        data, options, status = page.refresh(
            1, {"key": "eos", "level_of_theory": "experiment"}, None
        )

    assert data is no_update
    assert options is no_update
    assert "board-error" in _ids(status)
    assert "Cannot reach the API" in str(status)


def test_render_without_a_stamp_waits(page: ModuleType):
    assert "Waiting for the API" in str(page.render(None))


def test_board_view_plots_only_the_chosen_models(page: ModuleType, board: LeaderboardRead):
    lj = next(row for row in board.rows if row.model_name == "LJ-exp-fit")
    view = page.board_view(board, [str(lj.model_id)])

    parity = _find(view, "board-parity-volume_per_atom").figure
    names = [trace.name for trace in parity.data]
    assert "LJ-exp-fit" in names
    assert "EMT" not in names
    assert any(name.startswith("other models") for name in names)
    mape = _find(view, "board-mape").figure
    assert [trace.name for trace in mape.data] == ["LJ-exp-fit"]


def _find(component: object, wanted: str) -> Any:
    return next(node for node in _nodes(component) if getattr(node, "id", None) == wanted)
