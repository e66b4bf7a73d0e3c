"""Request dependencies: a session per request (committed before the response), auth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import yaml
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from backend.db.models import Role, User
from backend.db.session import session_scope
from backend.domain.errors import InvalidInput, NotAuthenticated, PayloadTooLarge, PermissionDenied
from backend.domain.phases import SpaceGroupReader
from backend.schemas.models import ModelCreate
from backend.services import users
from backend.services.structures import StructureParser
from backend.services.training_sets import TrainingSetReader


def get_session() -> Iterator[Session]:
    """Unit of work of one request: commit when the route returns, roll back on error."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent, so a client reads its own writes.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer ...`")


def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise NotAuthenticated("this endpoint needs an API token", where="Authorization")
    return users.authenticate(session, credentials.credentials)


CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        raise PermissionDenied("only admins may do this", where="Authorization")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def optional_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | None:
    """The caller if a token is sent (a bad one is still 401); None when anonymous."""
    return None if credentials is None else users.authenticate(session, credentials.credentials)


OptionalUser = Annotated[User | None, Depends(optional_user)]


def training_set_reader(request: Request) -> TrainingSetReader:
    """The training-set reader the app was created with (see backend.main)."""
    reader: TrainingSetReader = request.app.state.training_set_reader
    return reader


TrainingSetReaderDep = Annotated[TrainingSetReader, Depends(training_set_reader)]


def structure_parser(request: Request) -> StructureParser:
    """The structure-file parser the app was created with (see backend.main)."""
    parser: StructureParser = request.app.state.structure_parser
    return parser


StructureParserDep = Annotated[StructureParser, Depends(structure_parser)]


def space_group_reader(request: Request) -> SpaceGroupReader:
    """The structure space-group reader the app was created with (see backend.main)."""
    reader: SpaceGroupReader = request.app.state.space_group_reader
    return reader


SpaceGroupReaderDep = Annotated[SpaceGroupReader, Depends(space_group_reader)]

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
MAX_CARD_BYTES = 1024 * 1024


async def model_create_body(request: Request) -> ModelCreate:
    """The body of ``POST /models``: JSON, or YAML when the Content-Type says so."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CARD_BYTES:
        raise PayloadTooLarge("a model card is limited to 1 MiB", where="body")
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data = _parse_yaml(raw) if media in YAML_TYPES else _parse_json(raw)
    try:
        return ModelCreate.model_validate(data)
    except ValidationError as exc:  # the same 422 shape as FastAPI's own body validation
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors, body=data) from exc


def _parse_yaml(raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = "?" if mark is None else str(mark.line + 1)
        raise InvalidInput(
            f"not valid YAML at line {line}: {exc.problem or exc}", where=f"body:line {line}"
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {exc}", where="body") from exc


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = "body" if line is None else f"body:line {line}"
        raise InvalidInput(f"not valid JSON: {exc}", where=where) from exc
