"""Server-side filtering, sorting and paging of table records for AG Grid's infinite row model.

The grid asks for rows ``startRow``..``endRow`` with its own ``filterModel`` and ``sortModel``
(``getRowsRequest``); the answer is that slice of the records passing the filter, sorted, and how
many pass (``getRowsResponse``). The browser then holds one page, not every (model, material)
row of hundreds of models, and the table's filter boxes and sortable headers work as with every
row in the browser: text matches ignore case, a missing cell matches only "blank", missing
values sort last either way.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Record = dict[Any, Any]
Test = Callable[[Any], bool]

_TEXT: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda cell, text: text in cell,
    "notContains": lambda cell, text: text not in cell,
    "equals": operator.eq,
    "notEqual": operator.ne,
    "startsWith": str.startswith,
    "endsWith": str.endswith,
}
_NUMBER: dict[str, Callable[[float, float], bool]] = {
    "equals": operator.eq,
    "notEqual": operator.ne,
    "lessThan": operator.lt,
    "lessThanOrEqual": operator.le,
    "greaterThan": operator.gt,
    "greaterThanOrEqual": operator.ge,
}


def _missing(cell: Any) -> bool:
    return cell is None or cell == "" or (isinstance(cell, float) and math.isnan(cell))


def _number(cell: Any) -> float | None:
    if _missing(cell):
        return None
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


def _condition(condition: Mapping[str, Any]) -> Test | None:
    """One condition of the grid's filter model as a test of a cell (None: not understood)."""
    kind, operand = condition.get("type"), condition.get("filter")
    if kind in ("blank", "notBlank"):
        return _missing if kind == "blank" else lambda cell: not _missing(cell)
    if condition.get("filterType") == "number":
        if kind == "inRange" and operand is not None and condition.get("filterTo") is not None:
            low, high = float(operand), float(condition["filterTo"])
            return lambda cell: (x := _number(cell)) is not None and low < x < high
        compare = _NUMBER.get(str(kind))
        if compare is None or operand is None:
            return None
        number = float(operand)
        return lambda cell: (x := _number(cell)) is not None and compare(x, number)
    match = _TEXT.get(str(kind))
    if match is None or operand is None:
        return None
    text = str(operand).lower()
    return lambda cell: not _missing(cell) and match(str(cell).lower(), text)


def column_test(model: Mapping[str, Any]) -> Test | None:
    """A column's filter model (one condition, or several joined by AND / OR) as a test of
    its cells; None when there is nothing understood to test."""
    if "conditions" not in model:
        return _condition(model)
    tests = [t for c in model["conditions"] if (t := _condition(c)) is not None]
    if not tests:
        return None
    join = all if model.get("operator", "AND") == "AND" else any
    return lambda cell: join(test(cell) for test in tests)


def parse_filter(filter_model: Mapping[str, Any] | None) -> list[tuple[str, Test]]:
    """``{"material": {"filterType": "text", "type": "contains", "filter": "cu"}}`` ->
    [(column, test), ...]; conditions not understood are left out (they filter nothing)."""
    return [
        (column, test)
        for column, model in (filter_model or {}).items()
        if (test := column_test(model)) is not None
    ]


def _sort_key(column: str) -> Callable[[Record], tuple[bool, Any]]:
    def key(record: Record) -> tuple[bool, Any]:
        cell = record.get(column)
        missing = cell is None or (isinstance(cell, float) and math.isnan(cell))
        return (missing, 0 if missing else cell)

    return key


def query_records(
    records: list[Record],
    filter_model: Mapping[str, Any] | None,
    sort_model: Sequence[Mapping[str, str]] | None,
) -> list[Record]:
    """The records passing every column's filter, sorted as ``sort_model`` says (the first
    column first; missing values last)."""
    tests = parse_filter(filter_model)
    kept = [r for r in records if all(test(r.get(column)) for column, test in tests)]
    for sort in reversed(list(sort_model or [])):  # stable: the first sort column wins
        key = _sort_key(sort["colId"])
        present = [r for r in kept if not key(r)[0]]
        missing = [r for r in kept if key(r)[0]]
        present.sort(key=key, reverse=sort.get("sort") == "desc")
        kept = present + missing
    return kept


def rows_response(records: list[Record], request: Mapping[str, Any]) -> dict[str, Any]:
    """The answer to the grid's ``getRowsRequest``: rows ``startRow``..``endRow`` of the
    filtered, sorted records and how many there are (``getRowsResponse``)."""
    kept = query_records(records, request.get("filterModel"), request.get("sortModel"))
    start = max(int(request.get("startRow") or 0), 0)
    end = int(request.get("endRow") or len(kept))
    return {"rowData": kept[start:end], "rowCount": len(kept)}
