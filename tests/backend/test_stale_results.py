"""An attempt that lost its run writes nothing of its result and removes the files it wrote.

Through the real task function in this process (``tests.in_process_runs``), with a benchmark of
this module that keeps one frame and, while it runs, has its run taken over (the attempt
counter moved on, as a claim after an expired lease does). The result statement then matches
no row: no metric or artifact row is written, the task says the attempt was stale, and the
frame file the attempt had written to the store is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ase.build import bulk
from sqlalchemy import func, select, update

from backend.db.session import session_scope
from backend.db.tables import Metric, Run, RunArtifact
from backend.settings import get_settings
from tests.in_process_runs import one_run, own_queue_models, register_test_benchmark
from workers.benchmarks.base import FrameSet, MetricValue
from workers.tasks.runs import execute_run

BENCHMARK = "stale-test"
_RUN: list[uuid.UUID] = []  # the run the benchmark takes over while it runs


@dataclass(frozen=True, slots=True)
class _Result:
    def metrics(self) -> tuple[MetricValue, ...]:
        return (MetricValue("energy_per_atom", -3.5, "eV/atom"),)

    def series(self) -> tuple[Any, ...]:
        return ()

    def frames(self) -> tuple[FrameSet, ...]:
        return (FrameSet("snapshot", (bulk("Cu"),)),)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private artifact store for the worker code running in this process."""
    monkeypatch.setenv("MLIPM_ARTIFACT_URL", tmp_path.as_uri())
    get_settings.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def made(bootstrapped: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[uuid.UUID]]:
    def run(atoms: Any, calc: Any, params: Any, *, observer: Any = None) -> _Result:
        with session_scope() as session:  # another worker takes the run over meanwhile
            session.execute(update(Run).where(Run.id == _RUN[0]).values(attempt=Run.attempt + 1))
        return _Result()

    with (
        register_test_benchmark(BENCHMARK, run),
        own_queue_models(monkeypatch, "stale", benchmarks=(BENCHMARK,)) as ids,
    ):
        yield ids
    _RUN.clear()


def test_a_stale_attempt_writes_no_row_and_removes_its_files(
    made: list[uuid.UUID], store: Path
) -> None:
    _RUN.append(one_run(made, "emt", BENCHMARK))
    assert execute_run.run(str(_RUN[0])) == "refused (stale attempt)"
    with session_scope() as session:
        for table in (Metric, RunArtifact):
            count = select(func.count()).select_from(table).where(table.run_id == _RUN[0])
            assert session.scalar(count) == 0
    assert (store / "runs" / str(_RUN[0])).is_dir()  # the attempt wrote its file there
    assert not [p for p in (store / "runs").rglob("*") if p.is_file()]
