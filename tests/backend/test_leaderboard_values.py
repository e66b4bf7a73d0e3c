"""Board rows alone draw an overview: mean metric values (with or without a reference) and the
elements a board covers, against hand-computed numbers, through filters, metric edits and
deletes, sorting, and stored bodies of an older format (the migration: tests/migrations)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.board_bodies import BODIES
from backend.db.tables import Benchmark, Metric, MlipModel, Reference, Run, Structure, StructureSet
from backend.domain.statuses import ModelStatus, RunStatus
from backend.services import leaderboard

FAMILY = "lvtest"  # every model here, so a board filtered on it shows only this file's rows
DRIFT, FLUCT = "energy_drift_abs", "energy_fluctuation"  # nve metrics without a reference
# (model, set, label, elements) -> nve energy_drift_abs, in meV/atom/ps
DRIFTS = {
    ("lv-a", "lv-set-1", "Cu", ("Cu",)): 1.0,
    ("lv-a", "lv-set-1", "AlNi", ("Al", "Ni")): 2.0,
    ("lv-a", "lv-set-2", "Fe", ("Fe",)): 4.5,
    ("lv-b", "lv-set-1", "Cu", ("Cu",)): 10.0,
}


def add_structure(
    session: Session, set_name: str, label: str, elements: tuple[str, ...]
) -> Structure:
    found = session.scalars(
        select(Structure)
        .join(StructureSet, StructureSet.id == Structure.structure_set_id)
        .where(StructureSet.name == set_name, Structure.label == label)
    ).first()
    if found is not None:
        return found
    structure_set = session.scalars(select(StructureSet).where(StructureSet.name == set_name))
    parent = structure_set.first() or StructureSet(name=set_name)
    session.add(parent)
    session.flush()
    structure = Structure(
        structure_set_id=parent.id,
        label=label,
        material=label,
        formula=label,
        elements=list(elements),
        n_atoms=len(elements),
        content_hash=uuid.uuid4().hex,
        data="{}",
    )
    session.add(structure)
    session.flush()
    return structure


def add_model(session: Session, name: str, status: ModelStatus = ModelStatus.APPROVED) -> MlipModel:
    model = MlipModel(name=name, version="1", family=FAMILY, params={}, card={}, status=status)
    session.add(model)
    session.flush()
    return model


def add_run(
    session: Session,
    model: MlipModel,
    benchmark: Benchmark,
    structure: Structure,
    status: RunStatus = RunStatus.SUCCEEDED,
    *,
    params_hash: str | None = None,
) -> Run:
    """A run of the benchmark's standard protocol (or of the ``params_hash`` given)."""
    run = Run(
        mlip_model_id=model.id,
        model_hash=model.version_hash,
        benchmark_id=benchmark.id,
        structure_id=structure.id,
        params=dict(benchmark.default_params),
        params_hash=params_hash or leaderboard.default_params_hash(benchmark),
        status=status,
    )
    session.add(run)
    session.flush()
    return run


@pytest.fixture
def seeded(db_session: Session) -> dict[str, MlipModel]:
    """nve drifts (no reference) of two models on three structures in two sets; a failed run,
    a model not approved, and eos volumes of lv-a with a reference."""
    nve = leaderboard.get_benchmark(db_session, "nve", None)
    models = {name: add_model(db_session, name) for name in ("lv-a", "lv-b")}
    for (name, set_name, label, elements), drift in DRIFTS.items():
        run = add_run(
            db_session, models[name], nve, add_structure(db_session, set_name, label, elements)
        )
        db_session.add(Metric(run_id=run.id, name=DRIFT, value=drift, unit="meV/atom/ps"))
        if name == "lv-a" and label != "Fe":
            db_session.add(Metric(run_id=run.id, name=FLUCT, value=3.0, unit="meV/atom"))
    db_session.flush()
    ag = add_structure(db_session, "lv-set-1", "Ag", ("Ag",))
    add_run(db_session, models["lv-b"], nve, ag, RunStatus.FAILED)
    pending = add_model(db_session, "lv-pending", ModelStatus.PENDING)
    add_run(db_session, pending, nve, add_structure(db_session, "lv-set-1", "Zr", ("Zr",)))
    eos = leaderboard.get_benchmark(db_session, "eos", None)
    reference = _cu_volume(db_session)
    for label, elements, volume in (("Cu", ("Cu",), 11.0), ("AlNi", ("Al", "Ni"), 12.0)):
        run = add_run(
            db_session, models["lv-a"], eos, add_structure(db_session, "lv-set-1", label, elements)
        )
        db_session.add(
            Metric(
                run_id=run.id,
                name="volume_per_atom",
                value=volume,
                unit="Å³/atom",
                reference_id=reference.id,
                error=volume - reference.value,
            )
        )
    db_session.flush()
    return models


