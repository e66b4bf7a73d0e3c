"""Board bodies shared by the API processes through Redis: a body one process built is served
by another (and by the next one after a restart) without building the board again; Redis keeps
a bounded number; without Redis each process goes on with its own."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.api import board_bodies
from backend.api.board_bodies import BODIES, BodyStore, SharedBodies
from backend.cli.localservices import free_port
from backend.services import leaderboard
from backend.settings import get_settings
from tests.backend.test_leaderboard_values import add_model, add_run, add_structure


def _shared(limit: int = 8) -> SharedBodies:
    return SharedBodies(get_settings().redis_url, f"mlipm:test-{uuid.uuid4().hex}", limit=limit)


def test_a_body_one_process_stored_is_served_by_another() -> None:
    shared = _shared()
    built, restarted = BodyStore(shared=shared), BodyStore(shared=shared)
    try:
        built.put('"e1"', b'{"rows": []}', {"ETag": '"e1"', "Cache-Control": "no-cache"})
        assert restarted.get('"e1"') == (
            b'{"rows": []}',
            {"ETag": '"e1"', "Cache-Control": "no-cache"},
        )
        assert restarted.get('"e2"') is None
    finally:
        shared.clear()


def test_redis_keeps_the_newest_bodies_only() -> None:
    shared = _shared(limit=3)
    try:
        for n in range(5):
            shared.put(f'"e{n}"', f"body {n}".encode(), {})
        assert [shared.get(f'"e{n}"') is not None for n in range(5)] == [
            False,
            False,
            True,
            True,
            True,
        ]
    finally:
        shared.clear()


def test_a_body_over_the_size_limit_stays_in_its_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(board_bodies, "MAX_SHARED_BYTES", 10)
    shared = _shared()
    store, other = BodyStore(shared=shared), BodyStore(shared=shared)
    try:
        store.put('"small"', b"0123456789", {})
        store.put('"large"', b"0123456789a", {})
        assert store.get('"large"') == (b"0123456789a", {})  # its own
        assert other.get('"small"') == (b"0123456789", {})
        assert other.get('"large"') is None
    finally:
        shared.clear()


def test_without_redis_each_process_keeps_its_own_and_waits_little() -> None:
    nowhere = SharedBodies(f"redis://127.0.0.1:{free_port()}/0", "mlipm:test-nowhere")
    store = BodyStore(shared=nowhere)
    started = time.monotonic()
    store.put('"e1"', b"body", {})
    assert store.get('"e1"') == (b"body", {})  # its own
    assert store.get('"e2"') is None  # Redis not asked again for a while: no wait
    assert time.monotonic() - started < 2


@pytest.fixture
def nve_board(db_session: Session) -> None:
    nve = leaderboard.get_benchmark(db_session, "nve", None)
    model = add_model(db_session, "shared-body-model")
    add_run(db_session, model, nve, add_structure(db_session, "shared-body-set", "Cu", ("Cu",)))
    db_session.flush()


@pytest.mark.usefixtures("nve_board")
def test_a_restarted_process_serves_the_board_without_building_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # shared as in a running API (the client fixture keeps a test's boards to itself); this
    # board's ETag holds counters taken in this test's transaction, which no other can see
    monkeypatch.setattr(BODIES, "sharing", True)
    first = client.get("/leaderboards/nve")
    assert first.status_code == 200
    builds: list[str] = []
    build = leaderboard.build_leaderboard

    def counted(*args: object, **kwargs: object) -> object:
        builds.append("built")
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(leaderboard, "build_leaderboard", counted)
    BODIES.forget_local()  # what a restarted API process has of its own: nothing
    again = client.get("/leaderboards/nve")
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["ETag"] == first.headers["ETag"]
    assert builds == []
    # a control: with Redis emptied of this board, the route builds it again
    BODIES.forget_local()
    BODIES.shared().clear()
    assert client.get("/leaderboards/nve").content == first.content
    assert builds == ["built"]
