"""Global map of sampled configurations: SOAP descriptors projected to 2-D (PCA, UMAP, PHATE).

The descriptor is model-agnostic (SOAP, dscribe; averaged over atoms), so the coordinates of a
set of configurations are the same whichever model is benchmarked: only the colours (energy,
error against the reference, failure) change. dscribe, umap-learn and phate are the optional
``landscape`` extra; they are imported when a map is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.embeddings import atom_embeddings, embedding_source
from workers.benchmarks.base import Observer, notify

MAP_METHODS = ("pca", "umap", "phate")


@dataclass(frozen=True, slots=True)
class SoapSettings:
    """SOAP descriptor settings (dscribe 2.1): cutoff (Å), radial and angular orders, width (Å)."""

    r_cut_a: float = 5.0
    n_max: int = 6
    l_max: int = 4
    sigma_a: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        return {
            "descriptor": "soap",
            "library": "dscribe",
            "average": "inner",
            "r_cut_a": self.r_cut_a,
            "n_max": self.n_max,
            "l_max": self.l_max,
            "sigma_a": self.sigma_a,
        }


def soap_features(frames: list[Atoms], settings: SoapSettings) -> np.ndarray:
    """Atom-averaged SOAP vectors (F, D) of ``frames``, standardized per component."""
    return standardize(soap_vectors(frames, settings))


def soap_vectors(
    frames: list[Atoms], settings: SoapSettings, *, compression: str | None = None
) -> np.ndarray:
    """Atom-averaged SOAP vectors (F, D) of ``frames``, periodic and finite ones alike (each
    described with its own periodicity). ``compression``: dscribe's mode (``"crossover"``:
    element pairs only with themselves, so D grows with the number of elements, not its
    square)."""
    try:
        from dscribe.descriptors import SOAP
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise BenchmarkSetupError(
            "the global map needs dscribe (pip install 'mlip-metrology[landscape]')"
        ) from exc
    species = sorted({s for f in frames for s in f.get_chemical_symbols()})
    rows: dict[int, np.ndarray] = {}
    for periodic in (True, False):
        picked = [k for k, f in enumerate(frames) if bool(f.pbc.any()) is periodic]
        if not picked:
            continue
        soap = SOAP(
            species=species,
            r_cut=settings.r_cut_a,
            n_max=settings.n_max,
            l_max=settings.l_max,
            sigma=settings.sigma_a,
            average="inner",
            periodic=periodic,
            **({} if compression is None else {"compression": {"mode": compression}}),
        )
        found = np.asarray(soap.create([frames[k] for k in picked], n_jobs=1), dtype=float)
        rows.update(zip(picked, found.reshape(len(picked), -1), strict=True))
    return np.stack([rows[k] for k in range(len(frames))])


def standardize(features: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance; constant columns dropped."""
    spread = features.std(axis=0)
    keep = spread > 1e-12 * max(float(spread.max()), 1e-300)
    return (features[:, keep] - features[:, keep].mean(axis=0)) / spread[keep]


def project(features: np.ndarray, method: str, *, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """2-D coordinates (F, 2) of ``features`` by ``method`` and the settings used."""
    n = len(features)
    if method == "pca":
        centred = features - features.mean(axis=0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        coords = centred @ vt[:2].T
        ratio = (s[:2] ** 2 / max(float(np.sum(s**2)), 1e-300)).tolist()
        return _pad(coords), {"method": "pca", "explained_variance": ratio}
    if method == "umap":
        try:
            import umap
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise BenchmarkSetupError("UMAP needs umap-learn (the landscape extra)") from exc
        settings = {"method": "umap", "n_neighbors": min(15, n - 1), "min_dist": 0.1, "seed": seed}
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=settings["n_neighbors"],
            min_dist=0.1,
            random_state=seed,
            n_jobs=1,
        )
        return np.asarray(reducer.fit_transform(features)), settings
    if method == "phate":
        try:
            import phate
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise BenchmarkSetupError("PHATE needs phate (the landscape extra)") from exc
        settings = {"method": "phate", "knn": min(5, n - 2), "seed": seed}
        op = phate.PHATE(
            n_components=2, knn=settings["knn"], random_state=seed, verbose=0, n_jobs=1
        )
        return np.asarray(op.fit_transform(features)), settings
    raise BenchmarkSetupError(f"unknown projection {method!r}; known: {list(MAP_METHODS)}")


def _pad(coords: np.ndarray) -> np.ndarray:
    if coords.shape[1] == 2:
        return coords
    return np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])


@dataclass(frozen=True, slots=True)
class MapCoordinates:
    """2-D coordinates of the sampled frames and the descriptor and projection that made them."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    projection: dict[str, Any]
    descriptor: dict[str, Any]


def configuration_maps(
    positions: np.ndarray | Sequence[np.ndarray],
    work: Atoms,
    *,
    methods: Sequence[str],
    soap: SoapSettings,
    seed: int,
    embedding_map: bool,
    observer: Observer | None = None,
) -> dict[str, MapCoordinates]:
    """SOAP maps (model-agnostic) of the sampled frames and, where the model attached to
    ``work`` has one, maps of its embedding space."""
    frames = [
        Atoms(work.get_chemical_symbols(), positions=p, cell=work.cell, pbc=work.pbc)
        for p in positions
    ]
    features = soap_features(frames, soap)
    maps = {}
    for method in methods:
        coords, settings = project(features, method, seed=seed)
        maps[method] = MapCoordinates(
            _column(coords, 0), _column(coords, 1), settings, soap.as_dict()
        )
    notify(observer, "landscape: map", 1.0)
    calc = work.calc
    assert calc is not None
    embedded = _embedding_features(calc, frames) if embedding_map else None
    if embedded is not None:
        descriptor = {
            "descriptor": "model_embedding",
            "source": embedding_source(calc),
            "average": "mean over atoms",
            "standardized": True,
        }
        for method in methods:
            coords, settings = project(embedded, method, seed=seed)
            maps[f"embedding_{method}"] = MapCoordinates(
                _column(coords, 0), _column(coords, 1), settings, descriptor
            )
        notify(observer, "landscape: embedding map", 1.0)
    return maps


def _embedding_features(calc: Calculator, frames: list[Atoms]) -> np.ndarray | None:
    rows = []
    for frame in frames:
        per_atom = atom_embeddings(calc, frame)
        if per_atom is None:
            return None
        rows.append(per_atom.mean(axis=0))
    return standardize(np.array(rows))


def _column(coords: np.ndarray, k: int) -> tuple[float, ...]:
    return tuple(float(v) for v in coords[:, k])
