"""The model page as it ships: ``mlipm dashboard`` (gunicorn, gevent workers), whose page
callbacks all start as the page opens. A fresh worker took its first callbacks together and
hung until gunicorn killed it (a lock made before gevent's patching, held by a greenlet that
yielded); the comparison dropdown holds only the models matching what is typed."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from backend.cli.localservices import free_port
from backend.schemas.models import ModelRead
from frontend.app import create_app
from frontend.components.model_choices import MODEL_CHOICES, model_choices
from tests.frontend.browser import trace_names, wait_for
from tests.frontend.conftest import SeededApi
from tests.frontend.seed_formulas import model_name
from tests.live import _spawn, _stop, wait_until

PANELS = ("eos", "diatomics", "phonons", "survival", "speed", "failures", "parity")


def _drawn(driver: webdriver.Chrome, graph_id: str) -> bool:
    return bool(
        driver.execute_script(
            "const g = document.querySelector(arguments[0]);"
            "return g && g.data && g.layout ? true : false;",
            f"#{graph_id} .js-plotly-plot",
        )
    )


@pytest.mark.browser
def test_a_fresh_gunicorn_worker_draws_the_whole_model_page_and_compares_by_search(
    chromium: webdriver.Chrome, seeded_api: SeededApi, tmp_path: Path
) -> None:
    port, log = free_port(), tmp_path / "dash.log"
    env = {"MLIPM_DASH_PORT": str(port), "MLIPM_API_URL": seeded_api.url}
    # one worker: every callback of the page lands on the same fresh gevent loop
    proc = _spawn(["-m", "backend.cli", "dashboard", "--workers", "1"], log, env)
    url = f"http://127.0.0.1:{port}"

    def _up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(url + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(_up, 90, "the dashboard to answer")
        model = seeded_api.seeded.model_ids[0]
        chromium.get(f"{url}/models/{model}")
        # far less than gunicorn's 60 s worker timeout, which is how long a hung worker took
        for name in PANELS:
            wait_for(chromium, lambda d, n=name: _drawn(d, f"model-{n}"), 30)
        wait_for(
            chromium,
            lambda d: d.find_elements(By.CSS_SELECTOR, "#model-results-table .ag-cell"),
            30,
        )
        assert "WORKER TIMEOUT" not in log.read_text()
        # compare by typing part of the other model's name: its EOS curve joins the panel
        chromium.find_element(By.CSS_SELECTOR, "#model-compare").click()
        chromium.switch_to.active_element.send_keys(model_name(1))
        option = wait_for(
            chromium,
            lambda d: next(
                (
                    o
                    for o in d.find_elements(By.CSS_SELECTOR, "[role='option']")
                    if o.text.strip().startswith(model_name(1))
                ),
                None,
            ),
        )
        option.click()
        names = wait_for(chromium, lambda d: trace_names(d, "model-eos", at_least=2), 30)
        assert any(model_name(1) in n for n in names)
        assert any(model_name(0) in n for n in names)
        # a link comparing with a model that is gone draws the model alone, without an error
        chromium.get(f"{url}/models/{model}?compare={uuid.uuid4()}")
        alone = wait_for(chromium, lambda d: trace_names(d, "model-eos"), 30)
        assert alone
        assert all(model_name(0) in n for n in alone)
        assert not chromium.find_elements(By.ID, "model-error")
    finally:
        _stop(proc)


def _model(name: str, version: str = "1", family: str = "emt") -> ModelRead:
    return ModelRead.model_construct(id=uuid.uuid4(), name=name, version=version, family=family)


def test_the_comparison_offers_the_models_matching_the_search_and_the_chosen_one() -> None:
    models = [_model(f"model-{i:03d}") for i in range(MODEL_CHOICES + 10)]
    models.append(_model("MACE-MP-0", "small", family="mace"))
    own, chosen = models[0], models[25]
    labels = [o["label"] for o in model_choices(models, "", str(chosen.id), exclude=str(own.id))]
    assert labels[0] == "model-025 1"  # the chosen one first, whatever the search
    assert len(labels) == MODEL_CHOICES + 1
    assert "model-000 1" not in labels  # never the page's own model
    # a model beyond the first MODEL_CHOICES is found by typing (any case, any word)
    found = model_choices(models, "mace SMALL", None, exclude=str(own.id))
    assert [o["label"] for o in found] == ["MACE-MP-0 small"]
    assert model_choices(models, "no such model", None, exclude=str(own.id)) == []
    assert [o["label"] for o in model_choices(models, "029", None, exclude=str(own.id))] == [
        "model-029 1"
    ]


def test_a_comparison_with_a_model_that_is_gone_is_dropped_not_reported() -> None:
    from concurrent.futures import Future

    from backend.client import ApiError

    create_app("http://127.0.0.1:9")  # pages register only once an app exists
    missing = sys.modules["frontend.pages.model"]._missing

    def read(error: ApiError | None) -> Future[ModelRead]:
        future: Future[ModelRead] = Future()
        if error is None:
            future.set_result(_model("here"))
        else:
            future.set_exception(error)
        return future

    assert missing(read(ApiError("no such model", status_code=404)))
    assert missing(read(ApiError("not a model id", status_code=422)))
    assert not missing(read(ApiError("the API is down", status_code=503)))  # reported
    assert not missing(read(None))
