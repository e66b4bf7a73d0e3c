"""The phonons benchmark against spectra known in closed form, and the control models' known
failure: pair potentials cannot hold the diamond structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.neighborlist import neighbor_list

from shared_kernel.failures import BenchmarkFailed, FailureClass
from workers.adapters.baselines import baseline_models
from workers.adapters.registry import ModelSpec, make_calculator
from workers.benchmarks.phonons import (
    KELVIN_PER_THZ,
    PhononsParams,
    debye_temperature_second_moment,
    force_constants_model,
    run_phonons,
)

A_FCC = 4.0  # Å
SPRING = 2.0  # eV/Å², between nearest neighbours only
MASS = 63.546  # amu (Cu)


class NearestNeighbourSprings(Calculator):
    """E = sum over nearest-neighbour pairs of k/2 (r - r0)^2, r0 the fcc neighbour distance."""

    implemented_properties = ("energy", "forces")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):  # type: ignore[no-untyped-def]
        super().calculate(atoms, properties, system_changes)
        r0 = A_FCC / np.sqrt(2)
        i, _, d, vec = neighbor_list("ijdD", self.atoms, 1.2 * r0)
        stretch = d - r0
        self.results["energy"] = 0.25 * SPRING * float(np.sum(stretch**2))  # pairs twice
        pair_forces = (SPRING * stretch / d)[:, None] * vec  # on i, towards j when stretched
        forces = np.zeros((len(self.atoms), 3))
        np.add.at(forces, i, pair_forces)
        self.results["forces"] = forces


def _frequencies(phonon: Any, q: Any) -> np.ndarray:
    """Phonon frequencies (THz) at one q-point, in phonopy's order."""
    phonon.run_qpoints([q])
    return np.array(phonon.qpoints.frequencies[0])


def _thz(omega_squared: float) -> float:
    """A frequency in THz from omega^2 in eV/(Å^2 amu)."""
    return float(np.sqrt(omega_squared * units._e / units._amu) / 1e-10 / (2 * np.pi) / 1e12)


def test_fcc_nearest_neighbour_springs_give_the_analytic_frequencies_at_x() -> None:
    """Central springs k between fcc nearest neighbours: at X = (2 pi / a)(1, 0, 0) the
    longitudinal mode has omega^2 = 8k/m and the two transverse ones 4k/m (the 8 neighbours
    with a component along x each contribute 2k(1 - cos pi)/2 along x, 2k/2 across)."""
    atoms = bulk("Cu", "fcc", a=A_FCC)
    atoms.set_masses([MASS])
    phonon = force_constants_model(atoms, NearestNeighbourSprings(), PhononsParams())
    x_point = atoms.cell.array @ np.array([1.0, 0.0, 0.0]) / A_FCC  # reduced coordinates
    frequencies = np.sort(_frequencies(phonon, x_point))
    expected = sorted([_thz(4 * SPRING / MASS)] * 2 + [_thz(8 * SPRING / MASS)])
    assert frequencies == pytest.approx(expected, rel=1e-4)
    assert np.allclose(_frequencies(phonon, [0.0, 0.0, 0.0]), 0.0, atol=1e-4)


def test_the_debye_temperature_of_a_debye_dos_is_h_nu_d_over_k() -> None:
    nu_d = 7.0  # THz
    nu = np.linspace(0.0, 8.0, 4001)
    dos = np.where(nu <= nu_d, nu**2, 0.0)
    theta = debye_temperature_second_moment(nu, dos)
    assert theta == pytest.approx(KELVIN_PER_THZ * nu_d, rel=2e-3)
    assert pytest.approx(47.9924, rel=1e-5) == KELVIN_PER_THZ  # h / k_B in K/THz


def test_emt_copper_is_dynamically_stable_with_a_full_spectrum() -> None:
    result = run_phonons(bulk("Cu"), EMT(), PhononsParams())
    metrics = {m.name: m.value for m in result.metrics()}
    assert metrics["imaginary_mode_fraction"] == 0.0
    assert metrics["n_displacements"] == 1  # one inequivalent displacement in fcc
    assert metrics["n_atoms_supercell"] == 27
    dos = next(s for s in result.series() if s.name == "phonon_dos")
    assert np.trapezoid(dos.y, dos.x) == pytest.approx(3.0, rel=0.02)  # 3 modes per atom
    assert [name for name, _ in result.special_points][:2] == ["G", "X"]


def test_phonopy_force_constants_agree_with_ases_own_phonons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second method: ASE's finite-difference phonons of the same EMT copper (same
    supercell and displacement) give the same frequencies at X and L."""
    from ase.phonons import Phonons

    monkeypatch.chdir(tmp_path)  # ASE caches its displacements in the working directory
    atoms = bulk("Cu")
    phonon = force_constants_model(atoms, EMT(), PhononsParams())
    reference = Phonons(atoms, EMT(), supercell=(3, 3, 3), delta=0.01)
    reference.run()
    reference.read(acoustic=True)
    a = atoms.cell.cellpar()[0] * np.sqrt(2)  # conventional cubic lattice constant
    for cartesian in ([1.0, 0.0, 0.0], [0.5, 0.5, 0.5]):  # X and L, in units of 2 pi / a
        q = atoms.cell.array @ np.array(cartesian) / a
        ours = np.sort(_frequencies(phonon, q))
        theirs_ev = reference.band_structure([q], verbose=False)[0]
        theirs = np.sort(theirs_ev * units._e / units._hplanck / 1e12)
        # central differences (ASE) against phonopy's symmetrized one-sided set: within 0.5 %
        assert ours == pytest.approx(theirs, rel=5e-3)


@pytest.mark.parametrize("name", ["LJ-exp-fit", "Morse-GW-exp-fit"])
def test_pair_potentials_cannot_hold_diamond_silicon(name: str) -> None:
    """The control: a fitted pair potential has no angular forces, so diamond Si shears away:
    imaginary modes, and the run fails as dynamically unstable (with DOS and bands kept)."""
    record = next(r for r in baseline_models() if r.name == name)
    calc = make_calculator(
        ModelSpec(
            family=record.family, name=record.name, version=record.version, params=record.params
        )
    )
    with pytest.raises(BenchmarkFailed) as failed:
        run_phonons(bulk("Si"), calc, PhononsParams())
    assert failed.value.failure_class == FailureClass.DYNAMICALLY_UNSTABLE
    assert any(s.name == "phonon_dos" for s in failed.value.series)


def test_a_structure_that_is_not_a_crystal_is_a_setup_error() -> None:
    from shared_kernel.failures import BenchmarkSetupError

    with pytest.raises(BenchmarkSetupError):
        run_phonons(Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.5]]), EMT(), PhononsParams())


def test_every_series_fits_the_stored_columns() -> None:
    """Names and labels are stored in 100-character columns, units in 40 (``series``)."""
    result = run_phonons(bulk("Cu"), EMT(), PhononsParams())
    for series in result.series():
        assert len(series.name) <= 100
        assert max(len(series.x_label), len(series.y_label)) <= 100, series.x_label
        assert max(len(series.x_unit), len(series.y_unit)) <= 40
    points = next(s for s in result.series() if s.name == "phonon_special_points")
    assert points.x_label.startswith("q (G,X,")
    assert len(points.x) == len(result.special_points)
