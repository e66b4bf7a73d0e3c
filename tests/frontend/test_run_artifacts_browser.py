"""The run page lists the run's artifacts and downloads them, in headless Chromium.

A real worker runs NVE with EMT on Cu and writes the trajectory to a private artifact store;
the dashboard, a client of the real API, links to its own download route, which relays the
file from the API (whose URL the browser may not reach)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ase.io import read
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy.engine import Engine

from tests.frontend.browser import (
    chromium_driver,
    downloaded_file,
    serve_dash,
    severe_console_errors,
    wait_for,
)
from tests.run_artifacts_stack import SMALL_NVE, ArtifactStack, artifact_stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(engine: Engine, bootstrapped: None) -> Iterator[ArtifactStack]:
    with artifact_stack(engine) as started:
        yield started


@pytest.fixture(scope="module")
def nve_run(stack: ArtifactStack) -> dict[str, Any]:
    run = stack.finished_runs(SMALL_NVE)["nve"]
    assert run["status"] == "succeeded", run
    return run


@pytest.fixture(scope="module")
def dash(stack: ArtifactStack) -> Iterator[str]:
    base_url, stop = serve_dash(stack.api_url)
    try:
        yield base_url
    finally:
        stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[tuple[webdriver.Chrome, Path]]:
    folder = tmp_path / "downloads"
    folder.mkdir()
    with chromium_driver(download_dir=folder) as driver:
        yield driver, folder


def _rows(driver: webdriver.Chrome) -> list[list[str]]:
    rows: list[list[str]] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#run-artifacts tbody tr'))"
        ".map(r => Array.from(r.cells).map(c => c.textContent.trim()));"
    )
    return rows


def test_the_run_page_lists_the_trajectory_and_its_link_downloads_it(
    browser: tuple[webdriver.Chrome, Path],
    dash: str,
    stack: ArtifactStack,
    nve_run: dict[str, Any],
) -> None:
    driver, folder = browser
    run_id = nve_run["id"]
    with stack.http() as http:
        listed = http.get(f"/runs/{run_id}/artifacts").json()["items"][0]
        from_api = http.get(f"/runs/{run_id}/artifacts/trajectory").content
    driver.get(f"{dash}/runs/{run_id}")
    rows = wait_for(driver, lambda d: _rows(d) or None)
    assert len(rows) == 1
    name, frames, size, sha = rows[0]
    assert name == "trajectory"
    assert int(frames) == listed["n_frames"]
    number, unit = size.split()
    scale = {"kB": 1e3, "MB": 1e6}[unit]  # the size in the unit the page chose for it
    assert float(number) == pytest.approx(listed["size_bytes"] / scale, abs=0.05)
    assert listed["sha256"].startswith(sha)

    link = driver.find_element(By.CSS_SELECTOR, "#run-artifacts a")
    href = link.get_attribute("href")
    assert href == f"{dash}/downloads/runs/{run_id}/artifacts/trajectory"  # the dashboard's
    link.click()
    downloaded = downloaded_file(folder).read_bytes()
    assert downloaded == from_api
    assert hashlib.sha256(downloaded).hexdigest() == listed["sha256"]
    frames_read = read(io.StringIO(downloaded.decode()), index=":", format="extxyz")
    assert isinstance(frames_read, list)
    assert len(frames_read) == listed["n_frames"]
    assert severe_console_errors(driver) == []


def test_the_download_route_relays_the_api_s_404(
    dash: str, stack: ArtifactStack, nve_run: dict[str, Any]
) -> None:
    relayed = httpx.get(f"{dash}/downloads/runs/{nve_run['id']}/artifacts/nothing", timeout=30)
    assert relayed.status_code == 404
    assert "'nothing'" in relayed.text
    direct = httpx.get(f"{dash}/downloads/runs/{nve_run['id']}/artifacts/trajectory", timeout=30)
    assert direct.status_code == 200
    assert direct.headers["content-type"] == "chemical/x-extxyz"
    assert "attachment" in direct.headers["content-disposition"]
