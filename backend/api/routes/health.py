from __future__ import annotations

from typing import Any

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from backend.db.session import get_engine
from backend.settings import get_settings

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health-live")
def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", operation_id="health-ready")
def ready() -> JSONResponse:
    """Postgres and Redis answer; 503 naming the one that does not."""
    checks: dict[str, Any] = {}
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"unreachable: {exc.__class__.__name__}"
    try:
        client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=2)
        client.ping()
        client.close()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unreachable: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", **checks}, 200 if ok else 503)
