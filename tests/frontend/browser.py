"""Reusable helpers for browser tests: headless Chromium, a live Dash server, console errors."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from frontend.app import create_app

CHROMIUM_BINARY = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
)


@contextmanager
def chromium_driver(download_dir: Path | None = None) -> Iterator[webdriver.Chrome]:
    """A headless Chromium webdriver with a fresh profile; browser console logs are kept.

    With ``download_dir``, files the page downloads are saved there without asking.
    """
    with tempfile.TemporaryDirectory(prefix="mlipm-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM_BINARY
        for arg in CHROMIUM_ARGS:
            options.add_argument(arg)
        options.add_argument(f"--user-data-dir={profile}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if download_dir is not None:
            options.add_experimental_option(
                "prefs",
                {
                    "download.default_directory": str(download_dir),
                    "download.prompt_for_download": False,
                },
            )
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        try:
            if download_dir is not None:
                # Also through DevTools: some headless Chromium versions ignore the preference.
                driver.execute_cdp_cmd(
                    "Browser.setDownloadBehavior",
                    {"behavior": "allow", "downloadPath": str(download_dir)},
                )
            yield driver
        finally:
            driver.quit()


def serve_dash(api_url: str) -> tuple[str, Callable[[], None]]:
    """Serve ``create_app(api_url)`` on a free localhost port in a thread: (base_url, stop)."""
    server = make_server("127.0.0.1", 0, create_app(api_url).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dash-test-server", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=10)

    return f"http://127.0.0.1:{server.server_port}", stop


def browser_logs(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Browser console entries since the last call (the log is drained by reading it)."""
    logs: list[dict[str, Any]] = driver.get_log("browser")
    return logs


def severe_console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """SEVERE console entries, except the favicon 404 browsers ask for on their own."""
    return [
        entry
        for entry in browser_logs(driver)
        if entry.get("level") == "SEVERE" and "favicon.ico" not in entry.get("message", "")
    ]


def wait_for(
    driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], Any], timeout: float = 30
) -> Any:
    """Wait until ``condition(driver)`` is truthy and return it. A condition that reads an
    element Dash re-renders between the find and the read (stale) is tried again at the next
    poll."""
    wait = WebDriverWait(
        driver, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
    )
    return wait.until(condition)


def set_dropdown(driver: webdriver.Chrome, dropdown_id: str, text: str) -> None:
    """Open the ``dcc.Dropdown`` with id ``dropdown_id`` and click its option labelled ``text``."""
    driver.find_element(By.CSS_SELECTOR, f"#{dropdown_id}").click()
    option = wait_for(
        driver,
        lambda d: next(
            (
                o
                for o in d.find_elements(By.CSS_SELECTOR, "[role='option']")
                if o.text.strip() == text
            ),
            None,
        ),
    )
    # in a long list the option can sit under the list's sticky search box: centre it first
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", option)
    option.click()


def page_text(driver: webdriver.Chrome) -> str:
    """All rendered text, including rows scrolled out of view inside a table."""
    text: str = driver.execute_script("return document.body.innerText")
    return text


def plotted_trace_count(driver: webdriver.Chrome, graph_id: str) -> int:
    """How many traces Plotly drew in the ``dcc.Graph`` with id ``graph_id`` (0 if none yet)."""
    count: int = driver.execute_script(
        "const el = document.querySelector(arguments[0]);"
        "return el && el.data ? el.data.length : 0;",
        f"#{graph_id}.js-plotly-plot, #{graph_id} .js-plotly-plot",
    )
    return count


def trace_names(driver: webdriver.Chrome, graph_id: str, at_least: int = 1) -> list[str] | None:
    """The names of the traces Plotly drew in graph ``graph_id``; None until there are
    ``at_least`` of them (for ``wait_for``)."""
    names: list[str] | None = driver.execute_script(
        "const g = document.querySelector(arguments[0]);"
        "return g && g.data && g.data.length >= arguments[1] ? g.data.map(t => t.name) : null;",
        f"#{graph_id}.js-plotly-plot, #{graph_id} .js-plotly-plot",
        at_least,
    )
    return names


SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the whole page as ``screenshots/<name>.png`` (an ignored folder) and return it."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(900, min(int(height) + 50, 6000)))
    driver.save_screenshot(str(path))
    return path


def downloaded_file(directory: Path, timeout: float = 30) -> Path:
    """The one finished download in ``directory`` (Chromium writes ``*.crdownload`` first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = [p for p in directory.iterdir() if not p.name.endswith(".crdownload")]
        partial = [p for p in directory.iterdir() if p.name.endswith(".crdownload")]
        if len(files) == 1 and not partial:
            return files[0]
        if len(files) > 1:
            raise AssertionError(f"more than one download in {directory}: {files}")
        time.sleep(0.2)
    raise AssertionError(f"no finished download in {directory} after {timeout} s")
