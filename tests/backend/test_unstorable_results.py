"""A result or a failure the database cannot store fails its run once, with the reason.

Before, a write the database refused (a ``DataError``) escaped the task: Celery acknowledged
the message, the run stayed ``running`` until its lease ran out, and the sweeper sent it again
and again until it was declared lost. Both cases go through the real task function in this
process, against the session's Postgres, with committed rows (removed afterwards):

- a model whose error message holds a NUL character (Postgres text cannot): the run fails as
  ``exception`` with the NUL written out as ``\\x00``;
- a benchmark whose projection holds NaN (JSON that Postgres refuses): the run fails once as
  ``exception``, saying the result could not be stored, with no metric or projection rows,
  and the frames its attempt wrote before the refusal removed (no row references them).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ase.build import bulk
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.session import session_scope
from backend.db.tables import (
    Metric,
    Projection,
    Run,
    RunAttempt,
)
from backend.domain.statuses import RunStatus
from backend.settings import get_settings
from shared_kernel.artifacts import ArtifactStore
from tests.in_process_runs import one_run, own_queue_models, register_test_benchmark
from workers.benchmarks.base import FrameSet, MetricValue, ProjectionData
from workers.tasks.runs import execute_run

UNSTORABLE = "unstorable-test"


@dataclass(frozen=True, slots=True)
class _NanProjection:
    def metrics(self) -> tuple[MetricValue, ...]:
        return (MetricValue("energy_per_atom", -3.5, "eV/atom"),)

    def series(self) -> tuple[Any, ...]:
        return ()

    def projections(self) -> tuple[ProjectionData, ...]:
        return (ProjectionData("map", "map", "pca", {}, {"x": [math.nan, 1.0]}),)

    def frames(self) -> tuple[FrameSet, ...]:
        return (FrameSet("path", (bulk("Cu", "fcc", a=3.6),)),)


@pytest.fixture
def unstorable_benchmark() -> Iterator[str]:
    """A benchmark, in this process only, whose result holds a projection with NaN."""

    def run(atoms: Any, calc: Any, params: Any, *, observer: Any = None) -> _NanProjection:
        atoms.calc = calc
        atoms.get_potential_energy()
        return _NanProjection()

    with register_test_benchmark(UNSTORABLE, run) as key:
        yield key


@pytest.fixture
def committed(bootstrapped: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[uuid.UUID]]:
    """Models made by the test (their runs, campaigns and the test benchmark removed after),
    their messages on a queue of their own (``tests.in_process_runs``)."""
    with own_queue_models(monkeypatch, "unstorable", benchmarks=(UNSTORABLE,)) as made:
        yield made


def _finished(session: Session, run_id: uuid.UUID) -> Run:
    run = session.get(Run, run_id)
    assert run is not None
    return run


def test_a_nul_in_a_models_error_is_stored_written_out(committed: list[uuid.UUID]) -> None:
    run_id = one_run(committed, "nul_raising_model", "cohesive")
    assert execute_run.run(str(run_id)) == "failed"
    with session_scope() as session:
        run = _finished(session, run_id)
        assert (run.status, run.failure_class) == (RunStatus.FAILED, "exception")
        assert run.failure_message is not None
        assert "nul_raising_model says \\x00 here" in run.failure_message
        assert run.attempt == 1


def test_a_result_the_database_refuses_fails_the_run_once(
    committed: list[uuid.UUID], unstorable_benchmark: str
) -> None:
    run_id = one_run(committed, "slow_emt", unstorable_benchmark)
    assert execute_run.run(str(run_id)) == "failed"
    with session_scope() as session:
        run = _finished(session, run_id)
        assert (run.status, run.failure_class) == (RunStatus.FAILED, "exception")
        assert run.failure_message is not None
        assert run.failure_message.startswith("the result could not be stored (")
        assert "json" in run.failure_message.lower()
        for table in (Metric, Projection):
            count = select(func.count()).select_from(table).where(table.run_id == run_id)
            assert session.scalar(count) == 0
        attempts = select(func.count()).where(RunAttempt.run_id == run_id)
        assert session.scalar(attempts) == 0  # the first attempt: no earlier one archived
    store = ArtifactStore(get_settings().artifact_url)
    assert store.list_files(f"runs/{run_id}") == []  # its frames, written first, removed
    # A second delivery of the same message finds the run finished.
    assert execute_run.run(str(run_id)) == "nothing to do"
