"""The solids campaign's report (bench.solids_report) on hand-made run records."""

from __future__ import annotations

from typing import Any

import pytest

from backend.domain import ranking
from bench.solids_report import markdown_report, summarize


def _run(
    benchmark: str,
    material: str,
    *,
    status: str = "succeeded",
    failure_class: str | None = None,
    metrics: dict[str, tuple[float, float | None, str]] | None = None,
    flags: tuple[str, ...] = (),
    wall_s: float | None = 1.0,
    model: str = "M",
    fitted_to: tuple[str, ...] = ("cohesive_energy",),
) -> dict[str, Any]:
    """A run record; ``metrics``: name -> (reference, error, level of theory)."""
    elements = ["Cl", "Na"] if material == "NaCl" else [material]
    values = {
        name: {
            "value": ref + (error or 0.0),
            "unit": "u",
            "reference": ref,
            "level_of_theory": level,
            "error": error,
            "rel_error": None,  # filled in from error / |reference|, as the board does
        }
        for name, (ref, error, level) in (metrics or {}).items()
    }
    return {
        "model": model,
        "benchmark": benchmark,
        "version": "1",
        "headline": list(values),
        "material": material,
        "label": material,
        "elements": elements,
        "status": status,
        "failure_class": failure_class,
        "failure_message": "boom" if status == "failed" else None,
        "wall_s": wall_s,
        "peak_memory_mb": None,
        "metrics": values,
        "flags": list(flags),
        "fitted_to": list(fitted_to),
    }


def _v0(ref: float, error: float, level: str = "experiment") -> dict[str, Any]:
    return {"volume_per_atom": (ref, error, level)}


RUNS = [
    # elements: errors +1 and -3 (10 % and 20 %): MAE 2, mean signed -1, MAPE 15 %
    _run("eos", "Cu", metrics={**_v0(10.0, 1.0), "bulk_modulus": (100.0, -20.0, "experiment")},
         wall_s=1.0),
    _run("eos", "Al", metrics=_v0(15.0, -3.0), wall_s=2.0),
    # left out: flagged, failed, compared with another level of theory, no reference
    _run("eos", "Fe", metrics=_v0(12.0, 100.0), flags=("flag_fit",), wall_s=4.0),
    _run("eos", "Ni", status="failed", failure_class="no_convergence", wall_s=8.0),
    _run("eos", "W", metrics=_v0(16.0, 50.0, level="pbe"), wall_s=16.0),
    _run("eos", "Xe", metrics={"volume_per_atom": (1.0, None, "experiment")}, wall_s=32.0),
    _run("eos", "Po", status="skipped", failure_class="unsupported_elements", wall_s=None),
    _run("eos", "Pb", status="cancelled", failure_class="cancelled", wall_s=None),
    # compounds: one value, error 2 on 20 (10 %)
    _run("eos", "NaCl", metrics=_v0(20.0, 2.0), wall_s=64.0),
    # cohesive: a quantity M was fitted to
    _run("cohesive", "Cu", metrics={"cohesive_energy": (3.49, 0.1, "experiment")}),
    # phonons: 3 finished (1 dynamically unstable), 1 skipped, 1 still queued
    _run("phonons", "Cu", metrics={"debye_temperature": (343.0, -43.0, "experiment")}),
    _run("phonons", "Al", status="failed", failure_class="dynamically_unstable", wall_s=3.0),
    _run("phonons", "NaCl", status="failed", failure_class="no_convergence", wall_s=5.0),
    _run("phonons", "Po", status="skipped", failure_class="unsupported_elements", wall_s=None),
    _run("phonons", "Fe", status="queued", wall_s=None),
]  # fmt: skip


def _mae(report: dict[str, Any], quantity: str, group: str) -> dict[str, Any]:
    (row,) = [
        r
        for r in report["mae"]
        if r["model"] == "M" and r["quantity"] == quantity and r["group"] == group
    ]
    return row


