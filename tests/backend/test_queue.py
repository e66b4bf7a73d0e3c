"""Runs are sent to the queue of their model family, on the real Redis."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import redis

from backend.services import queue
from backend.settings import get_settings


@pytest.fixture
def routed(database_url: str) -> tuple[str, str]:
    own, default = f"route-{uuid.uuid4().hex[:8]}", get_settings().celery_queue
    os.environ["MLIPM_FAMILY_QUEUES"] = json.dumps({"mace": own})
    get_settings.cache_clear()
    yield own, default
    os.environ.pop("MLIPM_FAMILY_QUEUES")
    get_settings.cache_clear()
    redis.Redis.from_url(get_settings().redis_url).delete(own)


def test_a_family_with_its_own_queue_is_routed_there(routed: tuple[str, str]) -> None:
    own, default = routed
    broker = redis.Redis.from_url(get_settings().redis_url)
    before = broker.llen(default)
    queue.enqueue([(uuid.uuid4(), 60, 70, "mace"), (uuid.uuid4(), 60, 70, "mace")])
    assert broker.llen(own) == 2
    assert broker.llen(default) == before
    message = json.loads(broker.lindex(own, 0))
    assert message["headers"]["task"] == "runs.execute"
    assert message["headers"]["timelimit"] == [70, 60]  # hard, soft: the benchmark's own limits
