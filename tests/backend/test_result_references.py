"""A result is compared with the references its run's claim read (one statement records it).

The claim reads the references of the run's material with the run's inputs, so the result is
written by one statement without a query before it. Through the real task function in this
process, against the session's Postgres (rows committed, removed afterwards), with a benchmark
of this module whose one metric names a reference property made for the test:

- the reference exists throughout: the metric is compared with it, its error the metric's value
  less the reference's (computed here), both stored to the last bit; the run's message is no
  longer waiting once it ran (the heartbeat thread says it taken);
- the input's space group stored with it (read at its upload) chooses the references' phase;
- an admin deletes the reference while the run executes (allowed: no metric was scored
  against it yet): the run still succeeds, its metric uncompared, instead of the foreign key
  refusing the whole result.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from backend.db.session import session_scope
from backend.db.tables import (
    Metric,
    Reference,
    Run,
    Structure,
)
from backend.services import queue, runs
from tests.in_process_runs import one_run, own_queue_models, register_test_benchmark
from tests.live import wait_until
from workers.benchmarks.base import MetricValue
from workers.tasks.runs import execute_run

BENCHMARK = "reference-test"
PROPERTY = "reference_test_property"
# The double after 2.5 (its last mantissa bit set): stored values must travel exactly.
VALUE, REFERENCE_VALUE = 2.5 + 2.0**-51, 2.0


@dataclass(frozen=True, slots=True)
class _Result:
    def metrics(self) -> tuple[MetricValue, ...]:
        return (MetricValue(PROPERTY, VALUE, "1", compare_to_reference=True),)

    def series(self) -> tuple[Any, ...]:
        return ()


_DURING_THE_RUN: list[Any] = []  # what the benchmark does while it runs


@pytest.fixture
def benchmark() -> Iterator[str]:
    """A benchmark, in this process only, with one metric compared with a reference."""

    def run(atoms: Any, calc: Any, params: Any, *, observer: Any = None) -> _Result:
        atoms.calc = calc
        atoms.get_potential_energy()
        for action in _DURING_THE_RUN:
            action()
        return _Result()

    with register_test_benchmark(BENCHMARK, run) as key:
        yield key
    _DURING_THE_RUN.clear()


@pytest.fixture
def made(bootstrapped: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[uuid.UUID]]:
    """Models made by the test, their messages on a queue of their own; removed after with
    their runs, the test's reference and benchmark (``tests.in_process_runs``)."""
    with own_queue_models(monkeypatch, "references", benchmarks=(BENCHMARK,)) as ids:
        yield ids
    with session_scope() as session:
        session.execute(delete(Reference).where(Reference.property == PROPERTY))


def _reference_of_copper() -> uuid.UUID:
    """An experimental reference of fcc Cu to ``PROPERTY`` (the phase of a stored one)."""
    with session_scope() as session:
        stored = session.scalars(
            select(Reference).where(
                Reference.material == "Cu", Reference.level_of_theory == "experiment"
            )
        ).first()
        assert stored is not None
        assert stored.conditions
        reference = Reference(
            material="Cu",
            property=PROPERTY,
            value=REFERENCE_VALUE,
            unit="1",
            level_of_theory="experiment",
            conditions=stored.conditions,
            source="test",
            dataset="test",
        )
        session.add(reference)
        session.flush()
        return reference.id


def _metric(run_id: uuid.UUID) -> Metric:
    with session_scope() as session:
        metric = session.scalars(
            select(Metric).where(Metric.run_id == run_id, Metric.name == PROPERTY)
        ).one()
        session.expunge(metric)
        return metric


def test_a_result_is_compared_with_the_references_its_claim_read(
    made: list[uuid.UUID], benchmark: str
) -> None:
    reference_id = _reference_of_copper()
    run_id = one_run(made, "emt", BENCHMARK)
    with session_scope() as session:
        job = runs.job_of(session, run_id)  # the claim's statement, without claiming
        stored = session.scalars(select(Reference.id).where(Reference.material == "Cu")).all()
    assert job.references is not None
    assert {r.id for r in job.references} == set(stored)
    assert {r.value for r in job.references if r.id == reference_id} == {REFERENCE_VALUE}

    waiting = queue._broker()
    assert waiting.zscore(queue.key("waiting"), str(run_id)) is not None  # its message was sent

    assert execute_run.run(str(run_id)) == "succeeded"
    # Its message was taken: the worker's heartbeat thread says so while the run executes.
    wait_until(
        lambda: waiting.zscore(queue.key("waiting"), str(run_id)) is None, 10, "message taken"
    )
    # A message sent again (the sweeper's) and delivered finds nothing to do, and is taken too.
    waiting.zadd(queue.key("waiting"), {str(run_id): time.time()})
    assert execute_run.run(str(run_id)) == "nothing to do"
    wait_until(lambda: waiting.zscore(queue.key("waiting"), str(run_id)) is None, 10, "again taken")
    metric = _metric(run_id)
    assert metric.reference_id == reference_id
    assert (metric.value, metric.error) == (VALUE, VALUE - REFERENCE_VALUE)  # to the last bit
    assert metric.rel_error == pytest.approx((VALUE - REFERENCE_VALUE) / REFERENCE_VALUE)


def test_a_reference_deleted_while_the_run_executes_leaves_its_metric_uncompared(
    made: list[uuid.UUID], benchmark: str
) -> None:
    reference_id = _reference_of_copper()
    run_id = one_run(made, "emt", BENCHMARK)

    def delete_the_reference() -> None:
        with session_scope() as session:
            session.execute(delete(Reference).where(Reference.id == reference_id))

    _DURING_THE_RUN.append(delete_the_reference)
    assert execute_run.run(str(run_id)) == "succeeded"
    metric = _metric(run_id)
    assert metric.value == VALUE
    assert (metric.reference_id, metric.error, metric.rel_error) == (None, None, None)


def test_the_stored_space_group_chooses_the_phase_of_the_references(
    made: list[uuid.UUID], benchmark: str
) -> None:
    """The bootstrap stored fcc Cu's space group (Fm-3m, 225) with it; the worker takes the
    stored one instead of reading it again: stored as bcc (229), the fcc reference is not
    this input's phase and the metric stays uncompared."""
    _reference_of_copper()
    run_id = one_run(made, "emt", BENCHMARK)
    with session_scope() as session:
        structure = session.scalars(
            select(Structure).join(Run, Run.structure_id == Structure.id).where(Run.id == run_id)
        ).one()
        assert structure.space_group == 225
        structure_id = structure.id
        structure.space_group = 229
    try:
        assert execute_run.run(str(run_id)) == "succeeded"
    finally:
        with session_scope() as session:
            session.execute(
                update(Structure).where(Structure.id == structure_id).values(space_group=225)
            )
    metric = _metric(run_id)
    assert (metric.reference_id, metric.error) == (None, None)
