"""Pages open on data: the element maps choose a model with results, not the first by name."""

from __future__ import annotations

import sys

from selenium import webdriver

from backend.client import ApiClient
from frontend.app import create_app
from tests.frontend.browser import wait_for
from tests.frontend.conftest import SeededApi


def test_the_element_maps_open_on_a_model_with_results(seeded_api: SeededApi) -> None:
    create_app(seeded_api.url)  # pages register only once an app exists
    page = sys.modules["frontend.pages.elements"]
    client = ApiClient(seeded_api.url)
    first_by_name = client.models()[0]
    assert not client.runs(model_id=str(first_by_name.id), status="succeeded", limit=1)
    chosen = page._model_with_results(client)
    assert chosen in {str(i) for i in seeded_api.seeded.model_ids}
    assert client.runs(model_id=chosen, status="succeeded", limit=1)


def test_a_model_without_runs_says_what_to_run_instead_of_drawing_bare_axes(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    unrun = next(m for m in ApiClient(seeded_api.url).models() if m.name == "EMT")
    chromium.get(f"{seeded_dash}/models/{unrun.id}")
    notes = wait_for(
        chromium,
        lambda d: d.execute_script(
            "const g = document.querySelector('#model-eos .js-plotly-plot');"
            "const a = g && g.layout && g.layout.annotations;"
            "return a && a.length ? a.map(n => n.text) : null;"
        ),
        60,
    )
    assert any("mlipm campaigns start -m 'EMT' -b eos" in note for note in notes)


def test_the_element_maps_prefer_a_model_with_training_counts_and_runs_of_the_metric() -> None:
    """After the demo the baselines have the most runs (eos over 63 crystals) but training
    counts that are all 1 (fitted to one crystal per element); the page opens on the MLIP whose
    card has varying counts and that ran eos, so the training map and the error-count scatter
    show something. Without such a model: the most runs."""
    import uuid
    from types import SimpleNamespace
    from typing import Any

    create_app("http://127.0.0.1:9")  # pages register only once an app exists
    opening_model = sys.modules["frontend.pages.elements"].opening_model

    emt, chgnet, sevennet = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    counts = {"training_data": [{"name": "MPtrj", "element_counts": {"Cu": 9, "Al": 4}}]}
    # a fit to one crystal per element: counts, but all equal (no scatter to draw)
    fitted = {"training_data": [{"name": "crystals", "element_counts": {"Cu": 1, "Al": 1}}]}
    models: Any = [
        SimpleNamespace(id=emt, training_element_counts=None, card=fitted),
        SimpleNamespace(id=chgnet, training_element_counts=None, card=counts),
        SimpleNamespace(id=sevennet, training_element_counts=None, card=counts),
    ]

    def run(model: uuid.UUID, key: str) -> SimpleNamespace:
        return SimpleNamespace(mlip_model_id=model, benchmark_key=key)

    runs = [run(emt, "eos")] * 40 + [run(sevennet, "relax")] * 9 + [run(chgnet, "eos")] * 3
    assert opening_model(runs, models, "eos") == str(chgnet)  # SevenNet ran no eos
    assert opening_model(runs, models, "relax") == str(sevennet)
    assert opening_model(runs, models, "s22") == str(emt)  # nobody counted ran s22
    assert opening_model([], models, "eos") is None
