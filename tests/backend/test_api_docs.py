"""``/docs`` and ``/redoc`` work offline: every asset they load comes from the API itself.

The HTTP test reads the pages' asset URLs; the browser test loads both pages in headless
Chromium from a live API (uvicorn in a thread) and checks that Swagger UI lists every
operation, ReDoc renders, and nothing was requested from anywhere but the API.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from backend.api.docs import ASSETS_URL
from backend.cli.localservices import free_port
from backend.main import create_app

ASSET = re.compile(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""")


@pytest.fixture(scope="module")
def docs_client() -> TestClient:
    return TestClient(create_app())  # the docs pages and the document need no database


def _urls(html: str) -> list[str]:
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_assets_of_the_api(docs_client: TestClient, page: str) -> None:
    response = docs_client.get(page)
    assert response.status_code == 200
    assert "//" not in response.text.replace("http://www.w3.org", ""), "an absolute URL"
    urls = _urls(response.text)
    assert urls
    assert all(u.startswith("/") for u in urls), urls
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts
    assert all(u.startswith(f"{ASSETS_URL}/") for u in scripts)
    for url in urls:
        asset = docs_client.get(url)
        assert asset.status_code == 200, url
        kind = asset.headers["content-type"]
        if url.endswith(".js"):
            assert kind.startswith("text/javascript")
            assert len(asset.content) > 100_000
        elif url.endswith(".css"):
            assert kind.startswith("text/css")
            assert b"swagger-ui" in asset.content
        elif url.endswith(".json"):
            assert asset.json()["openapi"].startswith("3.")
    csp = response.headers["content-security-policy"]
    assert "http" not in csp
    assert "script-src 'self'" in csp


def test_the_docs_assets_are_read_only(docs_client: TestClient) -> None:
    response = docs_client.put(f"{ASSETS_URL}/swagger-ui.css", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert docs_client.get(f"{ASSETS_URL}/nothing.js").status_code == 404
    assert docs_client.get(f"{ASSETS_URL}/../main.py").status_code == 404


@pytest.fixture(scope="module")
def live_docs() -> Iterator[str]:
    """The API on a free localhost port, served by uvicorn in a thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="docs-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _requested(driver: object) -> list[str]:
    urls: list[str] = driver.execute_script(  # type: ignore[attr-defined]
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return urls


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Chromium")
def test_swagger_ui_and_redoc_render_in_a_browser_offline(
    live_docs: str, docs_client: TestClient
) -> None:
    from tests.frontend.browser import chromium_driver, severe_console_errors, wait_for

    paths = docs_client.get("/openapi.json").json()["paths"]
    operations = {(method.upper(), path) for path, methods in paths.items() for method in methods}
    with chromium_driver() as driver:
        driver.get(f"{live_docs}/docs")
        wait_for(driver, lambda d: _swagger_operations(d) == operations)
        assert ("PATCH", "/models/{model_id}") in operations
        assert all(u.startswith(live_docs) for u in _requested(driver)), _requested(driver)
        assert not severe_console_errors(driver)

        driver.get(f"{live_docs}/redoc")
        wait_for(driver, lambda d: "POST /models" in d.execute_script(_REDOC_TEXT))
        # ReDoc's side menu always asks for Redocly's logo on their CDN; the policy blocks it
        # (the image then hides itself), and nothing else leaves the API or is refused
        requested = [u for u in _requested(driver) if u != REDOCLY_LOGO]
        assert all(u.startswith(live_docs) for u in requested), requested
        refused = [e["message"] for e in severe_console_errors(driver)]
        assert all(REDOCLY_LOGO in m for m in refused), refused


REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def _swagger_operations(driver: object) -> set[tuple[str, str]]:
    """(method, path) of every operation Swagger UI shows (an operation with two tags shows
    twice)."""
    pairs: list[list[str]] = driver.execute_script(  # type: ignore[attr-defined]
        "return Array.from(document.querySelectorAll('.opblock-summary')).map(b => ["
        "b.querySelector('.opblock-summary-method').innerText,"
        "b.querySelector('.opblock-summary-path').innerText])"
    )
    return {(method.strip(), path.replace("\u200b", "").strip()) for method, path in pairs}


#: ReDoc's text of the operations it rendered ("POST /models" and so on).
_REDOC_TEXT = (
    "return Array.from(document.querySelectorAll('[data-section-id]'))"
    ".map(e => e.innerText).join(' ').replace(/\\s+/g, ' ')"
)
