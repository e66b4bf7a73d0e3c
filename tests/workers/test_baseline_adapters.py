"""Baseline adapters: the registry contract, and fitted pair potentials checked against the
experimental targets through the real ASE calculators and the eos benchmark."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.data import chemical_symbols

from shared_kernel.failures import BenchmarkSetupError, UnsupportedElementsError
from workers.adapters.baselines import BaselineModel, baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.adapters.registry import ADAPTERS, check_elements, load_all, make_calculator
from workers.benchmarks.eos import EosParams, run_eos
from workers.reference_data import elemental_crystals, experimental_references, reference_lookup

load_all()


@pytest.fixture(scope="module")
def models() -> dict[str, BaselineModel]:
    return {m.family: m for m in (*baseline_models(), *pretrained_models())}


@pytest.fixture(scope="module")
def refs() -> dict:
    return reference_lookup(experimental_references())


@pytest.fixture(scope="module")
def crystals() -> dict[str, Atoms]:
    return {c.label: c.atoms for c in elemental_crystals()}


BUILT_IN = sorted({m.family for m in (*baseline_models(), *pretrained_models())})


def test_every_built_in_family_is_registered() -> None:
    assert set(BUILT_IN) <= set(load_all())


@pytest.mark.parametrize("family", BUILT_IN)
def test_adapter_declares_its_elements(family: str, models: dict[str, BaselineModel]) -> None:
    # Energy, forces, stress and invariances: tests/workers/test_adapter_contract.py.
    for package in ADAPTERS[family].packages:  # the optional `mlip` extra
        pytest.importorskip(package)
    spec, adapter = models[family].spec(), ADAPTERS[family]
    supported = adapter.supported_elements(spec)
    assert supported
    check_elements(spec, sorted(supported))
    symbol = "Cu" if "Cu" in supported else sorted(supported)[0]
    unsupported = next(s for s in chemical_symbols[1:] if s not in supported)
    with pytest.raises(UnsupportedElementsError):
        check_elements(spec, [symbol, unsupported])


def test_emt_offers_only_its_metals(models: dict[str, BaselineModel]) -> None:
    assert models["emt"].elements == ["Ag", "Al", "Au", "Cu", "Ni", "Pd", "Pt"]
    with pytest.raises(UnsupportedElementsError):
        check_elements(models["emt"].spec(), ["C", "H"])


@pytest.mark.parametrize("family", ["lj", "morse"])
def test_pair_potentials_refuse_mixtures(family: str, models: dict[str, BaselineModel]) -> None:
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    atoms.symbols[0] = "Al"
    atoms.calc = make_calculator(models[family].spec())
    # a structure they do not cover: the run is skipped (unsupported_elements), not failed
    with pytest.raises(UnsupportedElementsError, match="mixing"):
        atoms.get_potential_energy()


@pytest.mark.parametrize("family", ["lj", "morse"])
def test_bad_pair_params_are_setup_errors(family: str, models: dict[str, BaselineModel]) -> None:
    spec = models[family].spec()
    with pytest.raises(BenchmarkSetupError, match="elements"):
        make_calculator(type(spec)(family, "empty"))
    broken = {"elements": {"Cu": {"epsilon": 1.0, "bogus": 2.0}}}
    with pytest.raises(BenchmarkSetupError, match="bogus"):
        make_calculator(type(spec)(family, "broken", params=broken))


@pytest.mark.parametrize("symbol", ["Cu", "Al", "Ni", "Fe", "W", "Mg", "Zn"])
@pytest.mark.parametrize("family", ["lj", "morse"])
def test_fitted_pair_potentials_reproduce_their_targets(
    family: str,
    symbol: str,
    models: dict[str, BaselineModel],
    refs: dict,
    crystals: dict[str, Atoms],
) -> None:
    # A second method: the real ASE calculator, scanned and fitted by the eos benchmark
    # (a narrow scan so that the Birch-Murnaghan curvature is the local one). V0 is compared
    # with the volume per atom of the experimental crystal, which covers hcp as well.
    atoms = crystals[symbol]
    calc = make_calculator(models[family].spec())
    result = run_eos(atoms, calc, EosParams(volume_range=0.05))
    assert result.v0_a3_per_atom == pytest.approx(atoms.get_volume() / len(atoms), rel=0.01)
    assert -result.e0_ev_per_atom == pytest.approx(
        refs[(symbol, "cohesive_energy")].value, rel=0.01
    )
    if family == "morse":
        bulk_modulus = refs[(symbol, "bulk_modulus")].value
        assert result.bulk_modulus_gpa == pytest.approx(bulk_modulus, rel=0.01)


def test_fitted_lattice_constant_of_cubic_crystals(
    models: dict[str, BaselineModel], refs: dict
) -> None:
    # fcc: V = a^3 / 4 per atom; bcc: V = a^3 / 2 per atom.
    for family in ("lj", "morse"):
        calc = make_calculator(models[family].spec())
        for symbol, structure, per_cell in (("Cu", "fcc", 4), ("Fe", "bcc", 2)):
            a_exp = refs[(symbol, "lattice_constant_a")].value
            result = run_eos(bulk(symbol, structure, a=a_exp), calc, EosParams(volume_range=0.05))
            assert (per_cell * result.v0_a3_per_atom) ** (1 / 3) == pytest.approx(a_exp, rel=0.01)


def test_morse_copper_is_close_to_girifalco_weizer(models: dict[str, BaselineModel]) -> None:
    # Girifalco & Weizer (1959), Cu: D = 0.3429 eV, alpha = 1.3588 1/Å, r0 = 2.866 Å. Their
    # sums run to infinity and use older data, so agreement is only expected within a few %.
    cu = models["morse"].params["elements"]["Cu"]
    assert cu["epsilon"] == pytest.approx(0.3429, rel=0.05)
    assert cu["rho0"] / cu["r0"] == pytest.approx(1.3588, rel=0.05)
    assert cu["r0"] == pytest.approx(2.866, rel=0.02)


def test_baseline_records(models: dict[str, BaselineModel]) -> None:
    baselines = {m.name for m in models.values() if m.is_baseline}
    assert baselines == {"EMT", "LJ-exp-fit", "Morse-GW-exp-fit"}
    for model in (m for m in models.values() if m.is_baseline):
        json.dumps([model.params, model.card])  # JSON-serialisable
        assert model.is_baseline
        assert model.elements == sorted(model.elements)
    for family in ("lj", "morse"):
        model = models[family]
        assert model.elements == sorted(model.params["elements"])
        assert model.card["training_data"]["level_of_theory"] == "experiment"
        assert "eos" in model.card["caveat"]
        assert {"Cu", "Al", "Fe", "Mg"} <= set(model.elements)
    left_out = models["morse"].params["fit"]["left_out"]
    assert "C" in left_out  # dcdft's carbon is graphite, the reference crystal diamond
    assert "Be" in left_out  # no experimental B0 in dcdft
    assert not set(left_out) & set(models["morse"].elements)


def test_science_core_imports_no_web_queue_or_database_code() -> None:
    code = (
        "import sys, workers.adapters.baselines, workers.benchmarks.eos, workers.reference_data\n"
        "bad = ('backend', 'frontend', 'celery', 'sqlalchemy', 'fastapi', 'dash', 'redis', "
        "'psycopg')\n"
        "print([m for m in sys.modules if m.split('.')[0] in bad])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lj_argon_is_close_to_the_textbook_argon_potential(
    models: dict[str, BaselineModel],
) -> None:
    # The classic LJ argon: epsilon / k_B ~ 120 K (0.0103 eV), sigma ~ 3.40 Å (e.g. Kittel ch. 3,
    # from gas-phase data). Fitted here to the solid instead, so agreement within ~5 %.
    ar = models["lj"].params["elements"]["Ar"]
    assert ar["epsilon"] == pytest.approx(120 * units.kB, rel=0.05)
    assert ar["sigma"] == pytest.approx(3.40, rel=0.02)


def test_package_versions_are_the_installed_ones_read_once_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every run's provenance carries its family's package versions: read from the installed
    distributions once (0.3-0.5 ms a run before), the same values, and a copy per call."""
    from importlib import metadata

    from workers.adapters import registry

    real = metadata.version
    reads: list[str] = []

    def counted(name: str) -> str:
        reads.append(name)
        return real(name)

    registry._installed_versions.cache_clear()
    monkeypatch.setattr(registry.metadata, "version", counted)
    chgnet = ADAPTERS["chgnet"]
    first = chgnet.package_versions()
    first["ase"] = "changed by a caller"
    assert chgnet.package_versions() == {name: real(name) for name in ("ase", "torch", "chgnet")}
    assert reads == ["ase", "torch", "chgnet"]
