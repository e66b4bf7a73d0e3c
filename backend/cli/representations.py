"""`mlipm representations summarize`: the cross-run representation summary, computed inline."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from backend.services.representations import WHAT_TO_RUN

representations_app = typer.Typer(help="What models' latent spaces encode, across runs.")
console = Console()


@representations_app.command("summarize")
def representations_summarize(
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", help="projection to draw (repeat; default pca, umap and phate)"),
    ] = None,
) -> None:
    """Summarize every approved model's latest representation runs here (no worker needed),
    store the summary (GET /representations serves it) and print the probe R² table."""
    from workers.benchmarks._landscape_map import MAP_METHODS
    from workers.tasks.representations import summarize_stored

    unknown = sorted(set(maps or ()) - set(MAP_METHODS))
    if unknown:
        raise typer.BadParameter(f"unknown projection(s) {unknown}; known: {list(MAP_METHODS)}")
    stored = summarize_stored(map_methods=tuple(maps or MAP_METHODS))
    if stored is None:
        console.print(WHAT_TO_RUN.replace("no representation summary yet", "nothing to summarize"))
        raise typer.Exit(1)
    console.print(f"summary {stored.id}: {stored.n_runs} runs")
    console.print(_probe_table(stored.body))


def _probe_table(body: dict[str, Any]) -> Table:
    """Cross-validated R² (whole structures held out) per model and target, and its twin's."""
    probes = body["probes"]
    # model names in full at any terminal width (the R² columns give way)
    widest = max((len(m["name"]) for m in body["models"]), default=5)
    model = Column("model", no_wrap=True, min_width=widest)
    table = Table(model, *probes["targets"], "random twin", title=probes["folds"])
    for model in body["models"]:
        name = model["name"]
        cells = [_r2(probes["r2"][name][t]) for t in probes["targets"]]
        table.add_row(name, *cells, probes["random_twin"][name] or "")
    return table


def _r2(probe: dict[str, Any] | None) -> str:
    return "-" if probe is None else f"{probe['mean']:.2f} ± {probe['std']:.2f}"
