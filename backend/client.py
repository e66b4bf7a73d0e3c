"""The typed Python client of the REST API, for the CLI, the dashboard and other programs.

Every method sends one request and returns the API's own pydantic read model
(``backend.schemas``), validated, or raises :class:`ApiError` carrying the API's error code,
message and request id. It imports only ``backend.schemas`` and httpx (an import-linter
contract keeps it so), so the dashboard may use it as well as the CLI.

    client = ApiClient("http://127.0.0.1:8000", token="...")
    board = client.leaderboard("eos", filters={"openness": "OSOD"}, sort="-failure_rate")
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from backend.schemas.auth import TokenCreated, TokenRead, UserRead
from backend.schemas.campaigns import CampaignCreate, CampaignRead
from backend.schemas.landscapes import PlaneDifference, PlaneSummary, ProjectionRead
from backend.schemas.leaderboard import CombinedLeaderboardRead, LeaderboardRead
from backend.schemas.metrics import MetricRow
from backend.schemas.models import LeakageRead, ModelRead
from backend.schemas.run_artifacts import RunArtifactRead
from backend.schemas.runs import RunDetail, RunRead, RunSummary
from backend.schemas.structures import PrototypeRead

DEFAULT_TIMEOUT_S = 30.0
CHUNK_BYTES = 1024 * 1024
#: Called with the size of each chunk sent, for a progress bar.
Progress = Callable[[int], None]
M = TypeVar("M", bound=BaseModel)


class ApiError(RuntimeError):
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
    """Client of the API at ``base_url`` (e.g. ``http://127.0.0.1:8000``); ``token`` for writes."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # tests pass an httpx.MockTransport
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- health, benchmarks, leaderboards -------------------------------------------------
    def health(self) -> dict[str, Any]:
        """GET /health."""
        body = self._request("GET", "/health")
        if not isinstance(body, dict):
            raise ApiError(f"GET /health on {self.base_url} did not return a JSON object")
        return body

    def benchmarks(self) -> list[dict[str, Any]]:
        """GET /benchmarks: every protocol version with its headline metrics."""
        return self._items_raw("/benchmarks", {"limit": "1000"})

    def leaderboard(
        self,
        benchmark: str,
        level_of_theory: str | None = None,
        *,
        params_hash: str | None = None,
        filters: dict[str, str] | None = None,
        sort: str | None = None,
        include_entries: bool = True,
        limit: int = 1000,
        offset: int = 0,
    ) -> LeaderboardRead:
        """GET /leaderboards/{benchmark}: one protocol's board (``params_hash`` and
        ``level_of_theory`` None: the standard parameter set and the benchmark's own level);
        ``filters``: training_set, openness, family, element, structure_set."""
        params = {
            **({"level_of_theory": level_of_theory} if level_of_theory else {}),
            **({"params_hash": params_hash} if params_hash else {}),
            "include_entries": str(include_entries).lower(),
            "limit": str(limit),
            "offset": str(offset),
            **({"sort": sort} if sort else {}),
            **(filters or {}),
        }
        path = f"/leaderboards/{quote(benchmark, safe='')}"
        return self._get_board(path, params, lambda body: _validate(LeaderboardRead, body, path))

    def combined(
        self,
        benchmarks: list[str],
        weights: dict[str, float] | None = None,
        level_of_theory: str | None = None,
        *,
        filters: dict[str, str] | None = None,
        limit: int = 1000,
    ) -> CombinedLeaderboardRead:
        """GET /leaderboards?benchmarks=..&weights=..: the combined score of the standard
        boards (``level_of_theory`` None: each benchmark's own)."""
        params = {
            "benchmarks": ",".join(benchmarks),
            **({"level_of_theory": level_of_theory} if level_of_theory else {}),
            "limit": str(limit),
            **(filters or {}),
        }
        if weights:
            params["weights"] = ",".join(f"{k}:{v:g}" for k, v in weights.items())
        return self._get_board(
            "/leaderboards",
            params,
            lambda body: _validate(CombinedLeaderboardRead, body, "/leaderboards"),
        )

    def metrics(self, *, limit: int = 1000, offset: int = 0, **filters: str) -> list[MetricRow]:
        """GET /metrics (run_id, model_id, benchmark, name filters): one page."""
        params = {**filters, "limit": str(limit), "offset": str(offset)}
        return _items(MetricRow, self._request("GET", "/metrics", params=params), "/metrics")

    def export(self, what: str, fmt: str = "csv", **params: str) -> bytes:
        """GET /exports/{what}?format=...: the file's bytes (``leaderboards/eos``, ``metrics``,
        ``structure-sets/<name>``, ``runs/<id>/trajectory``)."""
        return self._send("GET", f"/exports/{what}", params={**params, "format": fmt}).content

    # -- models ---------------------------------------------------------------------------
    def models(self, limit: int = 500) -> list[ModelRead]:
        """GET /models, every page: the models visible to the caller."""
        items: list[ModelRead] = []
        while True:
            params = {"limit": str(limit), "offset": str(len(items))}
            page = _items(ModelRead, self._request("GET", "/models", params=params), "/models")
            items += page
            if len(page) < limit:
                return items

    def model_list(self, limit: int = 1000) -> list[ModelRead]:
        return self.models(limit)

    def model(self, model_id: uuid.UUID | str) -> ModelRead:
        path = f"/models/{quote(str(model_id), safe='')}"
        return _validate(ModelRead, self._request("GET", path), path)

    def create_model(self, body: dict[str, Any]) -> ModelRead:
        return _validate(ModelRead, self._request("POST", "/models", json=body), "/models")

    def create_model_yaml(self, text: str) -> ModelRead:
        """Submit a model card written as YAML; the API parses it (errors name the line)."""
        headers = {"Content-Type": "application/yaml"}
        body = self._request("POST", "/models", content=text.encode(), headers=headers)
        return _validate(ModelRead, body, "/models")

    def upload_model_file(
        self, model_id: uuid.UUID, path: Path, progress: Progress | None = None
    ) -> ModelRead:
        """Stream a model file to ``PUT /models/{id}/file`` in chunks."""
        return self._upload(f"/models/{model_id}/file", path, "application/octet-stream", progress)

    def upload_training_set(
        self, model_id: uuid.UUID, path: Path, progress: Progress | None = None
    ) -> ModelRead:
        """Stream an extxyz training set to ``PUT /models/{id}/training-set`` in chunks."""
        url = f"/models/{model_id}/training-set"
        return self._upload(url, path, "chemical/x-extxyz", progress)

    def leakage(self, model_id: uuid.UUID) -> LeakageRead:
        path = f"/models/{model_id}/leakage"
        return _validate(LeakageRead, self._request("GET", path), path)

    def prototypes(self) -> list[PrototypeRead]:
        """The crystal prototypes of the stored structures (the boards' prototype filter)."""
        body = self._request("GET", "/prototypes")
        if not isinstance(body, list):
            raise ApiError(f"GET /prototypes on {self.base_url} did not return a list")
        return [_validate(PrototypeRead, item, "/prototypes") for item in body]

    # -- campaigns and runs ---------------------------------------------------------------
    def create_campaign(self, spec: CampaignCreate) -> CampaignRead:
        body = self._request("POST", "/campaigns", json=spec.model_dump(mode="json"))
        return _validate(CampaignRead, body, "/campaigns")

    def campaign(self, campaign_id: uuid.UUID | str) -> CampaignRead:
        path = f"/campaigns/{quote(str(campaign_id), safe='')}"
        return _validate(CampaignRead, self._request("GET", path), path)

    def campaigns(self, limit: int = 50) -> list[CampaignRead]:
        body = self._request("GET", "/campaigns", params={"limit": str(limit)})
        return _items(CampaignRead, body, "/campaigns")

    def campaign_runs(
        self, campaign_id: uuid.UUID | str, status: str | None = None, limit: int = 100
    ) -> list[RunRead]:
        path = f"/campaigns/{quote(str(campaign_id), safe='')}/runs"
        params = {"limit": str(limit), **({"status": status} if status else {})}
        return _items(RunRead, self._request("GET", path, params=params), path)

    def cancel_campaign(self, campaign_id: uuid.UUID | str) -> CampaignRead:
        path = f"/campaigns/{quote(str(campaign_id), safe='')}/cancel"
        return _validate(CampaignRead, self._request("POST", path), path)

    def rerun_campaign(
        self,
        campaign_id: uuid.UUID | str,
        statuses: list[str] | None = None,
        failure_classes: list[str] | None = None,
    ) -> CampaignRead:
        """POST /campaigns/{id}/rerun: queue the campaign's failed (or cancelled) runs again."""
        path = f"/campaigns/{quote(str(campaign_id), safe='')}/rerun"
        params = {"status": ",".join(statuses or ["failed"])}
        if failure_classes:
            params["failure_class"] = ",".join(failure_classes)
        return _validate(CampaignRead, self._request("POST", path, params=params), path)

    def run(self, run_id: uuid.UUID | str) -> RunDetail:
        path = f"/runs/{quote(str(run_id), safe='')}"
        return _validate(RunDetail, self._request("GET", path), path)

    def run_artifacts(self, run_id: uuid.UUID | str) -> list[RunArtifactRead]:
        """GET /runs/{id}/artifacts: the files a run produced (trajectories)."""
        path = f"/runs/{quote(str(run_id), safe='')}/artifacts"
        body = self._request("GET", path, params={"limit": "1000"})
        return _items(RunArtifactRead, body, path)

    def open_run_artifact(self, run_id: uuid.UUID | str, name: str) -> httpx.Response:
        """GET /runs/{id}/artifacts/{name}, streamed: an open response whose body the caller
        reads (``iter_bytes()``) and then closes; ApiError for an error answer."""
        path = f"/runs/{quote(str(run_id), safe='')}/artifacts/{quote(name, safe='')}"
        try:
            response = self._http.send(self._http.build_request("GET", path), stream=True)
        except httpx.HTTPError as exc:
            message = f"Cannot reach the API at {self.base_url} (GET {path}): {exc}"
            raise ApiError(message) from exc
        if response.is_error:
            response.read()
            response.close()
            raise _error_from_response(response, f"GET {path}")
        return response

    def runs(self, *, limit: int = 1000, max_pages: int = 20, **filters: str) -> list[RunSummary]:
        """GET /runs with filters (model_id, benchmark, status, campaign_id, structure_set,
        element, series, include_metrics), following pages up to ``max_pages``."""
        items: list[RunSummary] = []
        for _ in range(max_pages):
            params = {**filters, "limit": str(limit), "offset": str(len(items))}
            page = _items(RunSummary, self._request("GET", "/runs", params=params), "/runs")
            items += page
            if len(page) < limit:
                break
        return items

    # -- energy landscapes ----------------------------------------------------------------
    def landscape_planes(self, structure_id: str | None = None) -> list[PlaneSummary]:
        """GET /landscapes/planes: runs with a stored landscape plane."""
        params = {"structure_id": structure_id} if structure_id else None
        body = self._request("GET", "/landscapes/planes", params=params)
        return [_validate(PlaneSummary, item, "/landscapes/planes") for item in body]

    def landscape_projection(self, run_id: uuid.UUID | str, name: str) -> ProjectionRead:
        """GET /landscapes/runs/{id}/{name}: a stored plane or map of a run."""
        path = f"/landscapes/runs/{quote(str(run_id), safe='')}/{quote(name, safe='')}"
        return _validate(ProjectionRead, self._request("GET", path), path)

    def landscape_difference(
        self, run_a: uuid.UUID | str, run_b: uuid.UUID | str
    ) -> PlaneDifference:
        """GET /landscapes/compare: A - B on one plane and its RMSE."""
        params = {"run_a": str(run_a), "run_b": str(run_b)}
        body = self._request("GET", "/landscapes/compare", params=params)
        return _validate(PlaneDifference, body, "/landscapes/compare")

    # -- latent representations -----------------------------------------------------------
    def representations(self) -> dict[str, Any] | None:
        """GET /representations: the latest cross-run summary of the representation runs, as
        stored (with ``summary_id`` and ``created_at``); None when there is none yet (404)."""
        try:
            body = self._request("GET", "/representations")
        except ApiError as exc:
            if exc.status_code == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise ApiError(f"GET /representations on {self.base_url} did not return an object")
        return body

    # -- transport ------------------------------------------------------------------------
    # -- API tokens (the caller's own) ----------------------------------------------------
    def create_token(self, name: str = "default") -> TokenCreated:
        """POST /tokens: a new token; its secret is ``.token``, shown this once."""
        body = self._request("POST", "/tokens", json={"name": name})
        return _validate(TokenCreated, body, "/tokens")

    def tokens(self, limit: int = 1000) -> list[TokenRead]:
        """GET /tokens: the caller's tokens, revoked ones included, without secrets."""
        return _items(
            TokenRead, self._request("GET", "/tokens", params={"limit": limit}), "/tokens"
        )

    def revoke_token(self, token_id: uuid.UUID | str) -> None:
        """DELETE /tokens/{id}: the token gives 401 from then on."""
        self._send("DELETE", f"/tokens/{token_id}")

    # -- users (admins) -------------------------------------------------------------------
    def users(self, limit: int = 1000) -> list[UserRead]:
        """GET /users: every user, by name (admins only)."""
        return _items(UserRead, self._request("GET", "/users", params={"limit": limit}), "/users")

    def user_tokens(self, user_id: uuid.UUID | str, limit: int = 1000) -> list[TokenRead]:
        """GET /users/{id}/tokens: a user's tokens, revoked ones included (admins only)."""
        path = f"/users/{user_id}/tokens"
        return _items(TokenRead, self._request("GET", path, params={"limit": limit}), path)

    def revoke_user_token(self, user_id: uuid.UUID | str, token_id: uuid.UUID | str) -> None:
        """DELETE /users/{id}/tokens/{token_id}: the token gives 401 from then on (admins)."""
        self._send("DELETE", f"/users/{user_id}/tokens/{token_id}")

    def _items_raw(self, path: str, params: dict[str, str]) -> list[Any]:
        body = self._request("GET", path, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise ApiError(f"GET {path} on {self.base_url} did not return a page of items")
        return list(body["items"])

    def _upload(
        self, url: str, path: Path, content_type: str, progress: Progress | None
    ) -> ModelRead:
        headers = {"Content-Type": content_type, "Content-Length": str(path.stat().st_size)}
        body = self._request("PUT", url, content=_chunks(path, progress), headers=headers)
        return _validate(ModelRead, body, url)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
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

    def _get_board(self, path: str, params: dict[str, str], parse: Callable[[Any], M]) -> M:
        """GET a board (one benchmark's or the combined one) and parse it; the dashboard's
        client overrides this to revalidate kept boards by ETag (frontend/api_client.py)."""
        return parse(self._request("GET", path, params=params))

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._json(self._send(method, path, **kwargs), method, path)

    def _json(self, response: httpx.Response, method: str, path: str) -> Any:
        """The response's JSON body; ApiError when it is not JSON."""
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"{method} {path} on {self.base_url} returned a body that is not JSON "
                f"(HTTP {response.status_code})",
                status_code=response.status_code,
            ) from exc


#: The CLI's historical name.


def _validate(schema: type[M], body: Any, path: str) -> M:
    """``schema.model_validate(body)``, or an ApiError naming the endpoint and the problem."""
    try:
        return schema.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApiError(
            f"{path} returned an unexpected body (not a {schema.__name__}): "
            f"{exc.error_count()} validation error(s), first: {first['msg']} at {first['loc']}"
        ) from exc


def _items(schema: type[M], body: Any, path: str) -> list[M]:
    """The validated ``items`` of a page (``{"items", "limit", "offset", "total"}``)."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise ApiError(f"{path} did not return a page of items")
    return [_validate(schema, item, path) for item in body["items"]]


def _error_from_response(response: httpx.Response, what: str) -> ApiError:
    """The API's ``{"error": {"code", "message", "where", "request_id"}}`` as an ApiError."""
    status = response.status_code
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        code = str(error["code"]) if error.get("code") is not None else None
        request_id = str(error["request_id"]) if error.get("request_id") is not None else None
        details = [f"HTTP {status}", *([code] if code else [])]
        if request_id:
            details.append(f"request {request_id}")
        return ApiError(
            f"{what}: {error['message']} ({', '.join(details)})",
            status_code=status,
            code=code,
            request_id=request_id,
        )
    return ApiError(
        f"The API answered HTTP {status} {response.reason_phrase} for {what}", status_code=status
    )


def _chunks(path: Path, progress: Progress | None) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk
            if progress is not None:
                progress(len(chunk))
