"""What the packaged models' latent spaces encode (issue 20): linear probes and cross-model CKA.

A probe set of elemental crystals in four lattices (fcc, bcc, diamond, hcp; 14 elements), each
scaled to 94-106 % of its volume and rattled, as 2x2x2 supercells of the primitive cell. For
every model with per-atom embeddings (``workers.adapters.embeddings.atom_embeddings``):

- linear probes (``workers.representations.linear_probe_r2``, 5-fold ridge): how much of each
  atom's coordination, nearest-neighbour distance and periodic-table group, and of each
  structure's volume per atom (from mean-pooled embeddings), a linear read-out recovers;
- linear CKA between every pair of models on the same atoms;
- the same probes within an element (features and targets less their element's mean): an
  embedding table separates elements whether trained or not, so only these test geometry;
- the control: CHGNet's architecture with random weights (``CHGNet()`` unloaded, seeded). A
  trained model must encode more than its untrained architecture does.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.representations

Writes JSON and a Markdown table next to it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator

from workers.adapters.embeddings import atom_embeddings
from workers.adapters.pretrained import pretrained_models
from workers.adapters.registry import load_all, make_calculator
from workers.representations import cka_matrix, linear_probe_r2, pooled, probe_targets

ELEMENTS = ("Cu", "Al", "Ni", "Ag", "Fe", "W", "Mo", "Na", "Si", "Ge", "C", "Mg", "Ti", "Zn")
SCALES = (0.94, 0.97, 1.0, 1.03, 1.06)
MODELS = ("CHGNet-0.3.0", "SevenNet-0", "DIEP-r2SCAN")
RANDOM = "CHGNet architecture, random weights"
ATOM_TARGETS = ("coordination", "nn_distance_a", "group")


def probe_set(seed: int = 0) -> list[Atoms]:
    """Each element's reference crystal, 2x2x2 primitive supercell, at every volume scale,
    rattled by 0.03 Å (seeded)."""
    rng = np.random.default_rng(seed)
    structures = []
    for symbol in ELEMENTS:
        for scale in SCALES:
            atoms = bulk(symbol).repeat((2, 2, 2))
            atoms.set_cell(atoms.cell * scale ** (1 / 3), scale_atoms=True)
            atoms.positions += rng.normal(0.0, 0.03, atoms.positions.shape)
            structures.append(atoms)
    return structures


def _calculators() -> dict[str, Calculator]:
    load_all()
    records = {m.name: m for m in pretrained_models()}
    calcs = {name: make_calculator(records[name].spec()) for name in MODELS}
    import torch
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    torch.manual_seed(0)
    calcs[RANDOM] = CHGNetCalculator(model=CHGNet(), use_device="cpu")
    return calcs


def _targets(structures: list[Atoms]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    per_atom: dict[str, list[np.ndarray]] = {name: [] for name in ATOM_TARGETS}
    volume = []
    for atoms in structures:
        found = probe_targets(atoms)
        for name in ATOM_TARGETS:
            per_atom[name].append(np.asarray(found[name], dtype=float))
        volume.append(atoms.get_volume() / len(atoms))
    return {k: np.concatenate(v) for k, v in per_atom.items()}, np.array(volume)


def _demeaned(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``values`` (rows) less the mean of the rows with the same label."""
    out = np.array(values, dtype=float)
    for label in np.unique(labels):
        rows = labels == label
        out[rows] -= out[rows].mean(axis=0)
    return out


def measure(structures: list[Atoms]) -> dict[str, Any]:
    """Embeddings, probes and CKA of every model on ``structures``."""
    targets, volume = _targets(structures)
    atom_elements = np.concatenate([atoms.numbers for atoms in structures])
    structure_elements = np.array([atoms.numbers[0] for atoms in structures])
    features: dict[str, np.ndarray] = {}
    probes: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    for name, calc in _calculators().items():
        start = time.perf_counter()
        per_structure = [atom_embeddings(calc, atoms) for atoms in structures]
        seconds[name] = time.perf_counter() - start
        rows = [np.asarray(f) for f in per_structure if f is not None]
        features[name] = np.concatenate(rows)
        probes[name] = {t: linear_probe_r2(features[name], targets[t]).r2_mean for t in targets}
        probes[name]["volume_per_atom"] = linear_probe_r2(pooled(rows), volume).r2_mean
        # Within an element: features and targets less their element's mean, so that knowing
        # the element (which any embedding table does, trained or not) explains nothing.
        within = _demeaned(features[name], atom_elements)
        for t in ("nn_distance_a", "coordination"):
            probes[name][f"{t} within element"] = linear_probe_r2(
                within, _demeaned(targets[t], atom_elements)
            ).r2_mean
        probes[name]["volume_per_atom within element"] = linear_probe_r2(
            _demeaned(pooled(rows), structure_elements), _demeaned(volume, structure_elements)
        ).r2_mean
    names, matrix = cka_matrix(features)
    return {
        "n_structures": len(structures),
        "n_atoms": len(targets["group"]),
        "widths": {name: int(f.shape[1]) for name, f in features.items()},
        "embedding_seconds": seconds,
        "probe_r2": probes,
        "cka": {"models": list(names), "matrix": matrix.round(4).tolist()},
    }


def markdown(result: dict[str, Any]) -> str:
    targets = list(next(iter(result["probe_r2"].values())))
    lines = [
        f"# Representations: {result['n_structures']} structures, {result['n_atoms']} atoms",
        "",
        "Linear probe R² (5-fold ridge; per atom, volume per structure from mean pooling):",
        "",
        "| model | width | " + " | ".join(targets) + " | embedding s |",
        "|---|---|" + "---|" * len(targets) + "---|",
    ]
    for name, probes in result["probe_r2"].items():
        cells = " | ".join(f"{probes[t]:.3f}" for t in targets)
        width, secs = result["widths"][name], result["embedding_seconds"][name]
        lines.append(f"| {name} | {width} | {cells} | {secs:.1f} |")
    models = result["cka"]["models"]
    lines += ["", "Linear CKA on the same atoms:", "", "| | " + " | ".join(models) + " |"]
    lines.append("|---|" + "---|" * len(models))
    for name, row in zip(models, result["cka"]["matrix"], strict=True):
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/representations.json"))
    args = parser.parse_args()
    result = measure(probe_set())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
