"""Campaigns: expand models x benchmarks x structures into runs, enqueue after commit."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from backend.db.base import utcnow
from backend.db.tables import Benchmark, Campaign, MlipModel, Structure, User
from backend.domain.statuses import CampaignStatus, ModelStatus, RunStatus
from backend.repositories import benchmarks as benchmark_repo
from backend.repositories import campaigns as campaign_repo
from backend.repositories import models as model_repo
from backend.repositories import references as ref_repo
from backend.repositories import run_attempts as attempt_repo
from backend.repositories import runs as run_repo
from backend.repositories.runs import Viewer
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, CampaignRead, ModelRef, Progress
from backend.services import models as model_service
from backend.services import queue
from backend.services.runs import TRUSTED
from shared_kernel.errors import InvalidInput, NotFound, NotStored
from shared_kernel.failures import FailureClass
from shared_kernel.hashing import params_hash


@dataclass(frozen=True)
class Plan:
    models: list[MlipModel]
    benchmarks: list[tuple[Benchmark, dict[str, Any]]]
    structures: list[Structure]


@dataclass(frozen=True)
class Launch:
    """A launched campaign and what became of the runs it asked for."""

    campaign: Campaign
    reused: dict[str, int]  # runs that existed already, by their status
    requeued: int  # of those, cancelled runs queued again


def launch_campaign(session: Session, spec: CampaignCreate, *, owner: User) -> Launch:
    """Create the campaign and its runs. Runs of the same model version, benchmark version,
    input and parameters that exist are reused, never recomputed; cancelled ones (never
    computed) are queued again. Failed runs are reused as failures: ``rerun`` retries them."""
    plan = _resolve(session, spec)
    model_service.seal(plan.models)  # results will be bound to these versions' inputs
    rows = [
        _run_row(model, benchmark, params, structure)
        for model in plan.models
        for benchmark, params in plan.benchmarks
        for structure in plan.structures
    ]
    new_ids = set(run_repo.insert_runs(session, rows))
    runs = run_repo.find_runs(session, [tuple(row[k] for k in run_repo.RUN_KEY) for row in rows])
    reused = Counter(str(r.status) for r in runs if r.id not in new_ids)
    campaign = campaign_repo.add_campaign(
        session,
        name=spec.name,
        owner_id=owner.id,
        spec=spec.model_dump(mode="json"),
        n_reused=sum(reused.values()),
    )
    campaign_repo.link_runs(session, campaign.id, [run.id for run in runs])
    cancelled = [r.id for r in runs if r.id not in new_ids and r.status == RunStatus.CANCELLED]
    requeued = attempt_repo.requeue(session, cancelled, [RunStatus.CANCELLED])
    to_enqueue = [r.id for r in runs if r.id in new_ids and r.status == RunStatus.QUEUED]
    queue.enqueue_after_commit(session, to_enqueue + requeued)
    return Launch(campaign, dict(sorted(reused.items())), len(requeued))


RERUNNABLE = (RunStatus.FAILED, RunStatus.CANCELLED)


def rerun(
    session: Session,
    campaign_id: uuid.UUID,
    *,
    statuses: list[RunStatus],
    failure_classes: list[str] | None = None,
) -> int:
    """Queue again the campaign's runs in ``statuses`` (failed, cancelled), optionally only
    those of ``failure_classes``; their earlier attempts stay in the history. A cancelled
    campaign runs again. Returns how many runs were queued."""
    campaign = _get(session, campaign_id)
    wrong = [s.value for s in statuses if s not in RERUNNABLE]
    if wrong:
        raise InvalidInput(
            f"only failed or cancelled runs can be rerun, not {wrong}", where="query.status"
        )
    if campaign.status == CampaignStatus.CANCELLED:
        campaign.status = CampaignStatus.RUNNING
        campaign.cancelled_at = None
        session.flush()
    run_ids = campaign_repo.run_ids_query(campaign_id, failure_classes=failure_classes)
    requeued = attempt_repo.requeue(session, run_ids, statuses)
    queue.enqueue_after_commit(session, requeued)
    return len(requeued)


def _run_row(
    model: MlipModel, benchmark: Benchmark, params: dict[str, Any], structure: Structure
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "mlip_model_id": model.id,
        "benchmark_id": benchmark.id,
        "structure_id": structure.id,
        "params": params,
        "params_hash": params_hash(benchmark.key, benchmark.version, params),
        "model_hash": model.version_hash,
        "status": RunStatus.QUEUED,
        "failure_class": None,
        "failure_message": None,
    }
    if model.elements is not None:
        missing = sorted(set(structure.elements) - set(model.elements))
        if missing:
            row["status"] = RunStatus.SKIPPED
            row["failure_class"] = FailureClass.UNSUPPORTED_ELEMENTS.value
            row["failure_message"] = f"{model.name} does not support {', '.join(missing)}"
    return row


def _resolve(session: Session, spec: CampaignCreate) -> Plan:
    models = [_resolve_model(session, ref, f"models[{i}]") for i, ref in enumerate(spec.models)]
    benchmarks = [
        _resolve_benchmark(session, ref, f"benchmarks[{i}]")
        for i, ref in enumerate(spec.benchmarks)
    ]
    structures: list[Structure] = []
    for i, name in enumerate(spec.structure_sets):
        structure_set = ref_repo.get_structure_set_by_name(session, name)
        if structure_set is None:
            raise NotStored(f"no structure set named {name!r}", where=f"structure_sets[{i}]")
        structures.extend(ref_repo.list_structures(session, structure_set.id))
    if spec.materials is not None:
        known = {s.label for s in structures} | {s.material for s in structures}
        for i, name in enumerate(spec.materials):
            if name not in known:
                raise NotStored(
                    f"no structure labelled {name!r} or of material {name!r} in "
                    f"{spec.structure_sets}",
                    where=f"materials[{i}]",
                )
        chosen = set(spec.materials)
        structures = [s for s in structures if s.label in chosen or s.material in chosen]
    return Plan(models, benchmarks, structures)


def _resolve_model(session: Session, ref: ModelRef, where: str) -> MlipModel:
    if ref.id is not None:
        model = model_repo.get_model(session, ref.id)
    else:
        assert ref.name is not None
        model = model_repo.get_model_by_name(session, ref.name, ref.version, prefer_approved=True)
    if model is None:
        raise NotStored(f"no model {ref.id or ref.name!r}", where=where)
    if model.status != ModelStatus.APPROVED:
        raise NotStored(
            f"model {model.name!r} version {model.version!r} is {model.status.value}: it awaits "
            "approval by an admin (POST /models/{model_id}/approve) before campaigns may use it",
            where=where,
        )
    return model


def _resolve_benchmark(
    session: Session, ref: BenchmarkRef, where: str
) -> tuple[Benchmark, dict[str, Any]]:
    benchmark = benchmark_repo.get_benchmark(session, ref.key, ref.version)
    if benchmark is None:
        known = sorted({b.key for b in benchmark_repo.list_benchmarks(session)})
        raise NotStored(f"no benchmark {ref.key!r} (known: {known})", where=f"{where}.key")
    unknown = sorted(set(ref.params) - set(benchmark.default_params))
    if unknown:
        raise NotStored(
            f"unknown parameter(s) {unknown} for {ref.key}; "
            f"known: {sorted(benchmark.default_params)}",
            where=f"{where}.params",
        )
    return benchmark, {**benchmark.default_params, **ref.params}


def cancel_campaign(session: Session, campaign_id: uuid.UUID) -> CampaignRead:
    """Stop a campaign: queued runs are cancelled, running ones stop at their next step."""
    campaign = _get(session, campaign_id)
    if campaign.status != CampaignStatus.CANCELLED:
        campaign.status = CampaignStatus.CANCELLED
        campaign.cancelled_at = utcnow()
        session.flush()
        campaign_repo.cancel_queued_runs(session, campaign.id)
    return read_campaign(session, campaign_id)


def read_campaign(
    session: Session, campaign_id: uuid.UUID, *, viewer: Viewer = TRUSTED
) -> CampaignRead:
    """The campaign with the counts of the runs ``viewer`` may see (a run of a model that is
    not approved counts for its owner and admins only)."""
    return _reads(session, [_get(session, campaign_id)], viewer)[0]


def list_campaigns(
    session: Session, *, limit: int, offset: int, viewer: Viewer = TRUSTED
) -> tuple[list[CampaignRead], int]:
    """One page of campaigns, newest first, and how many there are."""
    found = campaign_repo.list_campaigns(session, limit=limit, offset=offset)
    return _reads(session, found, viewer), campaign_repo.count_campaigns(session)


def _get(session: Session, campaign_id: uuid.UUID) -> Campaign:
    campaign = campaign_repo.get_campaign(session, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    return campaign


def _reads(session: Session, campaigns: list[Campaign], viewer: Viewer) -> list[CampaignRead]:
    ids = [c.id for c in campaigns]
    counts = campaign_repo.status_counts(session, ids, viewer)
    rates = campaign_repo.throughput(session, ids)
    return [_to_read(c, counts[c.id], rates.get(c.id)) for c in campaigns]


def _to_read(
    campaign: Campaign, counts: dict[RunStatus, int], rate: tuple[int, float] | None
) -> CampaignRead:
    progress = Progress.from_counts(counts)
    remaining = progress.queued + progress.running
    if (
        rate is not None
        and rate[1] > 0
        and remaining
        and campaign.status != CampaignStatus.CANCELLED
    ):
        # measured throughput of this campaign so far, whatever the number of workers
        progress.eta_s = remaining * rate[1] / rate[0]
    status = campaign.status.value
    if status == "running" and progress.queued + progress.running == 0:
        status = "finished"  # derived on read: no race between workers finishing the last runs
    return CampaignRead(
        id=campaign.id,
        name=campaign.name,
        status=status,
        spec=campaign.spec,
        n_reused=campaign.n_reused,
        created_at=campaign.created_at,
        progress=progress,
    )
