"""bench/bare_ase.py at its smallest size: EMT on one crystal, one repeat."""

from __future__ import annotations

import pytest
from ase import units
from ase.calculators.emt import EMT

from bench import bare_ase as bench
from workers.benchmarks import _eos_fit
from workers.benchmarks import eos as eos_module
from workers.benchmarks.eos import EosParams, run_eos


def test_the_bare_loop_does_the_same_science_as_run_eos() -> None:
    crystals, left_out = bench.crystals_of("EMT", None)
    assert [label for label, _ in crystals] == ["Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au"]
    assert "Fe" in left_out
    atoms = dict(crystals)["Cu"]
    fitted = bench.bare_eos(atoms, EMT())
    assert fitted is not None
    v0, _, b0 = fitted
    result = run_eos(atoms, EMT(), EosParams())
    assert v0 / len(atoms) == pytest.approx(result.v0_a3_per_atom, rel=1e-6)
    assert b0 / units.GPa == pytest.approx(result.bulk_modulus_gpa, rel=1e-6)


def test_the_platform_run_is_split_into_its_parts_and_calls() -> None:
    crystals, _ = bench.crystals_of("EMT", 1)
    figures = bench.measure("EMT", crystals, repeats=1)
    assert figures["runs"] == 1
    assert figures["model_calls_per_run"] == {"checks": 1.0, "roughness": 21.0, "scan": 11.0}
    assert figures["atoms_per_call_last_crystal"]["checks"] == 8  # the rattled 2x2x2 cell
    parts = figures["platform_parts_s"]
    assert set(parts) == set(bench.PARTS)
    assert all(seconds >= 0 for name, seconds in parts.items() if name != "other")
    assert figures["platform_s"] == pytest.approx(sum(parts.values()), abs=0.01)
    assert figures["platform_same_science_s"] == pytest.approx(
        parts["scan"] + parts["fit"], abs=0.01
    )
    assert figures["ratio_platform_over_bare"] > 1  # the sub-grid and checks cost calls
    assert eos_module.fit_eos.__module__ == "workers.benchmarks._eos_fit"  # patches undone
    assert _eos_fit.parameter_stderr.__module__ == "workers.benchmarks._eos_fit"
