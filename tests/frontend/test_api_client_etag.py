"""The dashboard client's ETag cache against the real API on the seeded database.

An unchanged board is answered 304 and served from the cache (same parsed object); once the
board changes in the database, the very next read returns the new body (no time to live).
"""

from __future__ import annotations

from sqlalchemy import create_engine, text

from frontend.api_client import CONDITIONAL, DashboardClient
from tests.frontend.conftest import SeededApi


def _bump(database_url: str, benchmark: str) -> None:
    """What any write of a result to ``benchmark`` does to its board's change counter."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE leaderboard_version SET version = nextval('leaderboard_version_seq') "
                    "WHERE benchmark_id IN (SELECT id FROM benchmark WHERE key = :key)"
                ),
                {"key": benchmark},
            )
    finally:
        engine.dispose()


def test_unchanged_board_is_a_304_served_from_the_cache(seeded_api: SeededApi):
    client = DashboardClient(seeded_api.url)
    first = client.leaderboard("eos", filters={"family": "emt"})
    hits = CONDITIONAL.hits

    again = DashboardClient(seeded_api.url).leaderboard("eos", filters={"family": "emt"})

    assert again is first
    assert CONDITIONAL.hits == hits + 1


def test_a_changed_board_is_read_again_at_once(seeded_api: SeededApi):
    client = DashboardClient(seeded_api.url)
    first = client.leaderboard("relax", include_entries=False)
    hits = CONDITIONAL.hits

    _bump(seeded_api.database_url, "relax")
    after = client.leaderboard("relax", include_entries=False)

    assert after is not first
    assert CONDITIONAL.hits == hits
    assert after.rows == first.rows  # the data did not change, only its counter
    assert client.leaderboard("relax", include_entries=False) is after


def test_requests_with_other_parameters_are_cached_apart(seeded_api: SeededApi):
    client = DashboardClient(seeded_api.url)
    rows_only = client.leaderboard("cohesive", include_entries=False)
    with_entries = client.leaderboard("cohesive", include_entries=True)

    assert rows_only.entries == []
    assert with_entries.entries
    assert client.leaderboard("cohesive", include_entries=False) is rows_only


def test_combined_board_is_cached_by_etag_too(seeded_api: SeededApi):
    client = DashboardClient(seeded_api.url)
    first = client.combined(["eos", "relax"], {"eos": 1.0, "relax": 2.0})
    hits = CONDITIONAL.hits

    assert client.combined(["eos", "relax"], {"eos": 1.0, "relax": 2.0}) is first
    assert CONDITIONAL.hits == hits + 1
