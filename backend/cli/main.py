"""`mlipm`: set up, serve, run campaigns and the demo."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from backend.api.server import DEFAULT_LIMITS, ServerLimits
from backend.cli.local import bench_app, runs_app
from backend.cli.models import models_app
from backend.cli.representations import representations_app
from backend.cli.tokens import tokens_app
from backend.client import ApiClient, ApiError
from backend.db.session import session_scope
from backend.domain.statuses import Role
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, CampaignRead, ModelRef
from backend.settings import get_settings

app = typer.Typer(help="MLIP Metrology: standardized simulations of interatomic potentials.")
db_app = typer.Typer(help="Database set-up.")
refs_app = typer.Typer(help="Reference data.")
users_app = typer.Typer(help="Users and API tokens.")
campaigns_app = typer.Typer(help="Evaluation campaigns (through the API).")
app.add_typer(db_app, name="db")
app.add_typer(refs_app, name="refs")
app.add_typer(users_app, name="users")
app.add_typer(campaigns_app, name="campaigns")
app.add_typer(runs_app, name="runs")
app.add_typer(bench_app, name="bench")
app.add_typer(models_app, name="models")
app.add_typer(tokens_app, name="tokens")
app.add_typer(representations_app, name="representations")
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


@refs_app.command("check")
def refs_check(
    fix: Annotated[
        bool,
        typer.Option(
            help="first load the references (naming their phases), then compare each listed "
            "metric with a reference of its structure's phase, or with none, and recompute "
            "error and rel_error"
        ),
    ] = False,
) -> None:
    """List metrics compared with a reference of another phase than their structure's."""
    from backend.bootstrap import load_reference_data
    from backend.services import reference_phases
    from workers.phases import space_group_of_data

    with session_scope() as session:
        if fix:
            load_reference_data(session)
        problems = reference_phases.check_links(session, space_group_of_data, fix=fix)
    for p in problems:
        console.print(
            f"{p.structure_set}/{p.label} {p.property} ({p.structure_phase}): {p.n_metrics} "
            f"metric(s) vs {p.reference} -> {p.replacement or 'no reference'}",
            markup=False,
            soft_wrap=True,
        )
    n_metrics = sum(p.n_metrics for p in problems)
    verb = "relinked or unlinked" if fix else "compared with a reference of another phase"
    console.print(f"{n_metrics} metric(s) in {len(problems)} group(s) {verb}")
    if problems and not fix:
        if any(p.reference.endswith("(no phase)") for p in problems):
            console.print("references naming no phase: --fix names the built-in ones' first")
        raise typer.Exit(1)


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


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable a user: every token of theirs gives 401 from the next request on."""
    _set_disabled(name, disabled=True)


@users_app.command("enable")
def users_enable(name: str) -> None:
    """Enable a disabled user again: their unrevoked tokens work again."""
    _set_disabled(name, disabled=False)


def _set_disabled(name: str, *, disabled: bool) -> None:
    from backend.services import users
    from shared_kernel.errors import NotFound

    try:
        with session_scope() as session:
            users.set_disabled_by_name(session, name, disabled=disabled)
    except NotFound as exc:
        raise typer.BadParameter(exc.message) from exc
    typer.echo(f"{'disabled' if disabled else 'enabled'} {name}")


@app.command("api")
def serve_api(
    header_timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds for a whole request head (slow headers)")
    ] = DEFAULT_LIMITS.header_timeout_s,
    body_timeout: Annotated[
        float, typer.Option(min=0.1, help="longest pause, seconds, inside a request body")
    ] = DEFAULT_LIMITS.body_timeout_s,
    keep_alive: Annotated[
        int, typer.Option(min=1, help="seconds an idle kept-alive connection stays open")
    ] = DEFAULT_LIMITS.keep_alive_s,
    limit_concurrency: Annotated[
        int, typer.Option(min=1, help="connections + requests in progress before 503s")
    ] = DEFAULT_LIMITS.limit_concurrency,
    workers: Annotated[
        int, typer.Option(min=1, help="API processes, each with its own socket on the port")
    ] = 2,
    access_log: Annotated[bool, typer.Option(help="log a line per request")] = False,
) -> None:
    """Serve the REST API with uvicorn, with deadlines on slow clients."""
    from backend.api.server import serve

    settings = get_settings()
    limits = ServerLimits(
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
        keep_alive_s=keep_alive,
        limit_concurrency=limit_concurrency,
    )
    serve(
        "backend.main:app",
        host=settings.api_host,
        port=settings.api_port,
        limits=limits,
        workers=workers,
        access_log=access_log,
    )


@app.command("worker", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    queue: Annotated[
        str | None, typer.Option("--queue", "-Q", help="queue(s), comma-separated")
    ] = None,
) -> None:
    """Run a Celery worker (default queue: MLIPM_CELERY_QUEUE; extra options go to celery)."""
    one_math_thread_per_process(os.environ)
    from workers.celery_app import celery_app

    queues = queue or get_settings().celery_queue
    celery_app.worker_main(["worker", "-Q", queues, "--loglevel", "INFO", *ctx.args])


#: Math libraries' thread pools, each sized to the machine unless told otherwise.
MATH_THREADS = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def one_math_thread_per_process(environ: MutableMapping[str, str]) -> None:
    """One math thread per pool process, unless the environment sets a count: the pool's
    processes are the parallelism. Set before torch or numba is imported (pool children
    inherit it). Without it numba (UMAP and PHATE in the landscape benchmark) starts an
    OpenMP team as large as the machine, whose threads then spin on a barrier in every torch
    kernel of the same process: CHGNet's diatomics on Cu took 12.5 CPU-s after one landscape
    run in the process instead of 1.5 (docs/performance.md, "Math threads in workers")."""
    for name in MATH_THREADS:
        environ.setdefault(name, "1")


@app.command("dashboard")
def dashboard(
    workers: Annotated[int, typer.Option(min=1, help="gunicorn worker processes")] = 2,
    connections: Annotated[
        int, typer.Option(min=1, help="connections per worker (gevent greenlets, slow ones too)")
    ] = 1000,
    dev: Annotated[
        bool, typer.Option("--dev", help="Flask's development server instead (debugging only)")
    ] = False,
) -> None:
    """Serve the Dash UI with gunicorn (a client of the API at MLIPM_API_URL)."""
    if dev:
        from frontend.app import serve

        serve(dev=True)
        return
    # A fresh interpreter, so gevent patches before anything is imported (frontend/__main__.py)
    sys.stdout.flush()
    sys.stderr.flush()
    command = ["-m", "frontend", "--workers", str(workers), "--connections", str(connections)]
    os.execv(sys.executable, [sys.executable, *command])


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
    client = ApiClient(get_settings().api_url, token or None)
    campaign = client.create_campaign(spec)
    reused = ", ".join(f"{n} {status}" for status, n in (campaign.reused or {}).items())
    console.print(
        f"campaign {campaign.id}: {campaign.progress.total} runs, {campaign.n_reused} reused"
        + (f" ({reused}; {campaign.requeued} cancelled ones queued again)" if reused else "")
    )
    if watch:
        watch_campaign(client, campaign.id)


@campaigns_app.command("rerun")
def campaigns_rerun(
    campaign_id: uuid.UUID,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="failed and/or cancelled (repeat); default failed"),
    ] = None,
    failure_class: Annotated[
        list[str] | None,
        typer.Option("--failure-class", help="only runs of this failure class (repeat)"),
    ] = None,
    token: Annotated[str, typer.Option(envvar="MLIPM_TOKEN", help="admin API token")] = "",
    watch: Annotated[bool, typer.Option(help="show progress until it finishes")] = False,
) -> None:
    """Run a campaign's failed (or cancelled) runs again; earlier attempts stay in history."""
    client = ApiClient(get_settings().api_url, token or None)
    campaign = client.rerun_campaign(campaign_id, status or ["failed"], failure_class)
    console.print(f"campaign {campaign.id}: {campaign.requeued} run(s) queued again")
    if watch:
        watch_campaign(client, campaign.id)


