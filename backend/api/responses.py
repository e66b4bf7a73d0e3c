"""Responses several route modules share."""

from __future__ import annotations

from fastapi.responses import StreamingResponse

from backend.services import run_artifacts


def artifact_response(opened: run_artifacts.ArtifactStream) -> StreamingResponse:
    """Stream an opened artifact with its type, length, filename and sha256."""
    artifact = opened.artifact
    headers = {
        "Content-Disposition": f'attachment; filename="{artifact.filename}"',
        "Content-Length": str(artifact.size_bytes),
        "X-Content-SHA256": artifact.sha256,
    }
    return StreamingResponse(opened.chunks, media_type=artifact.media_type, headers=headers)
