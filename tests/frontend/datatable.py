"""Reading a Dash ``DataTable`` in the browser as a visitor sees it: headers, pages, cells.

Each reader takes the table's CSS selector (``"#leaderboard-table"``) and reads in one script,
so no element goes stale while the table re-renders.
"""

from __future__ import annotations

from decimal import Decimal

from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.frontend.browser import wait_for

_HEADERS = """
const rows = Array.from(document.querySelectorAll(arguments[0] + ' tr'))
    .filter(tr => tr.querySelector('th.dash-header'));
return rows.map(tr => Array.from(tr.querySelectorAll('th.dash-header')).flatMap(th => {
    const name = th.querySelector('.column-header-name');
    return Array(th.colSpan).fill(name ? name.textContent.trim() : '');
}));
"""
_PAGE = """
return Array.from(document.querySelectorAll(arguments[0] + ' tr'))
    .map(tr => Array.from(tr.querySelectorAll('td[data-dash-column]')))
    .filter(cells => cells.length)
    .map(cells => Object.fromEntries(
        cells.map(td => [td.dataset.dashColumn, td.textContent.trim()])));
"""
_COLUMN_IDS = """
return Array.from(document.querySelectorAll(arguments[0] + ' th.dash-filter'))
    .map(th => th.dataset.dashColumn);
"""


def visible_headers(driver: webdriver.Chrome, table: str) -> list[str]:
    """Each column's header rows (a merged cell counts for every column under it), joined by a
    space as they read top to bottom."""
    rows: list[list[str]] = driver.execute_script(_HEADERS, table)
    return [" ".join(part for part in parts if part) for parts in zip(*rows, strict=True)]


def column_ids(driver: webdriver.Chrome, table: str) -> list[str]:
    """The column ids, left to right (read from the filter row: one cell per column)."""
    ids: list[str] = driver.execute_script(_COLUMN_IDS, table)
    return ids


def page_rows(driver: webdriver.Chrome, table: str) -> list[dict[str, str]]:
    """The rows of the page on screen, each as {column id: the cell's text}."""
    rows: list[dict[str, str]] = driver.execute_script(_PAGE, table)
    return rows


def all_pages(driver: webdriver.Chrome, table: str) -> tuple[list[dict[str, str]], int]:
    """The rows of every page from the current one on, clicking "next", and how many pages."""
    rows, pages = page_rows(driver, table), 1
    while page := next_page(driver, table):
        rows, pages = rows + page, pages + 1
    return rows, pages


def next_page(driver: webdriver.Chrome, table: str) -> list[dict[str, str]]:
    """Go to the table's next page and return its rows ([] on the last page)."""
    buttons = driver.find_elements(By.CSS_SELECTOR, f"{table} button.next-page")
    if not buttons or not buttons[0].is_enabled():
        return []
    shown = page_rows(driver, table)
    # a click event, as a visitor's: a wide table may hold the button outside the window
    driver.execute_script("arguments[0].click();", buttons[0])
    rows: list[dict[str, str]] = wait_for(
        driver, lambda d: (r := page_rows(d, table)) != shown and r
    )
    return rows


def shown_number(text: str) -> tuple[float, float] | None:
    """A number as the table formats it (d3: ``0.156``, ``4.34e-7``, ``8.8%``, U+2212 minus) and
    half a unit of its last shown digit; None for ``n/a``."""
    if text == "n/a":
        return None
    text = text.replace("\u2212", "-")
    scale = 0.01 if text.endswith("%") else 1.0
    digits = Decimal(text.rstrip("%"))
    exponent = digits.as_tuple().exponent
    assert isinstance(exponent, int)
    return float(digits) * scale, 0.5 * 10.0**exponent * scale
