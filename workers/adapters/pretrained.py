"""Model records of the pretrained universal MLIPs whose weights ship in their wheels.

Building the records imports no torch: parameter counts and elements are documented
constants, checked against the loaded models by ``tests/workers/test_mlip_adapters.py``.
"""

from __future__ import annotations

from typing import Any

from workers.adapters.baselines import BaselineModel
from workers.adapters.torch_support import MPTRJ_ELEMENTS, MPTRJ_N_STRUCTURES

CHGNET_PAPER = (
    "B. Deng, P. Zhong, K. Jun, J. Riebesell, K. Han, C. J. Bartel and G. Ceder, "
    "Nat. Mach. Intell. 5, 1031 (2023), doi:10.1038/s42256-023-00716-3"
)
SEVENNET_PAPER = (
    "Y. Park, J. Kim, S. Hwang and S. Han, J. Chem. Theory Comput. 20, 4857 (2024), "
    "doi:10.1021/acs.jctc.4c00190"
)
#: Parameter counts of the bundled checkpoints (CHGNet.n_params; sum of SevenNet's tensors).
N_PARAMETERS = {"CHGNet-0.3.0": 412_525, "SevenNet-0": 842_623}


def _mptrj() -> dict[str, Any]:
    return {
        "name": "MPtrj",
        "level_of_theory": "PBE/PBE+U",
        "description": (
            "Materials Project relaxation trajectories (GGA/GGA+U, MP2020 corrections): "
            "145,923 compounds, 89 elements"
        ),
        "n_structures": MPTRJ_N_STRUCTURES,
        # Per-element counts are not shipped with either package; only coverage is known.
        "elements": dict.fromkeys(sorted(MPTRJ_ELEMENTS)),
    }


def pretrained_models() -> list[BaselineModel]:
    """The built-in pretrained MLIP records: CHGNet 0.3.0 and SevenNet-0 (11 Jul 2024).

    Returns
    -------
    list[BaselineModel]
        Records with ``is_baseline=False``; their families need the ``mlip`` extra to run.
    """
    elements = sorted(MPTRJ_ELEMENTS)
    chgnet_card = {
        "authors": "Bowen Deng, Peichen Zhong, KyuJung Jun, Janosh Riebesell, Kevin Han, "
        "Christopher J. Bartel, Gerbrand Ceder",
        "paper": CHGNET_PAPER,
        "code": "https://github.com/CederGroupHub/chgnet",
        "license": "BSD-3-Clause (Modified BSD, chgnet package)",
        "openness": "open code, open weights, open training data",
        "description": "Crystal Hamiltonian graph neural network with magnetic moments; "
        "weights bundled with chgnet.",
        "n_parameters": N_PARAMETERS["CHGNet-0.3.0"],
        "training_data": _mptrj(),
        "requirements": {"torch": "2.13.0", "chgnet": ">=0.4.2"},
    }
    sevennet_card = {
        "authors": "Yutack Park, Jaesun Kim, Seungwoo Hwang, Seungwu Han",
        "paper": SEVENNET_PAPER,
        "code": "https://github.com/MDIL-SNU/SevenNet",
        "license": "MIT (sevenn package)",
        "openness": "open code, open weights, open training data",
        "description": "Scalable E(3)-equivariant message passing (NequIP architecture); "
        "checkpoint SevenNet_0__11Jul2024 bundled with sevenn.",
        "n_parameters": N_PARAMETERS["SevenNet-0"],
        "training_data": _mptrj(),
        "requirements": {"torch": "2.13.0", "sevenn": ">=0.13.0"},
    }
    return [
        BaselineModel(
            "CHGNet-0.3.0",
            "0.3.0",
            "chgnet",
            {"model": "0.3.0"},
            chgnet_card,
            elements,
            is_baseline=False,
        ),
        BaselineModel(
            "SevenNet-0",
            "11Jul2024",
            "sevennet",
            {"model": "7net-0"},
            sevennet_card,
            elements,
            is_baseline=False,
        ),
    ]
