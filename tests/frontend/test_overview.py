"""Pure parts of the leaderboard, element maps and page registry, called as plain functions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dash

import frontend
from backend.schemas.leaderboard import (
    CombinedLeaderboardRead,
    LeaderboardRead,
    MetricColumn,
    MetricSummary,
    RankingInfo,
)
from frontend.app import create_app
from frontend.components.grid import headers
from frontend.components.overview_table import summary, table_columns
from frontend.figures.elements import clicked_element, element_map
from frontend.overview import (
    build_view,
    default_weights,
    element_options,
    format_weights,
    pareto_front,
    parse_weights,
    speed_cost,
)


def test_weights_round_trip_through_the_url_and_ignore_bad_parts() -> None:
    weights = parse_weights("eos:2,elastic:0.5,bad,speed:-1,nan:x,cohesive:0")
    assert weights == {"eos": 2.0, "elastic": 0.5, "cohesive": 0.0}
    assert parse_weights(format_weights(weights)) == weights
    assert format_weights({"b": 1.0, "a": 2.0}) == "a:2,b:1"


def test_pareto_front_keeps_only_undominated_points() -> None:
    # (cost, error): the third is dominated by the first; the last ties the first on cost only
    points = [(1.0, 5.0), (10.0, 1.0), (2.0, 6.0), (1.0, 7.0), (5.0, 3.0)]
    assert pareto_front(points) == [True, True, False, False, True]


def test_element_map_puts_the_value_and_the_symbol_on_the_element_cell() -> None:
    fig = element_map({"Cu": 12.5, "Al": 3.0}, title="t", label="|error|", unit="GPa")
    trace = next(t for t in fig.data if t.customdata is not None)
    cells = {
        trace.customdata[i][j]: (trace.z[i][j], trace.hovertext[i][j], trace.text[i][j])
        for i in range(len(trace.customdata))
        for j in range(len(trace.customdata[i]))
        if trace.customdata[i][j]
    }
    assert cells["Cu"][0] == 12.5
    assert "|error|: 12.5 GPa" in cells["Cu"][1]
    assert "no data" in cells["Fe"][1]
    assert cells["Cu"][2] == "<b>Cu</b><br>12.5"  # the cell's own label, drawn as heatmap text
    assert cells["Fe"][2] == ""  # the pale background trace labels cells without a value
    assert not [a for a in fig.layout.annotations if a.xref == "x"]
    assert clicked_element({"points": [{"customdata": "Cu"}]}) == "Cu"
    assert clicked_element({"points": [{"customdata": ""}]}) is None


def test_page_registry_has_every_page_and_the_navbar_links_landscape() -> None:
    app = create_app("http://127.0.0.1:9")
    paths = {page["path"] for page in dash.page_registry.values()}
    assert {"/", "/elements", "/campaigns"} <= paths
    templates = {page.get("path_template") for page in dash.page_registry.values()}
    assert {"/models/<model_id>", "/runs/<run_id>", "/benchmarks/<key>"} <= templates
    navbar = str(app.layout)
    assert "/landscape" in navbar
    assert "/models/<model_id>" not in navbar


def test_csv_export_writes_the_rows_and_columns_as_shown() -> None:
    create_app("http://127.0.0.1:9")
    page = sys.modules["frontend.pages.overview"]
    table = _find(page.layout(), "leaderboard-table")
    # the grid writes the CSV itself: the rows after its sort and filter, the columns shown,
    # one header line of the two header rows, numbers unformatted, a link as its text
    # (functions of frontend/assets/dashAgGridFunctions.js; the browser test compares a CSV
    # with the table)
    assert table.csvExportParams == {
        "fileName": "mlip-leaderboard.csv",
        "skipColumnGroupHeaders": True,
        "processHeaderCallback": {"function": "csvHeader(params)"},
        "processCellCallback": {"function": "csvCell(params)"},
    }
    assert table.defaultColDef["useValueFormatterForExport"] is False
    assets = Path(frontend.__file__).parent / "assets" / "dashAgGridFunctions.js"
    assert all(f"dagfuncs.{name} = " in assets.read_text() for name in ("csvHeader", "csvCell"))


def _find(component: Any, wanted: str) -> Any:
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, wanted)
            if found is not None:
                return found
    return None


def _speed_board(board: LeaderboardRead) -> LeaderboardRead:
    """A board whose one metric has no reference, ranked on the value itself; EMT not scored."""
    rows = [
        row.model_copy(
            update={
                "metrics": {
                    "time_per_atom_step": MetricSummary(
                        mae=None, mape_percent=None, n=0, mean=mean, n_values=3
                    )
                },
                "score": mean,
                "rank": rank,
            }
        )
        for row, mean, rank in zip(board.rows, (None, 7.5e-4), (None, 1), strict=True)
    ]
    column = MetricColumn(name="time_per_atom_step", label="time", unit="s")
    ranking = RankingInfo(
        metric="time_per_atom_step",
        loss="value",
        unit="s",
        description="time_per_atom_step itself (lower is better)",
        n_bootstrap=1000,
        confidence=0.95,
    )
    return board.model_copy(
        update={
            "benchmark": "speed",
            "columns": [column],
            "rows": rows,
            "elements": ["Al"],
            "ranking": ranking,
        }
    )


def _combined(board: LeaderboardRead) -> CombinedLeaderboardRead:
    """The API's combined board of eos and speed: LJ-exp-fit ranked, EMT missing speed."""
    emt, lj = board.rows
    part = {"metric": "m", "score": 1.0, "rank": 1, "normalized_rank": 0.0, "weight": 1.0}
    return CombinedLeaderboardRead.model_validate(
        {
            "benchmarks": ["eos", "speed"],
            "weights": {"eos": 1.0, "speed": 1.0},
            "level_of_theory": "per benchmark",
            "method": "score = weighted mean of normalized ranks",
            "rows": [
                {
                    "model_id": str(lj.model_id),
                    "model_name": lj.model_name,
                    "model_version": "1.0",
                    "family": "lj",
                    "score": 0.0,
                    "rank": 1,
                    "n_benchmarks": 2,
                    "scored_on": ["eos", "speed"],
                    "parts": {"eos": part, "speed": part},
                },
                {
                    "model_id": str(emt.model_id),
                    "model_name": emt.model_name,
                    "model_version": "1.0",
                    "family": "emt",
                    "score": None,
                    "rank": None,
                    "n_benchmarks": 1,
                    "scored_on": ["eos"],
                    "missing": ["speed"],
                    "parts": {"eos": part},
                },
            ],
            "total": 2,
            "limit": 100,
            "offset": 0,
            "sort": "rank",
            "updated_at": None,
        }
    )


