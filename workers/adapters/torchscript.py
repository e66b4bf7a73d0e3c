"""Any potential exported as a TorchScript file (deployed NequIP/Allegro-style models, or
any ``torch.jit.script``-ed module) that follows this platform's calling convention.

The calling convention
----------------------
The scripted module's ``forward`` takes four tensors and returns the total energy::

    forward(positions: Tensor[N, 3], numbers: Tensor[N] (int64), cell: Tensor[3, 3],
            pbc: Tensor[3] (bool)) -> Tensor[]    # energy in eV, positions and cell in Å

``positions`` and ``cell`` have the model's dtype (``params["dtype"]``, default float64);
rows of ``cell`` are the lattice vectors. Forces are ``-dE/dpositions`` by autograd; the
stress (periodic cells only) is ``(1/V) dE/dε`` for a homogeneous strain ``ε`` applied to
positions and cell together, so the module must build periodic images from ``cell``.

A file may also export ``embeddings(positions, numbers, cell, pbc) -> Tensor[N, D]``
(``@torch.jit.export``): per-atom features before its readout, which the ``representation``
benchmark reads (``workers.adapters.embeddings``).

Loading uses ``torch.jit.load``, which does not unpickle arbitrary Python objects: the file's
code is TorchScript, run by torch's interpreter. So this family needs no trust flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from shared_kernel.failures import BenchmarkSetupError
from workers.adapters.model_files import TRUSTED_PARAM, artifact_file
from workers.adapters.registry import ModelSpec, register
from workers.adapters.torch_support import check_params, import_or_setup_error

DTYPES = ("float64", "float32")
ARGUMENTS = ("positions", "numbers", "cell", "pbc")


def supported_elements(spec: ModelSpec) -> frozenset[str] | None:
    """``params["elements"]`` if given (a TorchScript file does not declare its elements)."""
    elements = spec.params.get("elements")
    return frozenset(elements) if elements else None


class TorchScriptCalculator(Calculator):
    """ASE calculator around a scripted module that follows the calling convention above.

    Energies in eV, forces in eV/Å, stress in eV/Å³ (ASE's Voigt order).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

    def __init__(self, module: Any, *, dtype: str = "float64", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        import torch

        self.torch_dtype = getattr(torch, dtype)
        self.module = module.to(self.torch_dtype).eval()

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties or ["energy"], system_changes)
        import torch

        assert self.atoms is not None
        want_stress = "stress" in (properties or ())
        if want_stress and not self.atoms.pbc.all():
            raise PropertyNotImplementedError("stress needs a cell periodic in all 3 directions")
        kind = {"dtype": self.torch_dtype}
        positions = torch.tensor(self.atoms.positions, **kind, requires_grad=True)
        cell = torch.tensor(np.asarray(self.atoms.cell), **kind)
        strain = torch.zeros((3, 3), **kind, requires_grad=True)
        deformation = torch.eye(3, **kind) + strain
        energy = self.module(
            positions @ deformation,
            torch.tensor(self.atoms.numbers, dtype=torch.int64),
            cell @ deformation,
            torch.tensor(self.atoms.pbc, dtype=torch.bool),
        )
        grad_positions, grad_strain = torch.autograd.grad(energy, [positions, strain])
        self.results["energy"] = self.results["free_energy"] = float(energy.detach())
        self.results["forces"] = -grad_positions.detach().cpu().numpy().astype(float)
        if want_stress:
            virial = grad_strain.detach().cpu().numpy().astype(float)
            stress = 0.5 * (virial + virial.T) / self.atoms.get_volume()
            self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]]


def _load(path: Path) -> Any:
    torch = import_or_setup_error("torch", family="torchscript")
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as exc:
        raise BenchmarkSetupError(
            f"{path.name} is not a TorchScript file (torch.jit.load failed: {str(exc)[:200]}); "
            "export the model with torch.jit.script(model).save(path)"
        ) from exc


def _check_signature(spec: ModelSpec, module: Any) -> None:
    try:
        arguments = [a.name for a in module.forward.schema.arguments][1:]  # drop self
    except AttributeError:
        arguments = []
    if len(arguments) != len(ARGUMENTS):
        raise BenchmarkSetupError(
            f"model {spec.name!r} (torchscript): forward takes {arguments}, but the calling "
            f"convention is forward{ARGUMENTS} -> energy (see workers/adapters/torchscript.py)"
        )


@register(
    "torchscript",
    supported_elements=supported_elements,
    provides_stress=True,
    packages=("torch",),
    description="An uploaded TorchScript potential (torch.jit.load, no unpickling); "
    "forward(positions, numbers, cell, pbc) -> energy; forces and stress by autograd (CPU).",
)
def make_torchscript(spec: ModelSpec) -> Calculator:
    """A calculator for the uploaded TorchScript file of ``spec`` on CPU.

    ``params``: ``dtype`` (``"float64"`` default, or ``"float32"``), ``elements`` (the
    symbols the model supports).

    Raises
    ------
    BenchmarkSetupError
        If torch is missing, there is no file, it is not TorchScript, or its ``forward``
        does not take the four tensors of the calling convention.
    """
    check_params(spec, {"dtype", "elements", TRUSTED_PARAM})
    dtype = str(spec.params.get("dtype", "float64"))
    if dtype not in DTYPES:
        raise BenchmarkSetupError(
            f"model {spec.name!r} (torchscript): params['dtype'] = {dtype!r}; use one of {DTYPES}"
        )
    path = artifact_file(spec)
    module = _load(path)
    _check_signature(spec, module)
    return TorchScriptCalculator(module, dtype=dtype)
