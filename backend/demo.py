"""`mlipm demo`: the whole platform on one machine, then the demo campaign.

Starts (or reuses) Postgres and Redis, migrates and loads the reference data, runs the API, a
Celery worker, the dashboard and Flower as child processes, launches the baselines on `eos`
over the elemental crystals, and keeps serving until Ctrl-C, which stops everything it started.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from backend import dbadmin
from backend.client import PlatformClient
from backend.db.models import MlipModel, Role
from backend.db.session import reset_engine_cache, session_scope
from backend.localservices import LocalServices, ensure_services, free_port
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from backend.schemas.leaderboard import LeaderboardRead
from backend.settings import Settings, get_settings
from workers.adapters.registry import get_adapter

DEMO_MATERIALS = ("Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al")
# Universal MLIPs for crystals whose weights ship in their wheels (ANI-1x is for molecules).
DEMO_MLIP_FAMILIES = ("chgnet", "sevennet", "diep")


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


def run_demo(console: Console, *, exit_when_done: bool = False, with_mlips: bool = True) -> int:
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
        client = PlatformClient(settings.api_url, token)
        campaign = client.create_campaign(_demo_spec(with_mlips=with_mlips))
        console.print(
            f"campaign {campaign.id}: {campaign.progress.total} runs "
            f"({campaign.n_reused} reused from earlier runs)"
        )
        from backend.cli import watch_campaign

        watch_campaign(client, campaign.id)
        _print_results(console, client.leaderboard("eos"))
        dash_url = f"http://{settings.dash_host}:{settings.dash_port}/"
        _wait_http(dash_url, children)
        console.print(f"\n[bold green]Dashboard:[/bold green] {dash_url}")
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
        # two pool processes on a small machine: one math thread each, not two fighting
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
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


def _demo_spec(*, with_mlips: bool) -> CampaignCreate:
    """The baselines, and the packaged universal MLIPs whose packages are installed."""
    families = {
        family
        for family in DEMO_MLIP_FAMILIES
        if with_mlips and _installed(get_adapter(family).packages)
    }
    with session_scope() as session:
        names = session.scalars(
            select(MlipModel.name)
            .where(MlipModel.is_baseline | MlipModel.family.in_(families))
            .order_by(MlipModel.is_baseline.desc(), MlipModel.name)
        ).all()
    return CampaignCreate(
        name="demo: eos over the elemental crystals",
        models=[ModelRef(name=name) for name in names],
        benchmarks=[BenchmarkRef(key="eos")],
        structure_sets=["elemental crystals"],
    )


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
