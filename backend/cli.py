"""`mlipm`: set up, serve, run campaigns and the demo."""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from backend.client import ApiError, PlatformClient
from backend.db.models import Role
from backend.db.session import session_scope
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, CampaignRead, ModelRef
from backend.schemas.models import ModelRead
from backend.settings import get_settings

app = typer.Typer(help="MLIP Metrology: standardized simulations of interatomic potentials.")
db_app = typer.Typer(help="Database set-up.")
refs_app = typer.Typer(help="Reference data.")
users_app = typer.Typer(help="Users and API tokens.")
campaigns_app = typer.Typer(help="Evaluation campaigns (through the API).")
runs_app = typer.Typer(help="Single runs.")
bench_app = typer.Typer(help="Run a benchmark locally, without the queue.")
models_app = typer.Typer(help="Model submissions (through the API).")
app.add_typer(db_app, name="db")
app.add_typer(refs_app, name="refs")
app.add_typer(users_app, name="users")
app.add_typer(campaigns_app, name="campaigns")
app.add_typer(runs_app, name="runs")
app.add_typer(bench_app, name="bench")
app.add_typer(models_app, name="models")
console = Console()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database if missing and migrate it to the newest schema."""
    from backend import dbadmin

    url = get_settings().database_url
    if dbadmin.ensure_database(url):
        console.print("created the database")
    dbadmin.upgrade(url)
    console.print("schema at head")


@refs_app.command("load")
def refs_load() -> None:
    """Load references, the elemental crystals, benchmark versions and baselines (idempotent)."""
    from backend.bootstrap import bootstrap

    with session_scope() as session:
        report = bootstrap(session)
    console.print(
        f"references +{report.references_added}, structures +{report.structures_added}, "
        f"benchmarks +{report.benchmarks_added}, baseline models +{report.models_added}"
    )


@app.command("setup")
def setup() -> None:
    """`db upgrade` then `refs load`."""
    db_upgrade()
    refs_load()


@users_app.command("create")
def users_create(
    name: str,
    role: Annotated[Role, typer.Option(help="submitter or admin")] = Role.SUBMITTER,
) -> None:
    """Create a user and print a new API token (shown once)."""
    from backend.services import users

    with session_scope() as session:
        issued = users.ensure_user_with_token(session, name=name, role=role)
    typer.echo(issued.token)


@app.command("api")
def serve_api() -> None:
    """Serve the REST API with uvicorn."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("backend.main:app", host=settings.api_host, port=settings.api_port)


@app.command("worker", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    queue: Annotated[
        str | None, typer.Option("--queue", "-Q", help="queue(s), comma-separated")
    ] = None,
) -> None:
    """Run a Celery worker (default queue: MLIPM_CELERY_QUEUE; extra options go to celery)."""
    from workers.celery_app import celery_app

    queues = queue or get_settings().celery_queue
    celery_app.worker_main(["worker", "-Q", queues, "--loglevel", "INFO", *ctx.args])


@app.command("dashboard")
def dashboard() -> None:
    """Serve the Dash UI (a client of the API at MLIPM_API_URL)."""
    from frontend.app import main

    main()


@campaigns_app.command("start")
def campaigns_start(
    spec_file: Annotated[
        Path | None, typer.Argument(help="YAML campaign spec (the body of POST /campaigns)")
    ] = None,
    models: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="model name (repeat)")
    ] = None,
    benchmark: Annotated[str, typer.Option("--benchmark", "-b")] = "eos",
    structure_set: Annotated[str, typer.Option("--structures", "-s")] = "elemental crystals",
    name: Annotated[str, typer.Option()] = "campaign",
    token: Annotated[str, typer.Option(envvar="MLIPM_TOKEN", help="admin API token")] = "",
    watch: Annotated[bool, typer.Option(help="show progress until it finishes")] = True,
) -> None:
    """Start a campaign through the API (admin token required), from a spec file or options."""
    if spec_file is not None:
        spec = CampaignCreate.model_validate(yaml.safe_load(spec_file.read_text()))
    elif models:
        spec = CampaignCreate(
            name=name,
            models=[ModelRef(name=m) for m in models],
            benchmarks=[BenchmarkRef(key=benchmark)],
            structure_sets=[structure_set],
        )
    else:
        raise typer.BadParameter("give a spec file or at least one --model")
    client = PlatformClient(get_settings().api_url, token or None)
    campaign = client.create_campaign(spec)
    console.print(
        f"campaign {campaign.id}: {campaign.progress.total} runs, {campaign.n_reused} reused"
    )
    if watch:
        watch_campaign(client, campaign.id)


