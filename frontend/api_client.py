"""The dashboard's only HTTP code: a small typed client of the platform's REST API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from backend.schemas.leaderboard import LeaderboardRead

DEFAULT_TIMEOUT_S = 10.0


class ApiError(Exception):
    """The API could not be reached, or answered with an error or an unexpected body."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id


class ApiClient:
    """Read-only client of the API at ``base_url`` (e.g. ``http://127.0.0.1:8000``)."""

    def __init__(
        self,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._transport = transport  # tests pass an httpx.MockTransport

    def health(self) -> dict[str, Any]:
        """GET /health."""
        body = self._get_json("/health")
        if not isinstance(body, dict):
            raise ApiError(f"GET /health on {self.base_url} did not return a JSON object")
        return body

    def leaderboard(self, benchmark: str, level_of_theory: str = "experiment") -> LeaderboardRead:
        """GET /leaderboards/{benchmark}, validated against the API's schema."""
        path = f"/leaderboards/{quote(benchmark, safe='')}"
        body = self._get_json(path, params={"level_of_theory": level_of_theory})
        try:
            return LeaderboardRead.model_validate(body)
        except ValidationError as exc:
            raise ApiError(
                f"GET {path} on {self.base_url} returned an unexpected leaderboard: "
                f"{exc.error_count()} validation error(s), first: {exc.errors()[0]['msg']}"
            ) from exc

    def _get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            with httpx.Client(
                base_url=self.base_url, timeout=self.timeout, transport=self._transport
            ) as client:
                response = client.get(path, params=params)
        except httpx.TimeoutException as exc:
            raise ApiError(
                f"The API at {self.base_url} did not answer GET {path} "
                f"within {self.timeout:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise ApiError(
                f"Cannot reach the API at {self.base_url} (GET {path}): {exc or type(exc).__name__}"
            ) from exc
        if response.is_error:
            raise _error_from_response(response, path)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"GET {path} on {self.base_url} returned a body that is not JSON "
                f"(HTTP {response.status_code})",
                status_code=response.status_code,
            ) from exc


def _error_from_response(response: httpx.Response, path: str) -> ApiError:
    """Turn the API's ``{"error": {"code", "message", "request_id"}}`` body into an ApiError."""
    status = response.status_code
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        code = str(error["code"]) if error.get("code") is not None else None
        request_id = str(error["request_id"]) if error.get("request_id") is not None else None
        details = [f"HTTP {status}"]
        if code:
            details.append(code)
        if request_id:
            details.append(f"request {request_id}")
        return ApiError(
            f"{error['message']} ({', '.join(details)})",
            status_code=status,
            code=code,
            request_id=request_id,
        )
    return ApiError(
        f"The API answered HTTP {status} {response.reason_phrase} for GET {path}",
        status_code=status,
    )
