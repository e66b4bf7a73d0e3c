"""The eos benchmark against physics known independently of this code."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.eos import birchmurnaghan

from shared_kernel.failures import BenchmarkFailed, FailureClass
from tests.workers.controls import NaNCalculator, RippledEMT
from workers.benchmarks._checks import check_forces
from workers.benchmarks._eos_fit import fit_eos
from workers.benchmarks.base import get_benchmark
from workers.benchmarks.eos import EosParams, EosResult, run_eos

# Lattice sums of the fcc lattice in units of the nearest-neighbour distance
# (Lennard-Jones, Proc. R. Soc. A 107, 463 (1925); Kittel ch. 3).
A12, A6 = 12.13188, 14.45392


def test_emt_copper_matches_the_known_emt_values() -> None:
    atoms = bulk("Cu", "fcc", a=3.6)
    before = atoms.copy()
    result = run_eos(atoms, EMT(), EosParams())
    # ASE's EMT Cu: a0 = 3.59 Å, B0 = 134 GPa (ase.eos documentation and EOS tutorial).
    assert (4 * result.v0_a3_per_atom) ** (1 / 3) == pytest.approx(3.59, abs=0.01)
    assert result.bulk_modulus_gpa == pytest.approx(134, rel=0.05)
    assert 3 < result.bulk_modulus_pressure_derivative < 7
    assert result.fit_residual_rms_mev_per_atom < 5
    assert atoms == before  # the input is not modified
    assert atoms.calc is None


def test_metrics_and_series() -> None:
    result = run_eos(bulk("Al", "fcc", a=4.05), EMT(), EosParams(n_points=7))
    metrics = {m.name: m for m in result.metrics()}
    assert metrics["volume_per_atom"].unit == "Å³/atom"
    assert metrics["bulk_modulus"].unit == "GPa"
    assert metrics["bulk_modulus_pressure_derivative"].unit == "1"
    compared = {name for name, m in metrics.items() if m.compare_to_reference}
    assert compared == {"volume_per_atom", "bulk_modulus", "bulk_modulus_pressure_derivative"}
    assert metrics["fit_residual_rms"].unit == "meV/atom"
    assert metrics["energy_per_atom_min"].unit == "eV/atom"
    for name in ("volume_per_atom_stderr", "bulk_modulus_stderr"):
        assert metrics[name].unit == metrics[name.removesuffix("_stderr")].unit
    assert metrics["bulk_modulus_pressure_derivative_stderr"].unit == "1"
    assert (metrics["roughness_rms"].unit, metrics["roughness"].unit) == ("meV/atom", "%")
    curve, fine = result.series()
    assert curve.name == "energy_volume"
    assert len(curve.x) == len(curve.y) == 7
    assert curve.x == pytest.approx(sorted(curve.x))
    # One atom in the primitive cell: volumes per atom span (1 +- 20 %) a^3 / 4.
    assert curve.x[0] == pytest.approx(0.8 * 4.05**3 / 4)
    assert curve.x[-1] == pytest.approx(1.2 * 4.05**3 / 4)
    # The fine sub-grid: 21 volumes over V0 (1 +- 4 %) around the fitted V0.
    assert fine.name == "energy_volume_fine"
    assert len(fine.x) == len(fine.y) == 21
    assert fine.x[0] == pytest.approx(0.96 * result.v0_a3_per_atom)
    assert fine.x[-1] == pytest.approx(1.04 * result.v0_a3_per_atom)
    # The 7-point fit's V0 lies within one sub-grid spacing (0.4 %) of the sub-grid's minimum.
    assert abs(int(np.argmin(fine.y)) - 10) <= 1


def test_lennard_jones_fcc_matches_the_lattice_sums() -> None:
    # sigma = epsilon = 1 (read Å and eV as reduced units). A smooth cutoff switched off between
    # 9.5 and 10 sigma: no energy shift, and the r^-6 tail neglected beyond ~9.5 sigma is
    # 8 pi rho / (3 r^3) ~ 0.011 epsilon per atom, about 0.13 % of the cohesive energy.
    calc = LennardJones(sigma=1.0, epsilon=1.0, rc=10.0, ro=9.5, smooth=True)
    r_min = (2 * A12 / A6) ** (1 / 6)
    assert r_min == pytest.approx(1.0902, abs=1e-4)
    a_min = r_min * np.sqrt(2)
    result = run_eos(bulk("Ar", "fcc", a=1.55), calc, EosParams(volume_range=0.05))
    assert (4 * result.v0_a3_per_atom) ** (1 / 3) == pytest.approx(a_min, rel=1e-3)
    tail = 8 * np.pi * (4 / a_min**3) / (3 * 9.5**3)
    assert -result.e0_ev_per_atom == pytest.approx(A6**2 / (2 * A12), abs=2 * tail)
    assert -result.e0_ev_per_atom == pytest.approx(8.61, abs=0.03)


def test_minimum_outside_the_scan_is_a_reported_failure_with_the_curve() -> None:
    # Cu EMT has V0 ~ 11.6 Å^3/atom; this cell's volume is 6.75 Å^3, so the scan ends at 8.1.
    atoms = bulk("Cu", "fcc", a=3.0)
    with pytest.raises(BenchmarkFailed) as info:
        run_eos(atoms, EMT(), EosParams())
    assert info.value.failure_class == FailureClass.NO_CONVERGENCE
    (curve,) = info.value.series
    assert curve.name == "energy_volume"
    assert len(curve.x) == 11
    assert max(curve.x) == pytest.approx(1.2 * 3.0**3 / 4)
    assert np.all(np.diff(curve.y) < 0)  # still going downhill: the minimum is further out


def test_non_finite_energy_is_nan_or_inf() -> None:
    with pytest.raises(BenchmarkFailed) as info:
        run_eos(bulk("Cu"), NaNCalculator(), EosParams())
    assert info.value.failure_class == FailureClass.NAN_OR_INF


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_points": 6}, "n_points"),
        ({"volume_range": 0.0}, "volume_range"),
        ({"volume_range": 0.5}, "volume_range"),
        ({"volume_range": -0.1}, "volume_range"),
        ({"eos": "sj"}, "eos"),
        ({"fine_points": 5}, "fine_points"),
        ({"fine_range": 0.0}, "fine_range"),
        ({"fine_range": 0.2}, "fine_range"),
    ],
)
def test_params_validation(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EosParams(**overrides)


def test_registered_with_defaults() -> None:
    spec = get_benchmark("eos")
    assert spec.version == "1.1"
    assert spec.default_params() == {
        "volume_range": 0.2,
        "n_points": 11,
        "eos": "birchmurnaghan",
        "fine_points": 21,
        "fine_range": 0.04,
    }
    assert spec.make_params({"n_points": 9}) == EosParams(n_points=9)


class WigglyEMT(Calculator):
    """EMT plus a per-atom energy ripple of ``amplitude`` eV and period ``period`` Å³/atom."""

    implemented_properties = ["energy", "forces"]  # noqa: RUF012

    def __init__(self, amplitude: float, period: float) -> None:
        super().__init__()
        self.amplitude, self.period = amplitude, period

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        work = self.atoms.copy()
        work.calc = EMT()
        v = work.get_volume() / len(work)
        ripple = self.amplitude * np.sin(2 * np.pi * v / self.period)
        self.results = {
            "energy": work.get_potential_energy() + len(work) * ripple,
            "forces": work.get_forces(),
        }


def test_emt_copper_quality_flags_and_smoothness() -> None:
    m = {x.name: x for x in run_eos(bulk("Cu", "fcc", a=3.61), EMT(), EosParams()).metrics()}
    values = {name: x.value for name, x in m.items()}
    assert values["flag_bprime_out_of_range"] == 0.0
    assert values["fit_residual_relative"] < 1.0  # % of the sampled energy span
    assert m["fit_residual_relative"].unit == "%"
    assert values["flag_large_fit_residual"] == 0.0
    # Inner half of the +-20 % window: the 5 points within +-10 %; B0 agrees within a few %.
    assert values["bulk_modulus_inner_window"] == pytest.approx(values["bulk_modulus"], rel=0.05)
    assert m["bulk_modulus_inner_window"].unit == "GPa"
    assert values["bulk_modulus_window_change"] < 10.0
    assert values["flag_window_sensitive"] == 0.0
    # A smooth single well: one flip, tortuosity 1, monotone on each side of the minimum.
    assert values["energy_diff_flips"] == 1.0
    assert values["tortuosity"] == pytest.approx(1.0)
    assert values["spearman_compression"] == -1.0
    assert values["spearman_expansion"] == 1.0
    assert values["flag_net_force"] == values["flag_symmetry_violation"] == 0.0
    assert all(x.unit == "1" and x.value in (0.0, 1.0) for n, x in m.items() if "flag" in n)


def test_inner_window_left_out_when_it_has_too_few_points() -> None:
    names = {
        m.name for m in run_eos(bulk("Cu", "fcc", a=3.61), EMT(), EosParams(n_points=7)).metrics()
    }
    assert "bulk_modulus_inner_window" not in names
    assert "flag_window_sensitive" not in names
    assert "flag_large_fit_residual" in names


def test_a_rippled_curve_is_flagged_rough() -> None:
    # A 20 meV/atom ripple with a period of 1 Å^3/atom across a ~4.6 Å^3/atom scan.
    result = run_eos(bulk("Cu", "fcc", a=3.61), WigglyEMT(0.02, 1.0), EosParams(n_points=21))
    m = {x.name: x.value for x in result.metrics()}
    assert m["energy_diff_flips"] > 1
    assert m["tortuosity"] > 1.1
    assert m["flag_large_fit_residual"] == 1.0


def test_flags_of_a_doubtful_fit() -> None:
    result = EosResult(
        volumes_a3_per_atom=(10.0, 11.0, 12.0, 13.0, 14.0),
        energies_ev_per_atom=(-3.0, -3.2, -3.25, -3.2, -3.1),
        v0_a3_per_atom=12.0,
        e0_ev_per_atom=-3.25,
        bulk_modulus_gpa=100.0,
        bulk_modulus_pressure_derivative=12.0,
        fit_residual_rms_mev_per_atom=5.0,
        bulk_modulus_inner_window_gpa=125.0,
    )
    m = {x.name: x.value for x in result.metrics()}
    assert m["flag_bprime_out_of_range"] == 1.0
    assert m["fit_residual_relative"] == pytest.approx(100 * 5.0 / 250.0)
    assert m["flag_large_fit_residual"] == 1.0
    assert m["bulk_modulus_window_change"] == pytest.approx(25.0)
    assert m["flag_window_sensitive"] == 1.0
    assert "net_force" not in m  # no force checks attached


def test_a_flat_curve_reports_no_nan() -> None:
    result = EosResult((10.0, 11.0, 12.0), (-1.0, -1.0, -1.0), 11.0, -1.0, 1.0, 4.0, 0.0)
    m = {x.name: x.value for x in result.metrics()}
    assert all(np.isfinite(list(m.values())))
    assert "tortuosity" not in m
    assert "fit_residual_relative" not in m
    assert m["flag_large_fit_residual"] == 1.0


def test_a_fine_ripple_is_flagged_rough_where_the_coarse_scan_sees_nothing() -> None:
    # EMT plus a 2 meV/atom ripple with a period of 0.2 Å^3/atom (1.7 % of V0): it passes
    # between the coarse points (0.47 Å^3/atom apart), which stay a clean single well, while
    # the sub-grid (0.047 Å^3/atom apart over ~4.7 periods) resolves it. Once a cubic takes
    # the smooth part, the residual of a sinusoid is its RMS, amplitude / sqrt(2).
    amplitude = 0.002
    copper = bulk("Cu", "fcc", a=3.61)
    rough = {
        m.name: m.value for m in run_eos(copper, RippledEMT(amplitude, 0.2), EosParams()).metrics()
    }
    smooth = {m.name: m.value for m in run_eos(copper, EMT(), EosParams()).metrics()}
    assert rough["energy_diff_flips"] == 1.0
    assert rough["tortuosity"] == pytest.approx(1.0)
    assert rough["flag_large_fit_residual"] == 0.0
    assert rough["roughness_rms"] == pytest.approx(1000 * amplitude / np.sqrt(2), rel=0.15)
    assert rough["flag_rough_energy_volume"] == 1.0
    # A smooth model leaves the cubic only the quartic term of E(V) over +-4 %: of order
    # B0 V0 w^4 / 10 with B0 V0 ~ 134 GPa x 11.6 Å^3 ~ 9.7 eV, i.e. ~2.5e-3 meV/atom.
    assert smooth["roughness_rms"] < 0.01
    assert smooth["roughness"] < 0.1  # % of the sub-grid's energy span (~8 meV/atom)
    assert smooth["flag_rough_energy_volume"] == 0.0


def test_no_fine_grid_leaves_the_roughness_out() -> None:
    result = run_eos(bulk("Cu", "fcc", a=3.61), EMT(), EosParams(n_points=7, fine_points=0))
    names = {m.name for m in result.metrics()}
    assert not names & {"roughness_rms", "roughness", "flag_rough_energy_volume"}
    assert [s.name for s in result.series()] == ["energy_volume"]


def test_standard_errors_match_the_spread_of_fits_to_noisy_curves() -> None:
    # A Birch-Murnaghan curve (B0 = 0.8 eV/Å^3 = 128 GPa) sampled as the protocol does, with
    # 2 meV/atom of Gaussian noise: the reported standard errors must match the spread of the
    # fitted parameters over many noise draws (their mean stderr sits a few % below it: the
    # residual variance over 7 degrees of freedom is itself a noisy estimate).
    true = (-3.5, 0.8, 4.5, 12.0)  # E0 (eV), B0 (eV/Å^3), B0', V0 (Å^3)
    volumes = np.linspace(0.8, 1.2, 11) * true[3]
    rng = np.random.default_rng(0)
    fits = [
        fit_eos(
            volumes, birchmurnaghan(volumes, *true) + rng.normal(0, 0.002, 11), "birchmurnaghan"
        )
        for _ in range(300)
    ]
    fitted = np.array(
        [(f.v0_a3_per_atom, f.bulk_modulus_gpa, f.bulk_modulus_pressure_derivative) for f in fits]
    )
    errors = np.array(
        [
            (
                f.v0_stderr_a3_per_atom,
                f.bulk_modulus_stderr_gpa,
                f.bulk_modulus_pressure_derivative_stderr,
            )
            for f in fits
        ]
    )
    assert fitted.mean(axis=0) == pytest.approx([12.0, 0.8 / units.GPa, 4.5], rel=0.01)
    assert errors.mean(axis=0) == pytest.approx(fitted.std(axis=0, ddof=1), rel=0.3)


def test_standard_errors_match_a_jacobian_computation() -> None:
    # Independent of scipy: cov = s^2 (J^T J)^-1 with J by central differences at the optimum.
    true = (-3.5, 0.8, 4.5, 12.0)
    volumes = np.linspace(0.8, 1.2, 11) * true[3]
    energies = birchmurnaghan(volumes, *true) + np.random.default_rng(1).normal(0, 0.002, 11)
    fit = fit_eos(volumes, energies, "birchmurnaghan")
    best = np.array(
        [
            fit.e0_ev_per_atom,
            fit.bulk_modulus_gpa * units.GPa,
            fit.bulk_modulus_pressure_derivative,
            fit.v0_a3_per_atom,
        ]
    )
    steps = 1e-6 * np.maximum(np.abs(best), 1.0)
    jacobian = np.column_stack(
        [
            (birchmurnaghan(volumes, *(best + dp)) - birchmurnaghan(volumes, *(best - dp)))
            / (2 * h)
            for h, dp in ((h, np.eye(4)[k] * h) for k, h in enumerate(steps))
        ]
    )
    residual = energies - birchmurnaghan(volumes, *best)
    covariance = residual @ residual / (11 - 4) * np.linalg.inv(jacobian.T @ jacobian)
    _, b0_se, bp_se, v0_se = np.sqrt(np.diag(covariance))
    assert fit.v0_stderr_a3_per_atom == pytest.approx(v0_se, rel=0.02)
    assert fit.bulk_modulus_stderr_gpa == pytest.approx(b0_se / units.GPa, rel=0.02)
    assert fit.bulk_modulus_pressure_derivative_stderr == pytest.approx(bp_se, rel=0.02)


class CountingEMT(EMT):
    """EMT that counts its calculations; with ``forces_on_request`` it keeps the forces only
    when they were asked for (as an energy-only call of some calculators)."""

    def __init__(self, *, forces_on_request: bool = False) -> None:
        super().__init__()
        self.calls, self.forces_on_request = 0, forces_on_request

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        self.calls += 1
        super().calculate(atoms, properties or ["energy"], system_changes)
        if self.forces_on_request and "forces" not in (properties or []):
            del self.results["forces"]


@pytest.mark.parametrize(
    ("n_points", "forces_on_request", "calls"),
    [
        (11, False, 11 + 21 + 1),  # the symmetry check reads the scan's forces at V_input
        (11, True, 11 + 21 + 2),  # the scan's call gave no forces: the check asks for them
        (8, False, 8 + 21 + 2),  # no scan point at V_input
    ],
)
def test_force_checks_reuse_the_scan_point_at_the_input_volume(
    n_points: int, forces_on_request: bool, calls: int
) -> None:
    atoms = bulk("Cu", cubic=True)
    atoms.positions[0] += [0.05, 0.02, 0.0]  # non-zero forces that the symmetry still orders
    calc = CountingEMT(forces_on_request=forces_on_request)
    result = run_eos(atoms, calc, EosParams(n_points=n_points))
    assert calc.calls == calls
    assert result.force_checks == check_forces(atoms, EMT())  # the very same numbers
