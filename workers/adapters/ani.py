"""ANI-1x (Smith et al. 2018): an ensemble of 8 networks for organic molecules of H, C, N
and O, trained on wB97X/6-31G(d) data, built from the NeuroChem files inside the torchani
wheel.

``torchani.models.ANI1x()`` would download the ani-model-zoo archive (its bundled ``.info``
files are empty); here the ensemble is assembled from the bundled ``resources/ani-1x_8x``
directory directly, so nothing is downloaded. torchani 2.2.4 imports ``pkg_resources``:
install ``setuptools<81`` beside it.
"""

from __future__ import annotations

from pathlib import Path

from ase.calculators.calculator import Calculator

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import check_params, import_or_setup_error, torch_globals_kept

ANI1X_ELEMENTS = frozenset({"H", "C", "N", "O"})
ENSEMBLE_SIZE = 8
#: Files of the ensemble, relative to ``torchani/resources/ani-1x_8x``.
CONSTANTS_FILE = "rHCNO-5.2R_16-3.5A_a4-8.params"
SAE_FILE = "sae_linfit.dat"
ENSEMBLE_NAMES = {"ani1x": "ANI-1x", "ani2x": "ANI-2x"}


def supported_elements(spec: ModelSpec) -> frozenset[str]:
    """H, C, N and O: the only species of ANI-1x."""
    return ANI1X_ELEMENTS


def resource_dir() -> Path:
    """Where torchani keeps the ANI-1x NeuroChem files; raises BenchmarkSetupError if absent."""
    torchani = import_or_setup_error("torchani", family="ani1x")
    directory = Path(str(torchani.__file__)).parent / "resources" / "ani-1x_8x"
    needed = [directory / CONSTANTS_FILE, directory / SAE_FILE]
    needed += [directory / f"train{i}" / "networks" for i in range(ENSEMBLE_SIZE)]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise BenchmarkSetupError(
            f"ANI-1x's NeuroChem files are missing and are never downloaded here: provide "
            f"{missing[0]} (reinstall torchani 2.2.4, whose wheel ships them)"
        )
    return directory


@register(
    "ani1x",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch", "torchani"),
    description="ANI-1x (8-network ensemble, wB97X/6-31G(d)) for H, C, N, O molecules; "
    "built from the files bundled with torchani (CPU).",
)
def make_ani1x(spec: ModelSpec) -> Calculator:
    """ANI-1x ensemble calculator on CPU, in float64.

    Energies in eV, forces in eV/Å (torchani converts from Hartree); stress for periodic
    cells.

    Raises
    ------
    BenchmarkSetupError
        If torchani is not installed (or cannot import ``pkg_resources``) or its bundled
        files are missing.
    """
    check_params(spec, set())
    return neurochem_ensemble(resource_dir(), CONSTANTS_FILE, family="ani1x")


def neurochem_ensemble(
    directory: Path,
    constants_file: str,
    *,
    family: str,
    model: str | None = None,
    species: tuple[str, ...] | None = None,
) -> Calculator:
    """The ASE calculator of the ANI ensemble in a NeuroChem ``directory`` (constants file,
    ``sae_linfit.dat``, ``train0..7``), on CPU in float64.

    With ``species`` (files a user provided, for ``model``): unreadable files, or constants
    listing other species, are a BenchmarkSetupError naming them.
    """
    with torch_globals_kept():
        import torch

        models = import_or_setup_error("torchani.models", family=family)
        neurochem = import_or_setup_error("torchani.neurochem", family=family)
        try:
            consts = neurochem.Constants(str(directory / constants_file))
            shifter, sae = neurochem.load_sae(str(directory / SAE_FILE), return_dict=True)
            networks = neurochem.load_model_ensemble(
                consts.species, str(directory / "train"), ENSEMBLE_SIZE
            )
        except Exception as exc:  # lark, struct and bz2 each raise their own on a bad file
            if species is None:
                raise
            raise BenchmarkSetupError(
                f"model {model!r} ({family}): the NeuroChem files in {directory} cannot be "
                f"read: {exc.__class__.__name__}: {str(exc)[:200]}"
            ) from exc
        if species is not None and tuple(consts.species) != species:
            raise BenchmarkSetupError(
                f"model {model!r} ({family}): {constants_file} lists species "
                f"{list(consts.species)}, not {ENSEMBLE_NAMES[family]}'s {list(species)}"
            )
        ensemble = models.BuiltinEnsemble(
            models.SpeciesConverter(consts.species),
            models.AEVComputer(**consts),
            networks,
            shifter,
            consts.species_to_tensor,
            consts,
            sae,
            periodic_table_index=True,
        ).to(torch.float64)
        calc: Calculator = ensemble.ase()
    return calc
