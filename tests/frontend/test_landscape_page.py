"""The landscape page: figure builders as plain functions, and the page in headless Chromium."""

from __future__ import annotations

import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from selenium import webdriver

from backend.schemas.landscapes import PlaneDifference, ProjectionRead
from frontend.app import create_app
from tests.frontend.browser import (
    page_text,
    plotted_trace_count,
    serve_dash,
    severe_console_errors,
    wait_for,
)

RUN = uuid.UUID(int=7)


@pytest.fixture
def page() -> ModuleType:
    """The page module as Dash imported it (pages register only once an app exists)."""
    create_app("http://127.0.0.1:9")
    return sys.modules["frontend.pages.landscape"]


def _plane() -> ProjectionRead:
    return ProjectionRead(
        run_id=RUN,
        name="plane",
        kind="plane",
        method="pca-mass-weighted",
        plane_hash="abc",
        settings={"n_atoms": 2},
        data={
            "a": [-1.0, 0.0, 1.0],
            "b": [-1.0, 0.0, 1.0],
            "energy_ev": [[0.002, 0.001, 0.002], [0.001, 0.0, None], [0.002, 0.001, 0.002]],
            "path": {"a": [0.5, 0.0, 0.1], "b": [0.2, 0.0, 0.1], "stage": ["fire", "fire", "md"]},
            "minima": [[0.0, 0.0, 0.0]],
        },
        created_at=datetime.now(UTC),
    )


def test_plane_figure_draws_mev_per_atom_path_and_minima(page: ModuleType) -> None:
    fig = page.plane_figure(_plane(), "A")
    contour, path, minima = fig.data
    assert contour.z[1][1] == 0.0
    assert contour.z[0][0] == pytest.approx(1.0)
    assert contour.z[1][2] is None
    assert list(path.text) == ["fire#0", "fire#1", None, "md#2"]  # a gap between stages
    assert list(path.x) == [0.5, 0.0, None, 0.1]
    assert list(minima.x) == [0.0]


def test_difference_and_map_figures(page: ModuleType) -> None:
    diff = PlaneDifference(
        run_a=RUN,
        run_b=RUN,
        plane_hash="abc",
        a=[0.0, 1.0],
        b=[0.0, 1.0],
        difference_ev=[[0.0, 0.004], [None, 0.0]],
        rmse_mev_atom=1.0,
        max_abs_difference_mev_atom=2.0,
        n_atoms=2,
    )
    fig = page.difference_figure(diff)
    assert fig.data[0].z[0][1] == pytest.approx(2.0)
    assert "RMSE 1.00 meV/atom" in fig.layout.title.text
    projection = _plane().model_copy(
        update={
            "name": "map_umap",
            "kind": "map",
            "method": "umap",
            "data": {
                "x": [0.0, 1.0],
                "y": [1.0, 0.0],
                "label": ["fire#0", "md_300K#1"],
                "energy_per_atom_ev": [0.0, 0.01],
                "error_mev_atom": [0.0, 3.0],
                "failed": [False, True],
            },
        }
    )
    scatter = page.map_figure(projection, "error_mev_atom", str(RUN)).data[0]
    assert list(scatter.marker.color) == [0.0, 3.0]
    assert scatter.text[1] == f"md_300K#1 · run {str(RUN)[:8]}"


@pytest.mark.browser
def test_a_landscape_page_without_runs_says_what_to_run_instead_of_empty_axes(
    chromium: webdriver.Chrome, seeded_dash: str
) -> None:
    chromium.get(f"{seeded_dash}/landscape")
    wait_for(chromium, lambda d: "Energy landscape" in page_text(d))
    # The seeded API has no landscape run: the page says what to run and draws no axes.
    wait_for(chromium, lambda d: "No energy landscape yet" in page_text(d))
    assert "-b landscape -s clusters" in page_text(chromium)
    figures = chromium.find_element("id", "landscape-figures")
    assert not figures.is_displayed()
    assert severe_console_errors(chromium) == []


def _landscape_runs(session: Any, models: list[str]) -> None:
    """Cu13 landscape runs of ``models``, executed and recorded as a worker does (small grid)."""
    from backend.repositories import benchmarks as benchmark_repo
    from backend.repositories import models as model_repo
    from backend.repositories import references as ref_repo
    from backend.repositories import runs as run_repo
    from backend.schemas.results import MetricIn, ProjectionIn, RunTimings, SeriesIn
    from backend.services import runs
    from shared_kernel.hashing import params_hash
    from workers.execution import execute_claimed

    params = {"grid_n": 9, "md_steps": 40, "md_stride": 4, "map_methods": ["pca"]}
    benchmark = benchmark_repo.get_benchmark(session, "landscape")
    clusters = ref_repo.get_structure_set_by_name(session, "clusters")
    assert benchmark is not None
    assert clusters is not None
    cu13 = next(s for s in ref_repo.list_structures(session, clusters.id) if s.label == "Cu13")
    for name in models:
        model = model_repo.get_model_by_name(session, name)
        assert model is not None
        row = {
            "mlip_model_id": model.id,
            "model_hash": model.version_hash,
            "benchmark_id": benchmark.id,
            "structure_id": cu13.id,
            "params": params,
            "params_hash": params_hash("landscape", benchmark.version, params),
        }
        (run_id,) = run_repo.insert_runs(session, [row])
        job = runs.claim_run(session, run_id, worker="test")
        assert isinstance(job, runs.ClaimedRun)
        outcome = execute_claimed(job)

        def fields(obj: Any) -> dict[str, Any]:
            return {n: getattr(obj, n) for n in obj.__dataclass_fields__}

        runs.record_success(
            session,
            job,
            metrics=[MetricIn(**fields(m)) for m in outcome.metrics],
            series=[SeriesIn(**fields(x)) for x in outcome.series],
            timings=RunTimings(wall_s=1.0, cpu_s=1.0, peak_memory_mb=1.0),
            provenance={},
            projections=[ProjectionIn(**fields(p)) for p in outcome.projections],
        )


@pytest.fixture(scope="module")
def landscape_dash() -> Iterator[str]:
    """A dashboard on its own API and database holding EMT and LJ landscape runs of Cu13."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from backend import dbadmin
    from backend.bootstrap import bootstrap
    from tests.conftest import new_database_url
    from tests.live import _serve_api, _stop

    url = new_database_url("mlipm_landscape")
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        bootstrap(session)
        _landscape_runs(session, ["EMT", "LJ-exp-fit"])
        session.commit()
    engine.dispose()
    log_dir = Path(tempfile.mkdtemp(prefix="mlipm-landscape-"))
    api_url, api = _serve_api(log_dir, {"DATABASE_URL": url})
    base_url, stop = serve_dash(api_url)
    try:
        yield base_url
    finally:
        stop()
        _stop(api)
        dbadmin.drop_database(url)


@pytest.mark.browser
def test_landscape_page_draws_planes_difference_and_map(
    chromium: webdriver.Chrome, landscape_dash: str
) -> None:
    chromium.get(f"{landscape_dash}/landscape")
    wait_for(chromium, lambda d: "RMSE" in page_text(d))
    text = page_text(chromium)
    assert "A - B: RMSE" in text
    assert "SOAP + PCA" in text
    assert "No energy landscape yet" not in text
    assert chromium.find_element("id", "landscape-figures").is_displayed()
    # Contour, path and minima on each plane; one scatter on the map.
    assert plotted_trace_count(chromium, "landscape-plane-a") == 3
    assert plotted_trace_count(chromium, "landscape-map") == 1
    assert severe_console_errors(chromium) == []
