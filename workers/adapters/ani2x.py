"""ANI-2x (Devereux et al. 2020): an ensemble of 8 networks for molecules of H, C, N, O, S,
F and Cl, trained on wB97X/6-31G(d) data, built with torchani from its NeuroChem files.

torchani 2.2.4 has ANI-2x's architecture but not its weights: ``torchani.models.ANI2x()``
downloads the ani-model-zoo release into ``torchani/resources/ani-2x_8x`` (the wheel ships
only empty placeholders there). Here nothing is downloaded: the directory ``ani-2x_8x`` of
that release must be on disk (see ``workers.adapters.weights``): ``params["weights_path"]``
set to it, uploaded as a ``.tar.gz``/``.zip`` model file, or unpacked over torchani's
placeholders. It holds the AEV constants ``rHCNOSFCl-5.1R_16-3.5A_a8-4.params``, the
self-atomic energies ``sae_linfit.dat`` and ``train0`` .. ``train7/networks/ANN-<el>.nnf``
with their ``.wparam``/``.bparam`` files. These are plain text and raw float32 arrays: no
pickle is involved.
"""

from __future__ import annotations

from pathlib import Path

from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.ani import neurochem_ensemble
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import check_params, import_or_setup_error
from workers.adapters.weights import WEIGHTS_PARAM, locate_directory

#: Species of ANI-2x, in its network order.
ANI2X_SPECIES = ("H", "C", "N", "O", "S", "F", "Cl")
ANI2X_ELEMENTS = frozenset(ANI2X_SPECIES)
ENSEMBLE_SIZE = 8
CONSTANTS_FILE = "rHCNOSFCl-5.1R_16-3.5A_a8-4.params"
SAE_FILE = "sae_linfit.dat"
#: Every file of the ``ani-2x_8x`` directory the ensemble is built from.
REQUIRED_FILES = (
    CONSTANTS_FILE,
    SAE_FILE,
    *(f"train{i}/networks/ANN-{el}.nnf" for i in range(ENSEMBLE_SIZE) for el in ANI2X_SPECIES),
)
MODEL_ZOO = "https://github.com/aiqm/ani-model-zoo (release ani-2x, directory ani-2x_8x)"


def supported_elements(spec: ModelSpec) -> frozenset[str]:
    """H, C, N, O, S, F and Cl: the species of ANI-2x."""
    return ANI2X_ELEMENTS


def _placeholders() -> Path | None:
    """torchani's own ``resources/ani-2x_8x`` (empty placeholders unless unpacked over)."""
    try:
        torchani = import_or_setup_error("torchani", family="ani2x")
    except BenchmarkSetupError:
        return None
    return Path(str(torchani.__file__)).parent / "resources" / "ani-2x_8x"


def resource_dir(spec: ModelSpec) -> Path:
    """The ``ani-2x_8x`` directory; raises BenchmarkSetupError naming its files if absent."""
    check_params(spec, {WEIGHTS_PARAM})
    return locate_directory(
        spec,
        required=REQUIRED_FILES,
        fallback=_placeholders(),
        what=f"ANI-2x NeuroChem files from {MODEL_ZOO}",
        listing=f"{CONSTANTS_FILE}, {SAE_FILE} and train0 .. train7/networks/ANN-<el>.nnf "
        "with their .wparam/.bparam files, for <el> in H, C, N, O, S, F, Cl,",
    )


@register(
    "ani2x",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch", "torchani"),
    description="ANI-2x (8-network ensemble, wB97X/6-31G(d)) for H, C, N, O, S, F, Cl "
    "molecules; NeuroChem files from local disk or an uploaded archive (CPU).",
)
def make_ani2x(spec: ModelSpec) -> Calculator:
    """ANI-2x ensemble calculator on CPU, in float64.

    ``params``: ``weights_path`` (the ``ani-2x_8x`` directory, or an archive of it).
    Energies in eV, forces in eV/Å (torchani converts from Hartree); stress for periodic
    cells.

    Raises
    ------
    BenchmarkSetupError
        If torchani is not installed, the NeuroChem files are not on disk (the message names
        them), or they do not describe ANI-2x's seven species.
    """
    return neurochem_ensemble(
        resource_dir(spec), CONSTANTS_FILE, family="ani2x", model=spec.name, species=ANI2X_SPECIES
    )
