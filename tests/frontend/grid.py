"""Reading and working a dashboard table (AG Grid) in the browser as a visitor does: its
headers, the rows of the page on screen, the pages, a click on a header, a filter box.

Each reader takes the table's CSS selector (``"#leaderboard-table"``) and reads in one script,
so no element goes stale while the grid re-renders. Rows and columns come in the order the
visitor sees them (``row-index``, ``aria-colindex``), not the order of the DOM; rows not drawn
yet (the infinite row model's placeholders, rows whose cells are still empty) are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.frontend.browser import wait_for

_HEADERS = """
const byIndex = (a, b) => a.getAttribute('aria-colindex') - b.getAttribute('aria-colindex');
const root = document.querySelector(arguments[0]);
if (!root) { return []; }
const leaves = Array.from(root.querySelectorAll(
    '.ag-header-row-column .ag-header-cell[col-id]')).sort(byIndex);
const groups = Array.from(root.querySelectorAll('.ag-header-row-group'));
return leaves.map(cell => {
    const index = Number(cell.getAttribute('aria-colindex'));
    const over = groups.map(row => Array.from(row.querySelectorAll('.ag-header-group-cell'))
        .find(g => {
            const first = Number(g.getAttribute('aria-colindex'));
            return first <= index && index < first + Number(g.getAttribute('aria-colspan') || 1);
        }))
        .map(g => g ? g.querySelector('.ag-header-group-text').textContent.trim() : '');
    return [...over, cell.querySelector('.ag-header-cell-text').textContent.trim()];
});
"""
_COLUMN_IDS = """
const root = document.querySelector(arguments[0]);
return root ? Array.from(root.querySelectorAll('.ag-header-row-column .ag-header-cell[col-id]'))
    .sort((a, b) => a.getAttribute('aria-colindex') - b.getAttribute('aria-colindex'))
    .map(cell => cell.getAttribute('col-id')) : [];
"""
_ROWS = """
const root = document.querySelector(arguments[0]);
if (!root) { return []; }
return Array.from(root.querySelectorAll('.ag-center-cols-container .ag-row'))
    .filter(row => !row.classList.contains('ag-row-loading'))
    .sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))
    .map(row => Array.from(row.querySelectorAll('.ag-cell[col-id]'))
        .sort((a, b) => a.getAttribute('aria-colindex') - b.getAttribute('aria-colindex'))
        .map(cell => [cell.getAttribute('col-id'), cell.textContent.trim()]))
    .filter(cells => cells.some(([id, text]) => text));  // drawn, not only laid out
"""


def visible_headers(driver: webdriver.Chrome, table: str) -> list[str]:
    """Each column's headers (its group's above its own), joined by a space as they read top to
    bottom, left to right."""
    columns: list[list[str]] = driver.execute_script(_HEADERS, table)
    return [" ".join(part for part in parts if part) for parts in columns]


def column_ids(driver: webdriver.Chrome, table: str) -> list[str]:
    """The column ids, left to right."""
    ids: list[str] = driver.execute_script(_COLUMN_IDS, table)
    return ids


def page_cells(driver: webdriver.Chrome, table: str) -> list[list[str]]:
    """The rows of the page on screen, each as its cells' texts left to right."""
    rows: list[list[list[str]]] = driver.execute_script(_ROWS, table)
    return [[text for _, text in row] for row in rows]


def page_rows(driver: webdriver.Chrome, table: str) -> list[dict[str, str]]:
    """The rows of the page on screen, each as {column id: the cell's text}."""
    rows: list[list[list[str]]] = driver.execute_script(_ROWS, table)
    return [dict(row) for row in rows]


def all_pages(driver: webdriver.Chrome, table: str) -> tuple[list[dict[str, str]], int]:
    """The rows of every page from the current one on, clicking "next", and how many pages."""
    # the same on two reads in a row: a page is read whole, not while its cells are drawn
    rows, pages = _settled(driver, table, lambda _: True), 1
    while page := next_page(driver, table):
        rows, pages = rows + page, pages + 1
    return rows, pages


def next_page(driver: webdriver.Chrome, table: str) -> list[dict[str, str]]:
    """Go to the table's next page and return its rows ([] on the last page)."""
    buttons = driver.find_elements(By.CSS_SELECTOR, f"{table} .ag-paging-button[data-ref=btNext]")
    if not buttons or buttons[0].get_attribute("aria-disabled") == "true":
        return []
    shown = page_rows(driver, table)
    _click(driver, buttons[0])
    return _settled(driver, table, lambda rows: rows != shown)


def _settled(
    driver: webdriver.Chrome, table: str, wanted: Callable[[list[dict[str, str]]], bool]
) -> list[dict[str, str]]:
    """The rows on screen once they are ``wanted`` and the same on two reads in a row (the
    grid draws a page's cells a frame after its rows)."""
    last: list[list[dict[str, str]]] = [[]]

    def settled(d: webdriver.Chrome) -> list[dict[str, str]] | None:
        rows = page_rows(d, table)
        same, last[0] = rows == last[0], rows
        return rows if rows and same and wanted(rows) else None

    found: list[dict[str, str]] = wait_for(driver, settled)
    return found


def sort_by(driver: webdriver.Chrome, table: str, column: str) -> None:
    """Click the column's header, as a visitor sorts (ascending, then descending, then off)."""
    header = f"{table} .ag-header-cell[col-id='{column}'] .ag-header-cell-label"
    _click(driver, driver.find_element(By.CSS_SELECTOR, header))


def filter_box(driver: webdriver.Chrome, table: str, column: str) -> WebElement:
    """The filter box under the column's header, scrolled into view (type into it)."""
    box = driver.find_element(
        By.CSS_SELECTOR,
        f"{table} .ag-floating-filter[col-id='{column}'] input:not([disabled])",
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    return box


def _click(driver: webdriver.Chrome, element: WebElement) -> None:
    # a click event, as a visitor's: a wide table may hold the element outside the window, or
    # a plot still drawing beside it may cover it for a moment
    driver.execute_script("arguments[0].click();", element)


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
