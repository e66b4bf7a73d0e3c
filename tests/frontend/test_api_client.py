"""DashboardClient against an in-process httpx.MockTransport (no network)."""

from __future__ import annotations

import httpx
import pytest

from backend.schemas.leaderboard import LeaderboardRead
from frontend.api_client import ApiError, DashboardClient


def _client(handler: httpx.MockTransport) -> DashboardClient:
    return DashboardClient("http://api.test/", timeout=2, transport=handler)


def test_leaderboard_is_validated(board: LeaderboardRead):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=board.model_dump(mode="json"))

    result = _client(httpx.MockTransport(handler)).leaderboard("eos")

    assert result == board
    assert seen[0].url.path == "/leaderboards/eos"
    # no level and no protocol sent: the API's defaults (the benchmark's own level, the
    # standard parameter set)
    assert "level_of_theory" not in seen[0].url.params
    assert "params_hash" not in seen[0].url.params


def test_api_error_body_becomes_api_error_message():
    body = {"error": {"code": "not_found", "message": "No benchmark 'xyz'", "request_id": "r-1"}}
    transport = httpx.MockTransport(lambda _request: httpx.Response(404, json=body))

    with pytest.raises(ApiError, match="No benchmark 'xyz'") as info:
        _client(transport).leaderboard("xyz")

    assert info.value.status_code == 404
    assert info.value.code == "not_found"
    assert info.value.request_id == "r-1"
    assert "HTTP 404" in info.value.message


def test_error_without_json_body_names_the_status():
    transport = httpx.MockTransport(lambda _request: httpx.Response(502, text="Bad gateway"))

    with pytest.raises(ApiError, match="HTTP 502"):
        _client(transport).health()


def test_unexpected_body_is_an_api_error():
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, json={"rows": []}))

    with pytest.raises(ApiError, match="unexpected body"):
        _client(transport).leaderboard("eos")


def test_unreachable_api_is_an_api_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ApiError, match=r"Cannot reach the API at http://api\.test"):
        _client(httpx.MockTransport(refuse)).leaderboard("eos")


def test_health_returns_the_json_object():
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, json={"status": "ok"}))

    assert _client(transport).health() == {"status": "ok"}
