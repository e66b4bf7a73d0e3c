"""The cross-run representation summary as a Celery task, and its trigger after runs succeed.

The task reads its inputs through ``backend.services.representations``, computes the body with
the pure :func:`workers.representation_summary.summarize` and stores it. It is sent by an admin
(``POST /representations/summary``), by ``mlipm representations summarize`` (inline, no
worker), and after a ``representation`` run succeeds, at most once per
:data:`SUMMARY_DEBOUNCE_S` (a campaign's hundreds of runs make a few summaries, the last one
after its last run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from typing import Any

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend.db.session import session_scope
from backend.schemas.representations import SummaryStored
from backend.services import queue, representations
from workers.atoms_json import atoms_from_json
from workers.benchmarks._landscape_map import MAP_METHODS
from workers.celery_app import celery_app
from workers.representation_summary import EmbeddingRow, StructureOutcome, summarize

log = logging.getLogger(__name__)
REPRESENTATION = "representation"
SUMMARY_DEBOUNCE_S = 30.0
Scope = Callable[[], AbstractContextManager[Session]]


@celery_app.task(
    name=queue.SUMMARIZE_REPRESENTATIONS,
    acks_late=True,
    autoretry_for=(OperationalError, BrokerError),
    retry_backoff=True,
    max_retries=5,
)
def summarize_representations() -> str:
    """Summarize every approved model's latest representation runs and store the body."""
    stored = summarize_stored()
    return "nothing to summarize" if stored is None else f"summary {stored.id}"


def summarize_stored(
    scope: Scope | None = None, *, map_methods: Sequence[str] = MAP_METHODS
) -> SummaryStored | None:
    """Read the inputs, summarize, store; None (nothing stored) when no run has embeddings.

    ``scope`` gives the sessions (one to read, one to write; ``session_scope`` by default).
    """
    scope = scope or session_scope
    with scope() as session:
        inputs = representations.summary_inputs(session)
    if not inputs.runs:
        return None
    body = summarize(
        [EmbeddingRow(*_values(r)) for r in inputs.runs],  # the same fields in the same order
        [StructureOutcome(*_values(o)) for o in inputs.outcomes],
        map_methods=map_methods,
        structures={k: atoms_from_json(v) for k, v in inputs.structures.items()},
    )
    with scope() as session:
        stored = representations.store_summary(session, body)
    log.info("representation summary %s of %d runs stored", stored.id, stored.n_runs)
    return stored


def _values(record: Any) -> list[Any]:
    """A dataclass's field values in order (``astuple`` would deep-copy the embeddings)."""
    return [getattr(record, f.name) for f in fields(record)]


def after_run_succeeded(benchmark_key: str, *, debounce_s: float = SUMMARY_DEBOUNCE_S) -> bool:
    """Call once a run's success is committed: a ``representation`` run asks for a summary,
    debounced (see the module docstring). True when a summary was sent."""
    if benchmark_key != REPRESENTATION:
        return False
    try:
        return queue.enqueue_representation_summary(debounce_s=debounce_s)
    except Exception:  # the run is recorded either way; the next success or an admin asks again
        log.warning("representation summary not requested", exc_info=True)
        return False
