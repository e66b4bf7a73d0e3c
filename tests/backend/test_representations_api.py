"""The representation summary against the real Postgres and Redis: the task reads every approved
model's latest ``pooled_embeddings`` and its other outcomes, stores one row, and the API serves
it (public, approved models only); the trigger after successes is debounced in Redis."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.bootstrap import ELEMENTAL_CRYSTALS
from backend.db.base import utcnow
from backend.db.tables import (
    Benchmark,
    Metric,
    MlipModel,
    Projection,
    RepresentationSummary,
    Run,
    Structure,
)
from backend.domain.statuses import ModelStatus, Role, RunStatus
from backend.repositories import references as ref_repo
from backend.schemas.representations import EXAMPLE, RepresentationSummaryRead
from backend.services import catalog, queue, users
from backend.settings import get_settings
from workers.celery_app import celery_app
from workers.tasks import representations as summary_task

N_STRUCTURES = 8
WIDTH = 16
STRAINS = (-0.06, -0.03, 0.0, 0.03, 0.06)


@dataclass
class Seeded:
    trained: MlipModel
    control: MlipModel
    structures: list[Structure]

    def scope(self, session: Session) -> AbstractContextManager[Session]:
        return nullcontext(session)


def _benchmark(session: Session, key: str) -> Benchmark:
    if key == "representation":  # registered here until the benchmark itself exists
        catalog.register_benchmark(
            session, key=key, version="1.0", description="tests", default_params={},
            headline_metrics=[], soft_time_limit_s=300, time_limit_s=360,
        )  # fmt: skip
    found = session.scalars(select(Benchmark).where(Benchmark.key == key)).first()
    assert found is not None
    return found


def _pooled(i: int, features: np.ndarray) -> dict[str, Any]:
    return {
        "formula": f"X{i}",
        "variants": [f"scale_{1 + s:.2f}" for s in STRAINS],
        "n_atoms": [8] * len(STRAINS),
        "features": features.tolist(),
        "targets": {"volume_strain": list(STRAINS), "shear": [0.0] * len(STRAINS)},
        "chemistry": {"group": float(1 + i), "period": float(2 + i % 3), "electronegativity": None},
        "elements": [f"X{i}"],
    }


def _run(session: Session, model: MlipModel, benchmark: Benchmark, structure: Structure,
         *, status: RunStatus = RunStatus.SUCCEEDED, params_hash: str = "0" * 64,
         finished_s_ago: float = 0.0, failure_class: str | None = None) -> Run:  # fmt: skip
    run = Run(
        mlip_model_id=model.id, model_hash=model.version_hash, benchmark_id=benchmark.id,
        structure_id=structure.id, params={}, params_hash=params_hash, status=status,
        failure_class=failure_class, finished_at=utcnow() - timedelta(seconds=finished_s_ago),
    )  # fmt: skip
    session.add(run)
    session.flush()
    return run


@pytest.fixture
def seeded(db_session: Session) -> Seeded:
    """A trained model and its random-weight control (family chgnet), each with a
    representation run on eight crystals, and the trained one's eos outcomes."""
    representation, eos = _benchmark(db_session, "representation"), _benchmark(db_session, "eos")
    crystals = ref_repo.get_structure_set_by_name(db_session, ELEMENTAL_CRYSTALS)
    assert crystals is not None
    structures = ref_repo.list_structures(db_session, crystals.id)[:N_STRUCTURES]
    tag = uuid.uuid4().hex[:6]
    trained = MlipModel(name=f"repr-trained-{tag}", family="chgnet", params={},
                        status=ModelStatus.APPROVED)  # fmt: skip
    control = MlipModel(name=f"repr-control-{tag}", family="chgnet",
                        params={"random_weights_seed": 0}, status=ModelStatus.APPROVED)  # fmt: skip
    db_session.add_all([trained, control])
    db_session.flush()
    rng = np.random.default_rng(0)
    mixing, strain_direction = rng.standard_normal((2, WIDTH)), rng.standard_normal(WIDTH)
    table = rng.standard_normal((N_STRUCTURES, WIDTH))
    for i, structure in enumerate(structures):
        chem = np.array([1.0 + i, 2.0 + i % 3])
        planted = np.array([chem @ mixing + 20 * s * strain_direction for s in STRAINS])
        noise = 0.01 * rng.standard_normal((len(STRAINS), WIDTH))
        for model, features in ((trained, planted + noise), (control, table[i] + noise)):
            run = _run(db_session, model, representation, structure)
            db_session.add(Projection(run_id=run.id, name="pooled_embeddings", kind="embedding",
                                      method="mean", settings={"pooling": "mean"},
                                      data=_pooled(i, features)))  # fmt: skip
    # an older run of another parameter set: the latest one per structure is summarized
    old = _run(db_session, trained, representation, structures[0], params_hash="1" * 64,
               finished_s_ago=3600)  # fmt: skip
    db_session.add(Projection(run_id=old.id, name="pooled_embeddings", kind="embedding",
                              method="mean", settings={},
                              data=_pooled(0, np.ones((len(STRAINS), 3)))))  # fmt: skip
    ok = _run(db_session, trained, eos, structures[0])
    db_session.add_all([
        Metric(run_id=ok.id, name="bulk_modulus", value=110.0, unit="GPa", rel_error=0.1),
        Metric(run_id=ok.id, name="volume_per_atom", value=12.0, unit="Å³/atom", rel_error=-0.3),
        Metric(run_id=ok.id, name="flag_unphysical", value=1.0, unit="1"),
    ])  # fmt: skip
    _run(db_session, trained, eos, structures[1], status=RunStatus.FAILED,
         failure_class="nan_or_inf")  # fmt: skip
    db_session.flush()
    return Seeded(trained, control, structures)


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(RepresentationSummary)) or 0)


