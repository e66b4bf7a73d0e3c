"""The representations page in headless Chromium against a real API: the empty state, and a
stored summary drawn as a heatmap, a probe table, a scatter and a map.

The summary is seeded as a row of ``representation_summary``, as the summary task stores it,
with its models stored as approved (GET /representations hides the others).
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from tests.frontend.browser import (
    page_text,
    plotted_trace_count,
    serve_dash,
    set_dropdown,
    severe_console_errors,
    wait_for,
)
from tests.frontend.grid import page_rows
from tests.frontend.representations_body import MODELS, NOVELTY, TRAINED, summary_body

pytestmark = pytest.mark.browser

_HEATMAP_SHAPE = """
const el = document.querySelector('#representations-cka .js-plotly-plot');
if (!el || !el.data || !el.data.length || !el.data[0].z) { return null; }
return [el.data[0].type, el.data[0].z.length, el.data[0].z.map(row => row.length)];
"""
_POINTS = """
const el = document.querySelector(arguments[0] + ' .js-plotly-plot');
return el && el.data ? el.data.map(t => t.x ? t.x.length : 0) : [];
"""
_TITLE = """
const el = document.querySelector(arguments[0] + ' .js-plotly-plot');
return el && el.layout && el.layout.title ? el.layout.title.text : '';
"""


@pytest.fixture
def empty_dash(empty_api_url: str) -> Iterator[str]:
    """The dashboard on an API whose database holds no summary."""
    base_url, stop = serve_dash(empty_api_url)
    try:
        yield base_url
    finally:
        stop()


def test_without_a_summary_the_page_says_what_to_run_instead_of_empty_axes(
    chromium: webdriver.Chrome, empty_dash: str
) -> None:
    chromium.get(f"{empty_dash}/representations")
    wait_for(chromium, lambda d: "No representation summary yet" in page_text(d))
    text = page_text(chromium)
    assert "-m CHGNet-random-weights -b representation -s 'elemental crystals'" in text
    assert "mlipm representations summarize" in text
    assert not chromium.find_element("id", "representations-figures").is_displayed()
    assert severe_console_errors(chromium) == []


@pytest.fixture(scope="module")
def summary_dash() -> Iterator[str]:
    """A dashboard on its own API and database holding one stored summary."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from backend import dbadmin
    from backend.db.tables import MlipModel
    from backend.domain.statuses import ModelStatus
    from tests.conftest import new_database_url
    from tests.live import _serve_api, _stop

    url = new_database_url("mlipm_representations")
    dbadmin.ensure_database(url)
    dbadmin.upgrade(url)
    engine = create_engine(url)
    body = summary_body()
    with Session(engine) as session, session.begin():
        # the API shows a summary's models only while they are approved
        for model in body["models"]:
            session.add(
                MlipModel(
                    id=uuid.UUID(model["id"]),
                    name=model["name"],
                    version="1",
                    family="chgnet",
                    params={"random_weights_seed": 0} if model["control"] else {},
                    card={},
                    status=ModelStatus.APPROVED,
                )
            )
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO representation_summary (id, created_at, n_runs, body) "
                "VALUES (:id, now(), :n_runs, CAST(:body AS jsonb))"
            ),
            {"id": uuid.uuid4(), "n_runs": 14, "body": json.dumps(body)},
        )
    engine.dispose()
    log_dir = Path(tempfile.mkdtemp(prefix="mlipm-representations-"))
    api_url, api = _serve_api(log_dir, {"DATABASE_URL": url})
    base_url, stop = serve_dash(api_url)
    try:
        yield base_url
    finally:
        stop()
        _stop(api)
        dbadmin.drop_database(url)


def test_a_stored_summary_draws_heatmap_table_scatter_and_atlas(
    chromium: webdriver.Chrome, summary_dash: str
) -> None:
    chromium.get(f"{summary_dash}/representations?model={TRAINED}")
    n = len(MODELS)
    shape = wait_for(chromium, lambda d: d.execute_script(_HEATMAP_SHAPE))
    # every control shows its choice from the start
    assert "the model's latent space" in page_text(chromium)
    assert shape == ["heatmap", n, [n] * n]  # n x n cells
    wait_for(chromium, lambda d: len(page_rows(d, "#representations-probes")) == n)
    table = {row["model"]: row for row in page_rows(chromium, "#representations-probes")}
    assert set(table) == set(MODELS)
    # a negative R^2 is shown as its value (d3 writes U+2212 for the minus)
    r2 = table["CHGNet-random-weights"]["r2_electronegativity"]
    assert r2.replace("\u2212", "-") == "-4.26"
    points = wait_for(chromium, lambda d: d.execute_script(_POINTS, "#representations-novelty"))
    assert points == [len(NOVELTY)]
    assert "Spearman rho = 1.00" in chromium.execute_script(_TITLE, "#representations-novelty")
    # The map: one point per structure; coloured by failure class it is the atlas.
    wait_for(chromium, lambda d: sum(d.execute_script(_POINTS, "#representations-map")) == 6)
    set_dropdown(chromium, "representations-colour", "failure class (failure atlas)")
    wait_for(
        chromium,
        lambda d: "Failure atlas" in d.execute_script(_TITLE, "#representations-map"),
    )
    assert plotted_trace_count(chromium, "representations-map") == 5  # 3 classes, none, no run
    # the same atlas in structure space (SOAP): the same classes at the structure map's places
    set_dropdown(chromium, "representations-space", "structure space (SOAP)")
    wait_for(
        chromium,
        lambda d: "structure map (SOAP)" in d.execute_script(_TITLE, "#representations-map"),
    )
    assert plotted_trace_count(chromium, "representations-map") == 5
    assert sum(chromium.execute_script(_POINTS, "#representations-map")) == 6
    assert "No representation summary yet" not in page_text(chromium)
    assert severe_console_errors(chromium) == []
