"""`mlipm demo`: the whole platform on one machine, then the demo campaigns.

Starts (or reuses) Postgres and Redis, migrates and loads the reference data, runs the API, a
Celery worker, the dashboard and Flower as child processes, launches the campaigns of
``demo_plan`` (every benchmark on a small subset, about 10 minutes on 2 cores; ``--quick``: the
baselines on `eos` over the elemental crystals) under one progress bar, prints what ran and
where to look, and keeps serving until Ctrl-C, which stops everything it started.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from backend import dbadmin
from backend.cli.demo_plan import (
    DEMO_MLIP_FAMILIES,
    LANDSCAPE_PACKAGES,
    MOLECULE_FAMILIES,
    demo_pages,
    demo_plan,
)
from backend.cli.localservices import LocalServices, ensure_services, free_port
from backend.client import ApiClient
from backend.db.session import reset_engine_cache, session_scope
from backend.domain.statuses import Role
from backend.schemas.campaigns import CampaignCreate, CampaignRead
from backend.schemas.leaderboard import LeaderboardRead
from backend.settings import Settings, get_settings
from workers.adapters.registry import get_adapter

DEMO_MATERIALS = ("Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al")


class Children:
    """Child processes started by the demo, stopped in reverse order."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir, self.env = log_dir, env
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *args: str) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((name, proc))

    def check(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}"
                )

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(
    console: Console, *, exit_when_done: bool = False, with_mlips: bool = True, quick: bool = False
) -> int:
    # Ctrl-C and `kill` both stop everything cleanly, even when started from a script that
    # ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = get_settings()
    state = settings.state_dir.resolve()
    console.print("[bold]MLIP Metrology demo[/bold]")
    services = ensure_services(settings.database_url, settings.redis_url, state)
    for line in services.started:
        console.print(f"started local {line}")
    env = _child_env(settings, services)
    os.environ.update(env)
    get_settings.cache_clear()
    reset_engine_cache()
    settings = get_settings()
    children = Children(state / "logs", env)
    try:
        _prepare_database(console, settings)
        token = _admin_token()
        children.start("api", "api")
        children.start("worker", "worker", "--concurrency", "2")
        children.start("dashboard", "dashboard")
        children.start("flower", "flower")
        _wait_http(f"{settings.api_url}/health", children)
        client = ApiClient(settings.api_url, token)
        plan = _launch_and_watch(console, client, children, with_mlips=with_mlips, quick=quick)
        dash_url = f"http://{settings.dash_host}:{settings.dash_port}/"
        _wait_http(dash_url, children)
        console.print(f"\n[bold green]Dashboard:[/bold green] {dash_url}")
        for path, what in demo_pages(plan):
            console.print(f"  {dash_url.rstrip('/')}{path:<26} {what}")
        console.print(
            f"API: {settings.api_url}/docs   Flower: "
            f"http://127.0.0.1:{settings.flower_port}/   logs: {children.log_dir}"
        )
        if not exit_when_done:
            console.print("Ctrl-C stops everything.")
            while True:
                children.check()
                time.sleep(1)
    except KeyboardInterrupt:
        console.print("\nstopping ...")
    finally:
        children.stop()
        services.stop()
    return 0


def _child_env(settings: Settings, services: LocalServices) -> dict[str, str]:
    env = dict(os.environ)
    api_port = _port_or_free(settings.api_port)
    dash_port = _port_or_free(settings.dash_port)
    env.update(
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        MLIPM_API_PORT=str(api_port),
        MLIPM_API_URL=f"http://{settings.api_host}:{api_port}",
        MLIPM_DASH_PORT=str(dash_port),
        MLIPM_FLOWER_PORT=str(_port_or_free(settings.flower_port)),
        PYTHONUNBUFFERED="1",
    )
    return env


