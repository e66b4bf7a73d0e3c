"""DIEP: a universal MLIP trained on MatPES at the r2SCAN level, whose weights ship in the
``diep`` wheel, so boards can set r2SCAN-trained models beside PBE-trained ones.

Only the bundled export (``diep/pretrained_models/diep_fold1``) is offered, so building the
calculator never touches the network. Needs the ``mlip`` extra (torch, diep).
"""

from __future__ import annotations

from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import check_params, import_or_setup_error, torch_globals_kept

#: The bundled export and its training data.
DEFAULT_MODEL = "diep_fold1"
#: Elements of DIEP's embedding (``model.element_types``), the 89 of MatPES: Z = 1-83, 89-94.
MATPES_ELEMENTS = frozenset(chemical_symbols[z] for z in (*range(1, 84), *range(89, 95)))
#: MatPES-r2SCAN structures DIEP was trained, validated and tested on (its PROVENANCE.json).
MATPES_R2SCAN_N_STRUCTURES = 349_107 + 19_395 + 19_395


def supported_elements(spec: ModelSpec) -> frozenset[str]:
    """The 89 elements of DIEP's embedding (MatPES)."""
    return MATPES_ELEMENTS


@register(
    "diep",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch", "diep"),
    description="DIEP, pretrained on MatPES r2SCAN; weights bundled with the diep package (CPU).",
)
def make_diep(spec: ModelSpec) -> Calculator:
    """DIEP calculator on CPU for the bundled model (``params["model"]``: ``"diep_fold1"``).

    Energies in eV, forces in eV/Å, stress in eV/Å³ (diep's ``make_calculator`` converts
    from GPa).

    Raises
    ------
    BenchmarkSetupError
        If diep is not installed, another model is asked for, or the bundled files are missing.
    """
    check_params(spec, {"model"})
    name = spec.params.get("model", DEFAULT_MODEL)
    if name != DEFAULT_MODEL:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (diep): params['model'] = {name!r}; only the bundled "
            f"{DEFAULT_MODEL!r} is offered (other DIEP exports would have to be uploaded)"
        )
    pretrained = import_or_setup_error("diep.pretrained", family="diep")
    with torch_globals_kept():
        try:
            calc: Calculator = pretrained.make_calculator(device="cpu", stress=True)
        except FileNotFoundError as exc:
            raise BenchmarkSetupError(
                f"DIEP's bundled model is missing: {exc}; provide the files model.json, "
                f"model.pt and state.pt in {pretrained.DEFAULT_MODEL_DIR} (reinstall diep)"
            ) from exc
    return calc