@campaigns_app.command("cancel")
def campaigns_cancel(
    campaign_id: uuid.UUID,
    token: Annotated[str, typer.Option(envvar="MLIPM_TOKEN", help="admin API token")] = "",
) -> None:
    """Cancel a campaign: queued runs now, running ones at their next step."""
    campaign = ApiClient(get_settings().api_url, token or None).cancel_campaign(campaign_id)
    console.print(f"campaign {campaign.id}: {campaign.status}, {campaign.progress}")


@campaigns_app.command("watch")
def campaigns_watch(campaign_id: uuid.UUID) -> None:
    """Show a campaign's progress until it finishes."""
    watch_campaign(ApiClient(get_settings().api_url), campaign_id)


def watch_campaign(client: ApiClient, campaign_id: uuid.UUID, poll_s: float = 1.0) -> CampaignRead:
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
        bool, typer.Option(help="stop everything once the campaigns finished (for scripts)")
    ] = False,
    quick: Annotated[
        bool,
        typer.Option(
            help="only eos over the elemental crystals (about a minute) instead of every "
            "benchmark on a small subset (about 10 minutes on 2 cores)"
        ),
    ] = False,
) -> None:
    """Start services, API, worker, dashboard and Flower; run the demo campaigns; Ctrl-C stops."""
    from backend.cli.demo import run_demo

    sys.exit(run_demo(console, exit_when_done=exit_when_done, with_mlips=mlips, quick=quick))


@app.command("flower")
def flower() -> None:
    """Serve Flower, the Celery monitor, for operators."""
    from workers.celery_app import celery_app

    settings = get_settings()
    celery_app.start(
        ["flower", f"--port={settings.flower_port}", f"--address={settings.flower_host}"]
    )


def main() -> None:
    """The ``mlipm`` command: an API error ends in one line that says what to do, not in a
    traceback (``MLIPM_DEBUG=1`` shows the traceback)."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()  # standalone: usage errors, Ctrl-C and exit codes as typer handles them
    except ApiError as exc:
        if os.environ.get("MLIPM_DEBUG"):
            raise
        typer.echo(f"error: {cli_error_line(exc, get_settings().api_url)}", err=True)
        sys.exit(1)


def cli_error_line(exc: ApiError, api_url: str) -> str:
    """One line for an API error: what happened and what to do about it."""
    if exc.status_code is None:
        return (
            f"{exc.message}. Start the API (mlipm api, or make demo) or point MLIPM_API_URL "
            f"at it (now {api_url})."
        )
    if exc.status_code == 401:
        return (
            f"{exc.message} (HTTP 401). Give an API token: export MLIPM_TOKEN=... "
            "(mlipm users create NAME --role admin prints one)."
        )
    if exc.status_code == 403:
        return f"{exc.message} (HTTP 403). This needs an admin's token in MLIPM_TOKEN."
    if exc.status_code == 404 and exc.code is None:
        return f"{exc.message} (HTTP 404). Is MLIPM_API_URL ({api_url}) the platform's API?"
    return f"{exc.message} (HTTP {exc.status_code})."


if __name__ == "__main__":
    main()
