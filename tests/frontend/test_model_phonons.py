"""The model page's phonon panel: bands along the standard path beside the DOS, the model's run
and the comparison's overlaid, a dynamically unstable run drawn with its imaginary modes.

The spectra are the phonons benchmark's own series (EMT on the seeded metals, scaled per model
by ``tests/frontend/seed_series.py``), so the figure reads exactly what a worker stores.
"""

from __future__ import annotations

import dataclasses
import sys
import uuid
from types import ModuleType
from typing import Any

import plotly.graph_objects as go
import pytest
from selenium import webdriver

from backend.schemas.runs import RunSummary, SeriesRead
from frontend.app import create_app
from frontend.figures.phonons import (
    PhononSpectrum,
    onto_path,
    path_ticks,
    phonon_figure,
    special_points,
)
from tests.frontend.browser import (
    screenshot,
    set_dropdown,
    severe_console_errors,
    wait_for,
)
from tests.frontend.conftest import N_SEEDED_MODELS, SeededApi
from tests.frontend.seed_formulas import (
    MATERIALS,
    SOFT_MODE_THZ,
    UNSTABLE_PHONONS_MATERIAL,
    is_failed,
    is_unstable,
    model_name,
)
from tests.frontend.seed_series import phonon_result
from tests.frontend.seeded_values import read_seed_inputs

J = MATERIALS.index(UNSTABLE_PHONONS_MATERIAL)


def _series(model: int, *, unstable: bool = False) -> list[SeriesRead]:
    result = phonon_result(model, J, unstable=unstable)
    return [SeriesRead(**dataclasses.asdict(s)) for s in result.series()]


def _figure(*spectra: PhononSpectrum) -> go.Figure:
    return phonon_figure(spectra, title="Phonons (Ag)", hint="run the phonons benchmark")


def _legend(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data if t.showlegend is not False]


@pytest.fixture(scope="module")
def stable_and_unstable() -> go.Figure:
    return _figure(
        PhononSpectrum("seed-000 1", _series(0)),
        PhononSpectrum("seed-002 1", _series(2, unstable=True), unstable=True),
    )


def test_the_special_points_are_the_ticks_at_their_path_distances(
    stable_and_unstable: go.Figure,
) -> None:
    expected = phonon_result(0, J).special_points  # (ASE label, distance), the first model's
    axis = stable_and_unstable.layout.xaxis
    assert list(axis.tickvals) == pytest.approx(sorted({x for _, x in expected}))
    labels = ["Γ" if name == "G" else name for name, _ in expected]
    assert axis.ticktext[:3] == tuple(labels[:3]) == ("Γ", "X", "W")
    assert "K|U" in axis.ticktext  # the path's break: two points at one distance, one tick
    assert stable_and_unstable.layout.yaxis.title.text == "frequency (THz)"


def test_imaginary_modes_stay_negative_beside_a_zero_line(stable_and_unstable: go.Figure) -> None:
    (bands,) = [
        t
        for t in stable_and_unstable.data
        if t.name.endswith("(dynamically unstable)") and t.xaxis == "x"
    ]
    frequencies = [y for y in bands.y if y is not None]
    assert min(frequencies) <= SOFT_MODE_THZ < 0
    zero = [s for s in stable_and_unstable.layout.shapes if s.y0 == 0 and s.y1 == 0]
    assert {s.yref for s in zero} == {"y", "y2"}  # across the bands and the DOS


def test_each_model_has_one_colour_and_one_legend_entry(stable_and_unstable: go.Figure) -> None:
    fig = stable_and_unstable
    assert _legend(fig) == ["seed-000 1", "seed-002 1 (dynamically unstable)"]
    for name in _legend(fig):
        own = [t for t in fig.data if t.legendgroup == name]
        assert {t.xaxis for t in own} == {"x", "x2"}  # bands and DOS
        assert len({t.line.color for t in own}) == 1
    assert len({t.line.color for t in fig.data}) == 2
    # every band of a model is in its one trace, broken between bands
    bands = next(t for t in fig.data if t.xaxis == "x")
    assert sum(y is None for y in bands.y) >= len(phonon_result(0, J).bands_thz)


def test_another_models_path_is_mapped_onto_the_first(stable_and_unstable: go.Figure) -> None:
    """Each model relaxes to its own lattice: its special points land on the first model's."""
    own, ref = special_points(_series(2)), special_points(_series(0))
    assert [p[1] for p in own] != pytest.approx([p[1] for p in ref])
    assert onto_path([p[1] for p in own], own, ref) == pytest.approx([p[1] for p in ref])
    other = next(t for t in stable_and_unstable.data if t.xaxis == "x" and "unstable" in t.name)
    assert max(x for x in other.x if x is not None) == pytest.approx(ref[-1][1])


def test_a_cut_path_label_leaves_the_points_it_lost_unlabelled() -> None:
    points = SeriesRead(
        name="phonon_special_points",
        x=[0.0, 1.0, 1.5, 2.0],
        y=[0.0, 1.0, 2.0, 3.0],
        x_label="q (G,X,W,K",  # cut at the column's length: "K" may be the start of "K1"
        x_unit="1/Å",
        y_label="index",
        y_unit="1",
    )
    assert special_points([points]) == [("Γ", 0.0), ("X", 1.0), ("W", 1.5), ("", 2.0)]
    assert path_ticks([("K", 2.0), ("U", 2.0), ("X", 3.0)]) == ([2.0, 3.0], ["K|U", "X"])


