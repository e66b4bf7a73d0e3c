"""A small typed client of the REST API for the CLI (campaigns, progress, leaderboards)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from backend.schemas.campaigns import CampaignCreate, CampaignRead
from backend.schemas.leaderboard import LeaderboardRead


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
