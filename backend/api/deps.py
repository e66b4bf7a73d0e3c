"""Request dependencies: a session per request (committed before the response), auth."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from backend.api.body_limit import streams_own
from backend.db.session import session_scope
from backend.db.tables import User
from backend.domain.phases import SpaceGroupReader
from backend.domain.statuses import Role
from backend.schemas.models import ModelCreate
from backend.services import users
from backend.services.bounded import ParseLimits, run_bounded, warm_up
from backend.services.structures import ParsedFileData, StructureParser, UploadLimits
from backend.services.training_sets import TrainingSetReader, TrainingSetSummaryData
from backend.settings import get_settings
from shared_kernel.errors import InvalidInput, NotAuthenticated, PayloadTooLarge, PermissionDenied


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


#: Imported once by the parsers' forkserver (never by the API process), so that each bounded
#: parse is a fork, not a fresh import of ASE.
log = logging.getLogger(__name__)
PARSER_MODULES = ("workers.structure_files", "workers.training_sets")


def training_set_reader(request: Request) -> TrainingSetReader:
    """The training-set reader the app was created with (see backend.main), run in a child
    process under the parse limits (``backend.services.bounded``)."""
    reader: TrainingSetReader = request.app.state.training_set_reader
    return partial(_read_training_set_bounded, reader)


TrainingSetReaderDep = Annotated[TrainingSetReader, Depends(training_set_reader)]


def structure_parser(request: Request) -> StructureParser:
    """The structure-file parser the app was created with (see backend.main), run in a child
    process under the parse limits (``backend.services.bounded``)."""
    parser: StructureParser = request.app.state.structure_parser
    return partial(_parse_structures_bounded, parser)


def _parse_limits(*, timeout_s: float, timeout_setting: str) -> ParseLimits:
    settings = get_settings()
    return ParseLimits(
        memory_mb=settings.parse_memory_mb,
        timeout_s=timeout_s,
        max_concurrent=settings.parse_max_concurrent,
        timeout_setting=timeout_setting,
    )


def warm_up_parsers() -> None:
    """Start the upload parsers' forkserver with the default parsers' modules imported (each
    ``mlipm api`` process calls this before it listens, so that the first upload does not
    wait and the first requests do not share the CPU with it)."""
    try:
        seconds = warm_up(("backend.main", *PARSER_MODULES))
    except Exception:  # the first upload starts it then
        log.exception("the upload parsers could not be warmed up")
    else:
        log.info("upload parsers ready in %.1f s", seconds)


def _preload(parser: object) -> tuple[str, ...]:
    return (getattr(parser, "__module__", None) or "backend.main", *PARSER_MODULES)


def _parse_structures_plain(
    parser: StructureParser,
    path: Path,
    fmt: str | None,
    filename: str | None,
    limits: UploadLimits,
) -> ParsedFileData:
    """In the child: parse, and return plain data (no class of the parser's modules)."""
    return ParsedFileData.of(parser(path, fmt, filename, limits))


def _read_training_set_plain(reader: TrainingSetReader, path: Path) -> TrainingSetSummaryData:
    """In the child: read, and return plain data (no class of the reader's modules)."""
    return TrainingSetSummaryData.of(reader(path))


def _parse_structures_bounded(
    parser: StructureParser,
    path: Path,
    fmt: str | None,
    filename: str | None,
    limits: UploadLimits,
) -> ParsedFileData:
    bounds = _parse_limits(
        timeout_s=get_settings().parse_timeout_s, timeout_setting="MLIPM_PARSE_TIMEOUT_S"
    )
    return run_bounded(
        _parse_structures_plain,
        parser,
        path,
        fmt,
        filename,
        limits,
        limits=bounds,
        preload=_preload(parser),
        what="the structure file",
    )


def _read_training_set_bounded(reader: TrainingSetReader, path: Path) -> TrainingSetSummaryData:
    bounds = _parse_limits(
        timeout_s=get_settings().training_set_parse_timeout_s,
        timeout_setting="MLIPM_TRAINING_SET_PARSE_TIMEOUT_S",
    )
    return run_bounded(
        _read_training_set_plain,
        reader,
        path,
        limits=bounds,
        preload=_preload(reader),
        what="the training set",
    )


StructureParserDep = Annotated[StructureParser, Depends(structure_parser)]


def space_group_reader(request: Request) -> SpaceGroupReader:
    """The structure space-group reader the app was created with (see backend.main)."""
    reader: SpaceGroupReader = request.app.state.space_group_reader
    return reader


SpaceGroupReaderDep = Annotated[SpaceGroupReader, Depends(space_group_reader)]

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
MAX_CARD_BYTES = 1024 * 1024


async def model_create_body(request: Request) -> ModelCreate:
    """The body of ``POST /models``: JSON, or YAML when the Content-Type says so.

    A card is at most 1 MiB, nested at most ``MLIPM_MAX_CARD_DEPTH`` deep, and YAML aliases
    are refused (a few hundred bytes of them expand to gigabytes), so parsing it here, in the
    API process, stays linear in its size.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CARD_BYTES:
        raise PayloadTooLarge("a model card is limited to 1 MiB", where="body")
    raw = await request.body()
    if len(raw) > MAX_CARD_BYTES:
        raise PayloadTooLarge("a model card is limited to 1 MiB", where="body")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    max_depth = get_settings().max_card_depth
    data = _parse_yaml(raw, max_depth) if media in YAML_TYPES else _parse_json(raw)
    _check_depth(data, max_depth)
    try:
        return ModelCreate.model_validate(data)
    except ValidationError as exc:  # the same 422 shape as FastAPI's own body validation
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors, body=data) from exc


def _too_deep(max_depth: int, where: str = "body") -> InvalidInput:
    return InvalidInput(
        f"the document is nested more than {max_depth} levels deep (setting MLIPM_MAX_CARD_DEPTH)",
        where=where,
    )


def _yaml_events_checked(raw: bytes, max_depth: int) -> None:
    """Refuse aliases and deep nesting from the event stream, before anything is built."""
    depth = 0
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for event in yaml.parse(raw, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise InvalidInput(
                f"YAML aliases (*name) are not accepted in a model card (line {line}); "
                "write the value out",
                where=f"body:line {line}",
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise _too_deep(max_depth, where=f"body:line {line}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _parse_yaml(raw: bytes, max_depth: int) -> Any:
    try:
        _yaml_events_checked(raw, max_depth)
        return yaml.safe_load(raw)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = "?" if mark is None else str(mark.line + 1)
        raise InvalidInput(
            f"not valid YAML at line {line}: {exc.problem or exc}", where=f"body:line {line}"
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {exc}", where="body") from exc
    except RecursionError:
        raise _too_deep(max_depth) from None


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:  # the C decoder stops at the interpreter's recursion limit
        raise _too_deep(get_settings().max_card_depth) from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = "body" if line is None else f"body:line {line}"
        raise InvalidInput(f"not valid JSON: {exc}", where=where) from exc


def _check_depth(data: Any, max_depth: int) -> None:
    """Refuse lists and mappings nested deeper than ``max_depth`` (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            raise _too_deep(max_depth)
        stack.extend((child, depth + 1) for child in children)


#: A ``\u0000`` escape in JSON text: preceded by an even number of backslashes, so that an
#: escaped backslash followed by the letters ``u0000`` does not count.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


async def json_without_nul(request: Request) -> None:
    """Refuse (422) a JSON body with a NUL character anywhere: Postgres text and JSONB cannot
    hold one, and the OpenAPI document says so of every string a request sends
    (``api.openapi_schemas``). Raw NUL is not valid JSON, so the escape is what to look for.
    Other bodies, and those of routes that stream their own (uploads), are not read here."""
    route = request.scope.get("route")
    if streams_own(getattr(route, "endpoint", None)):  # the body is the route's to read
        return
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body() if media == "application/json" else b""
    if _JSON_NUL.search(raw):
        where = ".".join(["body", *_nul_path(raw)])
        raise InvalidInput("text cannot hold NUL characters (\\u0000)", where=where)


def _nul_path(raw: bytes) -> list[str]:
    """Where the first NUL is in a JSON document (keys and list indexes), as far as it parses."""
    try:
        pending: list[tuple[list[str], Any]] = [([], json.loads(raw))]
    except (ValueError, RecursionError):
        return []
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return path
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return [*path, key.replace("\x00", "")]
                pending.append(([*path, key], item))
        elif isinstance(value, list):
            pending += [([*path, str(i)], item) for i, item in enumerate(value)]
    return []
