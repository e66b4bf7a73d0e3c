"""Energy-landscape metrology: a model's energy on a fixed 2-D plane and a global map.

The plane (see ``_plane``) is defined once, by a reference model, and stored with the structure
(``atoms.info["landscape_plane"]``): every model is then evaluated on identical configurations,
and two models' grids can be subtracted. A structure without a stored plane gets one sampled
with the benchmarked model itself (``plane_source = "self"`` in the result).

Reported: the energy grid (relative to the plane's origin), the sampled path projected onto it,
the curvature along both plane directions against the eigenvalues of a finite-difference,
mass-weighted Hessian at the origin, the grid's local minima, the path energies against the
reference's, and a global map (SOAP, then PCA / UMAP / PHATE) of the sampled configurations.
Bihani et al. 2024 motivate such low-dimensional views of energy landscapes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkFailed, BenchmarkSetupError, FailureClass
from workers.benchmarks._landscape_map import (
    MAP_METHODS,
    MapCoordinates,
    SoapSettings,
    configuration_maps,
)
from workers.benchmarks._plane import PLANE_INFO_KEY, Plane, SamplingParams, define_plane
from workers.benchmarks._surface import (
    Curvatures,
    axis_values,
    curvatures,
    difference_surface,
    energy_at,
    evaluate_grid,
    grid_minima,
)
from workers.benchmarks.base import (
    Headline,
    MetricValue,
    Observer,
    ProjectionData,
    SeriesData,
    finite,
    notify,
    register_benchmark,
)

CURVATURE_UNIT = "eV/(Å²·amu)"


@dataclass(frozen=True, slots=True)
class LandscapeParams:
    """Parameters of the landscape protocol.

    Parameters
    ----------
    grid_n
        Points per plane axis (21 by default; 41 for a finer view).
    span_factor
        The grid reaches this multiple of the path's largest projection on each axis.
    max_span_a
        Cap on the grid's extent, as an rms per-atom displacement (Å).
    fd_step_a
        Step of the finite-difference Hessian and curvatures (Å, rms per atom for curvatures).
    plane_source
        ``"stored"``: the plane stored with the structure when there is one (else sampled with
        the model); ``"self"``: always sample the plane with the benchmarked model.
    optimizer, rattle_a, path_fmax_ev_a, minimum_fmax_ev_a, max_steps
        Path sampling: optimizer (``"fire"`` or ``"bfgs"``) from a start rattled by ``rattle_a``
        Å (Gaussian); the minimum itself is found by BFGS to ``minimum_fmax_ev_a``.
    md_temperatures_k, md_steps, md_stride, timestep_fs, seed
        Two NVE runs from the minimum, velocities drawn at twice each temperature (K).
    map_methods
        Projections of the global map (any of ``"pca"``, ``"umap"``, ``"phate"``; empty: none).
    soap_r_cut_a, soap_n_max, soap_l_max
        SOAP descriptor of the global map (Å; orders).
    embedding_map
        Also map the configurations in the model's own per-atom embedding space (mean over
        atoms), for models that expose one (MACE, CHGNet, SevenNet; see
        ``workers.adapters.embeddings``).
    vacuum_a
        A non-periodic structure is put in a cubic box with this much vacuum on each side (Å),
        for models that need a cell; it stays non-periodic for the others.
    """

    grid_n: int = 21
    span_factor: float = 1.1
    max_span_a: float = 0.5
    fd_step_a: float = 0.01
    plane_source: str = "stored"
    optimizer: str = "fire"
    rattle_a: float = 0.15
    path_fmax_ev_a: float = 0.01
    minimum_fmax_ev_a: float = 1e-4
    max_steps: int = 400
    md_temperatures_k: tuple[float, ...] = (100.0, 300.0)
    md_steps: int = 100
    md_stride: int = 5
    timestep_fs: float = 2.0
    seed: int = 0
    map_methods: tuple[str, ...] = MAP_METHODS
    soap_r_cut_a: float = 5.0
    soap_n_max: int = 6
    soap_l_max: int = 4
    vacuum_a: float = 12.0
    embedding_map: bool = True

    def __post_init__(self) -> None:
        # JSON hands tuples back as lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "md_temperatures_k", tuple(self.md_temperatures_k))
        object.__setattr__(self, "map_methods", tuple(self.map_methods))
        if not 5 <= self.grid_n <= 101:
            raise ValueError(f"grid_n must be in [5, 101], got {self.grid_n}")
        if self.plane_source not in ("stored", "self"):
            raise ValueError(f"plane_source must be 'stored' or 'self', got {self.plane_source!r}")
        if self.optimizer not in ("fire", "bfgs"):
            raise ValueError(f"optimizer must be 'fire' or 'bfgs', got {self.optimizer!r}")
        if len(self.md_temperatures_k) != 2 or min(self.md_temperatures_k) <= 0:
            raise ValueError(
                f"md_temperatures_k needs two positive values: {self.md_temperatures_k}"
            )
        if unknown := set(self.map_methods) - set(MAP_METHODS):
            raise ValueError(f"unknown map_methods {sorted(unknown)}; known: {list(MAP_METHODS)}")
        if min(self.span_factor, self.max_span_a, self.fd_step_a, self.rattle_a) <= 0:
            raise ValueError("span_factor, max_span_a, fd_step_a and rattle_a must be positive")
        if self.vacuum_a < 6.0:
            raise ValueError(f"vacuum_a must be at least 6 Å (model cutoffs), got {self.vacuum_a}")
        if self.md_stride < 1 or self.md_steps < self.md_stride:
            raise ValueError("need 1 <= md_stride <= md_steps")

    def sampling(self) -> SamplingParams:
        """The path-sampling part of these parameters."""
        names = {f.name for f in dataclasses.fields(SamplingParams)}
        values = {n: getattr(self, n) for n in names}
        values["md_temperatures_k"] = tuple(self.md_temperatures_k)
        return SamplingParams(**values)

    def soap(self) -> SoapSettings:
        return SoapSettings(self.soap_r_cut_a, self.soap_n_max, self.soap_l_max)


@dataclass(frozen=True, slots=True)
class LandscapeResult:
    """A model's landscape on a plane. Energies are relative to the plane's origin (eV)."""

    n_atoms: int
    plane_hash: str
    plane_source: str
    plane_reference: str
    basis: tuple[tuple[float, ...], ...]
    minimum_positions_a: tuple[tuple[float, float, float], ...]
    explained_variance: tuple[float, float]
    origin_energy_ev: float
    a_values: tuple[float, ...]
    b_values: tuple[float, ...]
    grid_ev: tuple[tuple[float, ...], ...]
    path: dict[str, tuple[Any, ...]]
    curvature: Curvatures
    minima: tuple[tuple[float, float, float], ...]
    maps: dict[str, MapCoordinates]

    def path_rmse_mev_atom(self) -> float:
        """RMSE of path energies against the plane's reference model (meV/atom)."""
        model = np.array(self.path["energy_ev"], dtype=float)
        reference = np.array(self.path["reference_energy_ev"], dtype=float)
        ok = np.isfinite(model)
        if not ok.any():
            return float("nan")
        return float(np.sqrt(np.mean((model[ok] - reference[ok]) ** 2)) / self.n_atoms * 1000)

    def metrics(self) -> tuple[MetricValue, ...]:
        """Curvatures vs Hessian, grid minima, path error vs the reference, failures."""
        c = self.curvature
        grid = np.array(self.grid_ev, dtype=float)
        zero_modes = 3 if self._periodic() else 6
        vibrational = sorted(c.eigenvalues, key=abs)[zero_modes:] or [float("nan")]
        i_low = (
            np.unravel_index(np.nanargmin(grid), grid.shape) if np.isfinite(grid).any() else None
        )
        deviation = max(
            abs(a - r) / max(abs(r), 1e-12) for a, r in zip(c.along_plane, c.rayleigh, strict=True)
        )
        values: list[tuple[str, float, str]] = [
            ("curvature_1", c.along_plane[0], CURVATURE_UNIT),
            ("curvature_2", c.along_plane[1], CURVATURE_UNIT),
            ("hessian_rayleigh_1", c.rayleigh[0], CURVATURE_UNIT),
            ("hessian_rayleigh_2", c.rayleigh[1], CURVATURE_UNIT),
            ("hessian_nearest_eigenvalue_1", c.nearest_eigenvalue[0], CURVATURE_UNIT),
            ("hessian_nearest_eigenvalue_2", c.nearest_eigenvalue[1], CURVATURE_UNIT),
            ("hessian_overlap_1", c.overlap[0], "1"),
            ("hessian_overlap_2", c.overlap[1], "1"),
            ("plane_hessian_eigenvalue_1", c.plane_eigenvalues[0], CURVATURE_UNIT),
            ("plane_hessian_eigenvalue_2", c.plane_eigenvalues[1], CURVATURE_UNIT),
            ("curvature_hessian_deviation", deviation, "1"),
            ("hessian_lowest_vibrational_eigenvalue", min(vibrational), CURVATURE_UNIT),
            ("residual_force_at_origin", c.residual_force_ev_a, "eV/Å"),
            ("n_grid_minima", float(len(self.minima)), "1"),
            ("path_rmse_vs_reference", self.path_rmse_mev_atom(), "meV/atom"),
            ("explained_variance_2d", sum(self.explained_variance), "1"),
            ("n_failed_points", float(np.count_nonzero(~np.isfinite(grid))), "1"),
            ("flag_not_a_minimum", float(min(vibrational) < 0), "1"),
        ]
        if i_low is not None:
            a, b = self.a_values[int(i_low[1])], self.b_values[int(i_low[0])]
            values.append(
                ("grid_lowest_energy", float(grid[i_low]) / self.n_atoms * 1000, "meV/atom")
            )
            values.append(("grid_lowest_distance", float(np.hypot(a, b)), "Å·amu^1/2"))
        return finite(*(MetricValue(n, v, u) for n, v, u in values))

    def _periodic(self) -> bool:
        return bool(self.path.get("periodic", (False,))[0])

    def series(self) -> tuple[SeriesData, ...]:
        """Energies along the sampled path (frame index), the model's and the reference's."""
        x = tuple(float(i) for i in range(len(self.path["energy_ev"])))
        model = tuple(float(e) for e in self.path["energy_ev"])
        reference = tuple(float(e) for e in self.path["reference_energy_ev"])
        return (
            SeriesData("path_energy", x, model, "path frame", "1", "E - E(origin)", "eV"),
            SeriesData(
                "path_reference_energy", x, reference, "path frame", "1", "reference E", "eV"
            ),
        )

    def projections(self) -> tuple[ProjectionData, ...]:
        """The plane (grid, path, minima, curvatures) and one global map per method."""
        plane = ProjectionData(
            name="plane",
            kind="plane",
            method="pca-mass-weighted",
            settings={
                "plane_hash": self.plane_hash,
                "plane_source": self.plane_source,
                "plane_reference": self.plane_reference,
                "explained_variance": list(self.explained_variance),
                "coordinate_unit": "Å·amu^1/2",
                "energy_unit": "eV",
                "n_atoms": self.n_atoms,
            },
            data={
                "a": list(self.a_values),
                "b": list(self.b_values),
                "energy_ev": [[_json(v) for v in row] for row in self.grid_ev],
                "origin_energy_ev": self.origin_energy_ev,
                "basis": [list(row) for row in self.basis],
                "minimum_positions_a": [list(p) for p in self.minimum_positions_a],
                "path": {k: [_json(v) for v in vs] for k, vs in self.path.items()},
                "minima": [list(m) for m in self.minima],
                "curvature": {
                    k: list(v) if isinstance(v, tuple) else v
                    for k, v in dataclasses.asdict(self.curvature).items()
                },
            },
        )
        maps = []
        for key, coords in self.maps.items():
            maps.append(
                ProjectionData(
                    name=f"map_{key}",
                    kind="map",
                    method=str(coords.projection["method"]),
                    settings={"descriptor": coords.descriptor, "projection": coords.projection},
                    data={
                        "x": list(coords.x),
                        "y": list(coords.y),
                        "label": [f"{s}#{i}" for i, s in enumerate(self.path["stage"])],
                        "energy_per_atom_ev": [
                            _json(e / self.n_atoms) for e in self.path["energy_ev"]
                        ],
                        "error_mev_atom": [
                            _json((e - r) / self.n_atoms * 1000)
                            for e, r in zip(
                                self.path["energy_ev"],
                                self.path["reference_energy_ev"],
                                strict=True,
                            )
                        ],
                        "failed": [not np.isfinite(e) for e in self.path["energy_ev"]],
                    },
                )
            )
        return (plane, *maps)


