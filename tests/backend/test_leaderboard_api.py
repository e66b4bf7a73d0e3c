"""Leaderboards over seeded results: numbers against hand computation, filters, sorting,
pagination, one protocol per board, penalised ranks with intervals, the combined score,
ETag/304, and boards that follow claims, results and deletes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend.db.tables import Benchmark, Metric, MlipModel, Reference, Run, Structure, StructureSet
from backend.domain.statuses import ModelStatus, RunStatus
from backend.services.leaderboard import default_params_hash

# (model, material) -> (V0 per atom, B0) a model "predicts"
PREDICTED = {
    ("lb-good", "Cu"): (11.9, 140.0),
    ("lb-good", "Al"): (16.6, 76.0),
    ("lb-bad", "Cu"): (13.0, 100.0),
    ("lb-bad", "Al"): (18.0, 50.0),
    ("lb-bad", "Ni"): (12.0, 150.0),
}
CARDS = {
    "lb-good": {"openness": "OSOD", "training_data": [{"name": "MPtrj", "level_of_theory": "PBE"}]},
    "lb-bad": {"openness": "CSCD", "training_data": [{"name": "OMat24", "level_of_theory": "PBE"}]},
}


def _ref(session: Session, material: str, prop: str) -> Reference:
    ref = session.scalars(
        select(Reference).where(
            Reference.material == material,
            Reference.property == prop,
            Reference.level_of_theory == "experiment",
        )
    ).first()
    assert ref is not None, (material, prop)
    return ref


@pytest.fixture
def seeded(db_session: Session) -> dict[str, MlipModel]:
    """Two approved models with eos results on Cu, Al (and Ni for one), metrics vs experiment."""
    eos = db_session.scalars(select(Benchmark).where(Benchmark.key == "eos")).first()
    assert eos is not None
    # a clean slate for eos: earlier tests' rows are rolled back, built-in models get no runs
    models = {}
    for name, card in CARDS.items():
        model = MlipModel(
            name=name,
            version="1",
            family="emt" if name == "lb-good" else "lj",
            params={},
            card=card,
            status=ModelStatus.APPROVED,
        )
        db_session.add(model)
        models[name] = model
    db_session.flush()
    for (name, material), (v0, b0) in PREDICTED.items():
        structure = _crystal(db_session, material)
        assert structure is not None
        run = Run(
            mlip_model_id=models[name].id,
            model_hash=models[name].version_hash,
            benchmark_id=eos.id,
            structure_id=structure.id,
            params=dict(eos.default_params),
            params_hash=default_params_hash(eos),
            status=RunStatus.SUCCEEDED,
        )
        db_session.add(run)
        db_session.flush()
        for prop, value, unit in (("volume_per_atom", v0, "Å³/atom"), ("bulk_modulus", b0, "GPa")):
            ref = _ref(db_session, material, prop)
            db_session.add(
                Metric(
                    run_id=run.id,
                    name=prop,
                    value=value,
                    unit=unit,
                    reference_id=ref.id,
                    error=value - ref.value,
                    rel_error=(value - ref.value) / abs(ref.value),
                )
            )
        if (name, material) == ("lb-bad", "Ni"):
            db_session.add(Metric(run_id=run.id, name="flag_window_sensitive", value=1, unit="1"))
    failed = Run(
        mlip_model_id=models["lb-bad"].id,
        model_hash=models["lb-bad"].version_hash,
        benchmark_id=eos.id,
        structure_id=_crystal(db_session, "Ag").id,
        params=dict(eos.default_params),
        params_hash=default_params_hash(eos),
        status=RunStatus.FAILED,
        failure_class="exception",
    )
    db_session.add(failed)
    db_session.flush()
    return models


def _expected_mape(session: Session, name: str, prop: str) -> float:
    """Over the model's unflagged results (lb-bad's Ni raised a flag: not in its MAPE)."""
    index = 0 if prop == "volume_per_atom" else 1
    errors = [
        abs(values[index] - _ref(session, material, prop).value)
        / abs(_ref(session, material, prop).value)
        for (model, material), values in PREDICTED.items()
        if model == name and (model, material) != ("lb-bad", "Ni")
    ]
    return 100 * sum(errors) / len(errors)


def _rows(client: TestClient, **params: str) -> list[dict]:
    response = client.get("/leaderboards/eos", params=params)
    assert response.status_code == 200, response.text
    return [r for r in response.json()["rows"] if r["model_name"].startswith("lb-")]


def test_board_numbers_match_a_hand_computation(
    client: TestClient, db_session: Session, seeded: dict[str, MlipModel]
) -> None:
    rows = {r["model_name"]: r for r in _rows(client)}
    for name in ("lb-good", "lb-bad"):
        for prop in ("volume_per_atom", "bulk_modulus"):
            got = rows[name]["metrics"][prop]["mape_percent"]
            assert got == pytest.approx(_expected_mape(db_session, name, prop), rel=1e-9)
    bad = rows["lb-bad"]
    assert (bad["n_runs"], bad["n_succeeded"], bad["n_failed"]) == (4, 3, 1)
    assert bad["failure_rate"] == pytest.approx(0.25)
    assert bad["n_flagged"] == 1
    assert bad["failures"] == {"exception": 1}
    assert rows["lb-good"]["metrics"]["volume_per_atom"]["n"] == 2
    assert bad["metrics"]["bulk_modulus"]["n"] == 2  # the flagged Ni is not in the MAE


def test_filters_select_models_and_inputs(client: TestClient, seeded: dict) -> None:
    assert [r["model_name"] for r in _rows(client, openness="OSOD")] == ["lb-good"]
    assert [r["model_name"] for r in _rows(client, training_set="OMat24")] == ["lb-bad"]
    assert [r["model_name"] for r in _rows(client, family="emt")] == ["lb-good"]
    ni = _rows(client, element="Ni")
    assert [r["model_name"] for r in ni] == ["lb-bad"]
    assert ni[0]["n_runs"] == 1
    assert ni[0]["n_flagged"] == 1
    assert ni[0]["metrics"]["bulk_modulus"]["n"] == 0
    by_set = _rows(client, structure_set="elemental crystals")
    assert {r["model_name"] for r in by_set} == {"lb-good", "lb-bad"}


def test_the_prototype_filter_keeps_the_runs_on_structures_of_that_prototype(
    client: TestClient, seeded: dict, db_session: Session
) -> None:
    """Along the user's path: the prototypes GET /prototypes lists are those the structures
    were built as (the Sol58 file's 16 rocksalt, 12 zincblende and 3 CsCl compounds; Cu, Al,
    Ni and Ag are fcc), and each board filtered to one counts only its runs."""
    eos = db_session.scalars(select(Benchmark).where(Benchmark.key == "eos")).one()
    model = seeded["lb-good"]
    compounds = {
        s.label: s
        for s in db_session.scalars(
            select(Structure)
            .join(StructureSet, StructureSet.id == Structure.structure_set_id)
            .where(StructureSet.name == "binary compounds")
        )
    }
    for label in ("NaCl", "MgO", "GaAs"):
        db_session.add(
            Run(
                mlip_model_id=model.id,
                model_hash=model.version_hash,
                benchmark_id=eos.id,
                structure_id=compounds[label].id,
                params=dict(eos.default_params),
                params_hash=default_params_hash(eos),
                status=RunStatus.FAILED,
                failure_class="exception",
            )
        )
    db_session.flush()
    listed = {p["prototype"]: p["n_structures"] for p in client.get("/prototypes").json()}
    assert (listed["rocksalt"], listed["zincblende"], listed["cesiumchloride"]) == (16, 12, 3)
    assert {"fcc", "bcc", "hcp", "diamond"} <= set(listed)
    runs = {
        prototype: {r["model_name"]: r["n_runs"] for r in _rows(client, prototype=prototype)}
        for prototype in ("rocksalt", "zincblende", "fcc")
    }
    assert runs["rocksalt"] == {"lb-good": 2}  # NaCl and MgO
    assert runs["zincblende"] == {"lb-good": 1}  # GaAs
    assert runs["fcc"] == {"lb-good": 2, "lb-bad": 4}  # Cu, Al; and Ni, Ag
    assert {r["model_name"]: r["n_runs"] for r in _rows(client)}["lb-good"] == 5
    exported = client.get(
        "/exports/leaderboards/eos", params={"prototype": "zincblende", "format": "json"}
    )
    assert exported.status_code == 200, exported.text
    records = [r for r in exported.json() if str(r["model_name"]).startswith("lb-")]
    assert [(r["model_name"], r["n_runs"]) for r in records] == [("lb-good", 1)]


def test_bad_filters_and_sort_columns_are_422_naming_them(client: TestClient) -> None:
    for params, where in (
        ({"element": "Xx"}, "query.element"),
        ({"structure_set": "no such set"}, "query.structure_set"),
        ({"prototype": "perovskite"}, "query.prototype"),
        ({"sort": "metrics.nope.mae"}, "query.sort"),
        ({"openness": "open"}, "query.openness"),
        ({"limit": "100000"}, "query.limit"),
    ):
        response = client.get("/leaderboards/eos", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["where"] == where
    assert "metrics.nope.mae" in client.get("/leaderboards/eos?sort=metrics.nope.mae").text


def test_sorting_and_pagination(client: TestClient, seeded: dict) -> None:
    ascending = _rows(client, sort="metrics.bulk_modulus.mape_percent")
    assert [r["model_name"] for r in ascending] == ["lb-good", "lb-bad"]
    descending = _rows(client, sort="-failure_rate")
    assert descending[0]["model_name"] == "lb-bad"
    full = client.get("/leaderboards/eos", params={"sort": "model_name"}).json()
    page = client.get(
        "/leaderboards/eos", params={"sort": "model_name", "limit": 1, "offset": 1}
    ).json()
    assert page["total"] == full["total"] >= 2
    assert page["rows"] == full["rows"][1:2]


def test_entries_only_on_request_and_only_for_the_page(client: TestClient, seeded: dict) -> None:
    assert client.get("/leaderboards/eos").json()["entries"] == []
    board = client.get(
        "/leaderboards/eos", params={"include_entries": "true", "openness": "CSCD"}
    ).json()
    # every run, the failed one too, each naming its protocol
    assert {e["material"] for e in board["entries"]} == {"Cu", "Al", "Ni", "Ag"}
    ni = next(e for e in board["entries"] if e["material"] == "Ni")
    assert ni["flags"] == ["flag_window_sensitive"]
    ag = next(e for e in board["entries"] if e["material"] == "Ag")
    assert (ag["status"], ag["failure_class"], ag["values"]) == ("failed", "exception", {})
    assert {e["params_hash"] for e in board["entries"]} == {board["params_hash"]}


def test_etag_gives_304_until_the_board_changes(
    client: TestClient, db_session: Session, seeded: dict[str, MlipModel]
) -> None:
    first = client.get("/leaderboards/eos")
    etag = first.headers["ETag"]
    again = client.get("/leaderboards/eos", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    seeded["lb-bad"].status = ModelStatus.REJECTED
    db_session.flush()
    changed = client.get("/leaderboards/eos", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_combined_ranks_only_models_scored_on_every_benchmark(
    client: TestClient, seeded: dict
) -> None:
    body = client.get(
        "/leaderboards", params={"benchmarks": "eos,cohesive", "weights": "eos:3", "family": "lj"}
    ).json()
    rows = {r["model_name"]: r for r in body["rows"] if r["model_name"].startswith("lb-")}
    bad = rows["lb-bad"]
    # lb-bad has eos results only: no score, no rank, and the benchmark it misses named
    assert (bad["score"], bad["rank"]) == (None, None)
    assert (bad["scored_on"], bad["missing"], bad["n_benchmarks"]) == (["eos"], ["cohesive"], 1)
    assert bad["parts"]["eos"]["score"] is not None
    assert bad["parts"]["cohesive"]["score"] is None
    assert body["weights"] == {"eos": 3.0, "cohesive": 1.0}
    # on eos alone both are scored: ranked by their eos board scores, score = normalized rank
    alone = client.get("/leaderboards", params={"benchmarks": "eos"}).json()["rows"]
    alone = {r["model_name"]: r for r in alone if r["model_name"].startswith("lb-")}
    assert alone["lb-good"]["parts"]["eos"]["rank"] < alone["lb-bad"]["parts"]["eos"]["rank"]
    for row in alone.values():
        assert row["score"] == pytest.approx(row["parts"]["eos"]["normalized_rank"])


@pytest.mark.parametrize(
    "params",
    [
        {"benchmarks": "eos", "weights": "elastic:1"},
        {"benchmarks": "eos", "weights": "eos:-1"},
        {"benchmarks": "eos", "weights": "eos:nan"},
        {"benchmarks": "eos,eos"},
        {"benchmarks": "nope"},
        {"benchmarks": "eos", "sort": "parts.elastic.rank"},
    ],
)
def test_bad_combined_requests_are_422(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/leaderboards", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["where"].startswith("query.")


def test_the_typed_client_reads_boards_and_raises_the_apis_errors(
    client: TestClient, seeded: dict
) -> None:
    import httpx

    from backend.client import ApiClient, ApiError

    class ThroughTestClient(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            answer = client.request(
                request.method,
                str(request.url),
                headers=dict(request.headers),
                content=request.read(),
            )
            return httpx.Response(
                answer.status_code, headers=dict(answer.headers), content=answer.content
            )

    api = ApiClient("http://testserver", transport=ThroughTestClient())
    board = api.leaderboard("eos", filters={"openness": "CSCD"}, sort="-failure_rate")
    assert [r.model_name for r in board.rows] == ["lb-bad"]
    assert {e.material for e in board.entries} == {"Cu", "Al", "Ni", "Ag"}
    combined = api.combined(["eos"], {"eos": 2.0}, filters={"family": "emt"})
    # Built-in EMT may have runs from other tests of this session: it is in the emt family too.
    names = [r.model_name for r in combined.rows]
    assert "lb-good" in names
    assert "lb-bad" not in names
    assert combined.weights == {"eos": 2.0}
    metrics = api.metrics(model_id=str(seeded["lb-good"].id))
    assert len(metrics) == 4
    assert b"lb-bad" in api.export("leaderboards/eos", "csv", openness="CSCD")
    with pytest.raises(ApiError) as info:
        api.leaderboard("eos", sort="nope")
    assert info.value.status_code == 422
    assert info.value.code == "invalid_input"
    assert "cannot sort on 'nope'" in info.value.message
    assert info.value.request_id


def test_a_run_flagged_twice_or_in_two_writes_counts_once(
    client: TestClient, db_session: Session, seeded: dict[str, MlipModel]
) -> None:
    bad = seeded["lb-bad"].id
    runs = db_session.scalars(
        select(Run).where(Run.mlip_model_id == bad, Run.status == RunStatus.SUCCEEDED)
    ).all()
    flagged = db_session.scalars(
        select(Metric.run_id).where(
            Metric.name == "flag_window_sensitive", Metric.run_id.in_([r.id for r in runs])
        )
    ).all()
    again, other = (
        next(r for r in runs if r.id in flagged),
        next(r for r in runs if r.id not in flagged),
    )
    db_session.add(Metric(run_id=again.id, name="flag_large_fit_residual", value=1, unit="1"))
    db_session.flush()  # a second flag of an already-counted run, in its own statement
    row = next(r for r in _rows(client) if r["model_name"] == "lb-bad")
    assert row["n_flagged"] == 1
    db_session.add(Metric(run_id=other.id, name="flag_window_sensitive", value=1, unit="1"))
    db_session.add(Metric(run_id=other.id, name="flag_large_fit_residual", value=0, unit="1"))
    db_session.flush()
    row = next(r for r in _rows(client) if r["model_name"] == "lb-bad")
    assert row["n_flagged"] == 2
    assert row["n_flagged"] == len(set(flagged) | {other.id})


def test_boards_follow_inserts_claims_finishes_and_deletes(
    client: TestClient, db_session: Session, seeded: dict[str, MlipModel]
) -> None:
    eos = db_session.scalars(select(Benchmark).where(Benchmark.key == "eos")).first()
    assert eos is not None
    model = MlipModel(
        name="lb-new", version="1", family="emt", params={}, card={}, status=ModelStatus.APPROVED
    )
    db_session.add(model)
    db_session.flush()
    structures = db_session.scalars(select(Structure).order_by(Structure.label).limit(3)).all()
    runs = [
        Run(
            mlip_model_id=model.id,
            model_hash=model.version_hash,
            benchmark_id=eos.id,
            structure_id=s.id,
            params=dict(eos.default_params),
            params_hash=default_params_hash(eos),
        )
        for s in structures
    ]
    db_session.add_all(runs)
    db_session.flush()  # one multi-row INSERT
    row = next(r for r in _rows(client) if r["model_name"] == "lb-new")
    assert (row["n_runs"], row["n_pending"], row["n_succeeded"]) == (3, 3, 0)
    claim = "UPDATE run SET status = 'running', attempt = attempt + 1 WHERE id = :id"
    db_session.execute(text(claim), {"id": runs[0].id})
    db_session.execute(text("UPDATE run SET worker = 'w1' WHERE id = :id"), {"id": runs[0].id})
    before = client.get("/leaderboards/eos")
    etag = before.headers["ETag"]
    assert client.get("/leaderboards/eos").content == before.content  # stored, same bytes
    assert client.get("/leaderboards/eos", headers={"If-None-Match": etag}).status_code == 304
    db_session.execute(
        text("UPDATE run SET status = 'succeeded', finished_at = now() WHERE id = :id"),
        {"id": runs[0].id},
    )
    after = client.get("/leaderboards/eos", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    row = next(r for r in after.json()["rows"] if r["model_name"] == "lb-new")
    assert (row["n_runs"], row["n_pending"], row["n_succeeded"]) == (3, 2, 1)
    # a body stored under the old ETag is not served to a plain GET either
    plain = client.get("/leaderboards/eos")
    assert plain.headers["ETag"] == after.headers["ETag"]
    assert plain.content == after.content
    # one statement moving runs out of two statuses, then a failed one deleted
    db_session.execute(
        text("UPDATE run SET status = 'cancelled' WHERE mlip_model_id = :m AND status = 'queued'"),
        {"m": model.id},
    )
    db_session.execute(
        text("DELETE FROM run WHERE status = 'failed' AND mlip_model_id = :m"),
        {"m": seeded["lb-bad"].id},
    )
    # a model delete cascades to its runs
    db_session.execute(text("DELETE FROM mlip_model WHERE id = :m"), {"m": model.id})
    db_session.expunge_all()
    assert not [r for r in _rows(client) if r["model_name"] == "lb-new"]


def _crystal(session: Session, label: str) -> Structure:
    """A bootstrapped elemental crystal (other tests may store structures with the same label)."""
    return session.scalars(
        select(Structure)
        .join(StructureSet, StructureSet.id == Structure.structure_set_id)
        .where(StructureSet.name == "elemental crystals", Structure.label == label)
    ).one()