def _port_or_free(port: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def _prepare_database(console: Console, settings: Settings) -> None:
    from backend.bootstrap import bootstrap

    dbadmin.ensure_database(settings.database_url)
    dbadmin.upgrade(settings.database_url)
    with session_scope() as session:
        report = bootstrap(session)
    console.print(
        f"database ready: references +{report.references_added}, structures "
        f"+{report.structures_added}, baseline models +{report.models_added}"
    )


def _admin_token() -> str:
    from backend.services.users import ensure_user_with_token

    with session_scope() as session:
        return ensure_user_with_token(session, name="demo-admin", role=Role.ADMIN).token


def _launch_and_watch(
    console: Console, client: ApiClient, children: Children, *, with_mlips: bool, quick: bool
) -> list[CampaignCreate]:
    families = _installed_families() if with_mlips else set()
    landscape = _installed(LANDSCAPE_PACKAGES)
    if not (quick or landscape):
        console.print("landscape left out: its map needs the landscape extra (make install-mlip)")
    started = time.monotonic()
    plan = demo_plan(families, quick=quick, landscape=landscape)
    campaigns = [client.create_campaign(spec) for spec in plan]
    for campaign in campaigns:
        console.print(
            f"{campaign.name}: {campaign.progress.total} runs ({campaign.n_reused} reused)"
        )
    watch_campaigns(console, client, [c.id for c in campaigns], check=children.check)
    console.print(f"{len(campaigns)} campaign(s) done in {time.monotonic() - started:.0f} s")
    if any(b.key == "representation" for spec in plan for b in spec.benchmarks):
        _summarize_representations(console)
    _print_results(console, client.leaderboard("eos"))
    _print_runs(console, client, campaigns)
    return plan


def _summarize_representations(console: Console) -> None:
    """The cross-run representation summary of what the demo ran, now (the workers' own,
    debounced, would come up to 30 s later)."""
    from workers.tasks.representations import summarize_stored

    started = time.monotonic()
    stored = summarize_stored()
    if stored is None:
        console.print("representation summary: no run had embeddings")
        return
    console.print(
        f"representation summary of {stored.n_runs} runs in {time.monotonic() - started:.0f} s"
    )


def _installed_families() -> set[str]:
    return {
        family
        for family in DEMO_MLIP_FAMILIES + MOLECULE_FAMILIES
        if _installed(get_adapter(family).packages)
    }


def _installed(packages: tuple[str, ...]) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in packages)


def _wait_http(url: str, children: Children, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children.check()
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def _print_results(console: Console, board: LeaderboardRead) -> None:
    table = Table(title="eos: EMT next to experiment (dcdft, 0 K)")
    for header in ("", "V0 Å³/atom", "exp", "err %", "B0 GPa", "exp", "err %"):
        table.add_column(header, justify="right")
    for entry in board.entries:
        if entry.model_name != "EMT" or entry.material not in DEMO_MATERIALS:
            continue
        cells = [entry.material]
        for name in ("volume_per_atom", "bulk_modulus"):
            v = entry.values.get(name)
            if v is None:
                cells += ["-", "-", "-"]
                continue
            ref = v.reference
            cells += [
                f"{v.value:.2f}",
                f"{ref:.2f}" if ref else "-",
                f"{100 * (v.error or 0) / ref:+.1f}" if ref else "-",
            ]
        table.add_row(*cells)
    console.print(table)
    for row in board.rows:
        summary = ", ".join(
            f"{c.label} MAPE {row.metrics[c.name].mape_percent:.1f} %"
            for c in board.columns
            if row.metrics[c.name].mape_percent is not None
        )
        console.print(
            f"{row.model_name}: {row.n_succeeded} ok, {row.n_failed} failed, "
            f"{row.n_skipped} skipped; {summary}"
        )


def watch_campaigns(
    console: Console,
    client: ApiClient,
    campaign_ids: list[uuid.UUID],
    *,
    check: Callable[[], None] = lambda: None,
    poll_s: float = 1.0,
) -> list[CampaignRead]:
    """One progress bar over the runs of all ``campaign_ids``, until none is running;
    ``check`` is called at each poll (it raises when a child process died)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("runs", total=None)
        while True:
            campaigns = [client.campaign(campaign_id) for campaign_id in campaign_ids]
            progress = [c.progress for c in campaigns]
            total = sum(p.total for p in progress)
            ok, failed, skipped = (
                sum(getattr(p, outcome) for p in progress)
                for outcome in ("succeeded", "failed", "skipped")
            )
            running = sum(c.status == "running" for c in campaigns)
            bar.update(
                task,
                total=total,
                completed=total - sum(p.queued + p.running for p in progress),
                description=f"campaigns {len(campaigns) - running}/{len(campaigns)} · "
                f"ok {ok} · failed {failed} · skipped {skipped}",
            )
            if not running:
                return campaigns
            check()
            time.sleep(poll_s)


def _print_runs(console: Console, client: ApiClient, campaigns: list[CampaignRead]) -> None:
    """Runs per benchmark: by outcome, with their summed wall time (s)."""
    table = Table(title="what the demo ran")
    for header in ("benchmark", "models", "runs", "ok", "failed", "skipped", "wall s"):
        table.add_column(header, justify="right")
    runs = [r for c in campaigns for r in client.runs(campaign_id=str(c.id))]
    for key in sorted({r.benchmark_key for r in runs}):
        mine = [r for r in runs if r.benchmark_key == key]
        status = Counter(str(r.status) for r in mine)
        table.add_row(
            key,
            str(len({r.model_name for r in mine})),
            str(len(mine)),
            str(status["succeeded"]),
            str(status["failed"]),
            str(status["skipped"]),
            f"{sum(r.wall_s or 0 for r in mine):.0f}",
        )
    console.print(table)
