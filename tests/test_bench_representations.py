"""bench/representations.py without models: its probe sets, cost figures and tables."""

from __future__ import annotations

import numpy as np
import pytest

from backend.cli.demo_plan import REPRESENTATION_CRYSTALS
from bench import representations as bench
from workers.representation_summary import EmbeddingRow


def test_the_crystal_probe_set_is_the_demos_cells_in_its_order() -> None:
    probes = bench.crystal_probes()
    assert [label for label, _ in probes] == list(REPRESENTATION_CRYSTALS)
    assert all(atoms.pbc.all() for _, atoms in probes)


def test_the_s22_probe_set_is_every_complex_and_each_distinct_monomer_once() -> None:
    probes = bench.s22_probes()
    labels = [label for label, _ in probes]
    assert len(labels) == len(set(labels))
    complexes = [atoms for label, atoms in probes if "monomer" not in label]
    monomers = [atoms for label, atoms in probes if "monomer" in label]
    assert len(complexes) == 22
    formulas = [m.get_chemical_formula() for m in monomers]
    assert len(formulas) == len(set(formulas))
    # ANI-1x covers H, C, N and O only: every molecule must be within them
    assert {s for _, a in probes for s in a.get_chemical_symbols()} <= {"H", "C", "N", "O"}


def test_cost_takes_medians_per_structure_and_per_atom() -> None:
    calls = [
        {"structure": "a", "atoms": 10, "wall_s": 1.0, "cpu_s": 0.5},
        {"structure": "b", "atoms": 20, "wall_s": 4.0, "cpu_s": 2.0},
        {"structure": "c", "atoms": 40, "wall_s": 2.0, "cpu_s": 1.0},
    ]
    found = bench.cost({"model_load_s": 3.0, "calls": calls})
    assert found["median_wall_s_per_structure"] == 2.0
    assert found["median_wall_s_per_atom"] == pytest.approx(0.1)  # 0.1, 0.2, 0.05
    assert found["total_wall_s"] == 7.0
    assert found["total_cpu_s"] == 3.5
    assert found["atoms_embedded"] == 70


def _rows(model: str, features: np.ndarray, groups: list[float]) -> list[EmbeddingRow]:
    """One row per structure, 7 variants each (its features scaled by 1.00-1.06, as strain
    moves an embedding a little), whose chemistry is ``groups``."""
    scales = [1.0 + 0.01 * j for j in range(7)]
    rows = []
    for k, group in enumerate(groups):
        data = {
            "features": [list(features[k] * s) for s in scales],
            "variants": [f"scale_{s:g}" for s in scales],
            "targets": {"volume_strain": [s - 1.0 for s in scales], "shear": [0.0] * 7},
            "chemistry": {"group": group, "period": 1.0 + k % 3, "electronegativity": None},
            "elements": [f"E{k}"],
        }
        rows.append(EmbeddingRow(model, model, f"s{k}", f"E{k}", f"{model}/{k}", data))
    return rows


def test_plain_kfold_reads_a_random_table_while_grouped_folds_do_not() -> None:
    rng = np.random.default_rng(0)
    groups = [float(g) for g in rng.integers(1, 19, 30)]
    # wider than there are structures, as the models' 64 for 31 crystals: a linear read-out can
    # then give every structure it was shown any value (recognise it)
    rows = _rows("random", rng.normal(size=(30, 64)), groups)
    found = bench.fold_contrast(rows)["random"]
    assert "electronegativity" not in found  # no value: not probed
    # each structure's copies sit on both sides of a plain fold: recognising it is enough
    assert found["group"]["plain"] > 0.9
    assert found["group"]["grouped"] < 0.3


def test_tables_name_every_model_and_target() -> None:
    body = {
        "probes": {
            "targets": ["group"],
            "r2": {"A": {"group": {"mean": 0.5, "std": 0.1, "n": 8}}, "B": {"group": None}},
            "gain": {"A": {"group": 0.7}, "B": {"group": None}},
            "random_twin": {"A": "B", "B": None},
        },
        "cka": {"models": ["A", "B"], "matrix": [[1.0, 0.3], [0.3, 1.0]]},
    }
    probes = bench.probe_table(body)
    assert probes[2] == "| A | B | 0.50 ± 0.10 | +0.70 |"
    assert probes[3] == "| B | — | n/a | n/a |"
    assert bench.cka_table(body)[2] == "| A | 1.00 | 0.30 |"