@pytest.fixture
def report() -> dict[str, Any]:
    plan = {"budget_s": 60.0, "workers": 2, "rounds_launched": 1, "rounds_total": 3}
    return summarize(RUNS, wall_s=12.3, cancelled=["c"], plan={**plan, "launched": ["Cu"]})


def test_mae_of_the_elements_and_its_interval(report: dict[str, Any]) -> None:
    row = _mae(report, "V0 (eos)", "elements")
    assert row["n"] == 2
    assert row["mae"] == pytest.approx(2.0)
    assert row["mean_signed_error"] == pytest.approx(-1.0)
    assert row["mape_percent"] == pytest.approx(15.0)
    assert row["materials"] == ["Al", "Cu"]
    assert row["n_flagged_excluded"] == 1
    interval = ranking.mean_interval([1.0, 3.0])
    assert interval is not None
    assert row["mae_interval"] == [interval.low, interval.high]
    assert 1.0 <= interval.low <= 2.0 <= interval.high <= 3.0


def test_compounds_are_split_from_the_elements(report: dict[str, Any]) -> None:
    row = _mae(report, "V0 (eos)", "compounds")
    assert (row["n"], row["mae"], row["materials"]) == (1, pytest.approx(2.0), ["NaCl"])
    assert row["mae_interval"] == [pytest.approx(2.0), pytest.approx(2.0)]
    assert row["mape_percent"] == pytest.approx(10.0)


def test_other_quantities_and_empty_cells(report: dict[str, Any]) -> None:
    b0 = _mae(report, "B0 (eos)", "elements")
    assert (b0["n"], b0["mae"], b0["mape_percent"]) == (1, 20.0, pytest.approx(20.0))
    assert _mae(report, "θ_D (phonons)", "elements")["mae"] == pytest.approx(43.0)
    empty = _mae(report, "E_coh (cohesive)", "compounds")
    assert (empty["n"], empty["mae"], empty["mae_interval"]) == (0, None, None)
    assert not empty["fitted"]  # M's card: fitted to cohesive_energy, of its elements only
    assert _mae(report, "E_coh (cohesive)", "elements")["fitted"]
    assert not b0["fitted"]


def test_unstable_phonons_out_of_those_finished(report: dict[str, Any]) -> None:
    assert report["phonon_stability"] == {
        "M": {"finished": 3, "dynamically_unstable": 1, "unstable_materials": ["Al"]}
    }


def test_outcomes_and_median_wall_times(report: dict[str, Any]) -> None:
    eos = next(c for c in report["outcomes"] if c["benchmark"] == "eos")
    assert eos["n_runs"] == 9
    assert eos["status"] == {"succeeded": 6, "failed": 1, "skipped": 1, "cancelled": 1}
    assert eos["failure_classes"] == {
        "no_convergence": 1,
        "unsupported_elements": 1,
        "cancelled": 1,
    }
    # runs that ran: 1, 2, 4, 8, 16, 32, 64 s (skipped and cancelled ones have no time)
    assert report["median_wall_s"]["M"]["eos"] == 8.0
    assert report["median_wall_s"]["M"]["phonons"] == 3.0  # 1, 3, 5
    assert report["by_status"]["queued"] == 1


def test_markdown_report(report: dict[str, Any]) -> None:
    text = markdown_report(report)
    interval = ranking.mean_interval([1.0, 3.0])
    assert interval is not None
    assert f"| M | 2 [{interval.low:.3g}, {interval.high:.3g}] (n 2; 15.0 %; 1 flagged) |" in text
    assert "| M | 0.1 [0.1, 0.1] (n 1; 2.9 %) fitted | - (n 0) |" in text  # E_coh
    assert "| M | - (n 0) | - (n 0) |" in text
    assert "| M | 1 / 3 | Al |" in text
    assert "- (n 0)" in text
    assert "| M | eos | Ni | no_convergence | boom |" in text
