"""The board's SQL aggregates (metric.benchmark_id, per-model arrays) against a recompute."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from backend.db.tables import Metric, Reference, Run
from backend.domain import ranking
from backend.domain.statuses import RunStatus
from backend.repositories import boards
from backend.repositories.leaderboard import BoardFilter
from backend.services import leaderboard
from tests.backend.test_leaderboard_values import add_model, add_run, add_structure

NAMES = ["bulk_modulus", "volume_per_atom"]


def _reference(session: Session, material: str, value: float, level: str) -> Reference:
    reference = Reference(
        material=material,
        property="bulk_modulus",
        value=value,
        unit="GPa",
        level_of_theory=level,
        conditions={},
        source="test",
        dataset="test",
    )
    session.add(reference)
    session.flush()
    return reference


@pytest.fixture
def board(db_session: Session) -> dict[str, object]:
    """Two models on eos: runs written in reverse material order, a flagged run, a failed
    run, a value without a reference and one whose reference is of another level."""
    eos = leaderboard.get_benchmark(db_session, "eos", None)
    models = [add_model(db_session, name) for name in ("ba-a", "ba-b")]
    labels = [f"ba-{i:02d}" for i in range(12)]
    references = {
        label: _reference(db_session, label, 100.0 + i, "dft" if i == 5 else "experiment")
        for i, label in enumerate(labels)
    }
    for k, model in enumerate(models):
        for i, label in reversed(list(enumerate(labels))):
            structure = add_structure(db_session, "ba-set", label, ("Cu",))
            status = RunStatus.FAILED if (i, k) == (3, 1) else RunStatus.SUCCEEDED
            run = add_run(db_session, model, eos, structure, status)
            if status is RunStatus.FAILED:
                continue
            reference = references[label]
            value = 100.0 + i + (i * 7 + k * 3) % 11 - 5
            db_session.add_all(
                [
                    Metric(run_id=run.id, name="bulk_modulus", value=value, unit="GPa",
                           reference_id=reference.id, error=value - reference.value),
                    Metric(run_id=run.id, name="volume_per_atom", value=11.0 + i, unit="A3"),
                ]
            )  # fmt: skip
            if i == 7:
                db_session.add(Metric(run_id=run.id, name="flag_window", value=1.0, unit="1"))
    db_session.flush()
    return {"eos": eos, "models": models}


def test_the_trigger_sets_and_moves_the_benchmark_of_metrics(
    db_session: Session, board: dict
) -> None:
    eos = board["eos"]
    rows = db_session.execute(select(Metric.benchmark_id, Run.benchmark_id).join(Run)).all()
    assert rows
    assert all(m == r for m, r in rows)
    # a writer cannot set another benchmark: the run's wins
    run = db_session.scalars(select(Run).where(Run.benchmark_id == eos.id)).first()
    other = leaderboard.get_benchmark(db_session, "elastic", None)
    db_session.execute(
        text(
            "INSERT INTO metric (id, run_id, benchmark_id, name, value, unit) "
            "VALUES (gen_random_uuid(), :run, :other, 'extra', 1, '1')"
        ),
        {"run": run.id, "other": other.id},
    )
    stored = db_session.scalar(
        select(Metric.benchmark_id).where(Metric.run_id == run.id, Metric.name == "extra")
    )
    assert stored == eos.id
    db_session.execute(update(Run).where(Run.id == run.id).values(benchmark_id=other.id))
    moved = db_session.scalars(select(Metric.benchmark_id).where(Metric.run_id == run.id)).all()
    assert moved
    assert set(moved) == {other.id}


def test_the_aggregates_agree_with_the_runs_read_one_by_one(
    db_session: Session, board: dict
) -> None:
    eos, models = board["eos"], board["models"]
    ids = [m.id for m in models]
    where, digest = BoardFilter(), leaderboard.default_params_hash(eos)
    args = {"names": NAMES, "model_ids": ids, "where": where}
    counts, elements = boards.board_counts(db_session, eos.id, digest, **args)
    found = boards.board_values(db_session, eos.id, digest, level_of_theory="experiment", **args)
    runs = boards.board_runs(db_session, eos.id, digest, model_ids=ids, where=where)
    metrics, flags = boards.board_metrics(
        db_session, eos.id, digest, names=NAMES, level_of_theory="experiment", model_ids=ids,
        where=where,
    )  # fmt: skip
    assert elements == {c.model_id: ["Cu"] for c in counts}  # each model's structures
    assert sum(c.n for c in counts) == len(runs) == 24
    assert sum(c.n_flagged for c in counts) == len(flags) == 2
    assert {(c.model_id, c.status) for c in counts if c.status == "failed"} == {(ids[1], "failed")}
    by_run = {(m.run_id, m.name): m for m in metrics}
    for v in found:
        # the model's scored runs in material order, whatever order they were written in
        scored = sorted(
            (r for r in runs if r.model_id == v.model_id and r.status == "succeeded"
             and r.run_id not in flags and (r.run_id, v.name) in by_run),
            key=lambda r: r.material,
        )  # fmt: skip
        expected = [by_run[(r.run_id, v.name)] for r in scored]
        assert v.structure_ids == [str(r.structure_id) for r in scored]
        assert v.values == [m.value for m in expected]
        assert v.errors == [m.error for m in expected]
        assert v.rel_errors == [m.rel_error for m in expected]
    errors = {v.model_id: v.errors for v in found if v.name == "bulk_modulus"}
    assert all(None in e for e in errors.values())  # the reference of another level


def test_the_mae_interval_bootstraps_the_runs_in_material_order(
    db_session: Session, board: dict
) -> None:
    read = leaderboard.build_leaderboard(
        db_session, "eos", query=leaderboard.BoardQuery(structure_set="ba-set")
    )
    digest = leaderboard.default_params_hash(board["eos"])
    found = boards.board_values(
        db_session, board["eos"].id, digest, names=NAMES, level_of_theory="experiment",
        model_ids=[board["models"][0].id], where=BoardFilter(),
    )  # fmt: skip
    errors = [abs(e) for v in found if v.name == "bulk_modulus" for e in v.errors if e is not None]
    row = next(r for r in read.rows if r.model_name == "ba-a")
    interval = ranking.mean_interval(errors)
    assert interval is not None
    assert row.metrics["bulk_modulus"].mae_interval is not None
    assert (
        row.metrics["bulk_modulus"].mae_interval.low,
        row.metrics["bulk_modulus"].mae_interval.high,
    ) == (
        interval.low,
        interval.high,
    )
    assert row.metrics["bulk_modulus"].n == len(errors) == 10  # 12 - flagged - other level


def test_the_ranks_per_resample_equal_the_pairwise_count() -> None:
    rng = np.random.default_rng(7)
    samples = np.round(rng.integers(0, 6, size=(50, 9)) / 3, 12)  # many ties
    pairwise = 1 + np.sum(samples[:, None, :] < samples[:, :, None], axis=2)
    assert np.array_equal(ranking._min_ranks(samples), pairwise)