@register_benchmark(
    "landscape",
    version="1.0",
    params=LandscapeParams,
    description=(
        "Energy on a 2-D plane (mass-weighted PCA of a relaxation path and MD at two "
        "temperatures, defined once by a reference model), curvatures vs a finite-difference "
        "Hessian, grid minima, and a SOAP map of the sampled configurations (PCA, UMAP, PHATE)."
    ),
    headline=(
        Headline("path_rmse_vs_reference", "path energy RMSE vs reference", "meV/atom"),
        Headline("curvature_hessian_deviation", "plane curvature vs Hessian", "1"),
        Headline("n_grid_minima", "minima on the plane", "1"),
    ),
    soft_time_limit_s=1800,
)
def run_landscape(
    atoms: Atoms, calc: Calculator, params: LandscapeParams, *, observer: Observer | None = None
) -> LandscapeResult:
    """Evaluate ``calc`` on the plane of ``atoms`` and map the sampled configurations.

    Parameters
    ----------
    atoms
        A cluster, molecule or small cell; its ``info["landscape_plane"]`` (if any) is the plane.
    calc
        ASE calculator (energies in eV, forces in eV/Å).
    params
        Grid, sampling and map settings.
    observer
        Called with the stage and the fraction done; may raise RunCancelled.

    Returns
    -------
    LandscapeResult

    Raises
    ------
    BenchmarkSetupError
        Fewer than two atoms, a stored plane that does not match the structure, or a map
        package missing.
    BenchmarkFailed
        ``nan_or_inf`` when the energy at the origin is not a number; ``no_convergence`` when
        sampling a plane finds no minimum.
    """
    if len(atoms) < 2:
        raise BenchmarkSetupError(
            f"landscape needs at least 2 atoms (got {len(atoms)}): a single atom has no internal "
            "coordinates once translation is removed"
        )
    work = _work_atoms(atoms, vacuum_a=params.vacuum_a)
    plane, source = _plane_for(work, atoms.info.get(PLANE_INFO_KEY), calc, params, observer)
    work.calc = calc
    work.positions = plane.minimum
    origin = float(work.get_potential_energy())  # a model raising here fails the run
    if not np.isfinite(origin):
        raise BenchmarkFailed(
            "non-finite energy at the plane's origin", failure_class=FailureClass.NAN_OR_INF
        )
    path = _path(plane, work, origin)
    extent = _extent(plane, path, params)
    a_values = axis_values(extent, params.grid_n)
    grid = evaluate_grid(plane, work, a_values, a_values, observer=observer) - origin
    curv = curvatures(plane, work, step_a=params.fd_step_a)
    notify(observer, "landscape: hessian", 1.0)
    minima = tuple(
        (float(a_values[j]), float(a_values[i]), float(grid[i, j])) for i, j in grid_minima(grid)
    )
    maps = _global_maps(plane, work, params, observer)
    return LandscapeResult(
        n_atoms=len(atoms),
        plane_hash=plane.plane_hash,
        plane_source=source,
        plane_reference=plane.reference,
        basis=tuple(tuple(float(x) for x in row) for row in plane.basis),
        minimum_positions_a=tuple((float(p[0]), float(p[1]), float(p[2])) for p in plane.minimum),
        explained_variance=plane.explained_variance,
        origin_energy_ev=origin,
        a_values=tuple(float(x) for x in a_values),
        b_values=tuple(float(x) for x in a_values),
        grid_ev=tuple(tuple(float(x) for x in row) for row in grid),
        path=path,
        curvature=curv,
        minima=minima,
        maps=maps,
    )


