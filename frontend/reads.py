"""API reads shared by several pages.

Boards and combined scores are re-validated with the API on every read (``If-None-Match``; the
client keeps the parsed bodies, see ``frontend.api_client``), so a new result shows at the next
poll. Lists without an ETag (models, campaigns, a model's runs) are reused for a little less
than one polling period (``frontend.cache``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from backend.schemas.leaderboard import CombinedLeaderboardRead, LeaderboardRead
from backend.schemas.runs import RunSummary, SeriesRead
from backend.settings import get_settings
from frontend.api_client import DashboardClient, current_api_client
from frontend.cache import cached
from frontend.overview import requested_level

PARALLEL_READS = 6


def ttl_s() -> float:
    """How long a read is reused: a little less than the pages' polling period."""
    return 0.8 * get_settings().dashboard_poll_ms / 1000


def model_runs(model_id: str, client: DashboardClient | None = None) -> list[RunSummary]:
    """Every run of a model of its benchmark's standard protocol, with its metrics and
    references (``client``: when called outside a request, e.g. in a worker thread). Runs of
    other parameter sets are left out, as on the boards: they are never averaged in."""
    client = client or current_api_client()
    runs = cached(
        ("model-runs", client.base_url, model_id),
        ttl_s(),
        lambda: client.runs(model_id=model_id, include_metrics="true"),
    )
    return standard_only(client, runs)


def standard_only(client: DashboardClient, runs: list[RunSummary]) -> list[RunSummary]:
    """The runs of their benchmark version's standard parameter set (its default board)."""
    standard = cached(
        ("standard-hashes", client.base_url),
        ttl_s(),
        lambda: {b["default_params_hash"] for b in client.benchmarks()},
    )
    return [r for r in runs if r.params_hash in standard]


def has_phonon_spectra(run: RunSummary) -> bool:
    """A phonons run whose DOS and bands are stored: it succeeded, or it failed as dynamically
    unstable (the benchmark keeps them for inspection)."""
    return run.benchmark_key == "phonons" and (
        run.status == "succeeded"
        or (run.status == "failed" and run.failure_class == "dynamically_unstable")
    )


def phonon_runs(
    client: DashboardClient, model_ids: list[str], material: str
) -> list[tuple[RunSummary, list[SeriesRead]]]:
    """Each model's standard phonons run on ``material`` that has spectra, with its series (the
    newest, if a model has several), in the order of ``model_ids``; models without one are
    left out. Read in parallel."""

    def read(model_id: str) -> tuple[RunSummary, list[SeriesRead]] | None:
        runs = model_runs(model_id, client)
        run = next((r for r in runs if r.material == material and has_phonon_spectra(r)), None)
        return None if run is None else (run, client.run(run.id).series)

    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        return [found for found in pool.map(read, model_ids) if found is not None]


def read_boards(
    client: DashboardClient,
    lot: str,
    filters: dict[str, str],
    prefetch_weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Every benchmark's standard board (newest version, default protocol, rows only) at
    ``lot`` (``"standard"``: each benchmark's own level) with the API's filters, the models,
    and the structure sets campaigns used, read in parallel.

    ``prefetch_weights``: also read the combined score with these weights (default 1 for a
    benchmark not named), so the page's first drawing finds it in the client's cache.
    """
    keys = cached(
        ("benchmark-keys", client.base_url),
        ttl_s(),
        lambda: list(dict.fromkeys(b["key"] for b in client.benchmarks())),
    )
    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        if prefetch_weights is not None:
            weights = {k: prefetch_weights.get(k, 1.0) for k in keys}
            # a prefetch only: its error, if any, is reported when the drawing reads it again
            pool.submit(combined_read, client, lot, weights, filters)
        models = pool.submit(
            cached,
            ("models", client.base_url),
            ttl_s(),
            lambda: {str(m.id): m for m in client.models()},
        )
        sets = pool.submit(
            cached,
            ("structure-sets", client.base_url),
            ttl_s(),
            lambda: sorted(
                {s for c in client.campaigns(200) for s in c.spec.get("structure_sets", [])}
            ),
        )
        prototypes = pool.submit(
            cached,
            ("prototypes", client.base_url),
            ttl_s(),
            lambda: [p.prototype for p in client.prototypes()],
        )
        level = requested_level(lot)
        read = pool.map(
            lambda key: client.leaderboard(
                key, level_of_theory=level, filters=filters, include_entries=False
            ),
            keys,
        )
        boards: dict[str, LeaderboardRead] = dict(zip(keys, read, strict=True))
        return {
            "boards": boards,
            "models": models.result(),
            "structure_sets": sets.result(),
            "prototypes": prototypes.result(),
        }


def data_for(
    lot: str,
    filters: dict[str, str] | None = None,
    prefetch_weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The boards (each a 304 while unchanged), the models, the structure sets and the
    prototypes."""
    return read_boards(current_api_client(), lot, filters or {}, prefetch_weights)


def combined_for(
    lot: str, weights: dict[str, float], filters: dict[str, str]
) -> CombinedLeaderboardRead | None:
    """The API's combined score over the benchmarks weighted above zero (None: none is)."""
    return combined_read(current_api_client(), lot, weights, filters)


def combined_read(
    client: DashboardClient, lot: str, weights: dict[str, float], filters: dict[str, str]
) -> CombinedLeaderboardRead | None:
    positive = {k: w for k, w in weights.items() if w > 0}
    if not positive:
        return None
    return client.combined(
        list(positive), positive, level_of_theory=requested_level(lot), filters=filters
    )


def fingerprint(data: dict[str, Any], lot: str) -> dict[str, Any]:
    """What the browser holds: enough to notice new results, not the results themselves."""
    boards: dict[str, LeaderboardRead] = data["boards"]
    return {
        "lot": lot,
        "benchmarks": list(boards),
        "stamp": [
            (
                k,
                str(b.updated_at),
                sum(r.n_runs - r.n_pending for r in b.rows),
                len(b.rows),
                b.params_hash,
            )
            for k, b in boards.items()
        ],
    }
