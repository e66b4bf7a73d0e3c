"""The dashboard's tables: AG Grid (``dash_ag_grid.AgGrid``) set up one way everywhere.

Columns are plain column definitions; the JavaScript they name (``missingLast``, ``byKey``,
``csvHeader``, ``csvCell``) lives in ``frontend/assets/dashAgGridFunctions.js``. Numbers show in
d3 formats (``.3g``, ``.1%``) and as "n/a" when missing; they sort with missing values last
either way; a CSV export writes the values themselves, not their display.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from dash_ag_grid import AgGrid

Column = dict[str, Any]

#: Bootstrap's font, compact rows, no zebra stripes (a board shades its tiers instead).
THEME = {
    "function": "themeQuartz.withParams({fontFamily: 'inherit', fontSize: 13, spacing: 4, "
    "headerFontWeight: 700, headerBackgroundColor: '#f1f3f5', oddRowBackgroundColor: '#ffffff', "
    "wrapperBorderRadius: 4})"
}
MISSING_LAST = {"function": "missingLast"}
RED = "#b2182b"
ORANGE = "#b35806"

_DEFAULT_COLUMN: Column = {
    "sortable": True,
    "resizable": True,
    "cellDataType": False,  # the formats below, not the grid's guesses
    "useValueFormatterForExport": False,  # a CSV holds the numbers, not their display
    "wrapHeaderText": True,
    "autoHeaderHeight": True,
    "minWidth": 70,
}


def text_column(header: str, field: str, **extra: Any) -> Column:
    """A text column (where a grid has filters: "contains", case-insensitive)."""
    return {"headerName": header, "field": field, "type": "textColumn", **extra}


def number_column(header: str, field: str, specifier: str | None = "", **extra: Any) -> Column:
    """A number column in the d3 format ``specifier`` ("" as it is), "n/a" when missing
    (``specifier=None``: blank when missing); missing values sort last."""
    column: Column = {
        "headerName": header,
        "field": field,
        "type": ["numberColumn", "rightAligned"],
        "comparator": MISSING_LAST,
        **extra,
    }
    if specifier is not None:
        shown = f"d3.format('{specifier}')(params.value)" if specifier else "params.value"
        column["valueFormatter"] = {"function": f"params.value == null ? 'n/a' : {shown}"}
    return column


def highlight(condition: str, color: str) -> dict[str, Any]:
    """A ``cellStyle``: bold in ``color`` where ``condition`` (JavaScript on ``params``) holds."""
    style = {"color": color, "fontWeight": "bold"}
    return {"styleConditions": [{"condition": condition, "style": style}]}


def grouped(columns: Sequence[tuple[str, Column]]) -> list[Column]:
    """(group, column) pairs -> column definitions, consecutive columns of one group under
    one header (an empty group name: an empty header cell above)."""
    groups: list[Column] = []
    for group, column in columns:
        if groups and groups[-1]["headerName"] == group:
            groups[-1]["children"].append(column)
        else:
            groups.append({"headerName": group, "children": [column]})
    return groups


def leaf_columns(columns: Sequence[Column]) -> Iterator[tuple[str, Column]]:
    """The (group header, column) pairs under ``columns``, left to right."""
    for column in columns:
        if "children" in column:
            for group, leaf in leaf_columns(column["children"]):
                yield " ".join(p for p in (column["headerName"], group) if p), leaf
        else:
            yield "", column


def headers(columns: Sequence[Column]) -> list[str]:
    """Each column's headers joined top to bottom, as a CSV export writes them."""
    return [" ".join(p for p in (g, c["headerName"]) if p) for g, c in leaf_columns(columns)]


