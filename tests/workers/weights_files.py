"""Random-weight models of real architectures, written to disk exactly as their published
weights are distributed: matgl's ``model.json``/``model.pt``/``state.pt`` directory and
ANI-2x's NeuroChem ``ani-2x_8x`` directory. Used to show the download-only families work once
an admin supplies the files."""

from __future__ import annotations

import bz2
import itertools
import struct
from pathlib import Path

import numpy as np
import pytest

from workers.adapters.ani2x import ANI2X_SPECIES, CONSTANTS_FILE, ENSEMBLE_SIZE, SAE_FILE

#: ANI-2x's AEV constants (the published rHCNOSFCl-5.1R_16-3.5A_a8-4.params).
ANI2X_CONSTANTS = """TM = 1
Rcr = 5.1000e+00
Rca = 3.5000e+00
EtaR = [1.9700000e+01]
ShfR = [8.0000000e-01,1.0687500e+00,1.3375000e+00,1.6062500e+00,1.8750000e+00,2.1437500e+00,2.4125000e+00,2.6812500e+00,2.9500000e+00,3.2187500e+00,3.4875000e+00,3.7562500e+00,4.0250000e+00,4.2937500e+00,4.5625000e+00,4.8312500e+00]
Zeta = [1.4100000e+01]
ShfZ = [3.9269908e-01,1.1780972e+00,1.9634954e+00,2.7488936e+00]
EtaA = [1.2500000e+01]
ShfA = [8.0000000e-01,1.1375000e+00,1.4750000e+00,1.8125000e+00,2.1500000e+00,2.4875000e+00,2.8250000e+00,3.1625000e+00]
Atyp = [H,C,N,O,S,F,Cl]
"""  # noqa: E501
#: AEV length: 16 radial terms x 7 species + 8 x 4 angular terms x 28 species pairs.
AEV_LENGTH = 16 * 7 + 8 * 4 * 28
HIDDEN = (64, 48)  # smaller than ANI-2x's (256, 192, 160) for speed; same file format
SAE = {"H": -0.5978, "C": -38.0362, "N": -54.6728, "O": -75.1631, "S": -398.1, "F": -99.8,
       "Cl": -460.1}  # fmt: skip


def _nnf_layer(el: str, index: int, n_in: int, n_out: int, activation: int) -> str:
    name = f"ANN-{el}.nnf-l{index}"
    return (
        f"layer [\nnodes={n_out};\nactivation={activation};\ntype=0;\nblocksize={n_in};\n"
        f"weights=FILE:{name}.wparam[{n_in * n_out}];\nbiases=FILE:{name}.bparam[{n_out}];\n]\n"
    )


def write_ani2x_dir(root: Path, seed: int = 0) -> Path:
    """A random-weight ANI-2x ensemble in NeuroChem's format (the model zoo's layout)."""
    rng = np.random.default_rng(seed)
    directory = root / "ani-2x_8x"
    directory.mkdir(parents=True)
    (directory / CONSTANTS_FILE).write_text(ANI2X_CONSTANTS)
    (directory / SAE_FILE).write_text(
        "".join(f"{el},{i}={SAE[el]}\n" for i, el in enumerate(ANI2X_SPECIES))
    )
    sizes = (AEV_LENGTH, *HIDDEN, 1)
    for member in range(ENSEMBLE_SIZE):
        networks = directory / f"train{member}" / "networks"
        networks.mkdir(parents=True)
        for el in ANI2X_SPECIES:
            layers = ""
            for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes), 1):
                layers += _nnf_layer(el, k, n_in, n_out, 9 if n_out > 1 else 6)  # CELU, linear
                w = rng.normal(0, 1 / np.sqrt(n_in), n_in * n_out)
                (networks / f"ANN-{el}.nnf-l{k}.wparam").write_bytes(struct.pack(f"{w.size}f", *w))
                b = rng.normal(0, 0.1, n_out)
                (networks / f"ANN-{el}.nnf-l{k}.bparam").write_bytes(struct.pack(f"{b.size}f", *b))
            text = f"inputsize={AEV_LENGTH};\natom_net {el} $\n{layers}$\n"
            (networks / f"ANN-{el}.nnf").write_bytes(b"1114=\n" + bz2.compress(text.encode()))
    return directory


def write_m3gnet_dir(directory: Path) -> Path:
    """A random-weight M3GNet potential saved as matgl publishes its pretrained ones."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("matgl")
    from matgl.apps.pes import Potential
    from matgl.models import M3GNet

    torch.manual_seed(3)
    model = M3GNet(element_types=("Cu", "O", "Si"), is_intensive=False, units=16, nblocks=2,
                   dim_node_embedding=16, dim_edge_embedding=16)  # fmt: skip
    refs = np.array([-3.0, -4.5, -5.0])
    # data_std scales the untrained output up to forces of order 0.1 eV/Å.
    Potential(model=model, data_std=200.0, element_refs=refs).save(str(directory))
    return directory
