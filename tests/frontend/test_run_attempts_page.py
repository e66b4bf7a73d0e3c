"""The run page lists a run's earlier attempts (reruns, hard time limit kills, stalled workers)
and names the model version the run belongs to."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from backend.schemas.runs import RunDetail
from frontend.app import create_app


def _detail(attempts: list[dict[str, Any]]) -> RunDetail:
    return RunDetail.model_validate(
        {
            "id": uuid.uuid4(),
            "mlip_model_id": uuid.uuid4(),
            "model_hash": "f" * 64,
            "benchmark_id": uuid.uuid4(),
            "structure_id": uuid.uuid4(),
            "params": {},
            "params_hash": "a" * 64,
            "status": "succeeded",
            "attempt": len(attempts) + 1,
            "failure_class": None,
            "failure_message": None,
            "worker": "w@host#123-abc",
            "started_at": None,
            "finished_at": None,
            "wall_s": 1.0,
            "cpu_s": 1.0,
            "peak_memory_mb": 10.0,
            "provenance": {},
            "model_name": "EMT",
            "model_version": "1",
            "benchmark_key": "eos",
            "benchmark_version": "1.1",
            "material": "Cu",
            "formula": "Cu",
            "elements": ["Cu"],
            "n_atoms": 1,
            "structure_set": "elemental crystals",
            "metrics": [],
            "series": [],
            "attempts": attempts,
        }
    )


def _page(run: RunDetail) -> str:
    create_app("http://127.0.0.1:9")  # pages register only once an app exists
    view = sys.modules["frontend.pages.run"].run_view(run)
    return json.dumps(view.to_plotly_json(), default=lambda o: getattr(o, "to_plotly_json", str)())


def test_earlier_attempts_are_listed_with_their_class_and_message() -> None:
    attempt = {
        "attempt": 1,
        "status": "retried",
        "failure_class": "worker_stalled",
        "failure_message": "heartbeats missed for 8.9 s",
        "worker": "w@host#1-a",
        "started_at": None,
        "finished_at": None,
        "wall_s": None,
    }
    page = _page(_detail([attempt]))
    assert '"run-attempts"' in page
    assert "worker_stalled" in page
    assert "heartbeats missed for 8.9 s" in page
    assert "f" * 64 in page  # the model version hash


def test_a_first_attempt_has_no_attempts_table() -> None:
    assert '"run-attempts"' not in _page(_detail([]))
