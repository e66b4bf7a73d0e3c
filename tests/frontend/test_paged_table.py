"""Server-side filtering, sorting and paging of table records (the DataTable filter syntax)."""

from __future__ import annotations

from frontend.components.paged_table import page_of, parse_filter, query_records

RECORDS = [
    {"material": "Cu", "model": "EMT", "v": 11.6},
    {"material": "Al", "model": "EMT", "v": 16.3},
    {"material": "Cu", "model": "LJ-exp-fit", "v": 12.1},
    {"material": "Ni", "model": "LJ-exp-fit", "v": None},
    {"material": "Al", "model": "Morse", "v": 15.9},
]


def _models(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["material"], r["model"]) for r in records]


def test_filters_as_the_filter_row_writes_them():
    # what DataTable writes for "cu" typed in a text column and "> 12" in a numeric one
    assert _models(query_records(RECORDS, '{material} icontains "cu"', None)) == [
        ("Cu", "EMT"),
        ("Cu", "LJ-exp-fit"),
    ]
    assert _models(query_records(RECORDS, "{v} > 12", None)) == [
        ("Al", "EMT"),
        ("Cu", "LJ-exp-fit"),
        ("Al", "Morse"),
    ]
    both = '{material} icontains "al" && {v} s< 16'
    assert _models(query_records(RECORDS, both, None)) == [("Al", "Morse")]
    assert _models(query_records(RECORDS, "{v} = 11.6", None)) == [("Cu", "EMT")]


def test_unknown_parts_are_ignored_and_missing_cells_never_match():
    assert parse_filter("not a filter") == []
    assert len(query_records(RECORDS, "not a filter", None)) == len(RECORDS)
    assert ("Ni", "LJ-exp-fit") not in _models(query_records(RECORDS, "{v} < 100", None))


def test_sorts_on_several_columns_with_missing_values_last():
    by_v = query_records(RECORDS, None, [{"column_id": "v", "direction": "desc"}])
    assert [r["v"] for r in by_v] == [16.3, 15.9, 12.1, 11.6, None]
    ascending = query_records(RECORDS, None, [{"column_id": "v", "direction": "asc"}])
    assert [r["v"] for r in ascending] == [11.6, 12.1, 15.9, 16.3, None]
    two = [{"column_id": "material", "direction": "asc"}, {"column_id": "v", "direction": "desc"}]
    assert _models(query_records(RECORDS, None, two)) == [
        ("Al", "EMT"),
        ("Al", "Morse"),
        ("Cu", "LJ-exp-fit"),
        ("Cu", "EMT"),
        ("Ni", "LJ-exp-fit"),
    ]


def test_pages_cover_every_record_once_and_clamp_the_page():
    pages = [page_of(RECORDS, None, None, page, 2) for page in range(3)]
    assert [count for _, count in pages] == [3, 3, 3]
    assert [r for page, _ in pages for r in page] == RECORDS
    last, count = page_of(RECORDS, None, None, 99, 2)
    assert count == 3
    assert last == RECORDS[4:]
    empty, count = page_of(RECORDS, "{material} icontains zz", None, 0, 2)
    assert (empty, count) == ([], 1)
