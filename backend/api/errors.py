"""Every error leaves the API in one JSON shape; domain errors map to HTTP here, once."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.schemas.common import INCONSISTENT
from shared_kernel.errors import (
    Conflict,
    DomainError,
    Inconsistent,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)

log = logging.getLogger(__name__)

STATUS = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    PayloadTooLarge: 413,
}


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else uuid.uuid4().hex


def error_response(
    request: Request, status: int, code: str, message: str, where: str | None = None
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "where": where,
            "request_id": request_id(request),
        }
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def internal_error(request: Request) -> JSONResponse:
    """The 500 of an error nothing handled, with the request's id (body and header)."""
    response = error_response(request, 500, "internal_error", "internal error; see server logs")
    response.headers["X-Request-ID"] = request_id(request)
    return response


def _too_deep(request: Request) -> JSONResponse:
    return error_response(
        request, 422, "invalid_input", "the request body is nested too deeply", "body"
    )


#: FastAPI's 400 for a body it cannot decode (not UTF-8, a broken form).
_UNPARSABLE_BODY = "There was an error parsing the body"


def malformed_body(request: Request, exc: StarletteHTTPException) -> JSONResponse | None:
    """A body that cannot be decoded is invalid input like a body that is not valid JSON: the
    one documented 422, not FastAPI's undocumented 400. None for any other HTTP error."""
    if exc.status_code != 400 or exc.detail != _UNPARSABLE_BODY:
        return None
    cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
    message = f"the request body cannot be decoded{cause}"
    return error_response(request, 422, "invalid_input", message, "body")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 400)
        return error_response(request, status, exc.code, exc.message, exc.where)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        where = ".".join(str(p) for p in exc.errors()[0].get("loc", ())) if exc.errors() else None
        # only fields that contradict each other: what no JSON Schema can state
        types = {err.get("type") for err in exc.errors()}
        code = Inconsistent.code if types == {INCONSISTENT} else InvalidInput.code
        return error_response(request, 422, code, "; ".join(problems), where)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, RecursionError):  # FastAPI's JSON body parse gave up
            return _too_deep(request)
        return malformed_body(request, exc) or error_response(
            request, exc.status_code, "http_error", str(exc.detail)
        )

    @app.exception_handler(RecursionError)
    async def _recursion(request: Request, exc: RecursionError) -> JSONResponse:
        # Only a nested input gets this deep (a JSON body, a parsed document): the input is
        # refused, the server is fine.
        return _too_deep(request)

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return error_response(
            request, 503, "database_unavailable", "the database is not reachable; retry shortly"
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # A value Postgres cannot hold (a NUL character in text, an integer beyond 64 bits):
        # the input is wrong, not the server; found by schemathesis.
        detail = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        return error_response(
            request, 422, "invalid_input", f"a value cannot be stored: {detail or exc.orig}"
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        return error_response(request, 409, "conflict", f"conflicts with stored data: {exc.orig}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return internal_error(request)
