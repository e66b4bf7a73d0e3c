"""`mlipm runs reproduce` and `mlipm bench run`: science run here, from stored records."""

from __future__ import annotations

import json
import math
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from backend.db.session import session_scope

runs_app = typer.Typer(help="Single runs.")
bench_app = typer.Typer(help="Run a benchmark locally, without the queue.")
console = Console()


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
    from shared_kernel.failures import BenchmarkError
    from workers.benchmarks.base import get_benchmark
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
