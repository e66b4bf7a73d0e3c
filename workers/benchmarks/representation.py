"""What a model's latent space encodes: pooled per-atom embeddings of strained copies of one
structure (issue 20).

A structure is turned into a small, fixed set of variants: a periodic crystal is repeated to
at least ``min_atoms`` atoms, its volume scaled by each of ``scales`` (fixed cell shape) and
sheared by ``+shear`` and ``-shear`` (simple shear, volume kept, at scale 1); a molecule or
cluster has its coordinates scaled about its centroid by the same volume scales (no shear) and
is put in a cubic box with ``vacuum_a`` of vacuum (CHGNet and SevenNet build periodic graphs).
Every variant is then rattled by one Gaussian displacement field (``rattle_a``, seeded), the
same for all, so that the variants differ by their strain alone. The model's per-atom embedding
(``workers.adapters.embeddings.atom_embeddings``) of each variant is mean-pooled over atoms.

Stored (one projection, ``pooled_embeddings``): the pooled rows, the variants' targets
(volume strain, shear, mean nearest-neighbour distance and coordination) and the structure's
chemistry (composition-weighted group, period and Pauling electronegativity), which the
cross-run summary (``workers.representation_summary``) probes over many structures.

Per run, ``strain_resolution``: the leave-one-out R² of a ridge read-out of the volume strain
from the variants' pooled embeddings. It says whether the embedding moves with the volume at
all; an untrained network of the same architecture also scores high on it (any smooth function
of the distances does), so it is no evidence of learning: the cross-structure probes are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from shared_kernel.failures import (
    BenchmarkFailed,
    BenchmarkSetupError,
    FailureClass,
    NoRepresentationError,
)
from workers.adapters.embeddings import atom_embeddings, embedding_source
from workers.benchmarks._md import build_supercell
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
from workers.representations import ALPHA_GRID, pooled, probe_targets

#: Version of the variant set (scales, shears, rattle) stored with every projection.
PROBE_SET = "1.0"
#: Widest embedding stored (floats per variant); a wider one is refused, never truncated.
MAX_WIDTH = 1024
#: Significant digits kept of each pooled feature.
DIGITS = 6


@dataclass(frozen=True, slots=True)
class RepresentationParams:
    """Parameters of the representation protocol.

    Parameters
    ----------
    scales
        Volume scales V/V_input of the variants (at least three distinct values in
        [0.8, 1.2]; each variant's volume strain is ``scale - 1``).
    shear
        Simple shear strain (1) of the two sheared variants of a periodic structure, ``+shear``
        and ``-shear`` at scale 1 (0: no sheared variants).
    min_atoms
        A periodic cell is repeated until it has at least this many atoms.
    rattle_a
        Standard deviation of the Gaussian displacement of every atom of every variant (Å).
    vacuum_a
        Vacuum on each side of a molecule's cubic box (Å).
    seed
        Seed of the rattle.
    """

    scales: tuple[float, ...] = (0.94, 0.97, 1.0, 1.03, 1.06)
    shear: float = 0.03
    min_atoms: int = 8
    rattle_a: float = 0.02
    vacuum_a: float = 12.0
    seed: int = 0

    def __post_init__(self) -> None:
        # JSON hands tuples back as lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        if len(set(self.scales)) != len(self.scales) or len(self.scales) < 3:
            raise ValueError(f"scales needs at least 3 distinct values, got {self.scales}")
        if not all(0.8 <= s <= 1.2 for s in self.scales):
            raise ValueError(f"scales must lie in [0.8, 1.2], got {self.scales}")
        if not 0.0 <= self.shear <= 0.2:
            raise ValueError(f"shear must be in [0, 0.2], got {self.shear}")
        if not 1 <= self.min_atoms <= 256:
            raise ValueError(f"min_atoms must be in [1, 256], got {self.min_atoms}")
        if not 0.0 <= self.rattle_a <= 0.2:
            raise ValueError(f"rattle_a must be in [0, 0.2] Å, got {self.rattle_a}")
        if self.vacuum_a < 6.0:
            raise ValueError(f"vacuum_a must be at least 6 Å (model cutoffs), got {self.vacuum_a}")


@dataclass(frozen=True, slots=True)
class Variant:
    """One strained copy of the structure: its name, atoms, volume strain and shear (1)."""

    name: str
    atoms: Atoms
    volume_strain: float
    shear: float


@dataclass(frozen=True, slots=True)
class RepresentationResult:
    """Pooled embeddings of the variants of one structure.

    ``features``: one row per variant, the mean over its atoms of the model's per-atom
    embedding (D columns, ``DIGITS`` significant digits); ``targets``: per variant, its
    ``volume_strain`` (V/V_input - 1), ``shear`` (1), ``nn_distance_a`` (Å, mean over atoms)
    and ``coordination`` (mean over atoms); ``chemistry``: composition-weighted ``group``,
    ``period`` and Pauling ``electronegativity`` (None where pymatgen has none, e.g. He).
    """

    formula: str
    elements: tuple[str, ...]
    variants: tuple[str, ...]
    n_atoms: tuple[int, ...]
    features: tuple[tuple[float, ...], ...]
    targets: dict[str, tuple[float, ...]]
    chemistry: dict[str, float | None]
    source: str
    seconds_per_atom: float
    strain_resolution: float

    def metrics(self) -> tuple[MetricValue, ...]:
        """Width of the embedding, its cost per atom (s) and the strain read-out R² (1)."""
        return finite(
            MetricValue("strain_resolution", self.strain_resolution, "1"),
            MetricValue("embedding_width", float(len(self.features[0])), "1"),
            MetricValue("embedding_seconds_per_atom", self.seconds_per_atom, "s"),
        )

    def series(self) -> tuple[SeriesData, ...]:
        return ()

    def projections(self) -> tuple[ProjectionData, ...]:
        """One projection, ``pooled_embeddings`` (kind ``embedding``): the stored rows."""
        return (
            ProjectionData(
                name="pooled_embeddings",
                kind="embedding",
                method="mean",
                settings={"pooling": "mean", "source": self.source, "probe_set": PROBE_SET},
                data={
                    "formula": self.formula,
                    "variants": list(self.variants),
                    "n_atoms": list(self.n_atoms),
                    "features": [list(row) for row in self.features],
                    "targets": {k: list(v) for k, v in self.targets.items()},
                    "chemistry": dict(self.chemistry),
                    "elements": list(self.elements),
                },
            ),
        )


def _is_molecule(atoms: Atoms) -> bool:
    """True for a structure periodic along no axis; raises for a partly periodic one."""
    if atoms.pbc.all() and atoms.cell.rank == 3:
        return False
    if not atoms.pbc.any():
        return True
    raise BenchmarkSetupError(
        f"representation needs a crystal periodic in three dimensions or a molecule, got "
        f"pbc={atoms.pbc.tolist()}"
    )


def make_variants(atoms: Atoms, params: RepresentationParams) -> tuple[Variant, ...]:
    """The strained, rattled copies of ``atoms`` whose embeddings the benchmark reads.

    Parameters
    ----------
    atoms
        A crystal periodic in three dimensions, or a molecule or cluster (no periodicity),
        of at least two atoms; positions in Å. Not modified.
    params
        Scales, shear, supercell size, rattle (Å), vacuum (Å) and seed.

    Returns
    -------
    tuple of Variant
        One per scale (named ``scale_<s>``), then, for a crystal with ``shear`` > 0,
        ``shear_+<g>`` and ``shear_-<g>``. Crystals: the supercell with its cell scaled by
        ``scale**(1/3)`` (V/V_input = scale exactly, shape kept), or sheared as
        ``cell @ (I + g e_x e_y^T)^T`` (volume kept). Molecules: positions scaled about the
        centroid by ``scale**(1/3)``, in one cubic box for all (span of the largest plus
        ``2 vacuum_a``), not periodic. Every variant is then displaced by the same Gaussian
        field (``rattle_a`` Å per coordinate, drawn from ``seed``).

    Raises
    ------
    BenchmarkSetupError
        Fewer than two atoms, or a structure periodic along some axes only.
    """
    if len(atoms) < 2 and _is_molecule(atoms):
        raise BenchmarkSetupError(f"a molecule needs at least 2 atoms, got {len(atoms)}")
    shapes = _strained(atoms, params)
    # One displacement field for every variant: it breaks the lattice's symmetry, while the
    # variants differ by their strain alone (independent draws would, on a small molecule, move
    # the atoms as much as the strain does).
    field = np.random.default_rng(params.seed).normal(
        0.0, params.rattle_a, shapes[0][1].positions.shape
    )
    variants = []
    for name, work, strain, shear in shapes:
        work.positions = work.positions + field
        variants.append(Variant(name, work, strain, shear))
    return tuple(variants)


def _strained(atoms: Atoms, params: RepresentationParams) -> list[tuple[str, Atoms, float, float]]:
    """(name, atoms, volume strain, shear) of every variant, before the rattle."""
    bare = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell)
    if _is_molecule(atoms):
        centroid = bare.positions.mean(axis=0)
        largest = max(params.scales) ** (1 / 3) * float(np.ptp(bare.positions, axis=0).max())
        box = largest + 2 * params.vacuum_a
        shapes = []
        for scale in params.scales:
            work = bare.copy()
            work.positions = centroid + (bare.positions - centroid) * scale ** (1 / 3)
            # centred by its bounding box: at least vacuum_a Å on every side
            work.positions += (
                box / 2 - (work.positions.min(axis=0) + work.positions.max(axis=0)) / 2
            )
            work.cell, work.pbc = [box] * 3, False
            shapes.append((f"scale_{scale:g}", work, scale - 1.0, 0.0))
        return shapes
    bare.pbc = True
    base = build_supercell(bare, params.min_atoms)
    volume = base.get_volume()
    shapes = []
    for scale in params.scales:
        work = base.copy()
        work.set_cell(base.cell * scale ** (1 / 3), scale_atoms=True)
        shapes.append((f"scale_{scale:g}", work, work.get_volume() / volume - 1.0, 0.0))
    for gamma in (params.shear, -params.shear) if params.shear > 0 else ():
        deformation = np.eye(3)
        deformation[0, 1] = gamma
        work = base.copy()
        work.set_cell(base.cell.array @ deformation.T, scale_atoms=True)
        shapes.append((f"shear_{gamma:+g}", work, work.get_volume() / volume - 1.0, gamma))
    return shapes


def chemistry(atoms: Atoms) -> dict[str, float | None]:
    """Composition-weighted periodic-table coordinates of ``atoms``.

    Returns
    -------
    dict
        ``group`` (1-18; lanthanides and actinides 3, as pymatgen's ``Element.group``),
        ``period`` (pymatgen's ``Element.row``) and ``electronegativity`` (Pauling, pymatgen's
        ``Element.X``), each the mean over atoms; None when an element has no value (the
        noble gases He, Ne and Ar have no Pauling electronegativity).
    """
    import warnings

    from pymatgen.core import Element

    symbols = atoms.get_chemical_symbols()
    with warnings.catch_warnings():  # pymatgen warns for X of a noble gas: NaN is handled here
        warnings.simplefilter("ignore")
        values = {
            s: (float(Element(s).group), float(Element(s).row), float(Element(s).X))
            for s in set(symbols)
        }
    means = np.mean([values[s] for s in symbols], axis=0)
    return {
        name: float(value) if np.isfinite(value) else None
        for name, value in zip(("group", "period", "electronegativity"), means, strict=True)
    }


def loo_ridge_r2(x: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out R² of a ridge regression of ``y`` on ``x``, its penalty chosen inside.

    Each row is predicted by a ridge fit on the other rows only: they are standardized by
    their own mean and standard deviation (a constant column is left unscaled), ``y`` is
    centred on their mean, and the penalty is the one of
    :data:`workers.representations.ALPHA_GRID` with the least leave-one-out error among them
    (a nested leave-one-out: the held-out row never chooses its own penalty).
    R² = 1 - sum (y - y_loo)² / sum (y - mean y)².

    Parameters
    ----------
    x
        Features, shape (n, d), n >= 3.
    y
        Target, shape (n,), not constant (its own units; R² is unitless).

    Returns
    -------
    float
        The R²: 1 for a perfect read-out, 0 for no better than the mean, negative for worse.
    """
    features, target = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(target)
    predicted = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        alpha = _inner_alpha(features[keep], target[keep])
        predicted[i] = _ridge_predict(features[keep], target[keep], features[i], alpha)
    total = float(np.sum((target - target.mean()) ** 2))
    return 1.0 - float(np.sum((target - predicted) ** 2)) / total


def _ridge_predict(x: np.ndarray, y: np.ndarray, row: np.ndarray, alpha: float) -> float:
    """Prediction at ``row`` of a ridge fit (standardized ``x``, centred ``y``, penalty
    ``alpha``), solved in its dual form (n x n: fewer rows than columns here)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0.0] = 1.0
    z = (x - mean) / scale
    dual = np.linalg.solve(z @ z.T + alpha * np.eye(len(z)), y - y.mean())
    return float(((row - mean) / scale) @ z.T @ dual + y.mean())


def _inner_alpha(x: np.ndarray, y: np.ndarray) -> float:
    """The penalty of ``ALPHA_GRID`` with the least leave-one-out squared error of
    :func:`_ridge_predict` over the rows of ``x`` (the smaller on a tie)."""
    n = len(y)
    errors = []
    for alpha in ALPHA_GRID:
        keep = [np.arange(n) != j for j in range(n)]
        errors.append(
            sum((y[j] - _ridge_predict(x[k], y[k], x[j], alpha)) ** 2 for j, k in enumerate(keep))
        )
    return float(ALPHA_GRID[int(np.argmin(errors))])


def _embed(calc: Calculator, variant: Variant) -> np.ndarray:
    """The per-atom embedding (N, D) of one variant; raises for none, NaN or too wide."""
    found = atom_embeddings(calc, variant.atoms)
    if found is None:
        raise NoRepresentationError(
            f"{type(calc).__name__} exposes no per-atom embedding (classical potentials have "
            "no latent space)"
        )
    rows = np.asarray(found, dtype=float)
    if rows.ndim != 2 or rows.shape[0] != len(variant.atoms):
        raise BenchmarkSetupError(
            f"the embedding of {variant.name} has shape {rows.shape}, not ({len(variant.atoms)}, D)"
        )
    if rows.shape[1] > MAX_WIDTH:
        raise BenchmarkSetupError(
            f"the embedding is {rows.shape[1]} wide (D = {rows.shape[1]}); at most {MAX_WIDTH} "
            "are stored per variant"
        )
    if not np.isfinite(rows).all():
        raise BenchmarkFailed(
            f"non-finite embedding of {variant.name}", failure_class=FailureClass.NAN_OR_INF
        )
    return rows


@register_benchmark(
    "representation",
    version="1.0",
    params=RepresentationParams,
    description=(
        "The model's per-atom embedding (its features before the readout), mean-pooled over "
        "the atoms of 7 variants of the structure (volume scaled 0.94-1.06 and sheared +-3 %, "
        "rattled), stored for the cross-model maps, probes and CKA of /representations. "
        "strain_resolution: leave-one-out ridge R² of the volume strain from those rows; "
        "untrained (random-weight) networks score high too, so it is a sanity check, not "
        "a measure of learning. Models without an embedding are skipped (no_representation)."
    ),
    headline=(Headline("strain_resolution", "volume-strain read-out R² (LOO)", "1"),),
    soft_time_limit_s=300,
)
def run_representation(
    atoms: Atoms,
    calc: Calculator,
    params: RepresentationParams,
    *,
    observer: Observer | None = None,
) -> RepresentationResult:
    """Pooled embeddings of the variants of ``atoms`` under ``calc``'s model.

    Parameters
    ----------
    atoms
        A crystal periodic in three dimensions, or a molecule or cluster (Å).
    calc
        The model's ASE calculator (its embedding is read, its energy never).
    params
        Variants (scales, shear, supercell, rattle in Å, vacuum in Å, seed).
    observer
        Called with ("representation", fraction done); may raise RunCancelled.

    Returns
    -------
    RepresentationResult

    Raises
    ------
    NoRepresentationError
        The model has no per-atom embedding (EMT, LJ, Morse): the run is skipped.
    BenchmarkSetupError
        Fewer than two atoms in a molecule, a partly periodic structure, or an embedding
        wider than :data:`MAX_WIDTH`.
    BenchmarkFailed
        ``nan_or_inf`` when an embedding is not finite.
    """
    variants = make_variants(atoms, params)
    rows, seconds = [], 0.0
    for k, variant in enumerate(variants):
        start = time.perf_counter()
        rows.append(_embed(calc, variant))
        seconds += time.perf_counter() - start
        notify(observer, "representation", (k + 1) / len(variants))
    if len({r.shape[1] for r in rows}) != 1:
        raise BenchmarkSetupError("the embedding width differs between variants")
    features = np.array([[float(f"{v:.{DIGITS}g}") for v in row] for row in pooled(rows)])
    strain = np.array([v.volume_strain for v in variants])
    per_variant = [probe_targets(v.atoms) for v in variants]
    return RepresentationResult(
        formula=atoms.get_chemical_formula(),
        elements=tuple(sorted(set(atoms.get_chemical_symbols()))),
        variants=tuple(v.name for v in variants),
        n_atoms=tuple(len(v.atoms) for v in variants),
        features=tuple(tuple(float(v) for v in row) for row in features),
        targets={
            "volume_strain": tuple(float(s) for s in strain),
            "shear": tuple(v.shear for v in variants),
            "nn_distance_a": tuple(float(t["nn_distance_a"].mean()) for t in per_variant),
            "coordination": tuple(float(t["coordination"].mean()) for t in per_variant),
        },
        chemistry=chemistry(atoms),
        source=embedding_source(calc),
        seconds_per_atom=seconds / sum(len(v.atoms) for v in variants),
        strain_resolution=loo_ridge_r2(features, strain),
    )
