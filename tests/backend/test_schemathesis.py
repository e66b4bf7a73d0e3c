"""schemathesis against the app's own OpenAPI, with every check, as admin, submitter and
anonymous: 0 failures of any kind.

Each role gets one run of schemathesis' engine (what ``schemathesis run`` does) through the
real app on the real Postgres: the examples phase (every example in the document must be
accepted), the coverage phase (boundary values, every undeclared method, missing and wrong
parameters), the fuzzing phase (``MLIPM_SCHEMATHESIS_EXAMPLES`` generated requests per
operation) and the stateful phase (links inferred from the responses). Every registered check
runs on every response; see :data:`EXCLUDED_CHECKS` for the one tuned. Each request runs in a
savepoint of the test's rolled-back transaction, so nothing is left behind. The operations,
requests per phase, statuses and failures of each role are printed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import Case, HookContext, Response
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.engine import events, from_schema
from schemathesis.openapi.checks import RejectedPositiveData
from sqlalchemy.orm import Session

from backend.domain.statuses import Role
from backend.services import users

EXAMPLES = int(os.environ.get("MLIPM_SCHEMATHESIS_EXAMPLES", "12"))
ROLES = ("admin", "submitter", "anonymous")
PHASES = ("examples", "coverage", "fuzzing", "stateful")
#: The codes with which the API refuses (422) a request that fits its OpenAPI document, for a
#: reason no JSON Schema can state: it names something that is not stored (a structure set,
#: a model, a parameter set, a board column), its parts contradict each other, or a
#: reference's phase is not that of the stored crystals. Only these answers to schema-valid
#: requests are not failures of ``positive_data_acceptance``; they are counted and printed.
#: Any other refusal of a schema-valid request is a failure: the document does not say what
#: the API accepts.
DATA_REFUSALS = frozenset({"not_stored", "inconsistent_input", "phase_mismatch"})
#: Uploaded files (a schema says "bytes"): a 422 on their body is about their contents, which
#: no schema describes (an unreadable structure file, a training set that is not extxyz).
FILE_MEDIA = frozenset({"application/octet-stream", "chemical/x-extxyz"})
#: ``max_response_time`` is off by default in schemathesis (it needs a limit); it runs here
#: with a limit no in-process request should come near, so a hang fails the test but a slow
#: CI machine does not.
MAX_RESPONSE_TIME_S = 30.0

# Training sets are uploaded as raw extxyz bytes: send what is generated as bytes.
schemathesis.serializer.alias("chemical/x-extxyz", "application/octet-stream")


@dataclass
class Tally:
    role: str
    operations: set[str] = field(default_factory=set)
    requests: Counter[str] = field(default_factory=Counter)  # per phase
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)  # DATA_REFUSALS, by code
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of this process: the wall time on an idle machine

    def record(self, event: events.ScenarioFinished) -> None:
        recorder = event.recorder
        if event.phase.value != "stateful_testing":
            self.operations.add(recorder.label)
        for case_id, interaction in recorder.interactions.items():
            self.requests[event.phase.value] += 1
            if interaction.response is not None:
                self.statuses[interaction.response.status_code] += 1
            for node in recorder.checks.get(case_id, []):
                if node.failure_info is not None:
                    self.failures.append(_describe(event, node, interaction))

    def report(self) -> str:
        lines = [
            f"schemathesis as {self.role}: {len(self.operations)} operations, "
            f"{sum(self.requests.values())} requests {dict(sorted(self.requests.items()))}, "
            f"{len(self.failures)} failures, {self.seconds:.1f} s ({self.cpu_seconds:.1f} s CPU); "
            f"statuses {dict(sorted(self.statuses.items()))}; schema-valid requests refused "
            f"for stored data or file contents {dict(sorted(self.refusals.items()))}"
        ]
        lines += [f"  FAILURE {f}" for f in dict.fromkeys(self.failures)]
        return "\n".join(lines)


def _describe(event: events.ScenarioFinished, node: Any, interaction: Any) -> str:
    failure = node.failure_info.failure
    body = interaction.response.content[:300] if interaction.response is not None else b""
    return (
        f"[{event.phase.value}] {event.recorder.label}: {node.name}: {failure.title}: "
        f"{failure.message[:400]}\n    {node.failure_info.code_sample[:800]}\n    -> {body!r}"
    )


def all_check_names() -> list[str]:
    """Every check schemathesis has registered (built-in ones), by name."""
    load_all_checks()
    return sorted(CHECKS.get_all_names())


def engine_config(headers: dict[str, str]) -> SchemathesisConfig:
    """Every check and phase; deterministic generation, no caches on disk."""
    checks: dict[str, Any] = {name: {"enabled": True} for name in all_check_names()}
    checks["max_response_time"] = MAX_RESPONSE_TIME_S
    config: dict[str, Any] = {
        "seed": 20261203,
        "workers": 1,
        "cache": {"enabled": False},
        "checks": checks,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {phase: {"enabled": True} for phase in PHASES},
        "suppress-health-check": ["all"],
    }
    if headers:
        config["headers"] = headers
    return SchemathesisConfig.from_dict(config)


@pytest.fixture
def app(db_session: Session) -> FastAPI:
    """The app with each request's session a savepoint of the test's transaction."""
    from backend.api.deps import get_session
    from backend.main import create_app

    app = create_app()

    def _session() -> Iterator[Session]:
        savepoint = db_session.begin_nested()
        try:
            yield db_session
            db_session.flush()
        except BaseException:
            savepoint.rollback()
            raise
        if savepoint.is_active:
            savepoint.commit()

    app.dependency_overrides[get_session] = _session
    return app


def _headers(role: str, db_session: Session) -> dict[str, str]:
    if role == "anonymous":
        return {}
    name = f"st-{role}-{uuid.uuid4().hex[:6]}"
    issued = users.ensure_user_with_token(db_session, name=name, role=Role(role))
    return {"Authorization": f"Bearer {issued.token}"}


def error_of(response: Response) -> tuple[str | None, str | None]:
    """The ``error.code`` and ``error.where`` of one of the API's error bodies."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    return error.get("code"), error.get("where")


