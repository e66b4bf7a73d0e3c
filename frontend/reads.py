"""API reads shared by several pages, through the process cache (see ``frontend.cache``)."""

from __future__ import annotations

from backend.schemas.runs import RunSummary
from backend.settings import get_settings
from frontend.app import current_api_client
from frontend.cache import cached


def ttl_s() -> float:
    """How long a read is reused: a little less than the pages' polling period."""
    return 0.8 * get_settings().dashboard_poll_ms / 1000


def model_runs(model_id: str) -> list[RunSummary]:
    """Every run of a model with its metrics and references."""
    client = current_api_client()
    return cached(
        ("model-runs", client.base_url, model_id),
        ttl_s(),
        lambda: client.runs(model_id=model_id, include_metrics="true"),
    )
