"""pymatgen's experimental element data as reference records."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workers.reference_data import reference_lookup
from workers.reference_pymatgen import pymatgen_references


@pytest.fixture(scope="module")
def refs() -> dict:
    return reference_lookup(pymatgen_references())  # duplicates would raise


def test_copper_textbook_values(refs: dict) -> None:
    # Cu: E = 130 GPa, G = 48 GPa, nu = 0.34, alpha = 16.5e-6 /K (handbook values).
    assert refs["Cu", "youngs_modulus"].value == pytest.approx(130.0)
    assert refs["Cu", "youngs_modulus"].unit == "GPa"
    assert refs["Cu", "shear_modulus"].value == pytest.approx(48.0)
    assert refs["Cu", "poisson_ratio"].value == pytest.approx(0.34)
    assert refs["Cu", "poisson_ratio"].unit == "1"
    alpha = refs["Cu", "linear_thermal_expansion_coefficient"]
    assert alpha.value == pytest.approx(16.5e-6)
    assert alpha.unit == "1/K"


def test_isotropic_moduli_are_consistent(refs: dict) -> None:
    # For an isotropic solid E = 2 G (1 + nu); handbook values agree to a few per cent.
    for symbol in ("Cu", "Al", "Fe", "Ni", "Ag"):
        e, g = refs[symbol, "youngs_modulus"].value, refs[symbol, "shear_modulus"].value
        nu = refs[symbol, "poisson_ratio"].value
        assert e == pytest.approx(2 * g * (1 + nu), rel=0.06)


def test_records_are_tagged(refs: dict) -> None:
    records = list(refs.values())
    assert len(records) > 200
    assert {r.property for r in records} == {
        "youngs_modulus",
        "shear_modulus",
        "poisson_ratio",
        "linear_thermal_expansion_coefficient",
    }
    for record in records:
        assert record.level_of_theory == "experiment"
        assert record.dataset == "pymatgen.core.periodic_table"
        assert "WebElements" in record.source
        assert record.conditions["temperature_k"] == 300
        assert set(record.conditions) <= {"temperature_k", "phase"}
        assert record.value == record.value  # not NaN
    # The standard state's phase: graphite for carbon, the tabulated structure otherwise.
    carbon = refs["C", "linear_thermal_expansion_coefficient"]
    assert carbon.conditions["phase"] == {"space_group": 194, "prototype": "graphite"}
    assert refs["Cu", "youngs_modulus"].conditions["phase"] == {
        "space_group": 225,
        "prototype": "fcc",
    }
    assert ("He", "youngs_modulus") not in refs  # missing values are skipped
    assert not any(material in ("D", "T") for material, _ in refs)


def test_module_does_not_import_pymatgen() -> None:
    code = "import sys, workers.reference_pymatgen; print('pymatgen' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