def test_overview_shows_each_standard_boards_rank_and_score_without_entries(
    board: LeaderboardRead,
):
    eos = board.model_copy(update={"entries": [], "elements": ["Al", "Cu"]})
    speed = _speed_board(board)

    view = build_view({"eos": eos, "speed": speed}, {}, None)

    columns = {c.benchmark: c for c in view.columns}
    assert columns["eos"].score_title == "score (%)"
    assert columns["speed"].score_title == "score (s)"
    emt = next(r for r in view.records if r["model"] == "EMT")
    assert (emt["eos__rank"], emt["eos__score"]) == (1, 7.7)  # the board row's own
    assert (emt["speed__rank"], emt["speed__score"]) == (None, None)
    assert emt["n_runs"] == 6  # 3 runs on each board
    assert emt["rank"] is None
    assert speed_cost(speed) == {str(board.rows[1].model_id): 7.5e-4}
    assert element_options([eos, speed]) == ["Al", "Cu"]


def test_overview_follows_the_combined_ranking_and_says_why_a_model_is_not_ranked(
    board: LeaderboardRead,
):
    boards = {"eos": board, "speed": _speed_board(board)}

    view = build_view(boards, {}, _combined(board))

    lj, emt = view.records  # the API's order: ranked models first
    assert (lj["model"], lj["rank"], lj["score"], lj["missing"]) == ("LJ-exp-fit", 1, 0.0, "")
    assert (emt["model"], emt["rank"], emt["score"]) == ("EMT", None, None)
    # EMT's speed runs finished, but none was scored (the demo's DIEP on relax: all flagged)
    assert emt["missing"] == "not ranked: nothing scored on speed (every result flagged or failed)"
    # With no finished speed run it is missing speed.
    speed = boards["speed"]
    never_ran = speed.rows[0].model_copy(update={"n_runs": 0, "n_succeeded": 0, "n_failed": 0})
    boards_never = {
        **boards,
        "speed": speed.model_copy(update={"rows": [never_ran, *speed.rows[1:]]}),
    }
    emt_never = next(
        r for r in build_view(boards_never, {}, _combined(board)).records if r["model"] == "EMT"
    )
    assert emt_never["missing"] == "not ranked: missing speed"
    assert emt["n_benchmarks"] == 1
    assert view.method == "score = weighted mean of normalized ranks"

    create_app("http://127.0.0.1:9")
    text = str(summary(view, boards, {}))
    assert "MAPE" not in text
    assert "1 ranked" in text
    assert "/benchmarks/speed" in text
    shown = headers(table_columns(view))
    assert "#" in shown
    assert "Combined not ranked" in shown
    assert "eos rank" in shown
    assert "speed score (s)" in shown
    assert not any("MAPE" in h or "MAE" in h for h in shown)


