"""Per-atom embeddings of the models that expose them, for maps of a model's own feature space.

- MACE (and any calculator with MACE's ``get_descriptors``): the invariant node descriptors.
- CHGNet: ``CHGNet.predict_structure(..., return_atom_feas=True)["atom_fea"]``, the atom
  features after the last interaction block (64 per atom for 0.3.0).
- SevenNet: the node features ``"x"`` the model's forward pass leaves in its output (those the
  energy readout reads).

Every other model returns None: classical potentials (EMT, LJ, Morse) have no embedding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator


def atom_embeddings(calc: Calculator, atoms: Atoms) -> np.ndarray | None:
    """Per-atom features (N, D) of ``atoms`` under ``calc``'s model, or None if it has none.

    Parameters
    ----------
    calc
        The model's ASE calculator, as an adapter built it.
    atoms
        The configuration (a non-periodic one needs a cell for CHGNet and SevenNet).

    Returns
    -------
    numpy.ndarray or None
        One row per atom; None for models without an embedding.
    """
    describe: Any = getattr(calc, "get_descriptors", None)
    if callable(describe):  # MACE's calculator
        return np.asarray(describe(atoms, invariants_only=True), dtype=float)
    kind = type(calc).__name__
    if kind == "CHGNetCalculator":
        from pymatgen.io.ase import AseAtomsAdaptor

        structure = AseAtomsAdaptor.get_structure(atoms)
        found = calc.model.predict_structure(structure, return_atom_feas=True)  # type: ignore[attr-defined]
        return np.asarray(found["atom_fea"], dtype=float)
    if kind == "SevenNetCalculator":
        from sevenn.atom_graph_data import AtomGraphData
        from sevenn.train.dataload import unlabeled_atoms_to_graph

        graph = unlabeled_atoms_to_graph(atoms, calc.cutoff, with_shift=False)  # type: ignore[attr-defined]
        data = AtomGraphData.from_numpy_dict(graph)
        data.to(calc.device)  # type: ignore[attr-defined]
        output = calc.model(data)  # type: ignore[attr-defined]
        return np.asarray(output["x"].detach().cpu().numpy(), dtype=float)
    return None


def embedding_source(calc: Calculator) -> str:
    """Where :func:`atom_embeddings` reads the features of ``calc`` (for the map's settings)."""
    if callable(getattr(calc, "get_descriptors", None)):
        return "get_descriptors(invariants_only=True)"
    return {
        "CHGNetCalculator": "CHGNet atom_fea (return_atom_feas=True)",
        "SevenNetCalculator": "SevenNet node features 'x'",
    }.get(type(calc).__name__, "none")
