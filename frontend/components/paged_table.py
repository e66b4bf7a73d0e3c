"""Server-side filtering, sorting and paging of DataTable records (``*_action="custom"``).

The browser then holds one page, not every (model, material) row of hundreds of models. The
filter syntax is the one DataTable's own filter row writes (``{col} op value`` joined by
``&&``), so the table looks and behaves as with native filtering.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

Record = dict[Any, Any]

# The longest operators first, so "<=" is not read as "<".
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "s<=": operator.le,
    "s>=": operator.ge,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s>": operator.gt,
    "s=": operator.eq,
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
    "contains": lambda a, b: str(b).lower() in str(a).lower(),
    "icontains": lambda a, b: str(b).lower() in str(a).lower(),
    "scontains": lambda a, b: str(b) in str(a),
    "datestartswith": lambda a, b: str(a).startswith(str(b)),
}
_PART = re.compile(
    r"^\s*\{(?P<column>[^}]+)\}\s*(?P<op>"
    + "|".join(re.escape(op) for op in sorted(_OPERATORS, key=len, reverse=True))
    + r")\s*(?P<value>.*?)\s*$"
)


def _value(text: str) -> Any:
    """A filter operand: a quoted string, a number, or the bare text."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        return text[1:-1]
    try:
        return float(text)
    except ValueError:
        return text


def parse_filter(query: str | None) -> list[tuple[str, Callable[[Any, Any], bool], Any]]:
    """``'{material} contains "Cu" && {v} > 3'`` -> [(column, test, operand), ...]; parts
    that are not of this form are ignored (DataTable marks them invalid itself)."""
    parts = []
    for part in (query or "").split(" && "):
        match = _PART.match(part)
        if match:
            parts.append((match["column"], _OPERATORS[match["op"]], _value(match["value"])))
    return parts


def _passes(record: Record, column: str, test: Callable[[Any, Any], bool], operand: Any) -> bool:
    cell = record.get(column)
    if cell is None:
        return False
    if isinstance(operand, float) and not isinstance(cell, int | float):
        return test(str(cell), str(_short(operand)))
    try:
        return bool(test(cell, operand))
    except TypeError:
        return bool(test(str(cell), str(operand)))


def _short(number: float) -> int | float:
    return int(number) if number.is_integer() else number


def _sort_key(column: str) -> Callable[[Record], tuple[bool, Any]]:
    def key(record: Record) -> tuple[bool, Any]:
        cell = record.get(column)
        missing = cell is None or (isinstance(cell, float) and math.isnan(cell))
        return (missing, 0 if missing else cell)

    return key


def query_records(
    records: list[Record], filter_query: str | None, sort_by: Sequence[dict[str, str]] | None
) -> list[Record]:
    """The records passing the filter, sorted as ``sort_by`` says (missing values last)."""
    kept = [
        r
        for r in records
        if all(
            _passes(r, column, test, operand)
            for column, test, operand in parse_filter(filter_query)
        )
    ]
    for sort in reversed(list(sort_by or [])):  # stable: the first sort column wins
        descending = sort.get("direction") == "desc"
        present = [r for r in kept if not _sort_key(sort["column_id"])(r)[0]]
        missing = [r for r in kept if _sort_key(sort["column_id"])(r)[0]]
        present.sort(key=_sort_key(sort["column_id"]), reverse=descending)
        kept = present + missing
    return kept


def page_of(
    records: list[Record],
    filter_query: str | None,
    sort_by: Sequence[dict[str, str]] | None,
    page_current: int | None,
    page_size: int,
) -> tuple[list[Record], int]:
    """One page of the filtered, sorted records, and the number of pages (at least 1)."""
    kept = query_records(records, filter_query, sort_by)
    pages = max(1, math.ceil(len(kept) / page_size))
    page = min(max(page_current or 0, 0), pages - 1)
    return kept[page * page_size : (page + 1) * page_size], pages
