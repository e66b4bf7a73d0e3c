"""HTTP hardening: security headers on the API and the dashboard (whose CSP Dash runs under, in
Chromium, served by gunicorn), checked request ids, ``Allow`` on 405, one 422 for malformed
bodies, an OpenAPI that says where a token is optional, and the API server's read deadlines."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.cli.localservices import free_port
from backend.domain.statuses import Role
from backend.services import users
from frontend.app import create_app as create_dashboard
from tests.live import _spawn, _stop, wait_until

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


@pytest.fixture
def as_admin(db_session: Session) -> dict[str, str]:
    issued = users.ensure_user_with_token(
        db_session, name=f"sec-{uuid.uuid4().hex[:6]}", role=Role.ADMIN
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/health"), ("GET", "/nowhere"), ("GET", "/tokens"), ("PUT", "/benchmarks")],
)
def test_every_api_response_carries_the_security_headers(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path)
    for name, value in SECURITY.items():
        assert response.headers[name] == value
    assert response.headers["referrer-policy"] == "no-referrer"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp


def test_the_docs_pages_get_a_policy_they_work_under(client: TestClient) -> None:
    csp = client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "https:" not in csp  # the assets come from the API (tests/backend/test_api_docs.py)
    assert "frame-ancestors 'none'" in csp


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-1.2_3", True),
        ("A" * 64, True),
        ("A" * 65, False),
        ("<script>alert(1)</script>", False),
        ("a b", False),
        ("", False),
    ],
)
def test_a_request_id_is_echoed_only_when_it_is_a_safe_token(
    client: TestClient, sent: str, kept: bool
) -> None:
    response = client.get("/tokens", headers={"X-Request-ID": sent})  # 401: the error body too
    rid = response.headers["x-request-id"]
    assert (rid == sent) is kept
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid)
    assert response.json()["error"]["request_id"] == rid


def test_a_405_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.request("PUT", "/tokens")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["request_id"]
    assert client.request("TRACE", "/health").headers["allow"] == "GET"


@pytest.mark.parametrize(
    "body", [b"{bad json", b'{"name": "\xff"}', b"\xff\xfe{", b'{"name": "a"'], ids=repr
)
@pytest.mark.parametrize("path", ["/tokens", "/users", "/references"])
def test_a_malformed_body_is_one_422_with_the_error_shape(
    client: TestClient, as_admin: dict[str, str], body: bytes, path: str
) -> None:
    headers = {**as_admin, "Content-Type": "application/json"}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["where"].startswith("body")


def test_openapi_says_where_a_token_is_optional_and_documents_the_422(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for optional in (("/models", "get"), ("/models/{model_id}", "get")):
        assert paths[optional[0]][optional[1]]["security"] == [{}, {"HTTPBearer": []}]
    for required in (("/models", "post"), ("/tokens", "get"), ("/users/{user_id}/tokens", "get")):
        assert paths[required[0]][required[1]]["security"] == [{"HTTPBearer": []}]
    assert "security" not in paths["/health"]["get"]
    assert "malformed body" in paths["/tokens"]["post"]["responses"]["422"]["description"]


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def test_the_dashboard_csp_allows_exactly_its_inline_scripts() -> None:
    server = create_dashboard("http://127.0.0.1:9").server
    response = server.test_client().get("/")
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-eval'" not in csp
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    # without HTML comments: Dash's Internet Explorer warning sits in a conditional comment
    page = re.sub(r"<!--.*?-->", "", response.get_data(as_text=True), flags=re.S)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", page, re.S)
    executable = [body for attrs, body in inline if "application/json" not in attrs]
    assert executable, "Dash starts its renderer with an inline script"
    for body in executable:
        assert _sha256(body) in script_src, body[:80]


def _raw(port: int, data: bytes, *, wait_s: float) -> bytes:
    """Send ``data`` and read until the server closes the connection (or ``wait_s``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except TimeoutError:
            return received + b"<still open>"
        return received


@pytest.fixture
def api_port(database_url: str, tmp_path: Path) -> Iterator[int]:
    """``mlipm api`` with one-second read deadlines and keep-alive, as a real process."""
    port = free_port()
    args = ["-m", "backend.cli", "api", "--header-timeout", "1", "--body-timeout", "1"]
    proc = _spawn([*args, "--keep-alive", "1"], tmp_path / "api.log", {"MLIPM_API_PORT": str(port)})

    def _up() -> bool:
        assert proc.poll() is None, (tmp_path / "api.log").read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(_up, 60, "the API to answer")
        yield port
    finally:
        _stop(proc)


def test_the_api_server_drops_slow_and_idle_clients(api_port: int) -> None:
    started = time.monotonic()
    # a request head sent slowly, never finished: 408 once the head deadline passes
    assert _raw(api_port, b"GET /health HTTP/1.1\r\nHost: x\r\n", wait_s=5).startswith(
        b"HTTP/1.1 408"
    )
    # a connection that never sends a byte
    assert _raw(api_port, b"", wait_s=5).startswith(b"HTTP/1.1 408")
    # a body that stalls: the connection is closed (the route sees a disconnect)
    stalled = b"POST /tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
    assert not _raw(api_port, stalled, wait_s=5).endswith(b"<still open>")
    # an idle kept-alive connection, after a complete request, is closed too
    answered = _raw(api_port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", wait_s=5)
    assert answered.startswith(b"HTTP/1.1 200")
    assert b"nosniff" in answered
    assert time.monotonic() - started < 15  # each took about a second, not forever


@pytest.mark.browser
def test_the_dashboard_runs_under_gunicorn_and_its_csp(tmp_path: Path) -> None:
    """`mlipm dashboard` is gunicorn; in Chromium the page renders and a callback reports the
    unreachable API, with no console error (a CSP violation is one)."""
    from selenium.webdriver.common.by import By

    from tests.frontend.browser import chromium_driver, severe_console_errors, wait_for

    port, nowhere = free_port(), free_port()
    env = {"MLIPM_DASH_PORT": str(port), "MLIPM_API_URL": f"http://127.0.0.1:{nowhere}"}
    args = ["-m", "backend.cli", "dashboard", "--workers", "1", "--connections", "100"]
    proc = _spawn(args, tmp_path / "dash.log", env)
    url = f"http://127.0.0.1:{port}"

    def _up() -> httpx.Response | None:
        assert proc.poll() is None, (tmp_path / "dash.log").read_text()
        try:
            return httpx.get(url + "/", timeout=2)
        except httpx.HTTPError:
            return None

    try:
        index = wait_until(_up, 90, "the dashboard to answer")
        assert index.headers["server"].startswith("gunicorn")
        assert "script-src 'self' 'sha256-" in index.headers["content-security-policy"]
        with chromium_driver() as driver:
            driver.get(url + "/benchmarks/eos")
            error = wait_for(driver, lambda d: d.find_elements(By.ID, "board-error"), 60)
            assert "Cannot reach the API" in error[0].text
            assert driver.find_elements(By.ID, "app-navbar")
            assert severe_console_errors(driver) == []
    finally:
        _stop(proc)
        print((tmp_path / "dash.log").read_text()[-3000:], file=sys.stderr)  # shown on failure


def test_an_error_no_handler_answers_is_a_500_with_the_headers_and_request_id() -> None:
    """An exception that escapes every handler (here a route that fails outright) is answered
    by the app's outermost middleware, not by Starlette's bare error middleware: the error
    shape, the security headers and the request id all hold."""
    from backend.main import create_app

    app = create_app()

    @app.get("/boom-for-the-test")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom-for-the-test", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "internal error; see server logs",
        "where": None,
        "request_id": "trace-500",
    }
    assert response.headers["x-request-id"] == "trace-500"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "a bug" not in response.text


def test_mlipm_api_starts_the_upload_parsers_before_the_first_upload(tmp_path: Path) -> None:
    """`mlipm api` forks the parsers' forkserver at start-up (with ASE imported in it), so the
    first upload does not wait for it (1.4 s of that upload measured without, on idle cores)."""
    import psutil

    port = free_port()
    proc = _spawn(["-m", "backend.cli", "api"], tmp_path / "api.log", {"MLIPM_API_PORT": str(port)})

    def forkserver() -> list[str] | None:
        assert proc.poll() is None, (tmp_path / "api.log").read_text()
        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                cmdline = child.cmdline()
                if any("forkserver" in part for part in cmdline):
                    return cmdline
        return None

    try:
        cmdline = wait_until(forkserver, 120, "the parsers' forkserver")
        assert "workers.structure_files" in " ".join(cmdline)  # preloaded there, not per upload
    finally:
        _stop(proc)
