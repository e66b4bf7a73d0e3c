"""A small typed client of the REST API for the CLI (campaigns, models, leaderboards)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from backend.schemas.campaigns import CampaignCreate, CampaignRead
from backend.schemas.leaderboard import LeaderboardRead
from backend.schemas.models import LeakageRead, ModelRead

CHUNK_BYTES = 1024 * 1024
#: Called with the size of each chunk sent, for a progress bar.
Progress = Callable[[int], None]


class ApiError(RuntimeError):
    """The API answered with an error (its message is kept) or could not be reached."""


class PlatformClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self._http.base_url}: {exc}") from exc
        if response.is_error:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            raise ApiError(f"{method} {path} -> {response.status_code}: {message}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return dict(self._request("GET", "/health"))

    def create_campaign(self, spec: CampaignCreate) -> CampaignRead:
        data = self._request("POST", "/campaigns", json=spec.model_dump(mode="json"))
        return CampaignRead.model_validate(data)

    def campaign(self, campaign_id: uuid.UUID) -> CampaignRead:
        return CampaignRead.model_validate(self._request("GET", f"/campaigns/{campaign_id}"))

    def cancel_campaign(self, campaign_id: uuid.UUID) -> CampaignRead:
        data = self._request("POST", f"/campaigns/{campaign_id}/cancel")
        return CampaignRead.model_validate(data)

    def leaderboard(self, benchmark: str, level_of_theory: str = "experiment") -> LeaderboardRead:
        data = self._request(
            "GET", f"/leaderboards/{benchmark}", params={"level_of_theory": level_of_theory}
        )
        return LeaderboardRead.model_validate(data)

    def create_model(self, body: dict[str, Any]) -> ModelRead:
        return ModelRead.model_validate(self._request("POST", "/models", json=body))

    def create_model_yaml(self, text: str) -> ModelRead:
        """Submit a model card written as YAML; the API parses it (errors name the line)."""
        data = self._request(
            "POST",
            "/models",
            content=text.encode(),
            headers={"Content-Type": "application/yaml"},
        )
        return ModelRead.model_validate(data)

    def model_list(self, limit: int = 1000) -> list[ModelRead]:
        """The models the caller may see (approved ones, the caller's own; admins: all)."""
        data = self._request("GET", "/models", params={"limit": limit})
        return [ModelRead.model_validate(m) for m in data["items"]]

    def model(self, model_id: uuid.UUID) -> ModelRead:
        return ModelRead.model_validate(self._request("GET", f"/models/{model_id}"))

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
        return LeakageRead.model_validate(self._request("GET", f"/models/{model_id}/leakage"))

    def _upload(
        self, url: str, path: Path, content_type: str, progress: Progress | None
    ) -> ModelRead:
        headers = {"Content-Type": content_type, "Content-Length": str(path.stat().st_size)}
        data = self._request("PUT", url, content=_chunks(path, progress), headers=headers)
        return ModelRead.model_validate(data)


def _chunks(path: Path, progress: Progress | None) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk
            if progress is not None:
                progress(len(chunk))
