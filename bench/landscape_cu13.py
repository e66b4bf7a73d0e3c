"""Figure for the landscape note: EMT vs LJ vs CHGNet on Cu13's stored (EMT-defined) plane.

Usage: .venv/bin/python bench/landscape_cu13.py [grid_n]  -> docs/figures/landscape_cu13.png
and prints difference RMSEs (meV/atom) and curvatures vs Hessian eigenvalues.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from workers.adapters.baselines import baseline_models
from workers.adapters.pretrained import pretrained_models
from workers.adapters.registry import ModelSpec, make_calculator
from workers.benchmarks.landscape import LandscapeParams, compare_landscapes, run_landscape
from workers.landscape_structures import cluster_structures


def main() -> None:
    grid_n = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    cu13 = next(r.atoms for r in cluster_structures() if r.label == "Cu13")
    wanted = {"EMT", "LJ-exp-fit", "CHGNet-0.3.0"}
    records = [r for r in (*baseline_models(), *pretrained_models()) if r.name in wanted]
    methods = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("pca", "umap")
    params = LandscapeParams(grid_n=grid_n, map_methods=methods)
    results = {}
    for record in records:
        spec = ModelSpec(
            family=record.family, name=record.name, version=record.version, params=record.params
        )
        start = time.perf_counter()
        results[record.name] = run_landscape(cu13, make_calculator(spec), params)
        print(f"{record.name}: {time.perf_counter() - start:.1f} s")
    for name, result in results.items():
        c = result.curvature
        print(
            f"{name}: curvature along plane {c.along_plane[0]:.4f} {c.along_plane[1]:.4f}; "
            f"v.H.v {c.rayleigh[0]:.4f} {c.rayleigh[1]:.4f}; projected-Hessian eig "
            f"{c.plane_eigenvalues[0]:.4f} {c.plane_eigenvalues[1]:.4f}; nearest eig "
            f"{c.nearest_eigenvalue[0]:.4f} ({c.overlap[0]:.2f}) {c.nearest_eigenvalue[1]:.4f} "
            f"({c.overlap[1]:.2f}); lowest vib eig {sorted(c.eigenvalues, key=abs)[6]:.4f}; "
            f"residual force {c.residual_force_ev_a:.3f} eV/Å; grid minima {len(result.minima)}; "
            f"path RMSE vs EMT {result.path_rmse_mev_atom():.2f} meV/atom"
        )
    names = list(results)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            _, rmse = compare_landscapes(results[a], results[b])
            print(f"RMSE {a} - {b} on the plane: {rmse:.2f} meV/atom")
    _figure(results, Path("docs/figures/landscape_cu13.png"))


def _figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 8))
    ref = results[names[0]]
    for k, name in enumerate(names):
        r = results[name]
        grid = np.array(r.grid_ev) / r.n_atoms * 1000
        ax = axes[0, k]
        cs = ax.contourf(r.a_values, r.b_values, grid, levels=25, cmap="viridis")
        fig.colorbar(cs, ax=ax, label="E - E(origin), meV/atom")
        stages = np.array(r.path["stage"])
        for stage in dict.fromkeys(r.path["stage"]):
            keep = stages == stage
            ax.plot(np.array(r.path["a"])[keep], np.array(r.path["b"])[keep], "w.-", ms=2, lw=0.5)
        for a, b, _ in r.minima:
            ax.plot(a, b, "r*", ms=10)
        ax.set_title(f"{name} on the EMT-defined plane")
        ax.set_xlabel("PC1 (Å·amu$^{1/2}$)")
        ax.set_ylabel("PC2 (Å·amu$^{1/2}$)")
        ax = axes[1, k]
        if k == 0:
            shown = r.maps.get("umap", r.maps["pca"])
            x, y = shown.x, shown.y
            sc = ax.scatter(x, y, c=np.array(r.path["energy_ev"]) / r.n_atoms * 1000, s=10)
            fig.colorbar(sc, ax=ax, label="EMT energy, meV/atom")
            ax.set_title(f"SOAP + {'UMAP' if 'umap' in r.maps else 'PCA'} of the sampled frames")
        else:
            diff, rmse = compare_landscapes(r, ref)
            lim = np.nanmax(np.abs(diff)) / r.n_atoms * 1000
            cs = ax.contourf(
                r.a_values,
                r.b_values,
                diff / r.n_atoms * 1000,
                levels=25,
                cmap="RdBu_r",
                vmin=-lim,
                vmax=lim,
            )
            fig.colorbar(cs, ax=ax, label="meV/atom")
            ax.set_title(f"{name} - {names[0]}: RMSE {rmse:.1f} meV/atom")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
