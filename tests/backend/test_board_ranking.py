"""The ranking definition (docs/metrics.md) by hand and through the API: intervals, penalties
for failed and missing materials, tiers, one protocol per board, per-benchmark defaults."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.tables import Benchmark, Metric, MlipModel, Reference, Run, Structure, StructureSet
from backend.domain import ranking
from backend.domain.statuses import ModelStatus, RunStatus
from backend.services.leaderboard import default_params_hash
from shared_kernel.hashing import params_hash


def test_interval_of_two_errors_is_the_hand_computed_one() -> None:
    # resample means of [1, 3] are 1, 2, 3 with probabilities 1/4, 1/2, 1/4: the 2.5 % and
    # 97.5 % percentiles are 1 and 3
    interval = ranking.mean_interval([1.0, 3.0])
    assert (interval.low, interval.high) == (1.0, 3.0)
    assert ranking.mean_interval([2.0, 2.0, 2.0]) == ranking.Interval(2.0, 2.0)
    assert ranking.mean_interval([]) is None


def test_interval_agrees_with_scipys_bootstrap() -> None:
    x = np.random.default_rng(7).lognormal(size=40)
    ours = ranking.mean_interval(list(x))
    theirs = stats.bootstrap(
        (x,), np.mean, confidence_level=0.95, method="percentile", n_resamples=20000, rng=1
    ).confidence_interval
    width = theirs.high - theirs.low
    assert ours.low == pytest.approx(theirs.low, abs=0.1 * width)
    assert ours.high == pytest.approx(theirs.high, abs=0.1 * width)
    assert ours.low < float(np.mean(x)) < ours.high


def test_failing_where_it_is_wrong_does_not_pay() -> None:
    honest = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 10.0}
    dodger = {"a": 1.0, "b": 1.0, "c": 1.0}  # failed (or never ran) on d
    ranked = ranking.rank_models({"honest": honest, "dodger": dodger, "none": {}})
    # d counts with the worst loss scored there (10): the dodger ties the honest model
    assert ranked["dodger"].score == pytest.approx(13 / 4)
    assert ranked["honest"].score == pytest.approx(13 / 4)
    assert ranked["dodger"].rank == ranked["honest"].rank == 1
    assert ranked["dodger"].n_penalised == 1
    assert ranked["none"].score is None
    assert ranked["none"].rank is None


def test_a_model_scored_on_few_materials_is_not_ranked_above_a_complete_one() -> None:
    materials = [f"m{i}" for i in range(20)]
    complete = dict.fromkeys(materials, 2.0)
    worst = dict.fromkeys(materials, 5.0)
    few = dict.fromkeys(materials[:3], 0.1)  # excellent where it answered, silent elsewhere
    ranked = ranking.rank_models({"complete": complete, "worst": worst, "few": few})
    assert ranked["few"].score == pytest.approx((3 * 0.1 + 17 * 5.0) / 20)
    assert ranked["complete"].rank == 1
    assert ranked["few"].rank == 2


def test_tiers_tie_models_within_the_noise_and_split_clear_gaps() -> None:
    rng = np.random.default_rng(3)
    base = rng.lognormal(size=30)
    models = {
        "a": dict(enumerate(base)),
        "a_twin": dict(enumerate(base * (1 + 0.01 * rng.standard_normal(30)))),
        "far": dict(enumerate(base + 5.0)),
    }
    ranked = ranking.rank_models({k: {str(m): v for m, v in d.items()} for k, d in models.items()})
    assert ranked["a"].tier == ranked["a_twin"].tier == 1
    assert ranked["far"].tier == 2
    assert ranked["far"].rank_interval == (3, 3)
    low, high = ranked["a"].rank_interval
    assert low == 1
    assert high == 2


# --- through the API -------------------------------------------------------------------------

#: The family of this file's models: boards filtered on it hold them alone, whatever runs
#: other tests of the session committed (built-in EMT runs eos in the live tests).
FAMILY = "rk-test"


def _crystal(session: Session, label: str) -> Structure:
    return session.scalars(
        select(Structure)
        .join(StructureSet, StructureSet.id == Structure.structure_set_id)
        .where(StructureSet.name == "elemental crystals", Structure.label == label)
    ).one()


def _benchmark(session: Session, key: str) -> Benchmark:
    found = session.scalars(
        select(Benchmark).where(Benchmark.key == key).order_by(Benchmark.created_at.desc())
    ).first()
    assert found is not None
    return found


def _model(session: Session, name: str, card: dict | None = None) -> MlipModel:
    model = MlipModel(
        name=name,
        version="1",
        family=FAMILY,
        params={},
        card=card or {},
        status=ModelStatus.APPROVED,
    )
    session.add(model)
    session.flush()
    return model


def _result(
    session: Session,
    model: MlipModel,
    benchmark: Benchmark,
    structure: Structure,
    values: dict[str, float],
    *,
    params: dict | None = None,
    status: RunStatus = RunStatus.SUCCEEDED,
    level: str = "experiment",
) -> Run:
    params = dict(benchmark.default_params) if params is None else params
    run = Run(
        mlip_model_id=model.id,
        model_hash=model.version_hash,
        benchmark_id=benchmark.id,
        structure_id=structure.id,
        params=params,
        params_hash=params_hash(benchmark.key, benchmark.version, params),
        status=status,
        failure_class="no_convergence" if status == RunStatus.FAILED else None,
    )
    session.add(run)
    session.flush()
    for name, value in values.items():
        ref = session.scalars(
            select(Reference).where(
                Reference.material == structure.material,
                Reference.property == name,
                Reference.level_of_theory == level,
            )
        ).first()
        error = None if ref is None else value - ref.value
        session.add(
            Metric(
                run_id=run.id,
                name=name,
                value=value,
                unit="",
                reference_id=None if ref is None else ref.id,
                error=error,
                rel_error=None if ref is None or error is None else error / abs(ref.value),
            )
        )
    session.flush()
    return run


def _ref_value(session: Session, material: str, prop: str) -> float:
    return session.scalars(
        select(Reference.value).where(
            Reference.material == material,
            Reference.property == prop,
            Reference.level_of_theory == "experiment",
        )
    ).one()


def _rows(client: TestClient, key: str, **params: str) -> dict[str, dict]:
    response = client.get(f"/leaderboards/{key}", params=params)
    assert response.status_code == 200, response.text
    return {r["model_name"]: r for r in response.json()["rows"] if r["model_name"][:3] == "rk-"}


def test_protocols_are_separate_boards(client: TestClient, db_session: Session) -> None:
    eos = _benchmark(db_session, "eos")
    model = _model(db_session, "rk-proto")
    cu = _crystal(db_session, "Cu")
    b0 = _ref_value(db_session, "Cu", "bulk_modulus")
    _result(db_session, model, eos, cu, {"bulk_modulus": b0 + 10})
    narrow = {**eos.default_params, "volume_range": 0.06}
    _result(
        db_session, model, eos, _crystal(db_session, "Cu"), {"bulk_modulus": b0 + 40}, params=narrow
    )

    board = client.get("/leaderboards/eos").json()
    assert board["is_default_protocol"] is True
    assert board["params_hash"] == default_params_hash(eos)
    narrow_hash = params_hash(eos.key, eos.version, narrow)
    other = next(p for p in board["protocols"] if p["params_hash"] == narrow_hash)
    assert other["changed"] == {"volume_range": 0.06}
    assert not other["is_default"]
    row = _rows(client, "eos")["rk-proto"]
    assert row["metrics"]["bulk_modulus"]["mae"] == pytest.approx(10.0)
    assert row["n_runs"] == 1  # the narrow run is not pooled in

    chosen = client.get("/leaderboards/eos", params={"params_hash": other["params_hash"][:12]})
    assert chosen.status_code == 200
    assert chosen.json()["is_default_protocol"] is False
    assert "volume_range" in chosen.json()["notes"][0]
    row = _rows(client, "eos", params_hash=other["params_hash"])["rk-proto"]
    assert row["metrics"]["bulk_modulus"]["mae"] == pytest.approx(40.0)

    wrong = client.get("/leaderboards/eos", params={"params_hash": "abcdef0123"})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["where"] == "query.params_hash"

    csv = client.get("/exports/leaderboards/eos", params={"params_hash": other["params_hash"]})
    assert csv.status_code == 200
    header, *lines = csv.text.splitlines()
    assert "params_hash" in header.split(",")
    assert all(other["params_hash"] in line for line in lines)


def test_failures_flags_and_coverage_count_in_the_rank(
    client: TestClient, db_session: Session
) -> None:
    eos = _benchmark(db_session, "eos")
    labels = ("Cu", "Al", "Ni", "Ag")
    ref = {m: _ref_value(db_session, m, "bulk_modulus") for m in labels}
    steady = _model(db_session, "rk-steady")
    dodger = _model(db_session, "rk-dodger")
    sparse = _model(db_session, "rk-sparse")
    for m in labels:  # 10 % off everywhere
        _result(db_session, steady, eos, _crystal(db_session, m), {"bulk_modulus": 1.1 * ref[m]})
    for m in labels[:3]:  # 5 % off, then fails on Ag
        _result(db_session, dodger, eos, _crystal(db_session, m), {"bulk_modulus": 1.05 * ref[m]})
    _result(db_session, dodger, eos, _crystal(db_session, "Ag"), {}, status=RunStatus.FAILED)
    flagged = _result(
        db_session, sparse, eos, _crystal(db_session, "Cu"), {"bulk_modulus": ref["Cu"]}
    )
    db_session.add(Metric(run_id=flagged.id, name="flag_bprime_out_of_range", value=1, unit="1"))
    _result(db_session, sparse, eos, _crystal(db_session, "Al"), {"bulk_modulus": ref["Al"]})
    db_session.flush()

    rows = _rows(client, "eos", family=FAMILY)
    steady_row, dodger_row, sparse_row = rows["rk-steady"], rows["rk-dodger"], rows["rk-sparse"]
    assert {r["n_materials"] for r in rows.values()} == {4}
    assert (steady_row["n_scored"], dodger_row["n_scored"], sparse_row["n_scored"]) == (4, 3, 1)
    assert dodger_row["failures"] == {"no_convergence": 1}
    assert sparse_row["n_flagged"] == 1
    # by hand, in percent: Ag counts for the dodger with the worst loss scored there (10 %)
    assert steady_row["score"] == pytest.approx(10.0)
    assert dodger_row["score"] == pytest.approx((5 + 5 + 5 + 10) / 4)
    # sparse: exact on Al, flagged Cu and missing Ni, Ag at the worst loss there (10 % each)
    assert sparse_row["score"] == pytest.approx((10 + 0 + 10 + 10) / 4)
    assert sparse_row["metrics"]["bulk_modulus"]["mae"] == pytest.approx(0.0)
    assert dodger_row["rank"] < steady_row["rank"]
    assert sparse_row["rank"] > dodger_row["rank"]
    for row in rows.values():
        low, high = row["score_interval"]["low"], row["score_interval"]["high"]
        assert low <= row["score"] <= high
        assert row["rank_interval"][0] <= row["rank"] <= row["rank_interval"][1]
    # the steady model's B0 MAE interval, by hand: every error is 10 % of its reference
    errors = sorted(0.1 * ref[m] for m in labels)
    mae = steady_row["metrics"]["bulk_modulus"]
    assert errors[0] <= mae["mae_interval"]["low"] <= mae["mae"] <= mae["mae_interval"]["high"]
    assert mae["mae_interval"]["high"] <= errors[-1]
    body = client.get("/leaderboards/eos").json()
    assert body["sort"] == "rank"
    assert body["ranking"]["metric"] == "bulk_modulus"
    assert body["ranking"]["unit"] == "%"


def test_s22_opens_on_ccsdt_and_ranks_by_mae_in_ev(client: TestClient) -> None:
    body = client.get("/leaderboards/s22").json()
    assert body["level_of_theory"] == "ccsd(t)/cbs"
    assert body["ranking"]["loss"] == "abs_error"
    assert body["ranking"]["unit"] == "eV"
    assert any("percentage" in note for note in body["notes"])


def test_cohesive_board_warns_of_the_isolated_atom_and_marks_fitted_models(
    client: TestClient, db_session: Session
) -> None:
    cohesive = _benchmark(db_session, "cohesive")
    fitted = _model(db_session, "rk-fitted", card={"fitted_to": ["cohesive_energy"]})
    cu = _crystal(db_session, "Cu")
    _result(db_session, fitted, cohesive, cu, {"cohesive_energy": 3.49})
    body = client.get("/leaderboards/cohesive").json()
    assert any("isolated atom" in note for note in body["notes"])
    row = next(r for r in body["rows"] if r["model_name"] == "rk-fitted")
    assert row["fitted_to"] == ["cohesive_energy"]
    assert any("fitted" in note for note in body["notes"])


def test_the_fitted_baselines_say_what_they_were_fitted_to(client: TestClient) -> None:
    cards = {
        m["name"]: m["card"] for m in client.get("/models", params={"limit": 100}).json()["items"]
    }
    assert {"cohesive_energy", "volume_per_atom"} <= set(cards["LJ-exp-fit"]["fitted_to"])
    assert "bulk_modulus" not in cards["LJ-exp-fit"]["fitted_to"]
    assert "bulk_modulus" in cards["Morse-GW-exp-fit"]["fitted_to"]
    assert "bulk_modulus" in cards["EMT"]["fitted_to"]
