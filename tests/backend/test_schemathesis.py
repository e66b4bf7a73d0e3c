"""schemathesis against the app's own OpenAPI: no 5xx, responses match their schemas.

Every operation gets a bounded number of generated requests (``MLIPM_SCHEMATHESIS_EXAMPLES``
per operation, 12 by default), sent with an admin token so writes are exercised too, through
the real app on the real Postgres; each request runs in a savepoint of the test's rolled-back
transaction, so nothing is left behind. The operations, examples and failures are printed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from backend.db.models import Role
from backend.services import users

EXAMPLES = int(os.environ.get("MLIPM_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]

# Training sets are uploaded as raw extxyz bytes: send what is generated as bytes.
schemathesis.serializer.alias("chemical/x-extxyz", "application/octet-stream")


@dataclass
class Tally:
    operations: list[str] = field(default_factory=list)
    examples: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


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


def _exercise(operation: schemathesis.APIOperation, headers: dict[str, str], tally: Tally) -> None:
    label = operation.label
    tally.operations.append(label)
    tally.examples[label] = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def exercise(case: schemathesis.Case) -> None:
        tally.examples[label] += 1
        try:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # recorded, so every operation is still exercised
            tally.failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:600]}")

    exercise()


def test_the_api_conforms_to_its_own_openapi(app: FastAPI, db_session: Session) -> None:
    issued = users.ensure_user_with_token(
        db_session, name=f"st-admin-{uuid.uuid4().hex[:6]}", role=Role.ADMIN
    )
    headers = {"Authorization": f"Bearer {issued.token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tally = Tally()
    for result in schema.get_all_operations():
        _exercise(result.ok(), headers, tally)
    total = sum(tally.examples.values())
    print(
        f"\nschemathesis: {len(tally.operations)} operations, {total} examples, "
        f"{len(tally.failures)} failures; statuses {dict(sorted(tally.statuses.items()))}"
    )
    for label in tally.operations:
        print(f"  {tally.examples[label]:4d}  {label}")
    for failure in tally.failures:
        print(f"  FAILURE {failure}")
    assert len(tally.operations) >= 20
    assert not tally.failures, "\n".join(tally.failures)
