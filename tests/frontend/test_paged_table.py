"""Server-side filtering, sorting and paging of table records (AG Grid's infinite row model:
its ``filterModel``, ``sortModel`` and ``startRow``..``endRow``)."""

from __future__ import annotations

from typing import Any

from frontend.components.paged_table import parse_filter, query_records, rows_response

RECORDS = [
    {"material": "Cu", "model": "EMT", "v": 11.6},
    {"material": "Al", "model": "EMT", "v": 16.3},
    {"material": "Cu", "model": "LJ-exp-fit", "v": 12.1},
    {"material": "Ni", "model": "LJ-exp-fit", "v": None},
    {"material": "Al", "model": "Morse", "v": 15.9},
]


def _models(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["material"], r["model"]) for r in records]


def _text(kind: str, text: str) -> dict[str, Any]:
    return {"filterType": "text", "type": kind, "filter": text}


def _number(kind: str, number: float, to: float | None = None) -> dict[str, Any]:
    return {"filterType": "number", "type": kind, "filter": number, "filterTo": to}


def test_filters_as_the_filter_boxes_write_them():
    # what the grid sends for "cu" typed in a text column's box and "> 12" chosen in a number's
    assert _models(query_records(RECORDS, {"material": _text("contains", "cu")}, None)) == [
        ("Cu", "EMT"),
        ("Cu", "LJ-exp-fit"),
    ]
    assert _models(query_records(RECORDS, {"v": _number("greaterThan", 12)}, None)) == [
        ("Al", "EMT"),
        ("Cu", "LJ-exp-fit"),
        ("Al", "Morse"),
    ]
    both = {"material": _text("contains", "al"), "v": _number("lessThan", 16)}
    assert _models(query_records(RECORDS, both, None)) == [("Al", "Morse")]
    assert _models(query_records(RECORDS, {"v": _number("equals", 11.6)}, None)) == [("Cu", "EMT")]
    assert _models(query_records(RECORDS, {"model": _text("startsWith", "lj")}, None)) == [
        ("Cu", "LJ-exp-fit"),
        ("Ni", "LJ-exp-fit"),
    ]
    between = {"v": _number("inRange", 12.1, 16.3)}  # the grid's range leaves out its ends
    assert _models(query_records(RECORDS, between, None)) == [("Al", "Morse")]


def test_two_conditions_on_a_column_join_by_and_or_or():
    either = {
        "filterType": "text",
        "operator": "OR",
        "conditions": [_text("equals", "ni"), _text("equals", "AL")],
    }
    assert _models(query_records(RECORDS, {"material": either}, None)) == [
        ("Al", "EMT"),
        ("Ni", "LJ-exp-fit"),
        ("Al", "Morse"),
    ]
    window = {
        "filterType": "number",
        "operator": "AND",
        "conditions": [_number("greaterThanOrEqual", 12.1), _number("lessThanOrEqual", 15.9)],
    }
    assert _models(query_records(RECORDS, {"v": window}, None)) == [
        ("Cu", "LJ-exp-fit"),
        ("Al", "Morse"),
    ]


def test_missing_cells_match_only_blank_and_unknown_filters_are_ignored():
    assert ("Ni", "LJ-exp-fit") not in _models(
        query_records(RECORDS, {"v": _number("lessThan", 100)}, None)
    )
    assert ("Ni", "LJ-exp-fit") not in _models(
        query_records(RECORDS, {"v": _number("notEqual", 1)}, None)
    )
    blank = {"v": {"filterType": "number", "type": "blank"}}
    assert _models(query_records(RECORDS, blank, None)) == [("Ni", "LJ-exp-fit")]
    not_blank = {"v": {"filterType": "number", "type": "notBlank"}}
    assert len(query_records(RECORDS, not_blank, None)) == len(RECORDS) - 1
    unknown = {"material": {"filterType": "set", "values": ["Cu"]}, "v": _text("fuzzy", "x")}
    assert parse_filter(unknown) == []
    assert query_records(RECORDS, unknown, None) == RECORDS


def test_sorts_on_several_columns_with_missing_values_last():
    by_v = query_records(RECORDS, None, [{"colId": "v", "sort": "desc"}])
    assert [r["v"] for r in by_v] == [16.3, 15.9, 12.1, 11.6, None]
    ascending = query_records(RECORDS, None, [{"colId": "v", "sort": "asc"}])
    assert [r["v"] for r in ascending] == [11.6, 12.1, 15.9, 16.3, None]
    two = [{"colId": "material", "sort": "asc"}, {"colId": "v", "sort": "desc"}]
    assert _models(query_records(RECORDS, None, two)) == [
        ("Al", "EMT"),
        ("Al", "Morse"),
        ("Cu", "LJ-exp-fit"),
        ("Cu", "EMT"),
        ("Ni", "LJ-exp-fit"),
    ]


def _request(start: int, end: int, **models: Any) -> dict[str, Any]:
    return {"startRow": start, "endRow": end, "sortModel": [], "filterModel": {}, **models}


def test_pages_cover_every_record_once_and_count_the_rows_that_pass():
    pages = [rows_response(RECORDS, _request(start, start + 2)) for start in (0, 2, 4)]
    assert [page["rowCount"] for page in pages] == [5, 5, 5]
    assert [r for page in pages for r in page["rowData"]] == RECORDS
    assert rows_response(RECORDS, _request(4, 6))["rowData"] == RECORDS[4:]
    assert rows_response(RECORDS, _request(10, 12)) == {"rowData": [], "rowCount": 5}
    cu_by_v = {
        "filterModel": {"material": _text("contains", "cu")},
        "sortModel": [{"colId": "v", "sort": "desc"}],
    }
    filtered = rows_response(RECORDS, _request(0, 2, **cu_by_v))
    assert filtered == {"rowData": [RECORDS[2], RECORDS[0]], "rowCount": 2}
    empty = rows_response(RECORDS, _request(0, 2, filterModel={"material": _text("equals", "zz")}))
    assert empty == {"rowData": [], "rowCount": 0}
