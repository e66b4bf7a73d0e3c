"""Per-atom embeddings of the models that expose them, for maps of a model's own feature space.

- MACE (and any calculator with MACE's ``get_descriptors``): the invariant node descriptors.
- CHGNet: ``CHGNet.predict_structure(..., return_atom_feas=True)["atom_fea"]``, the atom
  features after the last interaction block (64 per atom for 0.3.0).
- SevenNet: the node features ``"x"`` the model's forward pass leaves in its output (those the
  energy readout reads).
- ANI (torchani): each atom's AEV (atomic environment vector) from the model's own
  ``aev_computer``, after its species converter: the invariant descriptor its per-element
  networks read (384 per atom for ANI-1x).
- DIEP: the node features after the last graph block (``gc_<n_blocks>``), those its
  atom-wise readout reads (64 per atom for diep_fold1), from the model's
  ``predict_structure(..., return_features=True)`` on the calculator's own graph converter.

- TorchScript files (``workers.adapters.torchscript``): the module's ``embeddings`` method
  when the file exports one (``@torch.jit.export``), with ``forward``'s arguments, returning
  (N, D) per-atom features.

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
    if kind == "DIEPCalculator":
        return _diep_node_features(calc, atoms)
    if type(calc).__module__ == "torchani.ase":
        return _ani_aevs(calc, atoms)
    if kind == "TorchScriptCalculator":
        return _scripted_embeddings(calc, atoms)
    return None


def _scripted_embeddings(calc: Any, atoms: Atoms) -> np.ndarray | None:
    """A TorchScript model's exported ``embeddings(positions, numbers, cell, pbc)`` (the
    arguments of its ``forward``, see ``workers.adapters.torchscript``), or None when the file
    exports none."""
    import torch

    module = calc.module
    if not hasattr(module, "embeddings"):
        return None
    kind = {"dtype": calc.torch_dtype}
    with torch.no_grad():
        found = module.embeddings(
            torch.tensor(atoms.positions, **kind),
            torch.tensor(atoms.numbers, dtype=torch.int64),
            torch.tensor(np.asarray(atoms.cell), **kind),
            torch.tensor(atoms.pbc, dtype=torch.bool),
        )
    features = np.asarray(found.detach().cpu().numpy(), dtype=float)
    if features.shape[:1] != (len(atoms),) or features.ndim != 2:
        raise ValueError(
            f"the TorchScript model's embeddings() gave shape {features.shape}, not "
            f"({len(atoms)}, D): one row per atom"
        )
    return features


def _ani_aevs(calc: Any, atoms: Atoms) -> np.ndarray:
    """AEVs (N, D) of ``atoms`` under a torchani calculator, built as its ``calculate`` does."""
    import torch

    model = calc.model
    if calc.periodic_table_index:
        species = torch.tensor(atoms.get_atomic_numbers(), dtype=torch.long)
    else:
        species = calc.species_to_tensor(atoms.get_chemical_symbols())
    species = species.unsqueeze(0).to(calc.device)
    coordinates = torch.tensor(atoms.get_positions(), dtype=calc.dtype, device=calc.device)
    pbc = torch.tensor(atoms.get_pbc(), dtype=torch.bool, device=calc.device)
    with torch.no_grad():
        if bool(pbc.any()):
            import torchani

            cell = torch.tensor(atoms.get_cell(complete=True).array, dtype=calc.dtype)
            cell = cell.to(calc.device)
            coordinates = torchani.utils.map2central(cell, coordinates, pbc)
            converted = model.species_converter((species, coordinates.unsqueeze(0)))
            aevs = model.aev_computer(converted, cell=cell, pbc=pbc).aevs
        else:
            converted = model.species_converter((species, coordinates.unsqueeze(0)))
            aevs = model.aev_computer(converted).aevs
    return np.asarray(aevs[0].cpu().numpy(), dtype=float)


def _diep_node_features(calc: Any, atoms: Atoms) -> np.ndarray:
    """DIEP's node features (N, D) after its last graph block, on the calculator's graph."""
    import torch

    model = calc.potential.model
    layer = f"gc_{model.n_blocks}"
    wrapped = atoms.copy()
    wrapped.wrap()  # as DIEPCalculator.calculate does (exact under periodic boundaries)
    with torch.no_grad():
        found = model.predict_structure(
            wrapped,
            graph_converter=calc.graph_converter,
            output_layers=[layer],
            return_features=True,
        )
    return np.asarray(found[layer]["node_feat"].detach().cpu().numpy(), dtype=float)


def embedding_source(calc: Calculator) -> str:
    """Where :func:`atom_embeddings` reads the features of ``calc`` (for the map's settings)."""
    if callable(getattr(calc, "get_descriptors", None)):
        return "get_descriptors(invariants_only=True)"
    if type(calc).__module__ == "torchani.ase":
        return "ANI AEVs (aev_computer)"
    return {
        "CHGNetCalculator": "CHGNet atom_fea (return_atom_feas=True)",
        "SevenNetCalculator": "SevenNet node features 'x'",
        "DIEPCalculator": "DIEP node features after the last graph block",
        "TorchScriptCalculator": "the TorchScript file's exported embeddings()",
    }.get(type(calc).__name__, "none")
