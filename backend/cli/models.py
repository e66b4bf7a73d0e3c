"""`mlipm models submit`: a model card, its file and training set, through the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from backend.client import ApiClient, ApiError
from backend.schemas.models import ModelRead
from backend.settings import get_settings

models_app = typer.Typer(help="Model submissions (through the API).")
console = Console()


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
    client = ApiClient(get_settings().api_url, token or None, timeout=120.0)
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
