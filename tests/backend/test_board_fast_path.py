"""The boards' fast path (backend/api/board_fast_path.py) answers exactly as the route would.

A repeat read gets the route's own bytes and headers, a revalidation a 304, both counted as the
fast path's; a write the board shows (a model rejected, a result landing) changes the counters,
so the next read goes to the route and gets the new board, never the stored old one. Requests
it cannot answer (unknown key, a first read, another query) reach the route unchanged.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.api import board_fast_path
from backend.db.tables import MlipModel
from backend.domain.statuses import ModelStatus
from tests.backend.test_leaderboard_api import seeded

__all__ = ["seeded"]  # the fixture, imported for these tests

BOARD = "/leaderboards/eos"
COMBINED = "/leaderboards?benchmarks=eos,cohesive"


@pytest.fixture
def answered() -> dict[int, int]:
    """The fast path's answers by status since the test began."""
    before = dict(board_fast_path.ANSWERED)

    class Since(dict[int, int]):
        def __getitem__(self, status: int) -> int:
            return board_fast_path.ANSWERED[status] - before.get(status, 0)

    return Since()


@pytest.mark.parametrize("path", [BOARD, COMBINED, BOARD + "?sort=-failure_rate&limit=5"])
def test_a_repeat_read_gets_the_routes_bytes_and_a_revalidation_a_304(
    client: TestClient, seeded: dict[str, MlipModel], answered: dict[int, int], path: str
) -> None:
    built = client.get(path)
    assert built.status_code == 200
    assert (answered[200], answered[304]) == (0, 0)  # the first read is the route's
    again = client.get(path)
    assert answered[200] == 1
    assert again.content == built.content
    for header in ("ETag", "Last-Modified", "Cache-Control", "Content-Type"):
        assert again.headers.get(header) == built.headers.get(header), header
    # the outer middlewares still wrap it
    assert again.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Request-ID" in again.headers
    revalidated = client.get(path, headers={"If-None-Match": built.headers["ETag"]})
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert revalidated.headers["ETag"] == built.headers["ETag"]
    assert answered[304] == 1


def test_a_write_the_board_shows_sends_the_next_read_to_the_route(
    client: TestClient,
    db_session: Session,
    seeded: dict[str, MlipModel],
    answered: dict[int, int],
) -> None:
    first = client.get(BOARD)
    client.get(BOARD)
    assert answered[200] == 1
    seeded["lb-bad"].status = ModelStatus.REJECTED
    db_session.flush()
    for headers in ({}, {"If-None-Match": first.headers["ETag"]}):
        changed = client.get(BOARD, headers=headers)
        assert changed.status_code == 200
        assert changed.headers["ETag"] != first.headers["ETag"]
        names = [row["model_name"] for row in changed.json()["rows"]]
        assert "lb-bad" not in names
    # the first of the two reads after the write was built by the route, the second stored
    assert answered[200] == 2


def test_what_it_cannot_answer_reaches_the_route(
    client: TestClient, seeded: dict[str, MlipModel], answered: dict[int, int]
) -> None:
    assert client.get("/leaderboards/no-such-board").status_code == 404
    assert client.get("/leaderboards/no-such-board").status_code == 404
    bad = "/leaderboards?benchmarks=eos,eos"
    assert client.get(bad).status_code == 422
    assert client.get(BOARD + "?sort=nonsense").status_code == 422
    assert client.get(BOARD + "?sort=nonsense").status_code == 422
    assert (answered[200], answered[304]) == (0, 0)
