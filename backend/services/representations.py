"""The cross-run representation summary: its inputs, storing it, reading it, asking for one.

The summary itself is computed by the worker (workers/representation_summary.py, called by
the task ``representations.summarize``); this service hands it what it reads (every approved
model's latest ``pooled_embeddings`` per structure, and those models' outcomes on the other
benchmarks) and stores and serves the body it returns. A summary is public like the boards;
a model that is no longer approved is cut out of a stored body when it is read.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from backend.repositories import representations as summary_repo
from backend.schemas.representations import (
    EmbeddingRun,
    RepresentationSummaryRead,
    RunOutcome,
    SummaryInputs,
    SummaryQueued,
    SummaryStored,
)
from backend.services import queue
from shared_kernel.errors import NotFound

KEEP_SUMMARIES = 10
#: The model parameter that makes a model a random-weight control of its family's architecture.
CONTROL_PARAM = "random_weights_seed"
WHAT_TO_RUN = (
    "no representation summary yet: run the representation benchmark, e.g. `mlipm campaigns "
    "start -m CHGNet-0.3.0 -m CHGNet-random-weights -b representation`, then `mlipm "
    "representations summarize` (or POST /representations/summary as an admin)"
)


def summary_inputs(session: Session) -> SummaryInputs:
    """Every approved model's latest pooled embeddings per structure, their outcomes on the
    other benchmarks, and the structures. A model is named ``name`` or, when several versions
    of one name ran, ``name version``."""
    rows = summary_repo.latest_embeddings(session)
    versions = Counter(name for name, _ in {(r.name, r.version) for r in rows})
    runs = [
        EmbeddingRun(
            model=r.name if versions[r.name] == 1 else f"{r.name} {r.version}",
            model_id=str(r.model_id),
            structure_id=str(r.structure_id),
            formula=r.formula,
            run_id=str(r.run_id),
            data=r.data,
            family=r.family,
            control=CONTROL_PARAM in (r.params or {}),
        )
        for r in rows
    ]
    outcomes = [
        RunOutcome(
            model_id=str(o.mlip_model_id),
            structure_id=str(o.structure_id),
            benchmark=o.benchmark,
            status=str(o.status.value if hasattr(o.status, "value") else o.status),
            failure_class=o.failure_class,
            flags=sorted(o.flags or []),
            abs_rel_error=_finite(o.abs_rel_error),
        )
        for o in summary_repo.latest_outcomes(session, sorted({r.model_id for r in rows}))
    ]
    data = summary_repo.structure_data(session, sorted({r.structure_id for r in rows}))
    return SummaryInputs(runs, outcomes, {str(k): v for k, v in data.items()})


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def store_summary(session: Session, body: dict[str, Any]) -> SummaryStored:
    """Store a computed summary body (the newest :data:`KEEP_SUMMARIES` are kept)."""
    row = summary_repo.add_summary(
        session, n_runs=int(body["n_runs"]), body=body, keep=KEEP_SUMMARIES
    )
    return SummaryStored(id=row.id, created_at=row.created_at, n_runs=row.n_runs, body=row.body)


def latest_summary(session: Session) -> RepresentationSummaryRead:
    """The newest summary, less any model no longer approved; NotFound (saying what to run)
    when none was computed."""
    row = summary_repo.latest_summary(session)
    if row is None:
        raise NotFound(WHAT_TO_RUN)
    body = row.body
    listed = {m["name"]: m["id"] for m in body.get("models", [])}
    approved = summary_repo.approved_model_ids(
        session, [uuid.UUID(i) for i in listed.values() if _is_uuid(i)]
    )
    hidden = {name for name, i in listed.items() if not _is_uuid(i) or uuid.UUID(i) not in approved}
    if hidden:
        body = without_models(body, hidden)
    return RepresentationSummaryRead.model_validate(
        {**body, "summary_id": row.id, "created_at": row.created_at}
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def without_models(body: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    """The body with every trace of the ``hidden`` models (by name) removed."""
    probes = body["probes"]
    twins = {k: (None if v in hidden else v) for k, v in probes["random_twin"].items()}
    gains = {
        k: (dict.fromkeys(v) if probes["random_twin"].get(k) in hidden else v)
        for k, v in probes["gain"].items()
    }
    cka = body["cka"]
    keep = [i for i, name in enumerate(cka["models"]) if name not in hidden]
    return {
        **body,
        "models": [m for m in body["models"] if m["name"] not in hidden],
        "probes": {
            **probes,
            "r2": _drop(probes["r2"], hidden),
            "random_twin": _drop(twins, hidden),
            "gain": _drop(gains, hidden),
        },
        "cka": {
            **cka,
            "models": [cka["models"][i] for i in keep],
            "matrix": [[cka["matrix"][i][j] for j in keep] for i in keep],
        },
        "maps": _drop(body["maps"], hidden),
        "atlas": _drop(body["atlas"], hidden),
        "novelty": _drop(body["novelty"], hidden),
    }


def _drop(per_model: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    return {k: v for k, v in per_model.items() if k not in hidden}


def request_summary() -> SummaryQueued:
    """Ask a worker for a new summary now (no debounce)."""
    return SummaryQueued(queued=queue.enqueue_representation_summary())
