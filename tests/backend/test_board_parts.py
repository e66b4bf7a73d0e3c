"""A board read again per model (migration 0019's counters, backend/services/board_rows.py):
after every kind of write it equals the board built from nothing, and it reads again only the
models the write touched."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.db.tables import Metric, MlipModel, Reference, Run, Structure
from backend.domain.statuses import ModelStatus, RunStatus
from backend.repositories import boards
from backend.repositories.leaderboard import BoardFilter
from backend.services import board_rows, leaderboard
from tests.backend.test_board_aggregates import board  # noqa: F401 (a fixture)
from tests.backend.test_leaderboard_values import add_model, add_run, add_structure


def _build(session: Session) -> dict:
    """The eos board of the fixture's structure set (other tests' models stay off it)."""
    query = leaderboard.BoardQuery(structure_set="ba-set")
    read = leaderboard.build_leaderboard(session, "eos", query=query)
    return read.model_dump(mode="json", exclude={"updated_at"})


def _afresh(session: Session) -> dict:
    """The board with nothing kept from an earlier build."""
    board_rows._PARTS.clear()
    board_rows._BOARDS.clear()
    return _build(session)


def _parts(session: Session) -> dict[uuid.UUID, object]:
    """The parts kept for the eos board's standard protocol (the one eos board built since
    the cache was last cleared)."""
    eos = leaderboard.get_benchmark(session, "eos", None)
    key = next(k for k, _ in board_rows._PARTS._items.items() if k[0] == eos.id)
    found = board_rows._PARTS.get(key)
    assert found is not None
    return dict(found)


def _run_of(session: Session, model: MlipModel, eos_id: uuid.UUID, label: str) -> Run:
    query = (
        select(Run)
        .join(Structure, Structure.id == Run.structure_id)
        .where(Run.mlip_model_id == model.id, Run.benchmark_id == eos_id, Structure.label == label)
    )
    return session.scalars(query).one()


def test_each_write_moves_the_counters_of_the_models_it_touched(
    db_session: Session,
    board: dict,  # noqa: F811
) -> None:
    eos = board["eos"]
    a, b = (m.id for m in board["models"])

    def moved(write: Callable[[], object]) -> set[uuid.UUID]:
        before = boards.model_versions(db_session, eos.id)
        write()
        db_session.flush()
        after = boards.model_versions(db_session, eos.id)
        assert set(before) <= set(after)
        return {m for m in after if before.get(m) != after[m]}

    assert {a, b} <= set(boards.model_versions(db_session, eos.id))
    run_b = _run_of(db_session, board["models"][1], eos.id, "ba-00")
    # a new metric: its run's model only
    assert moved(lambda: db_session.add(Metric(run_id=run_b.id, name="x", value=1, unit="1"))) == {
        b
    }
    # a run that finishes (status and finish time): its model only
    now = datetime.now(UTC)
    finish = update(Run).where(Run.id == run_b.id).values(status=RunStatus.FAILED, finished_at=now)
    assert moved(lambda: db_session.execute(finish)) == {b}
    # a lease renewed changes no board: no counter moves
    lease = update(Run).where(Run.id == run_b.id).values(lease_expires_at=now)
    assert moved(lambda: db_session.execute(lease)) == set()
    # a new model's first run: a new counter
    c = add_model(db_session, "ba-c")
    structure = add_structure(db_session, "ba-set", "ba-00", ("Cu",))
    assert moved(lambda: add_run(db_session, c, eos, structure)) == {c.id}
    # a reference edited may change every model's errors: every counter
    edit = update(Reference).where(Reference.material == "ba-01").values(value=90.0)
    assert (
        moved(lambda: db_session.execute(edit))
        == set(boards.model_versions(db_session, eos.id))
        >= {a, b, c.id}
    )


def test_a_board_read_again_per_model_equals_one_built_afresh(
    db_session: Session,
    board: dict,  # noqa: F811
) -> None:
    eos = board["eos"]
    model_a, model_b = board["models"]
    first = _build(db_session)
    assert first == _afresh(db_session)
    assert sorted(r["model_name"] for r in first["rows"]) == ["ba-a", "ba-b"]
    kept = _parts(db_session)
    run_a = _run_of(db_session, model_a, eos.id, "ba-02")
    now = datetime.now(UTC)

    def flag() -> None:
        db_session.add(Metric(run_id=run_a.id, name="flag_window", value=1.0, unit="1"))

    def finish_failed() -> None:
        run = _run_of(db_session, model_b, eos.id, "ba-04")
        run.status, run.finished_at, run.failure_class = RunStatus.FAILED, now, "nan"

    def new_model() -> None:
        c = add_model(db_session, "ba-c")
        for label in ("ba-00", "ba-01"):
            run = add_run(db_session, c, eos, add_structure(db_session, "ba-set", label, ("Cu",)))
            db_session.add(Metric(run_id=run.id, name="volume_per_atom", value=9.0, unit="A3"))

    def reference_edit() -> None:
        db_session.execute(update(Reference).where(Reference.material == "ba-08").values(value=1))

    def model_withdrawn() -> None:
        model_b.status = ModelStatus.REJECTED

    def value_edit() -> None:  # of a scored run (run_a is flagged by now)
        scored = _run_of(db_session, model_a, eos.id, "ba-06")
        db_session.execute(
            update(Metric).where(Metric.run_id == scored.id, Metric.name == "volume_per_atom")
            .values(value=99.0)
        )  # fmt: skip

    before = first
    for write in (flag, finish_failed, new_model, reference_edit, model_withdrawn, value_edit):
        write()
        db_session.flush()
        again = _build(db_session)
        assert again != before, write.__name__  # the write shows on the board
        if write is flag:  # one model touched: the other's part is the one kept
            parts = _parts(db_session)
            assert parts[model_b.id] is kept[model_b.id]
            assert parts[model_a.id] is not kept[model_a.id]
        assert again == _afresh(db_session), write.__name__
        before = again


def test_a_board_no_write_touched_is_not_built_again(
    db_session: Session,
    board: dict,  # noqa: F811
) -> None:
    query = leaderboard.BoardQuery()
    board_rows._BOARDS.clear()
    first = leaderboard.build_leaderboard(db_session, "eos", query=query)
    again = leaderboard.build_leaderboard(db_session, "eos", query=query)
    assert again.rows[0] is first.rows[0]  # the same rows, not a second ranking
    db_session.add(Metric(run_id=_any_run(db_session, board), name="y", value=1, unit="1"))
    db_session.flush()
    third = leaderboard.build_leaderboard(db_session, "eos", query=query)
    assert third.rows[0] is not first.rows[0]
    assert [r.model_dump() for r in third.rows] == [r.model_dump() for r in first.rows]


def _any_run(session: Session, seeded: dict) -> uuid.UUID:
    run_id = session.scalar(select(Run.id).where(Run.benchmark_id == seeded["eos"].id).limit(1))
    assert run_id is not None
    return run_id


@pytest.mark.parametrize("models", [1, 10, 11, 40])
def test_the_flag_check_reads_the_same_on_few_and_many_models(
    db_session: Session,
    board: dict,  # noqa: F811
    models: int,
) -> None:
    """Flags are probed per run for a few models and read as one set for many: same counts."""
    eos, ids = board["eos"], [m.id for m in board["models"]]
    ids += [uuid.uuid4() for _ in range(models - len(ids))] if models > len(ids) else []
    ids = ids[:models]
    digest = leaderboard.default_params_hash(eos)
    args = {"names": ["bulk_modulus"], "where": BoardFilter()}
    counts, _ = boards.board_counts(db_session, eos.id, digest, model_ids=ids, **args)
    flagged = {c.model_id: 0 for c in counts}
    for c in counts:
        flagged[c.model_id] += c.n_flagged
    # the fixture flags one scored run of each model
    assert flagged == {m.id: 1 for m in board["models"] if m.id in ids}
