"""The dashboard's only HTTP code: a small typed client of the platform's REST API.

Bodies the API sends with an ``ETag`` (the leaderboards) are kept, parsed, in a process-wide
cache and re-validated with ``If-None-Match`` on every read: an unchanged board costs a 304 and
no parsing, and a new result shows on the very next read (no time-to-live to wait out).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from backend.schemas.campaigns import CampaignRead
from backend.schemas.landscapes import PlaneDifference, PlaneSummary, ProjectionRead
from backend.schemas.leaderboard import CombinedLeaderboardRead, LeaderboardRead
from backend.schemas.models import ModelRead
from backend.schemas.run_artifacts import RunArtifactRead
from backend.schemas.runs import RunDetail, RunRead, RunSummary

DEFAULT_TIMEOUT_S = 10.0
T = TypeVar("T")


class ConditionalCache:
    """Parsed bodies by request, each with the ETag it came with (least recently used out)."""

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # 304s answered from here (for tests and the bench)

    def get(self, key: tuple[Any, ...]) -> tuple[str, Any] | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], etag: str, value: Any) -> None:
        with self._lock:
            self._entries[key] = (etag, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def hit(self) -> None:
        with self._lock:
            self.hits += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = 0


CONDITIONAL = ConditionalCache()
_POOLS: dict[tuple[str, float], httpx.Client] = {}
_POOLS_LOCK = threading.Lock()


def _pool(base_url: str, timeout: float) -> httpx.Client:
    """One keep-alive connection pool per API (httpx clients are safe to share across threads)."""
    with _POOLS_LOCK:
        client = _POOLS.get((base_url, timeout))
        if client is None:
            client = httpx.Client(base_url=base_url, timeout=timeout)
            _POOLS[(base_url, timeout)] = client
        return client


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

    def leaderboard(
        self,
        benchmark: str,
        level_of_theory: str = "experiment",
        *,
        filters: dict[str, str] | None = None,
        include_entries: bool = True,
        limit: int = 1000,
    ) -> LeaderboardRead:
        """GET /leaderboards/{benchmark} (one page of up to ``limit`` models), validated against
        the API's schema; ``filters``: training_set, openness, family, element, structure_set."""
        path = f"/leaderboards/{quote(benchmark, safe='')}"
        params = {
            "level_of_theory": level_of_theory,
            "include_entries": str(include_entries).lower(),
            "limit": str(limit),
            **(filters or {}),
        }
        return self._get_conditional(
            path, params, lambda body: _validate(LeaderboardRead, body, path)
        )

    def combined(
        self,
        benchmarks: list[str],
        weights: dict[str, float],
        level_of_theory: str = "experiment",
        *,
        filters: dict[str, str] | None = None,
        limit: int = 1000,
    ) -> CombinedLeaderboardRead:
        """GET /leaderboards?benchmarks=..&weights=..: the API's combined score."""
        params = {
            "benchmarks": ",".join(benchmarks),
            "weights": ",".join(f"{k}:{v:g}" for k, v in weights.items()),
            "level_of_theory": level_of_theory,
            "limit": str(limit),
            **(filters or {}),
        }
        return self._get_conditional(
            "/leaderboards",
            params,
            lambda body: _validate(CombinedLeaderboardRead, body, "/leaderboards"),
        )

    def benchmarks(self) -> list[dict[str, Any]]:
        """GET /benchmarks: every protocol version with its headline metrics."""
        body = self._get_json("/benchmarks", params={"limit": "1000"})
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise ApiError(f"GET /benchmarks on {self.base_url} did not return a list")
        return items

    def models(self, limit: int = 500) -> list[ModelRead]:
        """GET /models (every page): the models visible without a token."""
        items: list[ModelRead] = []
        while True:
            params = {"limit": str(limit), "offset": str(len(items))}
            page = _items(ModelRead, self._get_json("/models", params=params), "/models")
            items += page
            if len(page) < limit:
                return items

    def model(self, model_id: str) -> ModelRead:
        """GET /models/{id}."""
        path = f"/models/{quote(model_id, safe='')}"
        return _validate(ModelRead, self._get_json(path), path)

    def runs(self, *, limit: int = 1000, max_pages: int = 20, **filters: str) -> list[RunSummary]:
        """GET /runs with filters (model_id, benchmark, status, campaign_id, structure_set,
        element), following pages up to ``max_pages``."""
        items: list[RunSummary] = []
        for _ in range(max_pages):
            params = {**filters, "limit": str(limit), "offset": str(len(items))}
            page = _items(RunSummary, self._get_json("/runs", params=params), "/runs")
            items += page
            if len(page) < limit:
                break
        return items

    def run(self, run_id: str) -> RunDetail:
        """GET /runs/{id}: status, provenance, metrics and series."""
        path = f"/runs/{quote(run_id, safe='')}"
        return _validate(RunDetail, self._get_json(path), path)

    def campaigns(self, limit: int = 50) -> list[CampaignRead]:
        """GET /campaigns: newest first, with progress."""
        body = self._get_json("/campaigns", params={"limit": str(limit)})
        return _items(CampaignRead, body, "/campaigns")

    def campaign_runs(self, campaign_id: str, status: str, limit: int = 100) -> list[RunRead]:
        """GET /campaigns/{id}/runs?status=..."""
        path = f"/campaigns/{quote(campaign_id, safe='')}/runs"
        body = self._get_json(path, params={"status": status, "limit": str(limit)})
        return _items(RunRead, body, path)

    def cancel_campaign(self, campaign_id: str, token: str) -> CampaignRead:
        """POST /campaigns/{id}/cancel with an admin token."""
        path = f"/campaigns/{quote(campaign_id, safe='')}/cancel"
        body = self._request("POST", path, headers={"Authorization": f"Bearer {token}"})
        return _validate(CampaignRead, body, path)

    def landscape_planes(self, structure_id: str | None = None) -> list[PlaneSummary]:
        """GET /landscapes/planes: runs with a stored landscape plane."""
        params = {"structure_id": structure_id} if structure_id else None
        body = self._get_json("/landscapes/planes", params=params)
        return [_validate(PlaneSummary, item, "/landscapes/planes") for item in body]

    def landscape_projection(self, run_id: str, name: str) -> ProjectionRead:
        """GET /landscapes/runs/{id}/{name}: a stored plane or map of a run."""
        path = f"/landscapes/runs/{quote(run_id, safe='')}/{quote(name, safe='')}"
        return _validate(ProjectionRead, self._get_json(path), path)

    def landscape_difference(self, run_a: str, run_b: str) -> PlaneDifference:
        """GET /landscapes/compare: A - B on one plane and its RMSE."""
        body = self._get_json("/landscapes/compare", params={"run_a": run_a, "run_b": run_b})
        return _validate(PlaneDifference, body, "/landscapes/compare")

    def _get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self._request("GET", path, params=params)

    def _get_conditional(self, path: str, params: dict[str, str], parse: Callable[[Any], T]) -> T:
        """GET ``path``; the cached parse of the body if the API answers 304 to its ETag."""
        key = (self.base_url, id(self._transport), path, tuple(sorted(params.items())))
        cached = CONDITIONAL.get(key)
        headers = {"If-None-Match": cached[0]} if cached else None
        response = self._send("GET", path, params, headers)
        if response.status_code == 304 and cached is not None:
            CONDITIONAL.hit()
            value: T = cached[1]
            return value
        value = parse(self._decode(response, "GET", path))
        if etag := response.headers.get("ETag"):
            CONDITIONAL.put(key, etag, value)
        return value

    def _request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        return self._decode(self._send(method, path, params, headers), method, path)

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        try:
            if self._transport is None:
                response = _pool(self.base_url, self.timeout).request(
                    method, path, params=params, headers=headers
                )
            else:
                with httpx.Client(
                    base_url=self.base_url, timeout=self.timeout, transport=self._transport
                ) as client:
                    response = client.request(method, path, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise ApiError(
                f"The API at {self.base_url} did not answer {method} {path} "
                f"within {self.timeout:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise ApiError(
                f"Cannot reach the API at {self.base_url} ({method} {path}): "
                f"{exc or type(exc).__name__}"
            ) from exc
        if response.is_error:
            raise _error_from_response(response, f"{method} {path}")
        return response

    def _decode(self, response: httpx.Response, method: str, path: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"{method} {path} on {self.base_url} returned a body that is not JSON "
                f"(HTTP {response.status_code})",
                status_code=response.status_code,
            ) from exc

    def run_artifacts(self, run_id: str) -> list[RunArtifactRead]:
        """GET /runs/{id}/artifacts: the files a run produced (trajectories), by name."""
        path = f"/runs/{quote(run_id, safe='')}/artifacts"
        return _items(RunArtifactRead, self._get_json(path, params={"limit": "1000"}), path)

    def open_run_artifact(self, run_id: str, name: str) -> httpx.Response:
        """GET /runs/{id}/artifacts/{name}, streamed: an open response whose body the caller
        reads with ``iter_bytes()`` and then closes (ApiError for an error answer)."""
        path = f"/runs/{quote(run_id, safe='')}/artifacts/{quote(name, safe='')}"
        if self._transport is None:
            client = _pool(self.base_url, self.timeout)
        else:
            client = httpx.Client(
                base_url=self.base_url, timeout=self.timeout, transport=self._transport
            )
        try:
            response = client.send(client.build_request("GET", path), stream=True)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"Cannot reach the API at {self.base_url} (GET {path}): {exc or type(exc).__name__}"
            ) from exc
        if response.is_error:
            response.read()
            response.close()
            raise _error_from_response(response, f"GET {path}")
        return response


def _validate(schema: Any, body: Any, path: str) -> Any:
    """``schema.model_validate(body)``, or an ApiError naming the endpoint and the first problem."""
    try:
        return schema.model_validate(body)
    except ValidationError as exc:
        raise ApiError(
            f"{path} returned an unexpected body: {exc.error_count()} validation error(s), "
            f"first: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}"
        ) from exc


def _items(schema: Any, body: Any, path: str) -> list[Any]:
    """The validated ``items`` of a page body (``{"items": [...], "limit", "offset", ...}``)."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise ApiError(f"{path} did not return a page of items")
    return [_validate(schema, item, path) for item in body["items"]]


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
        f"The API answered HTTP {status} {response.reason_phrase} for {path}",
        status_code=status,
    )
