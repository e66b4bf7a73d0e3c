"""Fixtures of the dashboard's browser tests (helpers live in ``browser.py``)."""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver

from backend.schemas.leaderboard import LeaderboardRead
from tests.frontend.browser import chromium_driver, serve_dash
from tests.frontend.seed import Seeded, seed_dashboard

MODEL_IDS = {name: uuid.UUID(int=i + 1) for i, name in enumerate(("EMT", "LJ-exp-fit"))}
# (model, material): model (V0 Å³/atom, B0 GPa), experiment (V0, B0)
_VALUES = {
    ("EMT", "Cu"): ((11.57, 134.0), (11.95, 141.3)),
    ("EMT", "Al"): ((15.93, 81.0), (16.27, 72.8)),
    ("LJ-exp-fit", "Cu"): ((12.10, 95.0), (11.95, 141.3)),
}


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium for one test."""
    with chromium_driver() as driver:
        yield driver


@pytest.fixture
def dash_url(live_api_url: str) -> Iterator[str]:
    """The dashboard served against the real API of ``live_api_url`` (from tests/conftest.py)."""
    base_url, stop = serve_dash(live_api_url)
    try:
        yield base_url
    finally:
        stop()


@pytest.fixture
def unused_tcp_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens (an unreachable API)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_board(*, empty: bool = False) -> LeaderboardRead:
    """A small EOS leaderboard against experiment, as the API would return it."""
    columns = [
        {"name": "volume_per_atom", "label": "V0", "unit": "Å³/atom"},
        {"name": "bulk_modulus", "label": "B0", "unit": "GPa"},
    ]
    entries = [
        {
            "model_id": str(MODEL_IDS[model]),
            "model_name": model,
            "material": material,
            "run_id": str(uuid.UUID(int=100 + i)),
            "values": {
                col["name"]: {"value": v, "unit": col["unit"], "reference": r, "error": v - r}
                for col, v, r in zip(columns, values, refs, strict=True)
            },
        }
        for i, ((model, material), (values, refs)) in enumerate(_VALUES.items())
    ]
    rows = [
        {
            "model_id": str(model_id),
            "model_name": name,
            "model_version": "1.0",
            "family": name.split("-")[0].lower(),
            "n_runs": 3,
            "n_succeeded": 2,
            "n_failed": 1 if name == "LJ-exp-fit" else 0,
            "n_skipped": 0,
            "n_pending": 0 if name == "LJ-exp-fit" else 1,
            "failure_rate": 1 / 3 if name == "LJ-exp-fit" else 0.0,
            "metrics": {
                "volume_per_atom": {"mae": 0.36, "mape_percent": 2.9, "n": 2},
                "bulk_modulus": {"mae": 7.8, "mape_percent": 8.1, "n": 2},
            },
        }
        for name, model_id in MODEL_IDS.items()
    ]
    return LeaderboardRead.model_validate(
        {
            "benchmark": "eos",
            "version": "1",
            "level_of_theory": "experiment",
            "columns": columns,
            "rows": [] if empty else rows,
            "entries": [] if empty else entries,
            "updated_at": None if empty else "2026-11-25T12:00:00Z",
        }
    )


@pytest.fixture
def board() -> LeaderboardRead:
    """Two models, two materials, V0 and B0 against experiment."""
    return make_board()


@pytest.fixture
def empty_board() -> LeaderboardRead:
    """A board on which nothing has run yet."""
    return make_board(empty=True)


@dataclass
class SeededApi:
    url: str
    admin_token: str
    seeded: Seeded
    database_url: str


N_SEEDED_MODELS = 6


@pytest.fixture(scope="session")
def seeded_api() -> Iterator[SeededApi]:
    """A real API on its own database: bootstrapped, then ``N_SEEDED_MODELS`` seeded models on
    every benchmark (see ``tests/frontend/seed.py``) and a campaign still running."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from backend import dbadmin
    from backend.bootstrap import bootstrap
    from backend.db.models import Role
    from backend.services import users
    from tests.conftest import new_database_url
    from tests.live import _serve_api, _stop

    url = new_database_url("mlipm_dash")
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        bootstrap(session)
        seeded = seed_dashboard(session, N_SEEDED_MODELS)
        token = users.ensure_user_with_token(session, name="dash-admin", role=Role.ADMIN).token
        session.commit()
    engine.dispose()
    api_url, api = _serve_api(Path(tempfile.mkdtemp(prefix="mlipm-dash-")), {"DATABASE_URL": url})
    try:
        yield SeededApi(api_url, token, seeded, url)
    finally:
        _stop(api)
        dbadmin.drop_database(url)


@pytest.fixture(scope="session")
def seeded_dash(seeded_api: SeededApi) -> Iterator[str]:
    """The dashboard served against the seeded API (one server for the whole session)."""
    base_url, stop = serve_dash(seeded_api.url)
    try:
        yield base_url
    finally:
        stop()