def _work_atoms(atoms: Atoms, *, vacuum_a: float) -> Atoms:
    """A bare copy of ``atoms`` (symbols, positions, cell, masses); a cluster gets a cubic box
    with ``vacuum_a`` Å of vacuum around it."""
    work = Atoms(
        atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc
    )
    work.set_masses(atoms.get_masses())
    if not atoms.pbc.any():
        # Models that build a periodic graph (CHGNet, SevenNet) need a cell: a fixed box with
        # vacuum_a Å around the cluster, the same box for every configuration.
        span = float(np.ptp(atoms.positions, axis=0).max())
        work.cell = [span + 2 * vacuum_a] * 3
    return work


def _plane_for(
    work: Atoms,
    stored: Any,
    calc: Calculator,
    params: LandscapeParams,
    observer: Observer | None,
) -> tuple[Plane, str]:
    """The stored plane (when there is one and ``params`` asks for it), else one sampled with
    ``calc``; with its source, ``"stored"`` or ``"self"``.

    Raises
    ------
    BenchmarkSetupError
        A stored plane that does not fit the structure.
    """
    if stored is not None and params.plane_source == "stored":
        try:
            return Plane.from_info(work, stored), "stored"
        except (KeyError, ValueError) as exc:
            raise BenchmarkSetupError(
                f"stored landscape plane does not fit the structure: {exc}"
            ) from exc
    plane = define_plane(work, calc, params.sampling(), reference="self", observer=observer)
    return plane, "self"


