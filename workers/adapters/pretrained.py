"""Model records of the pretrained universal MLIPs whose weights ship in their wheels, and of
the random-weight controls of their architectures (``control_models``).

Building the records imports no torch: parameter counts and elements are documented
constants, checked against the loaded models by ``tests/workers/test_mlip_adapters.py``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from workers.adapters.ani import ANI1X_ELEMENTS, ENSEMBLE_SIZE
from workers.adapters.baselines import BaselineModel
from workers.adapters.diep import MATPES_ELEMENTS, MATPES_R2SCAN_N_STRUCTURES
from workers.adapters.torch_support import MPTRJ_ELEMENTS, MPTRJ_N_STRUCTURES

CHGNET_PAPER = (
    "B. Deng, P. Zhong, K. Jun, J. Riebesell, K. Han, C. J. Bartel and G. Ceder, "
    "Nat. Mach. Intell. 5, 1031 (2023), doi:10.1038/s42256-023-00716-3"
)
SEVENNET_PAPER = (
    "Y. Park, J. Kim, S. Hwang and S. Han, J. Chem. Theory Comput. 20, 4857 (2024), "
    "doi:10.1021/acs.jctc.4c00190"
)
DIEP_PAPER = (
    "S. A. Tawfik, T. M. Nguyen, S. P. Russo, T. Tran, S. Gupta and S. Venkatesh, "
    "Digital Discovery (2024), doi:10.1039/D4DD00246F"
)
MATPES_PAPER = "A. D. Kaplan et al., arXiv:2503.04070 (2025)"
ANI1X_PAPER = (
    "J. S. Smith, B. Nebgen, N. Lubbers, O. Isayev and A. E. Roitberg, "
    "J. Chem. Phys. 148, 241733 (2018), doi:10.1063/1.5023802"
)
ANI1X_DATA_PAPER = (
    "J. S. Smith, R. Zubatyuk, B. Nebgen, N. Lubbers, K. Barros, A. E. Roitberg, O. Isayev "
    "and S. Tretiak, Sci. Data 7, 134 (2020), doi:10.1038/s41597-020-0473-z"
)
ANI1X_DATA_URL = "https://doi.org/10.1038/s41597-020-0473-z"
#: Parameter counts of the bundled checkpoints (CHGNet.n_params; sum of the other models'
#: tensors, ANI-1x over its 8 networks).
N_PARAMETERS = {
    "CHGNet-0.3.0": 412_525,
    "SevenNet-0": 842_623,
    "DIEP-r2SCAN": 403_181,
    "ANI-1x": 2_613_280,
    "CHGNet-random-weights": 412_525,  # CHGNet() defaults: 0.3.0's architecture
}
#: The seed of the random-weight CHGNet control (``params["random_weights_seed"]``).
CONTROL_SEED = 0
CONTROL_CAVEAT = (
    "A control, not a potential: CHGNet 0.3.0's architecture (CHGNet() with its default "
    "hyper-parameters) with random weights drawn from torch.manual_seed({seed}); only the "
    "per-element reference energies of its composition model come from MPtrj. Its energies, "
    "forces and stresses are meaningless; it exists to show what the representation "
    "benchmark reads from an untrained embedding, which a trained model must beat."
)


MPTRJ_COUNTS_FILE = "mptrj-element-counts-by-occurrence.json"
MPTRJ_COUNTS_SOURCE = (
    "https://github.com/janosh/matbench-discovery/blob/main/site/src/routes/data/"
    "mp-trj-element-counts-by-occurrence.json"
)


MATPES_COUNTS_FILE = "matpes-r2scan-element-counts-by-occurrence.json"
MATPES_COUNTS_SOURCE = "https://github.com/materialyzeai/matpes/blob/main/pages/r2scan_stats.json"


def _element_counts(filename: str) -> dict[str, int]:
    text = resources.files("workers").joinpath("data", filename).read_text("utf-8")
    return {symbol: int(n) for symbol, n in json.loads(text).items()}


def mptrj_element_counts() -> dict[str, int]:
    """MPtrj frames containing each element (``workers/data/README.md`` gives the source)."""
    return _element_counts(MPTRJ_COUNTS_FILE)


def matpes_r2scan_element_counts() -> dict[str, int]:
    """MatPES-R2SCAN-2025.1 structures containing each element, as the MatPES authors publish
    them (``workers/data/README.md`` gives the source)."""
    return _element_counts(MATPES_COUNTS_FILE)


def _mptrj() -> dict[str, Any]:
    counts = mptrj_element_counts()
    assert set(counts) == MPTRJ_ELEMENTS, "the MPtrj counts and element list disagree"
    return {
        "name": "MPtrj",
        "level_of_theory": "PBE/PBE+U",
        "description": (
            "Materials Project relaxation trajectories (GGA/GGA+U, MP2020 corrections): "
            "145,923 compounds, 89 elements. Element counts: frames containing each element, "
            "published by Matbench Discovery (MIT licence)"
        ),
        "n_structures": MPTRJ_N_STRUCTURES,
        "element_counts": counts,
        "url": MPTRJ_COUNTS_SOURCE,
    }


def _matpes_r2scan() -> dict[str, Any]:
    counts = matpes_r2scan_element_counts()
    assert set(counts) == MATPES_ELEMENTS, "the MatPES counts and element list disagree"
    return {
        "name": "MatPES (r2SCAN)",
        "level_of_theory": "r2SCAN",
        "description": (
            "MatPES-R2SCAN-2025.1, split 90/5/5 (349,107 / 19,395 / 19,395 structures); "
            f"dataset: {MATPES_PAPER}. Element counts: structures of the whole release "
            "containing each element, published by the MatPES authors (BSD-3-Clause)"
        ),
        "n_structures": MATPES_R2SCAN_N_STRUCTURES,
        "element_counts": counts,
        "url": MATPES_COUNTS_SOURCE,
    }


def _diep() -> BaselineModel:
    card = {
        "authors": "Sherif Abdulkader Tawfik, Tri Minh Nguyen, Salvy P. Russo, Truyen Tran, "
        "Sunil Gupta, Svetha Venkatesh",
        "paper": DIEP_PAPER,
        "code": "https://github.com/materialsalchemist/diep",
        "license": "BSD-3-Clause (diep package)",
        "openness": "open code, open weights, open training data",
        "description": "Graph network embedding the electron-ion potential; export diep_fold1 "
        "(MatPES r2SCAN, fold 1) bundled with diep.",
        "n_parameters": N_PARAMETERS["DIEP-r2SCAN"],
        "training_data": _matpes_r2scan(),
        "requirements": {"torch": "2.13.0", "diep": ">=2.0.0"},
    }
    elements = sorted(MATPES_ELEMENTS)
    return BaselineModel(
        "DIEP-r2SCAN", "2.0.0-fold1", "diep", {"model": "diep_fold1"}, card, elements,
        is_baseline=False,
    )  # fmt: skip


def _ani1x() -> BaselineModel:
    card = {
        "authors": "Justin S. Smith, Ben Nebgen, Nicholas Lubbers, Olexandr Isayev, "
        "Adrian E. Roitberg",
        "paper": ANI1X_PAPER,
        "code": "https://github.com/aiqm/torchani",
        "license": "MIT (torchani package)",
        "openness": "open code, open weights, open training data",
        "description": f"ANI-1x ensemble of {ENSEMBLE_SIZE} networks for organic molecules "
        "(H, C, N, O); NeuroChem files bundled with torchani.",
        "n_parameters": N_PARAMETERS["ANI-1x"],
        "training_data": {
            "name": "ANI-1x",
            "level_of_theory": "wB97X/6-31G(d)",
            "description": "Active-learning sampled conformations of small organic molecules; "
            f"dataset: {ANI1X_DATA_PAPER}. Element list only: no published per-element "
            "counts found",
            "n_structures": 4_956_005,
            "elements": dict.fromkeys(sorted(ANI1X_ELEMENTS)),
            "url": ANI1X_DATA_URL,
        },
        "requirements": {"torch": "2.13.0", "torchani": ">=2.2.4", "setuptools": "<81"},
    }
    elements = sorted(ANI1X_ELEMENTS)
    return BaselineModel(
        "ANI-1x", "8x", "ani1x", {}, card, elements, is_baseline=False
    )  # fmt: skip


def pretrained_models() -> list[BaselineModel]:
    """The built-in pretrained MLIP records: CHGNet 0.3.0, SevenNet-0 (11 Jul 2024), DIEP
    (r2SCAN, MatPES) and ANI-1x (wB97X/6-31G(d), molecules of H, C, N, O).

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
        _diep(),
        _ani1x(),
    ]