def test_no_summary_is_404_saying_what_to_run(client: TestClient, db_session: Session) -> None:
    db_session.execute(delete(RepresentationSummary))
    response = client.get("/representations")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "mlipm representations summarize" in error["message"]
    assert "-b representation" in error["message"]


def test_the_task_stores_one_summary_that_anyone_reads(
    client: TestClient, db_session: Session, seeded: Seeded
) -> None:
    before = _count(db_session)
    stored = summary_task.summarize_stored(lambda: seeded.scope(db_session), map_methods=("pca",))
    assert stored is not None
    assert _count(db_session) == before + 1
    response = client.get("/representations")  # anonymous
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary_id"] == str(stored.id)
    trained, control = seeded.trained.name, seeded.control.name
    models = {m["name"]: m for m in body["models"]}
    assert models[trained]["n_structures"] == N_STRUCTURES  # the older 3-wide run is not used
    assert models[trained]["width"] == WIDTH
    assert models[trained]["id"] == str(seeded.trained.id)
    assert (models[trained]["control"], models[control]["control"]) == (False, True)
    probes = body["probes"]
    assert probes["random_twin"][trained] == control  # same family, the control
    assert probes["r2"][trained]["electronegativity"] is None  # no values: not probed
    assert probes["r2"][trained]["group"]["mean"] > 0.9  # planted linearly
    assert probes["r2"][trained]["volume_strain"]["mean"] > 0.9
    assert probes["gain"][trained]["group"] is not None
    atlas = {e["structure_id"]: e for e in body["atlas"][trained]}
    first, second = (str(s.id) for s in seeded.structures[:2])
    assert atlas[first]["mean_abs_rel_error"] == pytest.approx(0.2)  # (0.1 + 0.3) / 2
    assert atlas[first]["flags"] == ["flag_unphysical"]
    assert atlas[second]["failures"] == [{"benchmark": "eos", "failure_class": "nan_or_inf"}]
    assert {trained, control} <= set(body["cka"]["models"])
    assert len(body["maps"][control]["pca"]["x"]) == N_STRUCTURES
    # the model-agnostic SOAP map of the input structures, from their stored ASE JSON
    mapped = {p["structure_id"] for p in body["structure_map"]["points"]}
    assert {str(s.id) for s in seeded.structures} <= mapped


