"""DIEP (r2SCAN, MatPES) and ANI-1x (wB97X/6-31G(d)) through the adapter registry: the
contract, and one science check each against numbers known independently of the models."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.optimize import BFGS

from shared_kernel.failures import BenchmarkSetupError, UnsupportedElementsError
from workers.adapters.pretrained import N_PARAMETERS, pretrained_models
from workers.adapters.registry import ADAPTERS, ModelSpec, check_elements, load_all, make_calculator
from workers.benchmarks.eos import EosParams, run_eos

load_all()

PACKAGES = {"diep": "diep", "ani1x": "torchani"}
RECORDS = {m.family: m for m in pretrained_models() if m.family in PACKAGES}
_CACHE: dict[str, Any] = {}


def calculator(family: str) -> Any:
    pytest.importorskip(PACKAGES[family])
    if family not in _CACHE:
        _CACHE[family] = make_calculator(RECORDS[family].spec())
    return _CACHE[family]


@pytest.mark.mlip
@pytest.mark.parametrize("family", sorted(PACKAGES))
def test_contract(family: str) -> None:
    import torch

    before = torch.get_default_dtype(), torch.get_num_threads()
    calc = calculator(family)
    spec, adapter = RECORDS[family].spec(), ADAPTERS[family]
    atoms = molecule("CH3CH2OH") if family == "ani1x" else bulk("Cu", cubic=True)
    atoms.rattle(0.02, seed=4)
    check_elements(spec, atoms.get_chemical_symbols())
    atoms.calc = calc
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    assert np.isfinite(energy)
    assert forces.shape == (len(atoms), 3)
    assert np.isfinite(forces).all()
    if family == "diep":
        assert adapter.provides_stress
        assert atoms.get_stress().shape == (6,)
    with pytest.raises(UnsupportedElementsError):
        check_elements(spec, ["Cu", "Po"] if family == "diep" else ["C", "Si"])
    assert (torch.get_default_dtype(), torch.get_num_threads()) == before
    assert adapter.package_versions()[PACKAGES[family]] != "not installed"


@pytest.mark.mlip
@pytest.mark.parametrize("family", sorted(PACKAGES))
def test_records_match_the_loaded_models(family: str) -> None:
    calc = calculator(family)
    record = RECORDS[family]
    module = calc.potential if family == "diep" else calc.model
    n_parameters = sum(p.numel() for p in module.parameters())
    assert n_parameters == record.card["n_parameters"] == N_PARAMETERS[record.name]
    if family == "diep":
        assert frozenset(calc.potential.model.element_types) == frozenset(record.elements)


@pytest.mark.mlip
def test_ani1x_relaxes_water_to_its_known_geometry() -> None:
    # Independent numbers: experiment r(OH) = 0.9572 Å, HOH = 104.5° (Hoy & Bunker 1979);
    # wB97X/6-31G(d), ANI-1x's training level, gives about 0.96 Å and 103.5-104°.
    atoms = molecule("H2O")
    atoms.calc = calculator("ani1x")
    BFGS(atoms, logfile=None).run(fmax=1e-3, steps=200)
    assert atoms.get_distance(0, 1) == pytest.approx(0.96, abs=0.01)
    assert atoms.get_distance(0, 2) == pytest.approx(0.96, abs=0.01)
    assert atoms.get_angle(1, 0, 2) == pytest.approx(104.0, abs=2.0)


@pytest.mark.mlip
def test_diep_copper_lattice_constant() -> None:
    # Independent numbers: experiment a = 3.61 Å (Kittel); r2SCAN gives 3.56-3.58 Å.
    result = run_eos(bulk("Cu"), calculator("diep"), EosParams(n_points=7))
    lattice_constant = (4 * result.v0_a3_per_atom) ** (1 / 3)
    assert lattice_constant == pytest.approx(3.61, rel=0.03)
    assert result.bulk_modulus_gpa == pytest.approx(140.0, rel=0.30)


@pytest.mark.parametrize("family", sorted(PACKAGES))
def test_missing_package_names_the_extra(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m.split(".")[0] == PACKAGES[family]]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, PACKAGES[family], None)
    with pytest.raises(BenchmarkSetupError, match=r"mlip-metrology\[mlip\]"):
        make_calculator(RECORDS[family].spec())


def test_diep_offers_only_the_bundled_model() -> None:
    with pytest.raises(BenchmarkSetupError, match="diep_fold1"):
        make_calculator(ModelSpec("diep", "x", params={"model": "other"}))


def test_cards_name_the_level_of_theory() -> None:
    assert RECORDS["diep"].card["training_data"]["level_of_theory"] == "r2SCAN"
    assert "MatPES" in RECORDS["diep"].card["training_data"]["name"]
    assert RECORDS["ani1x"].card["training_data"]["level_of_theory"] == "wB97X/6-31G(d)"
    assert RECORDS["ani1x"].elements == ["C", "H", "N", "O"]
