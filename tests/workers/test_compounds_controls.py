"""The packaged MLIPs against the control models on binary compounds (issue 19, point 5).

Independent expectation: CHGNet and SevenNet-0 learned PBE (MPtrj), whose lattice constants of
these solids lie 0.3-2.4 % above the zero-point corrected experimental ones (Haas, Tran and
Blaha, Phys. Rev. B 79, 085104 (2009): NiAl +0.3 %, MgO +1.7 %, GaAs +1.9 %, NaCl +2.4 %), so a
model that learned its data lands within a few per cent of experiment on every prototype. The
controls cannot: EMT has no parameters for Na, Cl, Mg, Ga or As and gets NiAl's lattice 6 %
too large (its Ni-Al mixing is poor), and the fitted pair potentials have no mixing rule, so
every compound is outside what they cover (its run is skipped, as for a missing element).
"""

from __future__ import annotations

from typing import Any

import pytest
from ase.calculators.calculator import Calculator

from shared_kernel.failures import UnsupportedElementsError
from workers.adapters.baselines import baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.adapters.registry import load_all, make_calculator
from workers.benchmarks.eos import EosParams, run_eos
from workers.reference_sol58 import sol58_compounds

load_all()

#: One compound per prototype (two rocksalts: an ionic halide and an oxide).
COMPOUNDS = ("NaCl", "MgO", "GaAs", "NiAl")
PACKAGES = {"chgnet": "chgnet", "sevennet": "sevenn"}
#: PBE's own deviation is at most 2.4 % on these; a model of PBE may add about as much.
MLIP_TOLERANCE = 0.04


def _structures() -> dict[str, Any]:
    records = {r.label: r for r in sol58_compounds()}
    return {label: records[label] for label in COMPOUNDS}


def _lattice_error(record: Any, calc: Calculator) -> tuple[float, float]:
    """Relative error of the lattice constant and signed bulk modulus error (GPa) from the
    platform's eos protocol, against the structure's own (experimental) cell."""
    atoms = record.atoms.copy()
    v_exp = atoms.get_volume() / len(atoms)
    result = run_eos(atoms, calc, EosParams(n_points=7))
    return (result.v0_a3_per_atom / v_exp) ** (1 / 3) - 1, result.bulk_modulus_gpa


def _emt() -> Calculator:
    [emt] = [m for m in baseline_models() if m.family == "emt"]
    return make_calculator(emt.spec())


@pytest.mark.mlip
@pytest.mark.timeout(900)  # two model loads and five scans, on a loaded CI machine
@pytest.mark.parametrize("family", sorted(PACKAGES))
def test_packaged_mlips_hold_every_prototype_and_beat_emt_on_nial(family: str) -> None:
    pytest.importorskip(PACKAGES[family])
    [record] = [m for m in pretrained_models() if m.family == family]
    calc = make_calculator(record.spec())
    results = {label: _lattice_error(s, calc) for label, s in _structures().items()}
    errors = {label: error for label, (error, _) in results.items()}
    assert all(abs(e) < MLIP_TOLERANCE for e in errors.values()), errors

    emt_error, emt_b0 = _lattice_error(_structures()["NiAl"], _emt())
    assert emt_error == pytest.approx(0.06, abs=0.01)  # V0 +19 %: the known EMT defect
    assert abs(errors["NiAl"]) < abs(emt_error) / 3
    # Bulk modulus: experiment 166 GPa (Sol58); EMT's too-large lattice makes NiAl soft.
    assert abs(results["NiAl"][1] - 166.0) < abs(emt_b0 - 166.0), (results["NiAl"], emt_b0)


@pytest.mark.parametrize("label", ["NaCl", "MgO", "GaAs"])
def test_emt_has_no_parameters_for_the_other_compounds(label: str) -> None:
    atoms = _structures()[label].atoms.copy()
    atoms.calc = _emt()
    with pytest.raises(NotImplementedError, match="No EMT-potential"):
        atoms.get_potential_energy()


@pytest.mark.parametrize("family", ["lj", "morse"])
def test_pair_potentials_cannot_describe_any_compound(family: str) -> None:
    [model] = [m for m in baseline_models() if m.family == family]
    calc = make_calculator(model.spec())
    for record in _structures().values():  # every prototype, ionic and metallic alike
        atoms = record.atoms.copy()
        atoms.calc = calc
        with pytest.raises(UnsupportedElementsError, match="no mixing rules"):
            atoms.get_potential_energy()