def test_a_model_no_longer_approved_is_cut_out_of_the_summary(
    client: TestClient, db_session: Session, seeded: Seeded
) -> None:
    summary_task.summarize_stored(lambda: seeded.scope(db_session), map_methods=("pca",))
    seeded.trained.status = ModelStatus.PENDING
    db_session.flush()
    response = client.get("/representations")
    assert response.status_code == 200
    text = response.text
    assert seeded.trained.name not in text
    assert str(seeded.trained.id) not in text
    body = response.json()
    assert seeded.control.name in body["cka"]["models"]
    assert len(body["cka"]["matrix"]) == len(body["cka"]["models"])


def test_the_openapi_example_is_a_valid_summary() -> None:
    assert RepresentationSummaryRead.model_validate(EXAMPLE).models[1].control


@pytest.fixture
def own_queue(database_url: str) -> Iterator[tuple[redis.Redis, str]]:
    """A queue of this test's own, and the broker the Celery app sends to."""
    name, saved = f"repr-{uuid.uuid4().hex[:8]}", os.environ.get("MLIPM_CELERY_QUEUE")
    os.environ["MLIPM_CELERY_QUEUE"] = name
    get_settings.cache_clear()
    broker = redis.Redis.from_url(celery_app.conf.broker_url)
    broker.delete(queue.key("due:representation-summary"))
    yield broker, name
    broker.delete(*_lists(name), queue.key("due:representation-summary"))
    if saved is not None:
        os.environ["MLIPM_CELERY_QUEUE"] = saved
    get_settings.cache_clear()


def _lists(name: str) -> list[str]:
    return [name, *(f"{name}{queue.PRIORITY_SEP}{p}" for p in queue.PRIORITY_STEPS if p)]


def _summary_messages(broker: redis.Redis, name: str) -> list[dict[str, Any]]:
    raw: list[Any] = [m for n in _lists(name) for m in broker.lrange(n, 0, -1)]
    messages = [json.loads(m) for m in raw]
    return [m for m in messages if m["headers"]["task"] == "representations.summarize"]


def test_successes_within_the_window_send_one_delayed_summary(
    own_queue: tuple[redis.Redis, str],
) -> None:
    broker, name = own_queue
    assert summary_task.after_run_succeeded("representation", debounce_s=1.0)
    assert not summary_task.after_run_succeeded("representation", debounce_s=1.0)
    assert not summary_task.after_run_succeeded("eos", debounce_s=1.0)  # not a representation
    (message,) = _summary_messages(broker, name)
    assert message["headers"]["eta"] is not None  # delayed by the window
    time.sleep(1.2)
    assert summary_task.after_run_succeeded("representation", debounce_s=1.0)
    assert len(_summary_messages(broker, name)) == 2


def test_only_admins_ask_for_a_summary(
    client: TestClient, db_session: Session, own_queue: tuple[redis.Redis, str]
) -> None:
    broker, name = own_queue
    tokens = {
        role: users.ensure_user_with_token(db_session, name=f"repr-{role}-{uuid.uuid4().hex[:6]}",
                                           role=role).token
        for role in (Role.SUBMITTER, Role.ADMIN)
    }  # fmt: skip
    assert client.post("/representations/summary").status_code == 401
    as_submitter = client.post(
        "/representations/summary", headers={"Authorization": f"Bearer {tokens[Role.SUBMITTER]}"}
    )
    assert as_submitter.status_code == 403
    assert _summary_messages(broker, name) == []
    as_admin = client.post(
        "/representations/summary", headers={"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    )
    assert as_admin.status_code == 202
    assert as_admin.json() == {"queued": True}
    (message,) = _summary_messages(broker, name)
    assert message["headers"]["eta"] is None  # asked for: now, not debounced


def test_the_cli_summarizes_inline_and_prints_the_probes(
    client: TestClient, db_session: Session, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from backend.cli import representations as representations_cli
    from backend.cli.main import app

    monkeypatch.setattr(summary_task, "session_scope", lambda: seeded.scope(db_session))
    args = ["representations", "summarize", "--map", "pca"]
    monkeypatch.setattr(representations_cli.console, "width", 80)  # names in full even so
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary_id = client.get("/representations").json()["summary_id"]
    assert f"summary {summary_id}" in result.output
    assert seeded.trained.name in result.output
    assert "folds of whole base structures" in result.output
    bad = CliRunner().invoke(app, [*args[:2], "--map", "tsne"])
    assert bad.exit_code != 0