def data_grid(
    grid_id: str,
    *,
    page_size: int | None = None,
    filters: bool = True,
    infinite: bool = False,
    **props: Any,
) -> AgGrid:
    """A grid (empty unless ``columnDefs`` and ``rowData`` are given) as tall as its rows: paged by
    ``page_size`` (None: one page), a filter box under every header with ``filters``, rows
    asked of the server a page at a time with ``infinite`` (``getRowsRequest``)."""
    options: dict[str, Any] = {
        "theme": THEME,
        "columnTypes": {
            "textColumn": {"filter": "agTextColumnFilter" if filters else False},
            "numberColumn": {"filter": "agNumberColumnFilter" if filters else False},
        },
        "domLayout": "autoHeight",
        "suppressColumnVirtualisation": True,  # every column in the page, as a visitor reads it
        "enableCellTextSelection": True,
        "ensureDomOrder": True,
        # widths come with the columns (fit_widths): the grid's own fitCellContents measured
        # every cell in the browser, 0.4 s of a 200-model leaderboard's first draw
        "pagination": page_size is not None,
    }
    if page_size is not None:
        options |= {"paginationPageSize": page_size, "paginationPageSizeSelector": False}
    if infinite:
        options |= {"cacheBlockSize": page_size or 100}
    options |= props.pop("dashGridOptions", {})
    props.setdefault("columnDefs", [])
    if infinite:
        props["rowModelType"] = "infinite"
    else:
        props.setdefault("rowData", [])
    return AgGrid(
        id=grid_id,
        defaultColDef={**_DEFAULT_COLUMN, "floatingFilter": filters},
        dashGridOptions=options,
        style={"width": "100%"},
        **props,
    )


def csv_export(file_name: str) -> dict[str, Any]:
    """``csvExportParams`` writing ``file_name``: the rows after the grid's sort and filter
    (every page), the columns shown, one header line, values unformatted, links as text."""
    return {
        "fileName": file_name,
        "skipColumnGroupHeaders": True,
        "processHeaderCallback": {"function": "csvHeader(params)"},
        "processCellCallback": {"function": "csvCell(params)"},
    }


#: The grid's 13 px font: pixels per character (lower case and digits in DejaVu Sans, the widest
#: of the usual system fonts, so a text fits wherever it is read), a cell's padding on both
#: sides, the header's sort and menu icons, and the widest a column grows (longer texts end
#: in an ellipsis).
CHAR_PX = 8.0
CELL_PAD_PX = 18
HEADER_PAD_PX = 36
MAX_WIDTH_PX = 480
#: Characters a number column shows at most in its formats (``.3g`` with sign and exponent).
NUMBER_CHARS = 9
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def fit_widths(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> list[Column]:
    """``columns`` with each leaf's ``width`` from what it shows: its longest text in ``rows``
    (markdown links as their text; numbers at most :data:`NUMBER_CHARS`), and its header's
    longest word (headers wrap), within ``minWidth`` and :data:`MAX_WIDTH_PX`. What the grid's
    ``fitCellContents`` measured in the browser, computed with the data instead."""
    out: list[Column] = []
    for column in columns:
        if "children" in column:
            out.append({**column, "children": fit_widths(column["children"], rows)})
            continue
        words = str(column.get("headerName", "")).split() or [""]
        header = max(len(w) for w in words) * CHAR_PX + HEADER_PAD_PX
        field = column.get("field", "")
        empty = NUMBER_CHARS if _is_number(column) else 0
        longest = max((_shown_chars(column, row.get(field)) for row in rows), default=empty)
        cells = longest * CHAR_PX + CELL_PAD_PX
        floor = float(column.get("minWidth") or _DEFAULT_COLUMN["minWidth"])
        width = int(min(MAX_WIDTH_PX, max(floor, header, cells)))
        out.append({**column, "width": width})
    return out


def _is_number(column: Column) -> bool:
    kind = column.get("type", [])
    return "numberColumn" in (kind if isinstance(kind, list) else [kind])


def _shown_chars(column: Column, value: Any) -> int:
    if value is None:
        return 3  # "n/a"
    if _is_number(column) and isinstance(value, int | float):
        return min(NUMBER_CHARS, len(f"{value:.3g}"))
    return len(_LINK.sub(r"\1", str(value)))