def test_accuracy_vs_cost_falls_back_to_the_benchmark_most_models_share() -> None:
    """The demo's case: only EMT ran MD, so one model has a combined score; the panel then
    plots the board every model with a cost is scored on (eos), named in title and axis."""
    from frontend.figures.overview import accuracy_cost_figure
    from frontend.overview import Column

    columns = [Column("eos", "bulk_modulus", "%"), Column("nve", "drift", "meV/atom/ps")]
    columns.append(Column("speed", "time_per_atom", "s"))
    records = [
        {"model_id": "a", "model": "EMT", "version": "1", "score": 0.2,
         "eos__score": 10.0, "nve__score": 0.01, "speed__score": 1.0},
        {"model_id": "b", "model": "CHGNet", "version": "1", "score": None,
         "eos__score": 30.0, "nve__score": None, "speed__score": 2.0},
        {"model_id": "c", "model": "SevenNet", "version": "1", "score": None,
         "eos__score": 20.0, "nve__score": None, "speed__score": 3.0},
    ]  # fmt: skip
    costs = {"a": 1e-5, "b": 1e-3, "c": 2e-3}
    fig = accuracy_cost_figure(records, costs, cost_label="s/atom", columns=columns)
    plotted = {t: y for trace in fig.data for t, y in zip(trace.text, trace.y, strict=True)}
    assert plotted == {"EMT 1": 10.0, "CHGNet 1": 30.0, "SevenNet 1": 20.0}
    assert "eos, as fewer than 2 models have a combined score" in fig.layout.title.text
    assert fig.layout.yaxis.title.text.startswith("eos score")
    front = next(t for t in fig.data if t.name == "Pareto front")
    assert set(front.text) == {"EMT 1"}  # cheapest and most accurate: dominates both

    # With two combined scores the panel keeps the combined score.
    records[1]["score"] = 0.4
    fig = accuracy_cost_figure(records, costs, cost_label="s/atom", columns=columns)
    assert {t for trace in fig.data for t in trace.text} == {"EMT 1", "CHGNet 1"}
    assert fig.layout.yaxis.title.text.startswith("combined score")


def _scored(board: LeaderboardRead, key: str, models: dict[str, Any]) -> LeaderboardRead:
    """``board`` as benchmark ``key`` with one scored row per (name, model id) in ``models``."""
    template = board.rows[0]
    rows = [
        template.model_copy(update={"model_id": ident, "model_name": name, "score": 1.0})
        for name, ident in models.items()
    ]
    return board.model_copy(update={"benchmark": key, "rows": rows})


def test_default_weights_pick_the_largest_block_of_models_scored_on_every_benchmark(
    board: LeaderboardRead,
) -> None:
    """The demo's shape: EMT and LJ ran MD, Morse did not, the MLIPs and ANI-1x ran S22 and
    the baselines could not. All ones ranks no model; the default weights rank five."""
    import uuid

    ids = {n: uuid.uuid4() for n in ("EMT", "LJ", "Morse", "CHGNet", "SevenNet", "ANI")}
    crystals = {n: ids[n] for n in ("EMT", "LJ", "Morse", "CHGNet", "SevenNet")}
    boards = {
        "eos": _scored(board, "eos", crystals),
        "relax": _scored(board, "relax", crystals),
        "nve": _scored(board, "nve", {n: ids[n] for n in ("EMT", "LJ")}),
        "s22": _scored(board, "s22", {n: ids[n] for n in ("CHGNet", "SevenNet", "ANI")}),
        "landscape": _scored(board, "landscape", {}),  # nobody scored: weighted 0
    }
    weights = default_weights(boards)
    assert weights == {"eos": 1.0, "relax": 1.0, "nve": 0.0, "s22": 0.0, "landscape": 0.0}

    # Everyone scored everywhere: all ones, as before.
    every = {k: _scored(board, k, crystals) for k in ("eos", "relax", "nve")}
    assert default_weights(every) == dict.fromkeys(every, 1.0)
    # Fewer than two models scored anywhere: nothing to choose, all ones.
    alone = {k: _scored(board, k, {"EMT": ids["EMT"]}) for k in ("eos", "nve")}
    assert default_weights(alone) == {"eos": 1.0, "nve": 1.0}