def run_schemathesis(app: FastAPI, role: str, headers: dict[str, str]) -> Tally:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=engine_config(headers))
    tally = Tally(role)

    @schema.hook
    def filter_failure(ctx: HookContext, failure: Failure, case: Case, response: Response) -> bool:
        if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
            return True
        code, where = error_of(response)
        if code in DATA_REFUSALS:
            tally.refusals[code] += 1
            return False
        if case.media_type in FILE_MEDIA and where is not None and where.startswith("body"):
            tally.refusals["file contents"] += 1
            return False
        return True

    started, cpu = time.perf_counter(), time.process_time()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tally.record(event)
        elif isinstance(event, events.NonFatalError):
            tally.failures.append(f"error in {event.label}: {event.info.title}: {event.info}")
        elif isinstance(event, events.FatalError):
            tally.failures.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            tally.failures += [f"after the run: {f.title}: {f.message}" for f in event.failures]
    tally.seconds = time.perf_counter() - started
    tally.cpu_seconds = time.process_time() - cpu
    return tally


def test_every_registered_check_runs() -> None:
    """The run below enables the checks by name: a check a new schemathesis adds runs too."""
    names = all_check_names()
    assert {"unsupported_method", "ignored_auth", "negative_data_rejection"} <= set(names)
    assert {"positive_data_acceptance", "use_after_free", "ensure_resource_availability"} <= set(
        names
    )


@pytest.mark.parametrize("role", ROLES)
def test_the_api_conforms_to_its_own_openapi(app: FastAPI, db_session: Session, role: str) -> None:
    tally = run_schemathesis(app, role, _headers(role, db_session))
    print("\n" + tally.report())
    assert len(tally.operations) >= 50
    assert tally.requests["examples"] > 0
    assert tally.requests["coverage"] > 0
    assert not tally.failures, tally.report()
