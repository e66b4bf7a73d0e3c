"""In-process board build times for ``bench/read_path.py`` (no HTTP, no JSON unless named)."""

from __future__ import annotations

import random
import statistics
import time
import uuid


def build_times(url: str, benchmarks: tuple[str, ...], repeats: int = 20) -> dict[str, float]:
    """Median time to build each board in this process (no HTTP, no JSON), in ms, three ways:
    with nothing kept from earlier builds (``_afresh``: an API process's first build); right
    after one result landed on a random run of the board's first benchmark (``_after_one_write``:
    one model read again); and with no write since the last build (the name alone)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from backend.services import board_rows, combined_leaderboard, leaderboard
    from backend.services.leaderboard import BoardQuery

    builds = {
        "eos": lambda s: leaderboard.build_leaderboard(s, "eos", limit=100),
        "eos_json": lambda s: leaderboard.build_leaderboard(s, "eos", limit=100).model_dump_json(),
        "combined": lambda s: combined_leaderboard.build_combined(
            s,
            benchmarks=",".join(benchmarks),
            weights=None,
            query=BoardQuery(),
            sort=None,
            limit=100,
            offset=0,
        ),
        "eos_structure_set_filter": lambda s: leaderboard.build_leaderboard(
            s, "eos", query=BoardQuery(structure_set="read-path bench"), limit=100
        ),
        "eos_element_filter_live": lambda s: leaderboard.build_leaderboard(
            s, "eos", query=BoardQuery(element="Cu"), limit=100
        ),
    }
    engine = create_engine(url)
    with engine.connect() as conn:
        eos_runs = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT r.id FROM run r JOIN benchmark b ON b.id = r.benchmark_id "
                    "WHERE b.key = 'eos' AND r.status = 'succeeded'"
                )
            )
        ]
    rng = random.Random(21)

    def forget() -> None:
        board_rows._PARTS.clear()
        board_rows._BOARDS.clear()

    def one_write() -> None:  # a metric landing on one run: its model's counter moves
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO metric (id, run_id, name, value, unit) "
                    "VALUES (gen_random_uuid(), :run, :name, 1.0, '1')"
                ),
                {"run": rng.choice(eos_runs), "name": f"written_{uuid.uuid4().hex[:12]}"},
            )

    times: dict[str, float] = {}
    try:
        for name, build in builds.items():
            for suffix, before in (
                ("_afresh", forget),
                ("_after_one_write", one_write),
                ("", None),
            ):
                samples = []
                for _ in range(repeats):
                    if before is not None:
                        before()
                    with Session(engine) as session:
                        t0 = time.perf_counter()
                        build(session)
                        samples.append((time.perf_counter() - t0) * 1000)
                times[name + suffix] = round(statistics.median(samples), 2)
    finally:
        engine.dispose()
    return times
