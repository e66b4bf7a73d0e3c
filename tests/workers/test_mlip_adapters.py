"""Pretrained universal MLIPs (CHGNet, SevenNet) through the adapter registry: Cu's equation
of state against independent PBE and experimental numbers, torch's global settings, and fast,
explicit failures for weights that are not on disk. The adapter contract (energy, forces,
stress, invariances) is tests/workers/test_adapter_contract.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.pretrained import N_PARAMETERS, pretrained_models
from workers.adapters.registry import ADAPTERS, ModelSpec, load_all, make_calculator
from workers.adapters.torch_support import MPTRJ_ELEMENTS
from workers.benchmarks.eos import EosParams, run_eos

load_all()

PACKAGES = {"chgnet": "chgnet", "sevennet": "sevenn"}  # MPtrj models; DIEP and ANI-1x:
# tests/workers/test_diep_ani.py
RECORDS = {m.family: m for m in pretrained_models() if m.family in PACKAGES}
FAMILIES = sorted(RECORDS)


@pytest.fixture(scope="module")
def calculators() -> dict[str, Calculator]:
    """One calculator per family, built lazily (a family whose package is missing is skipped)."""
    return {}


def calculator(family: str, cache: dict[str, Calculator]) -> Calculator:
    pytest.importorskip(PACKAGES[family])
    if family not in cache:
        cache[family] = make_calculator(RECORDS[family].spec())
    return cache[family]


@pytest.mark.mlip
@pytest.mark.parametrize("family", FAMILIES)
def test_copper_equation_of_state(family: str, calculators: dict[str, Calculator]) -> None:
    # Independent numbers: PBE gives a = 3.63-3.64 Å for Cu (e.g. the Delta-test WIEN2k set,
    # Lejaeghere et al. 2016), experiment 3.61 Å and B0 ~ 140 GPa (Kittel). Models trained
    # on PBE data should land near PBE.
    calc = calculator(family, calculators)
    result = run_eos(bulk("Cu"), calc, EosParams(n_points=7))
    lattice_constant = (4 * result.v0_a3_per_atom) ** (1 / 3)
    assert lattice_constant == pytest.approx(3.635, rel=0.025)
    assert result.bulk_modulus_gpa == pytest.approx(140.0, rel=0.20)
    assert 3.0 < result.bulk_modulus_pressure_derivative < 8.0


@pytest.mark.mlip
@pytest.mark.parametrize("family", FAMILIES)
def test_torch_global_settings_are_kept(family: str) -> None:
    pytest.importorskip(PACKAGES[family])
    import torch

    before = torch.get_default_dtype(), torch.get_num_threads()
    atoms = bulk("Cu")
    atoms.calc = make_calculator(RECORDS[family].spec())
    atoms.get_forces()
    assert (torch.get_default_dtype(), torch.get_num_threads()) == before


@pytest.mark.mlip
def test_torch_globals_guard_restores_dtype_and_threads() -> None:
    torch = pytest.importorskip("torch")
    from workers.adapters.torch_support import torch_globals_kept

    before = torch.get_default_dtype(), torch.get_num_threads()
    with torch_globals_kept():
        torch.set_default_dtype(torch.float64)
        torch.set_num_threads(1)
    assert (torch.get_default_dtype(), torch.get_num_threads()) == before


@pytest.mark.mlip
@pytest.mark.parametrize("family", FAMILIES)
def test_records_match_the_loaded_models(family: str, calculators: dict[str, Calculator]) -> None:
    record = RECORDS[family]
    calc: Any = calculator(family, calculators)
    if family == "chgnet":
        n_parameters = calc.model.n_params
    else:
        n_parameters = sum(p.numel() for p in calc.model.parameters())
    assert n_parameters == record.card["n_parameters"] == N_PARAMETERS[record.name]
    assert ADAPTERS[family].supported_elements(record.spec()) == frozenset(record.elements)


def test_pretrained_records() -> None:
    names = ["CHGNet-0.3.0", "SevenNet-0", "DIEP-r2SCAN", "ANI-1x"]
    assert [m.name for m in pretrained_models()] == names
    for model in RECORDS.values():
        json.dumps([model.params, model.card])  # JSON-serialisable
        assert not model.is_baseline
        assert model.elements == sorted(MPTRJ_ELEMENTS)
        assert len(model.elements) == 89
        assert model.card["training_data"]["level_of_theory"] == "PBE/PBE+U"
        assert model.family in ADAPTERS
        assert ADAPTERS[model.family].provides_stress  # checked: test_adapter_contract.py


@pytest.mark.parametrize(
    ("family", "params", "names"),
    [
        ("chgnet", {"model": "0.1.0"}, "0.3.0"),
        ("chgnet", {"model": "0.3.0", "device": "cuda"}, "device"),
        ("sevennet", {"model": "7net-bogus"}, "7net-0"),
        ("sevennet", {"model": "/tmp/any-file.pth"}, "7net-0"),  # never unpickle a given path
    ],
)
def test_unknown_models_fail_fast(family: str, params: dict, names: str) -> None:
    with pytest.raises(BenchmarkSetupError, match=names):
        make_calculator(ModelSpec(family, "x", params=params))


@pytest.mark.mlip
def test_sevennet_weights_not_on_disk_are_never_downloaded() -> None:
    pytest.importorskip("sevenn")
    start = time.perf_counter()
    with pytest.raises(BenchmarkSetupError, match=r"checkpoint_sevennet_omat\.pth"):
        make_calculator(ModelSpec("sevennet", "omat", params={"model": "7net-omat"}))
    assert time.perf_counter() - start < 5.0


@pytest.mark.mlip
def test_sevennet_multifidelity_needs_a_modal() -> None:
    pytest.importorskip("sevenn")
    with pytest.raises(BenchmarkSetupError, match="PBE"):
        make_calculator(ModelSpec("sevennet", "mf", params={"model": "7net-mf-0"}))
    atoms: Atoms = bulk("Cu")
    atoms.calc = make_calculator(
        ModelSpec("sevennet", "mf", params={"model": "7net-mf-0", "modal": "PBE"})
    )
    assert np.isfinite(atoms.get_potential_energy())


@pytest.mark.parametrize("family", FAMILIES)
def test_missing_package_names_the_extra(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m.split(".")[0] == PACKAGES[family]]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, PACKAGES[family], None)  # makes the import fail
    with pytest.raises(BenchmarkSetupError, match=r"mlip-metrology\[mlip\]"):
        make_calculator(RECORDS[family].spec())


def test_registry_and_records_import_no_torch() -> None:
    code = (
        "import sys, workers.adapters.registry as r, workers.adapters.pretrained as p\n"
        "r.load_all(); p.pretrained_models()\n"
        "print(sorted(m for m in ('torch', 'chgnet', 'sevenn', 'diep', 'torchani')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