def _cu_volume(session: Session) -> Reference:
    reference = session.scalars(
        select(Reference).where(
            Reference.material == "Cu",
            Reference.property == "volume_per_atom",
            Reference.level_of_theory == "experiment",
        )
    ).first()
    assert reference is not None
    return reference


def _board(client: TestClient, benchmark: str = "nve", **params: str) -> dict:
    response = client.get(f"/leaderboards/{benchmark}", params={"family": FAMILY, **params})
    assert response.status_code == 200, response.text
    return response.json()


def _drift(board: dict) -> dict[str, tuple[float | None, int]]:
    return {
        r["model_name"]: (r["metrics"][DRIFT]["mean"], r["metrics"][DRIFT]["n_values"])
        for r in board["rows"]
    }


def test_means_of_metrics_without_a_reference(client: TestClient, seeded: dict) -> None:
    board = _board(client)
    assert _drift(board) == {"lv-a": (pytest.approx(2.5), 3), "lv-b": (10.0, 1)}
    a = next(r for r in board["rows"] if r["model_name"] == "lv-a")
    assert a["metrics"][DRIFT]["n"] == 0  # no reference: no error, but a mean
    assert a["metrics"][DRIFT]["mae"] is None
    assert a["metrics"][FLUCT] == {
        "mae": None,
        "mae_interval": None,
        "mape_percent": None,
        "n": 0,
        "mean": 3.0,
        "n_values": 2,
    }
    b = next(r for r in board["rows"] if r["model_name"] == "lv-b")
    assert (b["n_runs"], b["n_failed"]) == (2, 1)  # the failed run adds no value
    assert b["metrics"][FLUCT] == {
        "mae": None,
        "mae_interval": None,
        "mape_percent": None,
        "n": 0,
        "mean": None,
        "n_values": 0,
    }


def test_means_of_metrics_with_a_reference(
    client: TestClient, db_session: Session, seeded: dict
) -> None:
    board = _board(client, "eos")
    (row,) = board["rows"]
    volume = row["metrics"]["volume_per_atom"]
    assert (volume["mean"], volume["n_values"], volume["n"]) == (pytest.approx(11.5), 2, 2)
    assert board["elements"] == ["Al", "Cu", "Ni"]
    reference = _cu_volume(db_session)
    expected_mae = (abs(11.0 - reference.value) + abs(12.0 - reference.value)) / 2
    assert volume["mae"] == pytest.approx(expected_mae)


def test_means_and_elements_follow_the_filters(client: TestClient, seeded: dict) -> None:
    # Ag: lv-b's failed run is a run on the board; Zr: only a model not approved ran on it
    assert _board(client)["elements"] == ["Ag", "Al", "Cu", "Fe", "Ni"]
    in_set = _board(client, structure_set="lv-set-1")
    assert _drift(in_set) == {"lv-a": (pytest.approx(1.5), 2), "lv-b": (10.0, 1)}
    assert in_set["elements"] == ["Ag", "Al", "Cu", "Ni"]
    nickel = _board(client, element="Ni")
    assert _drift(nickel) == {"lv-a": (2.0, 1)}
    assert nickel["elements"] == ["Al", "Ni"]
    iron = _board(client, element="Fe", structure_set="lv-set-2")
    assert (_drift(iron), iron["elements"]) == ({"lv-a": (4.5, 1)}, ["Fe"])
    only_b = _board(client, structure_set="lv-set-1", limit="1", sort="-model_name")
    assert [r["model_name"] for r in only_b["rows"]] == ["lv-b"]
    assert only_b["elements"] == in_set["elements"]  # every page's models, not this page's
    assert _board(client, element="Zr")["elements"] == []


