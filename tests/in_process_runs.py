"""Runs executed by the real task function in the test process, on the session's Postgres.

``register_test_benchmark`` adds a benchmark to this process (and its catalog row);
``own_queue_models`` gives the test a Celery queue of its own (no live worker of another module
takes its runs) and removes the models it made, their runs and campaigns after;
``one_run`` launches one model of a family on one benchmark over Cu and returns its run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select

from backend.db.session import session_scope
from backend.db.tables import Benchmark, Campaign, CampaignRun, MlipModel, Run
from backend.domain.statuses import Role
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from backend.schemas.models import ModelCreate
from backend.services import campaigns, catalog, models, users
from backend.settings import get_settings
from workers.benchmarks.base import BENCHMARKS, register_benchmark


@dataclass(frozen=True, slots=True)
class NoParams:
    """The parameters of a test benchmark that takes none."""


@contextmanager
def register_test_benchmark(
    key: str, run: Callable[..., Any], params: type = NoParams
) -> Iterator[str]:
    """``run`` as benchmark ``key`` version 1.0 in this process and in the catalog."""
    register_benchmark(key, version="1.0", params=params, description="test")(run)
    with session_scope() as session:
        catalog.register_benchmark(
            session,
            key=key,
            version="1.0",
            description="test",
            default_params={},
            headline_metrics=[],
            soft_time_limit_s=60,
            time_limit_s=90,
        )
    try:
        yield key
    finally:
        del BENCHMARKS[key]  # its catalog row goes with the runs (own_queue_models)


@contextmanager
def own_queue_models(
    monkeypatch: pytest.MonkeyPatch, prefix: str, *, benchmarks: tuple[str, ...] = ()
) -> Iterator[list[uuid.UUID]]:
    """A list for the ids of the models the test makes; they and theirs (and the catalog rows
    of the test's ``benchmarks``) are removed after."""
    monkeypatch.setenv("MLIPM_CELERY_QUEUE", f"{prefix}-{uuid.uuid4().hex[:8]}")
    get_settings.cache_clear()
    made: list[uuid.UUID] = []
    try:
        yield made
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        with session_scope() as session:
            run_ids = select(Run.id).where(Run.mlip_model_id.in_(made))
            campaign_ids = select(CampaignRun.campaign_id).where(CampaignRun.run_id.in_(run_ids))
            session.execute(delete(Campaign).where(Campaign.id.in_(campaign_ids)))
            session.execute(delete(Run).where(Run.mlip_model_id.in_(made)))
            session.execute(delete(MlipModel).where(MlipModel.id.in_(made)))
            session.execute(delete(Benchmark).where(Benchmark.key.in_(benchmarks)))


def one_run(made: list[uuid.UUID], family: str, benchmark: str) -> uuid.UUID:
    """A new model of ``family`` launched on ``benchmark`` over Cu; its one run's id."""
    with session_scope() as session:
        admin = users.ensure_user_with_token(session, name="in-process", role=Role.ADMIN).user
        name = f"{family}-{uuid.uuid4().hex[:6]}"
        model = models.submit_model(session, ModelCreate(name=name, family=family), owner=admin)
        made.append(model.id)
        spec = CampaignCreate(
            name=f"in-process {name}",
            models=[ModelRef(name=name)],
            benchmarks=[BenchmarkRef(key=benchmark)],
            structure_sets=["elemental crystals"],
            materials=["Cu"],
        )
        campaigns.launch_campaign(session, spec, owner=admin)
        session.flush()
        return session.scalars(select(Run.id).where(Run.mlip_model_id == model.id)).one()
