"""Runs are sent to the queue of their model family, on the real Redis."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from backend.services import queue
from backend.settings import get_settings


@pytest.fixture
def routed(database_url: str) -> Iterator[tuple[str, str]]:
    own, default = f"route-{uuid.uuid4().hex[:8]}", get_settings().celery_queue
    os.environ["MLIPM_FAMILY_QUEUES"] = json.dumps({"mace": own})
    get_settings.cache_clear()
    yield own, default
    os.environ.pop("MLIPM_FAMILY_QUEUES")
    get_settings.cache_clear()
    redis.Redis.from_url(get_settings().redis_url).delete(*_lists(own))


def _lists(queue_name: str) -> tuple[str, str]:
    """The broker's lists of a queue: (recovered runs, popped first; launched runs)."""
    return queue_name, f"{queue_name}{queue.PRIORITY_SEP}{queue.NORMAL_PRIORITY}"


def test_a_family_with_its_own_queue_is_routed_there(routed: tuple[str, str]) -> None:
    own, default = routed
    broker = redis.Redis.from_url(get_settings().redis_url)
    before = [broker.llen(name) for name in _lists(default)]
    queue.enqueue([(uuid.uuid4(), 60, 70, "mace"), (uuid.uuid4(), 60, 70, "mace")])
    assert [broker.llen(name) for name in _lists(own)] == [0, 2]
    assert [broker.llen(name) for name in _lists(default)] == before
    raw: Any = broker.lindex(_lists(own)[1], 0)
    message = json.loads(raw)
    assert message["headers"]["task"] == "runs.execute"
    assert message["headers"]["timelimit"] == [70, 60]  # hard, soft: the benchmark's own limits
    queue.enqueue([(uuid.uuid4(), 60, 70, "mace")], front=True)
    assert [broker.llen(name) for name in _lists(own)] == [1, 2]
    broker.delete(*_lists(own))
