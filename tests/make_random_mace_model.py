"""Write a small random-weights MACE ``.model`` file (a whole pickled ScaleShiftMACE, as
``mace_run_train`` saves them). Run with the mace worker environment's Python:

    .venv-mace/bin/python tests/make_random_mace_model.py OUT.model [Cu Al ...] [--seed N]

Random weights: no physics, only the file-loading and worker-routing paths are exercised.
"""

from __future__ import annotations

import sys

import mace  # noqa: F401  # import mace before e3nn (see DEPENDENCIES.md)
import numpy as np
import torch
from ase.data import atomic_numbers
from e3nn import o3
from mace import modules


def build(symbols: list[str], seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    torch.set_default_dtype(torch.float64)
    z = sorted(atomic_numbers[s] for s in symbols)
    model = modules.ScaleShiftMACE(
        r_max=4.5,
        num_bessel=4,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticInteractionBlock"],
        num_interactions=2,
        num_elements=len(z),
        hidden_irreps=o3.Irreps("8x0e + 8x1o"),
        MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=np.array([-3.0 - 0.1 * i for i in range(len(z))]),
        avg_num_neighbors=12.0,
        atomic_numbers=z,
        correlation=2,
        gate=torch.nn.functional.silu,
        radial_MLP=[16, 16],
        atomic_inter_scale=1.0,
        atomic_inter_shift=0.0,
    )
    return model.to(torch.float64)


def main(argv: list[str]) -> None:
    seed = 0
    if "--seed" in argv:
        at = argv.index("--seed")
        seed = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    out, symbols = argv[0], argv[1:] or ["Cu", "Al"]
    torch.save(build(symbols, seed), out)  # the whole module, as MACE .model files are
    print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
