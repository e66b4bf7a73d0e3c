"""The boards' fast path (backend/api/board_fast_path.py) answers exactly as the route would.

A repeat read gets the route's own bytes and headers, a revalidation a 304, both counted as the
fast path's; a write the board shows (a model rejected, a result landing) changes the counters,
so the next read goes to the route and gets the new board, never the stored old one. Requests
it cannot answer (unknown key, a first read, another query) reach the route unchanged. While
a board is rebuilt after a write, other readers get the previous body at once, marked
``X-Board-Rebuilding``; readers of a board never built wait for one build, not one each.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from backend.api import board_fast_path
from backend.api.board_bodies import BODIES
from backend.api.board_fast_path import BoardFastPath
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


class _SlowBoard:
    """A stand-in for the route: builds ``"board v<counter>"`` when released, stores it as the
    route does (``BODIES`` under its ETag) and counts its builds."""

    def __init__(self) -> None:
        self.counter, self.builds = 1, 0
        self.release = asyncio.Event()
        self.state = SimpleNamespace(board_etag_reader=lambda *_: self.etag())

    def etag(self) -> str:
        return f'"fast-path-test-{id(self)}-v{self.counter}"'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.builds += 1
        etag, body = self.etag(), f"board v{self.counter}".encode()
        await self.release.wait()
        BODIES.put(etag, body, {"ETag": etag, "Cache-Control": "no-cache"})
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"etag", etag.encode())]}
        )
        await send({"type": "http.response.body", "body": body})


async def _get(app: BoardFastPath, board: _SlowBoard) -> tuple[bytes, dict[bytes, bytes]]:
    scope = {"type": "http", "method": "GET", "path": BOARD, "query_string": b"", "headers": [],
             "app": board}  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[1]["body"], dict(sent[0]["headers"])


def test_while_a_board_is_rebuilt_other_readers_get_the_previous_one_at_once() -> None:
    async def scenario() -> None:
        board = _SlowBoard()
        app = BoardFastPath(board)
        board.release.set()
        assert (await _get(app, board))[0] == b"board v1"
        board.counter, board.release = 2, asyncio.Event()  # a result lands
        rebuild = asyncio.create_task(_get(app, board))
        await asyncio.sleep(0.05)  # the rebuild has started and waits
        body, headers = await asyncio.wait_for(_get(app, board), 5)  # answered, not queued
        assert (body, headers[b"x-board-rebuilding"]) == (b"board v1", b"1")
        assert board.builds == 2  # the second reader did not build
        board.release.set()
        assert (await rebuild)[0] == b"board v2"
        body, headers = await _get(app, board)
        assert body == b"board v2"
        assert b"x-board-rebuilding" not in headers
        assert board.builds == 2

    asyncio.run(scenario())


def test_readers_of_a_board_never_built_wait_for_one_build() -> None:
    async def scenario() -> None:
        board = _SlowBoard()
        app = BoardFastPath(board)
        readers = [asyncio.create_task(_get(app, board)) for _ in range(5)]
        await asyncio.sleep(0.05)
        board.release.set()
        assert {(await r)[0] for r in readers} == {b"board v1"}
        assert board.builds == 1

    asyncio.run(scenario())