@models_app.command("submit")
def models_submit(
    card: Annotated[Path, typer.Argument(help="YAML model card (the body of POST /models)")],
    file: Annotated[Path | None, typer.Option("--file", help="model file to upload")] = None,
    training_set: Annotated[
        Path | None, typer.Option("--training-set", help="training set (extxyz) to upload")
    ] = None,
    token: Annotated[str, typer.Option(envvar="MLIPM_TOKEN", help="API token")] = "",
) -> None:
    """Submit a model card, then upload its file and training set with a progress bar."""
    for path in (card, file, training_set):
        if path is not None and not path.is_file():
            raise typer.BadParameter(f"no such file: {path}")
    client = PlatformClient(get_settings().api_url, token or None, timeout=120.0)
    try:
        model = client.create_model_yaml(card.read_text())
        console.print(f"model {model.id}: {model.name} {model.version}, {model.status}")
        if file is not None:
            model = _upload(client.upload_model_file, model.id, file, "model file")
            console.print(f"model file sha256 {model.artifact_sha256}")
        if training_set is not None:
            model = _upload(client.upload_training_set, model.id, training_set, "training set")
            console.print(
                f"training set: {model.training_n_structures} structures, "
                f"elements {model.training_element_counts}"
            )
            leaked = client.leakage(model.id).leaked
            if leaked:
                labels = ", ".join(f"{s.structure_set}/{s.label}" for s in leaked)
                console.print(f"[yellow]benchmark structures in the training set:[/] {labels}")
    except ApiError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    console.print(f"status: {model.status}")


def _upload(
    send: Callable[[uuid.UUID, Path, Callable[[int], None]], ModelRead],
    model_id: uuid.UUID,
    path: Path,
    what: str,
) -> ModelRead:
    """Run one streamed upload with a byte progress bar."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"{what} {path.name}", total=path.stat().st_size)
        return send(model_id, path, lambda n: bar.advance(task, n))


@campaigns_app.command("cancel")
def campaigns_cancel(
    campaign_id: uuid.UUID,
    token: Annotated[str, typer.Option(envvar="MLIPM_TOKEN", help="admin API token")] = "",
) -> None:
    """Cancel a campaign: queued runs now, running ones at their next step."""
    campaign = PlatformClient(get_settings().api_url, token or None).cancel_campaign(campaign_id)
    console.print(f"campaign {campaign.id}: {campaign.status}, {campaign.progress}")


@campaigns_app.command("watch")
def campaigns_watch(campaign_id: uuid.UUID) -> None:
    """Show a campaign's progress until it finishes."""
    watch_campaign(PlatformClient(get_settings().api_url), campaign_id)


def watch_campaign(
    client: PlatformClient, campaign_id: uuid.UUID, poll_s: float = 1.0
) -> CampaignRead:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("runs", total=None)
        while True:
            campaign = client.campaign(campaign_id)
            p = campaign.progress
            done = p.total - p.queued - p.running
            eta = f" · eta {p.eta_s:.0f} s" if p.eta_s is not None else ""
            bar.update(
                task,
                total=p.total,
                completed=done,
                description=f"ok {p.succeeded} · failed {p.failed} · skipped {p.skipped}{eta}",
            )
            if campaign.status != "running":
                return campaign
            time.sleep(poll_s)


