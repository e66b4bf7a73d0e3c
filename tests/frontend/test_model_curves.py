"""The model page opens its curves on a material with a drawn EOS, and overlays E(V) curves of
models with different energy zeros relative to each curve's minimum."""

from __future__ import annotations

import sys
import uuid
from types import ModuleType
from typing import Any

import pytest

from backend.schemas.runs import RunSummary, SeriesRead
from frontend.app import create_app


@pytest.fixture
def page() -> ModuleType:
    create_app("http://127.0.0.1:9")  # pages register only once an app exists
    return sys.modules["frontend.pages.model"]


def _run(material: str, benchmark: str, status: str) -> RunSummary:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(), "mlip_model_id": uuid.uuid4(), "model_hash": "0" * 64,
        "benchmark_id": uuid.uuid4(), "structure_id": uuid.uuid4(), "params": {},
        "params_hash": "1" * 64, "status": status, "attempt": 1, "failure_class": None,
        "failure_message": None, "worker": None, "started_at": None, "finished_at": None,
        "wall_s": None, "cpu_s": None, "peak_memory_mb": None, "provenance": {},
        "model_name": "m", "model_version": "1", "benchmark_key": benchmark,
        "benchmark_version": "1", "material": material, "formula": material,
        "elements": [material], "n_atoms": 1, "structure_set": "s",
    }  # fmt: skip
    return RunSummary.model_validate(fields)


def test_the_curves_open_on_a_material_whose_eos_and_dimer_succeeded(page: ModuleType) -> None:
    runs = [
        _run("Ac", "eos", "failed"),
        _run("Ag", "diatomics", "succeeded"),
        _run("Cu", "eos", "succeeded"),
        _run("Ni", "eos", "succeeded"),
        _run("Cu", "nve", "succeeded"),
    ]
    assert page.curve_materials(runs) == ["Cu", "Ni", "Ag", "Ac"]
    # a material with both curves comes first, so both panels open drawn
    runs.append(_run("Ni", "diatomics", "succeeded"))
    assert page.curve_materials(runs) == ["Ni", "Cu", "Ag", "Ac"]


def test_eos_curves_are_shifted_to_their_own_minimum(page: ModuleType) -> None:
    # E(V) = E0 + k (V - V0)^2 with two energy zeros, as a pair potential and a DFT-fitted model
    volumes = [10.0, 11.0, 12.0, 13.0, 14.0]
    for e0 in (0.0, -4.1):
        curve = SeriesRead(
            name="energy_volume",
            x=volumes,
            y=[e0 + 0.05 * (v - 12.0) ** 2 for v in volumes],
            x_label="volume",
            x_unit="Å³/atom",
            y_label="energy",
            y_unit="eV/atom",
        )
        shifted = page.relative_to_minimum(curve)
        assert shifted.y == pytest.approx([0.2, 0.05, 0.0, 0.05, 0.2])
        assert shifted.x == volumes
        assert "minimum" in shifted.y_label
