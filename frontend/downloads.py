"""File downloads the dashboard serves itself, streamed from the API.

The API's URL (MLIPM_API_URL) may be reachable from the dashboard's server only (a private
network, a container name), so links on the pages point here, at the dashboard, which relays
the file from the API in blocks without holding it whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import flask
import httpx

from frontend.api_client import ApiError

RUN_ARTIFACT_ROUTE = "/downloads/runs/<run_id>/artifacts/<name>"
_RELAYED = ("Content-Type", "Content-Disposition", "Content-Length", "X-Content-SHA256")


def run_artifact_href(run_id: str, name: str) -> str:
    """The dashboard's download link of a run's artifact."""
    return RUN_ARTIFACT_ROUTE.replace("<run_id>", run_id).replace("<name>", name)


def register_downloads(server: flask.Flask) -> None:
    """Add the download routes to the dashboard's Flask server."""
    server.add_url_rule(RUN_ARTIFACT_ROUTE, "run_artifact", download_run_artifact)


def download_run_artifact(run_id: str, name: str) -> flask.Response:
    """Relay ``GET /runs/{run_id}/artifacts/{name}`` of the API: the file, or its error."""
    from frontend.api_client import current_api_client

    try:
        upstream = current_api_client().open_run_artifact(run_id, name)
    except ApiError as exc:
        return flask.Response(exc.message, status=exc.status_code or 502, mimetype="text/plain")
    headers = {k: upstream.headers[k] for k in _RELAYED if k in upstream.headers}
    return flask.Response(_relay(upstream), status=200, headers=headers)


def _relay(upstream: httpx.Response) -> Iterator[bytes]:
    try:
        yield from upstream.iter_bytes()
    finally:
        upstream.close()