@app.command("demo")
def demo(
    mlips: Annotated[
        bool, typer.Option(help="include the installed universal MLIPs (CHGNet, SevenNet, DIEP)")
    ] = True,
    exit_when_done: Annotated[
        bool, typer.Option(help="stop everything once the campaign finished (for scripts)")
    ] = False,
) -> None:
    """Start services, API, worker, dashboard and Flower; run the demo campaign; Ctrl-C stops."""
    from backend.demo import run_demo

    sys.exit(run_demo(console, exit_when_done=exit_when_done, with_mlips=mlips))


def main() -> None:  # pragma: no cover - console-script shim
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


@runs_app.command("reproduce")
def runs_reproduce(
    run_id: uuid.UUID,
    rel_tol: Annotated[float, typer.Option(help="relative tolerance per metric")] = 1e-6,
) -> None:
    """Rerun a stored run here, from its recorded inputs, and compare every metric."""
    from backend.services import runs
    from workers.execution import execute_claimed

    with session_scope() as session:
        job = runs.job_of(session, run_id)
        stored = {m.name: m.value for m in runs.read_run(session, run_id).metrics}
    if not stored:
        raise typer.BadParameter(f"run {run_id} has no metrics to compare (did it succeed?)")
    fresh = {m.name: m.value for m in execute_claimed(job).metrics}
    table = Table(title=f"run {run_id}: {job.model_name} on {job.benchmark_key} ({job.material})")
    for column in ("metric", "stored", "now", "match"):
        table.add_column(column)
    ok = True
    for name, value in sorted(stored.items()):
        now = fresh.get(name)
        same = now is not None and math.isclose(value, now, rel_tol=rel_tol, abs_tol=1e-12)
        ok &= same
        table.add_row(
            name, f"{value:.8g}", "-" if now is None else f"{now:.8g}", "yes" if same else "NO"
        )
    console.print(table)
    console.print("reproduced" if ok else "[red]does not match[/red]")
    raise typer.Exit(0 if ok else 1)


@bench_app.command("run")
def bench_run(
    benchmark: str,
    model: Annotated[str, typer.Option("--model", "-m", help="model name (newest version)")],
    structures: Annotated[str, typer.Option("--structures", "-s")] = "elemental crystals",
    only: Annotated[
        list[str] | None, typer.Option("--only", help="structure label (repeat)")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=JSON value (repeat)")
    ] = None,
) -> None:
    """Run a benchmark here on a stored model and structure set; prints metrics, stores nothing."""
    from backend.services import runs as run_service
    from workers.benchmarks.base import get_benchmark
    from workers.errors import BenchmarkError
    from workers.execution import execute_claimed

    spec = get_benchmark(benchmark)
    params = {**spec.default_params(), **_parse_params(param or [])}
    with session_scope() as session:
        jobs = run_service.local_jobs(
            session,
            model=model,
            benchmark=spec.key,
            version=spec.version,
            structure_set=structures,
            labels=only,
            params=params,
        )
    table = Table(title=f"{spec.key} {spec.version}: {model} on {structures}")
    for column in ("structure", "metric", "value", "unit"):
        table.add_column(column)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(spec.key, total=len(jobs))
        for job in jobs:
            bar.update(task, description=f"{spec.key} {job.material}")
            try:
                outcome = execute_claimed(job)
            except BenchmarkError as exc:
                table.add_row(job.material, exc.failure_class.value, str(exc)[:60], "")
            else:
                for m in outcome.metrics:
                    table.add_row(job.material, m.name, f"{m.value:.6g}", m.unit)
            bar.advance(task)
    console.print(table)


def _parse_params(items: list[str]) -> dict[str, object]:
    parsed: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--param {item!r}: expected NAME=VALUE")
        try:
            parsed[name] = json.loads(value)
        except json.JSONDecodeError:
            parsed[name] = value
    return parsed


@app.command("flower")
def flower() -> None:
    """Serve Flower, the Celery monitor, for operators."""
    from workers.celery_app import celery_app

    settings = get_settings()
    celery_app.start(
        ["flower", f"--port={settings.flower_port}", f"--address={settings.flower_host}"]
    )


if __name__ == "__main__":
    app()