def test_no_phonon_run_says_what_to_run() -> None:
    fig = _figure()
    assert fig.layout.annotations[0].text == "run the phonons benchmark"
    assert not fig.data


@pytest.fixture
def page() -> ModuleType:
    create_app("http://127.0.0.1:9")  # pages register only once an app exists
    return sys.modules["frontend.pages.model"]


def _run(material: str, benchmark: str, status: str, failure: str | None = None) -> RunSummary:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(), "mlip_model_id": uuid.uuid4(), "model_hash": "0" * 64,
        "benchmark_id": uuid.uuid4(), "structure_id": uuid.uuid4(), "params": {},
        "params_hash": "1" * 64, "status": status, "attempt": 1, "failure_class": failure,
        "failure_message": None, "worker": None, "started_at": None, "finished_at": None,
        "wall_s": None, "cpu_s": None, "peak_memory_mb": None, "provenance": {},
        "model_name": "m", "model_version": "1", "benchmark_key": benchmark,
        "benchmark_version": "1", "material": material, "formula": material,
        "elements": [material], "n_atoms": 1, "structure_set": "s",
    }  # fmt: skip
    return RunSummary.model_validate(fields)


def test_materials_with_phonon_spectra_are_offered_and_preferred(page: ModuleType) -> None:
    runs = [
        _run("Al", "eos", "succeeded"),
        _run("Cu", "eos", "succeeded"),
        _run("Cu", "phonons", "failed", "dynamically_unstable"),  # its spectra are kept
        _run("Si", "phonons", "succeeded"),
        _run("Ni", "phonons", "failed", "no_convergence"),
    ]
    assert page.curve_materials(runs) == ["Cu", "Al", "Si", "Ni"]
    assert "-b phonons" in page.run_hint("seed-000", "phonons", "spectrum")


# -- in the browser, against the seeded API ---------------------------------------------------


def _unstable_model(seeded_api: SeededApi) -> int:
    """A seeded model whose phonons run on the unstable metal failed as dynamically unstable."""
    b = read_seed_inputs(seeded_api.database_url).key_index("phonons")
    found = [m for m in range(1, N_SEEDED_MODELS) if is_unstable("phonons", m, J, b)]
    assert found, "the seed must have a dynamically unstable phonons run"
    assert not is_failed(0, J, b), "model 0's phonons run on it must succeed"
    return found[0]


_PHONONS = """
const g = document.querySelector('#model-phonons .js-plotly-plot');
if (!g || !g.data || !g.data.length) { return null; }
const ticks = [...g.querySelectorAll('.xtick text')].map(t => t.textContent);
return {names: g.data.map(t => t.name), ticks: ticks, title: g.layout.title.text,
        tickvals: g.layout.xaxis.tickvals};
"""


@pytest.mark.browser
def test_model_page_draws_phonon_bands_of_both_models(
    chromium: webdriver.Chrome, seeded_dash: str, seeded_api: SeededApi
) -> None:
    other = _unstable_model(seeded_api)
    model_id, other_id = (str(seeded_api.seeded.model_ids[m]) for m in (0, other))
    chromium.get(f"{seeded_dash}/models/{model_id}?compare={other_id}")

    def drawn(driver: webdriver.Chrome) -> dict[str, Any] | None:
        shown = driver.execute_script(_PHONONS)
        return shown if shown and len(set(shown["names"])) == 2 else None

    shown = wait_for(chromium, drawn, 90)
    assert shown["title"] == f"Phonons ({UNSTABLE_PHONONS_MATERIAL})"  # the default material
    assert {"Γ", "X", "L"} <= set(shown["ticks"])
    expected = sorted({x for _, x in phonon_result(0, J).special_points})
    assert shown["tickvals"] == pytest.approx(expected)  # this model's path
    assert set(shown["names"]) == {
        f"{model_name(0)} 1",
        f"{model_name(other)} 1 (dynamically unstable)",
    }
    screenshot(chromium, "model-phonons")

    # on a metal where this model's phonons run failed without spectra: what to run
    chromium.get(f"{seeded_dash}/models/{model_id}")
    wait_for(chromium, lambda d: d.execute_script(_PHONONS), 90)
    b = read_seed_inputs(seeded_api.database_url).key_index("phonons")
    failed = next(m for j, m in enumerate(MATERIALS) if is_failed(0, j, b) and j != J)
    set_dropdown(chromium, "model-material", failed)
    empty = wait_for(
        chromium,
        lambda d: d.execute_script(
            "const g = document.querySelector('#model-phonons');"
            "const a = g && g.querySelector('.annotation-text');"
            "const t = g && g.querySelector('.gtitle');"
            "return a && t && t.textContent === arguments[0] ? a.textContent : null;",
            f"Phonons ({failed})",
        ),
        60,
    )
    assert "No phonons spectrum of this model yet" in empty
    assert "-b phonons" in empty
    assert severe_console_errors(chromium) == []