def test_means_follow_metric_updates_and_deletes(
    client: TestClient, db_session: Session, seeded: dict[str, MlipModel]
) -> None:
    of_a = select(Run.id).where(Run.mlip_model_id == seeded["lv-a"].id)
    drifts = select(Metric).where(Metric.name == DRIFT, Metric.run_id.in_(of_a))
    iron = db_session.scalars(drifts.where(Metric.value == 4.5)).one()
    iron.value = 7.5
    db_session.flush()  # an UPDATE
    assert _drift(_board(client))["lv-a"] == (pytest.approx(3.5), 3)
    db_session.delete(db_session.scalars(drifts.where(Metric.value == 1.0)).one())
    db_session.flush()
    assert _drift(_board(client))["lv-a"] == (pytest.approx(4.75), 2)
    assert _drift(_board(client, element="Fe"))["lv-a"] == (7.5, 1)


def test_sorting_on_means_and_value_counts(client: TestClient, seeded: dict) -> None:
    def names(sort: str) -> list[str]:
        return [r["model_name"] for r in _board(client, sort=sort)["rows"]]

    assert names(f"metrics.{DRIFT}.mean") == ["lv-a", "lv-b"]
    assert names(f"-metrics.{DRIFT}.mean") == ["lv-b", "lv-a"]
    assert names(f"-metrics.{DRIFT}.n_values") == ["lv-a", "lv-b"]
    assert names(f"metrics.{FLUCT}.mean") == ["lv-a", "lv-b"]  # no value: last
    bad = client.get("/leaderboards/nve", params={"sort": f"metrics.{DRIFT}.median"})
    assert bad.status_code == 422
    assert f"metrics.{DRIFT}.mean" in bad.json()["error"]["message"]


def test_a_body_stored_under_an_older_format_is_not_served(
    client: TestClient, seeded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = {"family": FAMILY, "sort": "model_name"}
    with monkeypatch.context() as patch:
        patch.setattr(leaderboard, "ETAG_FORMAT", leaderboard.ETAG_FORMAT - 1)
        old = client.get("/leaderboards/nve", params=params).headers["ETag"]
        BODIES.put(old, b'{"stale": true}', {"ETag": old})
        assert client.get("/leaderboards/nve", params=params).content == b'{"stale": true}'
    fresh = client.get("/leaderboards/nve", params=params)
    assert fresh.headers["ETag"] != old
    assert fresh.json()["elements"] == ["Ag", "Al", "Cu", "Fe", "Ni"]
    assert fresh.json()["rows"][0]["metrics"][DRIFT]["n_values"] == 3


def test_the_typed_client_reads_the_new_fields(client: TestClient, seeded: dict) -> None:
    import httpx

    from backend.client import ApiClient

    def through(request: httpx.Request) -> httpx.Response:
        answer = client.request(request.method, str(request.url), headers=dict(request.headers))
        return httpx.Response(
            answer.status_code, headers=dict(answer.headers), content=answer.content
        )

    api = ApiClient("http://testserver", transport=httpx.MockTransport(through))
    board = api.leaderboard("nve", filters={"family": FAMILY}, sort="model_name")
    assert board.elements == ["Ag", "Al", "Cu", "Fe", "Ni"]
    assert board.rows[0].metrics[DRIFT].mean == pytest.approx(2.5)
    assert board.rows[0].metrics[DRIFT].n_values == 3
