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
from tests.frontend.seed_compounds import seed_compound_runs

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


STANDARD_HASH = "a" * 64
OTHER_HASH = "b" * 64


def _rows() -> list[dict[str, object]]:
    """EMT ranked first, LJ-exp-fit second (one failed run), tied in one tier."""
    common = {"model_version": "1.0", "n_runs": 3, "n_succeeded": 2, "n_skipped": 0}
    return [
        {
            **common,
            "model_id": str(MODEL_IDS["EMT"]),
            "model_name": "EMT",
            "family": "emt",
            "n_failed": 0,
            "n_pending": 1,
            "failure_rate": 0.0,
            "n_materials": 2,
            "n_scored": 2,
            "score": 7.7,
            "score_interval": {"low": 5.1, "high": 11.3},
            "rank": 1,
            "rank_interval": [1, 2],
            "tier": 1,
            "metrics": {
                "volume_per_atom": {
                    "mae": 0.36,
                    "mae_interval": {"low": 0.34, "high": 0.38},
                    "mape_percent": 2.9,
                    "n": 2,
                },
                "bulk_modulus": {
                    "mae": 7.8,
                    "mae_interval": {"low": 7.3, "high": 8.2},
                    "mape_percent": 8.1,
                    "n": 2,
                },
            },
        },
        {
            **common,
            "model_id": str(MODEL_IDS["LJ-exp-fit"]),
            "model_name": "LJ-exp-fit",
            "family": "lj",
            "n_failed": 1,
            "n_pending": 0,
            "failure_rate": 1 / 3,
            "failures": {"no_convergence": 1},
            "n_materials": 2,
            "n_scored": 1,
            "score": 26.2,
            "score_interval": {"low": 12.0, "high": 32.8},
            "rank": 2,
            "rank_interval": [1, 2],
            "tier": 1,
            "fitted_to": ["bulk_modulus"],
            "metrics": {
                "volume_per_atom": {
                    "mae": 0.15,
                    "mae_interval": {"low": 0.15, "high": 0.15},
                    "mape_percent": 1.3,
                    "n": 1,
                },
                "bulk_modulus": {
                    "mae": 46.3,
                    "mae_interval": {"low": 46.3, "high": 46.3},
                    "mape_percent": 32.8,
                    "n": 1,
                },
            },
        },
    ]


def make_board(*, empty: bool = False) -> LeaderboardRead:
    """A small EOS leaderboard against experiment, as the API would return it: two models on
    two materials (LJ-exp-fit failed on Al), two protocols."""
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
            "params_hash": STANDARD_HASH,
            "values": {
                col["name"]: {"value": v, "unit": col["unit"], "reference": r, "error": v - r}
                for col, v, r in zip(columns, values, refs, strict=True)
            },
        }
        for i, ((model, material), (values, refs)) in enumerate(_VALUES.items())
    ]
    entries.append(
        {
            "model_id": str(MODEL_IDS["LJ-exp-fit"]),
            "model_name": "LJ-exp-fit",
            "material": "Al",
            "run_id": str(uuid.UUID(int=199)),
            "params_hash": STANDARD_HASH,
            "status": "failed",
            "failure_class": "no_convergence",
            "values": {},
        }
    )
    params = {"n_points": 11, "volume_range": 0.2}
    return LeaderboardRead.model_validate(
        {
            "benchmark": "eos",
            "version": "1",
            "level_of_theory": "experiment",
            "params_hash": STANDARD_HASH,
            "params": params,
            "is_default_protocol": True,
            "protocols": [
                {"params_hash": STANDARD_HASH, "params": params, "is_default": True, "n_runs": 6},
                {
                    "params_hash": OTHER_HASH,
                    "params": {**params, "n_points": 7},
                    "changed": {"n_points": 7},
                    "is_default": False,
                    "n_runs": 2,
                },
            ],
            "ranking": {
                "metric": "bulk_modulus",
                "loss": "abs_rel_error",
                "unit": "%",
                "description": "ranked by the mean over the board's materials of the absolute "
                "percentage error of bulk_modulus against the reference",
                "n_bootstrap": 1000,
                "confidence": 0.95,
            },
            "n_materials": 0 if empty else 2,
            "notes": []
            if empty
            else ["Models marked 'fitted to' were fitted to these references."],
            "columns": columns,
            "rows": [] if empty else _rows(),
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
    every benchmark (see ``tests/frontend/seed.py``), a campaign still running, and a few eos
    runs on binary compounds (``seed_compound_runs``)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from backend import dbadmin
    from backend.bootstrap import bootstrap
    from backend.domain.statuses import Role
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
        seed_compound_runs(session, seeded)
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
