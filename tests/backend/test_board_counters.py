"""The fast path's counter reads (backend/services/board_counters.py): one statement answers
every request waiting at once, and no request gets counters read before it arrived."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.services import leaderboard
from backend.services.board_counters import CounterReader, Snapshot


def _conninfo(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _write_every_board_shows(engine: Engine) -> None:
    """A committed write that moves every counter (a statement on structure_set fires its
    trigger) and changes no row."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE structure_set SET name = name WHERE false"))


class _Gated(CounterReader):
    """Holds each snapshot after reading it until ``gate`` opens; counts its reads."""

    def __init__(self, conninfo: str) -> None:
        super().__init__(conninfo)
        self.gate, self.read_once, self.reads = asyncio.Event(), asyncio.Event(), 0

    async def _read(self) -> Snapshot:
        snapshot = await super()._read()
        self.reads += 1
        self.read_once.set()
        await self.gate.wait()
        return snapshot


def test_requests_arriving_during_a_read_share_the_next_one_which_sees_their_writes(
    database_url: str, engine: Engine, bootstrapped: None
) -> None:
    async def scenario() -> tuple[Snapshot, list[Snapshot], int]:
        reader = _Gated(_conninfo(database_url))
        first = asyncio.ensure_future(reader.snapshot())
        await reader.read_once.wait()  # read, held at the gate
        # a result lands, then ten requests arrive: the read under way is too old for them
        await asyncio.to_thread(_write_every_board_shows, engine)
        later = [asyncio.ensure_future(reader.snapshot()) for _ in range(10)]
        await asyncio.sleep(0)  # each has joined the next read
        reader.gate.set()
        return await first, list(await asyncio.gather(*later)), reader.reads

    first, later, reads = asyncio.run(scenario())
    assert reads == 2  # eleven requests, two statements
    assert len({id(s) for s in later}) == 1
    old, new = first.newest["eos"][1], later[0].newest["eos"][1]
    assert old is not None
    assert new is not None
    assert new > old


def test_a_snapshot_gives_the_routes_etag(
    database_url: str, engine: Engine, bootstrapped: None
) -> None:
    async def read() -> Snapshot:
        return await CounterReader(_conninfo(database_url)).snapshot()

    snapshot = asyncio.run(read())
    request = [("", "/leaderboards/eos"), ("sort", "rank")]
    with Session(engine) as session:
        eos = leaderboard.get_benchmark(session, "eos", None)
        route = leaderboard.board_etag(session, [eos.id], request)
        assert snapshot.etag(["eos"], None, request) == route
        assert snapshot.etag(["eos"], eos.version, request) == route
        relax = leaderboard.get_benchmark(session, "relax", None)
        both = leaderboard.board_etag(session, [eos.id, relax.id], request)
        assert snapshot.etag(["eos", "relax"], None, request) == both
    assert snapshot.etag(["eos"], "no-such-version", request) is None
    assert snapshot.etag(["no-such-board"], None, request) is None


def test_an_unreachable_database_raises_and_the_next_read_connects_again(
    database_url: str, bootstrapped: None
) -> None:
    """The fast path sends the request to the route when a read raises (its own test)."""
    reader = CounterReader("postgresql://postgres@127.0.0.1:1/nothing")

    async def twice() -> Snapshot:
        with pytest.raises(psycopg.OperationalError):
            await reader.snapshot()
        reader._conninfo = _conninfo(database_url)
        return await reader.snapshot()

    assert "eos" in asyncio.run(twice()).newest