def control_models() -> list[BaselineModel]:
    """The built-in controls: ``CHGNet-random-weights``, CHGNet 0.3.0's architecture with
    random weights (seed :data:`CONTROL_SEED`), for the ``representation`` benchmark.

    Kept apart from :func:`pretrained_models` so that nothing that picks the packaged MLIPs
    by family (the demo, the adapter tests) picks a control as a potential.

    Returns
    -------
    list[BaselineModel]
        Records with ``is_baseline=False`` (a baseline is a classical potential given as a
        floor to beat; a control is no potential at all), family ``chgnet``, params
        ``{"random_weights_seed": 0}``, the MPtrj elements (those of the architecture's
        composition model) and a card saying it is a control.
    """
    card = {
        "authors": "Bowen Deng, Peichen Zhong, KyuJung Jun, Janosh Riebesell, Kevin Han, "
        "Christopher J. Bartel, Gerbrand Ceder",
        "paper": CHGNET_PAPER,
        "code": "https://github.com/CederGroupHub/chgnet",
        "license": "BSD-3-Clause (Modified BSD, chgnet package)",
        "description": "Control: random weights of CHGNet 0.3.0's architecture "
        f"(seed {CONTROL_SEED}); not a potential. The paper and code are the architecture's.",
        "n_parameters": N_PARAMETERS["CHGNet-random-weights"],
        "hyperparameters": {
            "architecture": "CHGNet() defaults (those of the 0.3.0 checkpoint)",
            "random_weights_seed": CONTROL_SEED,
        },
        "requirements": {"torch": "2.13.0", "chgnet": ">=0.4.2"},
        "caveat": CONTROL_CAVEAT.format(seed=CONTROL_SEED),
    }
    return [
        BaselineModel(
            "CHGNet-random-weights",
            f"0.3.0-seed{CONTROL_SEED}",
            "chgnet",
            {"random_weights_seed": CONTROL_SEED},
            card,
            sorted(MPTRJ_ELEMENTS),
            is_baseline=False,
        )
    ]