def _global_maps(
    plane: Plane, work: Atoms, params: LandscapeParams, observer: Observer | None
) -> dict[str, MapCoordinates]:
    """One 2-D map of the plane's sampled configurations per method in ``params.map_methods``
    (none when it is empty)."""
    if not params.map_methods:
        return {}
    return configuration_maps(
        plane.frames,
        work,
        methods=params.map_methods,
        soap=params.soap(),
        seed=params.seed,
        embedding_map=params.embedding_map,
        observer=observer,
    )


def compare_landscapes(a: LandscapeResult, b: LandscapeResult) -> tuple[np.ndarray, float]:
    """Difference surface A - B (eV, relative energies) and its RMSE (meV/atom).

    Raises
    ------
    ValueError
        When the two results are not on the same plane (different plane hash or grid).
    """
    if a.plane_hash != b.plane_hash or a.a_values != b.a_values:
        raise ValueError(
            f"landscapes are on different planes ({a.plane_hash} vs {b.plane_hash}): "
            "store one plane with the structure and evaluate both models on it"
        )
    return difference_surface(np.array(a.grid_ev), np.array(b.grid_ev), a.n_atoms)


def _path(plane: Plane, work: Atoms, origin: float) -> dict[str, tuple[Any, ...]]:
    periodic = bool(work.pbc.any())
    coords = [plane.project(frame, periodic=periodic) for frame in plane.frames]
    energies = [energy_at(work, frame) - origin for frame in plane.frames]
    work.positions = plane.minimum
    return {
        "a": tuple(c[0] for c in coords),
        "b": tuple(c[1] for c in coords),
        "out_of_plane": tuple(c[2] for c in coords),
        "stage": plane.stages,
        "energy_ev": tuple(energies),
        "reference_energy_ev": tuple(float(e) for e in plane.reference_energies_ev),
        "periodic": (periodic,),
    }


def _extent(plane: Plane, path: dict[str, tuple[Any, ...]], params: LandscapeParams) -> float:
    reach = max(max(abs(x) for x in path["a"]), max(abs(x) for x in path["b"]))
    cap = params.max_span_a * np.sqrt(np.mean(plane.masses) * len(plane.masses))
    return float(min(params.span_factor * reach, cap)) or float(cap)


def _json(value: Any) -> Any:
    """NaN and inf are not JSON: a missing number is None."""
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return float(value) if isinstance(value, np.floating) else value
