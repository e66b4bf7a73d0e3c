"""The elastic benchmark against published EMT constants, Cauchy and a second method."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from tests.workers.controls import ConstantForceEMT, TwistedEMT
from workers.adapters.baselines import baseline_models
from workers.adapters.registry import load_all, make_calculator
from workers.benchmarks._checks import SYMMETRY_TOLERANCE_EV_A
from workers.benchmarks.base import BENCHMARKS
from workers.benchmarks.elastic import ElasticParams, ElasticResult, run_elastic

load_all()


class NaNStress(Calculator):
    implemented_properties = ["energy", "forces", "stress"]  # noqa: RUF012

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        n = len(self.atoms)
        self.results = {"energy": 0.0, "forces": np.zeros((n, 3)), "stress": np.full(6, np.nan)}


@pytest.fixture(scope="module")
def emt_cu() -> ElasticResult:
    return run_elastic(bulk("Cu"), EMT(), ElasticParams())


@pytest.fixture(scope="module")
def lj() -> Calculator:
    model = next(m for m in baseline_models() if m.name == "LJ-exp-fit")
    return make_calculator(model.spec())


def metrics(result: ElasticResult) -> dict[str, float]:
    return {m.name: m.value for m in result.metrics()}


def test_emt_copper_elastic_constants(emt_cu: ElasticResult) -> None:
    m = metrics(emt_cu)
    # Published EMT Cu values, C11/C12/C44 = 173/115/90 GPa (issue 4).
    assert m["c11"] == pytest.approx(173, rel=0.05)
    assert m["c12"] == pytest.approx(115, rel=0.05)
    assert m["c44"] == pytest.approx(90, rel=0.05)
    # Cubic: B = (C11 + 2 C12) / 3, and it is the E(V) curvature (EMT Cu B0 = 134 GPa).
    assert m["bulk_modulus"] == pytest.approx((m["c11"] + 2 * m["c12"]) / 3, rel=0.01)
    assert m["bulk_modulus_eos"] == pytest.approx(m["bulk_modulus"], rel=0.01)
    assert m["bulk_modulus_eos"] == pytest.approx(134, rel=0.05)
    assert m["flag_bulk_modulus_mismatch"] == 0.0
    # Born: C11 - C12 > 0, C11 + 2 C12 > 0, C44 > 0; the smallest eigenvalue is C11 - C12.
    assert m["flag_born_unstable"] == 0.0
    assert m["born_min_eigenvalue"] == pytest.approx(m["c11"] - m["c12"], rel=1e-6)
    assert m["flag_ionic_relaxation_not_converged"] == 0.0
    compared = {x.name for x in emt_cu.metrics() if x.compare_to_reference}
    assert compared == {"bulk_modulus", "shear_modulus", "youngs_modulus", "poisson_ratio"}


def test_cubic_symmetry_of_the_matrix(emt_cu: ElasticResult) -> None:
    c = np.array(emt_cu.c_gpa)
    assert emt_cu.space_group == 225
    assert np.allclose(np.diag(c)[:3], c[0, 0], rtol=1e-3)
    assert np.allclose(np.diag(c)[3:], c[3, 3], rtol=1e-3)
    assert np.abs(c[:3, 3:]).max() < 0.5
    assert np.abs(c[3:, 3:] - np.diag(np.diag(c)[3:])).max() < 0.5


def test_hill_averages_match_pymatgen(emt_cu: ElasticResult) -> None:
    from pymatgen.analysis.elasticity import ElasticTensor

    tensor = ElasticTensor.from_voigt(np.array(emt_cu.c_gpa))
    m = metrics(emt_cu)
    assert m["bulk_modulus"] == pytest.approx(tensor.k_vrh, rel=1e-6)
    assert m["shear_modulus"] == pytest.approx(tensor.g_vrh, rel=1e-6)
    assert m["youngs_modulus"] == pytest.approx(tensor.y_mod / 1e9, rel=1e-6)
    assert m["poisson_ratio"] == pytest.approx(tensor.homogeneous_poisson, rel=1e-6)


def test_pair_potential_obeys_cauchy(lj: Calculator) -> None:
    # Central pair forces on centrosymmetric sites at zero stress: C12 = C44.
    m = metrics(run_elastic(bulk("Cu"), lj, ElasticParams()))
    assert m["c12"] == pytest.approx(m["c44"], rel=0.02)
    assert m["cauchy_pressure"] == pytest.approx(0.0, abs=0.02 * m["c44"])


def test_pair_potential_bcc_is_born_unstable(lj: Calculator) -> None:
    # Central pair potentials cannot stabilize bcc against the tetragonal shear: C11 < C12.
    m = metrics(run_elastic(bulk("Fe"), lj, ElasticParams()))
    assert m["c11"] < m["c12"]
    assert m["flag_born_unstable"] == 1.0


def test_larger_strain_variant_agrees() -> None:
    m = metrics(run_elastic(bulk("Cu"), EMT(), ElasticParams(strain=0.01)))
    assert m["c11"] == pytest.approx(173, rel=0.05)
    assert m["c44"] == pytest.approx(90, rel=0.05)


def test_input_untouched_and_series() -> None:
    atoms = bulk("Al")
    before = atoms.copy()
    result = run_elastic(atoms, EMT(), ElasticParams(relax_ions="always"))
    assert atoms == before
    assert atoms.calc is None
    assert [s.name for s in result.series()][:2] == ["stress_strain_xx", "stress_strain_yy"]
    xx = result.series()[0]
    assert xx.x == (-0.005, 0.0, 0.005)
    assert xx.y[0] < xx.y[1] < xx.y[2]  # tension raises the ASE stress
    assert metrics(result)["flag_ionic_relaxation_not_converged"] == 0.0


def test_nan_stress_is_nan_or_inf() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_elastic(bulk("Cu"), NaNStress(), ElasticParams())
    assert info.value.failure_class == FailureClass.NAN_OR_INF


def test_molecule_is_a_setup_error() -> None:
    with pytest.raises(BenchmarkSetupError):
        run_elastic(Atoms("Cu"), EMT(), ElasticParams())


def test_registered_with_defaults() -> None:
    spec = BENCHMARKS["elastic"]
    assert spec.version == "1.1"
    assert spec.default_params()["strain"] == 0.005
    assert spec.make_params({"strain": 0.01}) == ElasticParams(strain=0.01)
    with pytest.raises(ValueError, match="relax_ions"):
        ElasticParams(relax_ions="sometimes")


@pytest.mark.parametrize("structure", ["fcc", "hcp"])
def test_emt_passes_the_force_checks_on_the_strained_cells(structure: str) -> None:
    # fcc: the 4-atom conventional cell; hcp: 2 atoms that strains and shears push off their
    # sites, so that the forces the symmetry must map onto each other are not all zero.
    atoms = bulk("Cu", "fcc", a=3.61) if structure == "fcc" else bulk("Cu", "hcp", a=2.55)
    m = metrics(run_elastic(atoms, EMT(), ElasticParams()))
    assert m["net_force"] < 1e-12
    assert m["symmetry_force_deviation"] < 1e-10
    assert m["flag_net_force"] == m["flag_symmetry_violation"] == 0.0


def test_a_swirl_of_forces_breaks_the_symmetry_of_the_strained_cells() -> None:
    # 0.01 eV/Å per Å of distance from the centre, summing to zero: momentum is conserved but
    # equivalent atoms of the 4-atom cell (about 1 Å from the centre) get different forces.
    m = metrics(run_elastic(bulk("Cu", "fcc", a=3.61), TwistedEMT(0.01), ElasticParams()))
    assert m["net_force"] < 1e-12
    assert m["flag_net_force"] == 0.0
    assert m["symmetry_force_deviation"] > 10 * SYMMETRY_TOLERANCE_EV_A
    assert m["flag_symmetry_violation"] == 1.0


def test_a_constant_force_prevents_relaxation_and_is_named_as_the_cause() -> None:
    # The same 0.02 eV/Å on every atom never vanishes: the relaxation cannot reach 0.001 eV/Å.
    calc = ConstantForceEMT(np.array([0.02, 0.0, 0.0]))
    with pytest.raises(BenchmarkFailed) as info:
        run_elastic(bulk("Cu", "fcc", a=3.61), calc, ElasticParams(max_steps=20))
    assert info.value.failure_class == FailureClass.NO_CONVERGENCE
    message = str(info.value)
    assert "did not relax" in message
    assert "do not sum to zero (0.02 eV/Å per atom" in message
    assert "symmetry breaking is the likely cause" in message
