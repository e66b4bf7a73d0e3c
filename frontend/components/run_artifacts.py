"""The "Artifacts" table of the run page: each file the run produced, with a download link."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html
from dash.development.base_component import Component

from backend.schemas.run_artifacts import RunArtifactRead
from frontend.downloads import run_artifact_href


def artifacts_table(run_id: str, artifacts: list[RunArtifactRead]) -> Component:
    """Name, frames, size and a download link (through the dashboard) per artifact."""
    if not artifacts:
        return html.P("No files stored for this run.", className="text-muted", id="run-artifacts")
    header = html.Thead(html.Tr([html.Th(h) for h in ("Artifact", "Frames", "Size", "sha256")]))
    rows = [
        html.Tr(
            [
                html.Td(
                    html.A(
                        a.name,
                        href=run_artifact_href(run_id, a.name),
                        download=a.filename,
                        id={"type": "run-artifact-link", "name": a.name},
                    )
                ),
                html.Td(str(a.n_frames)),
                html.Td(human_size(a.size_bytes)),
                html.Td(html.Code(a.sha256[:12], title=a.sha256), className="small"),
            ]
        )
        for a in artifacts
    ]
    return dbc.Table([header, html.Tbody(rows)], size="sm", striped=True, id="run-artifacts")


def human_size(size_bytes: int) -> str:
    """1536 -> '1.5 kB' (powers of 1000, as file managers show)."""
    size = float(size_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
