"""Evaluate one ORB or MatterSim checkpoint through the platform's adapter, inside the orb
worker environment, and print what the test in the main environment asserts on (JSON):

    .venv-orb/bin/python tests/orb_env_check.py FAMILY '{"weights_path": ..., ...}'

Energy, forces and stress of a rattled two-atom Cu cell, the central differences of the
energy for two force components and two stress components, torch's default dtype before and
after loading, the declared properties and the package versions.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk

#: Central-difference steps: positions in Å, strains dimensionless (per precision).
STEPS = {"float64": (1e-3, 1e-4), "float32": (1e-2, 2e-3)}


def numerical_force(calc: Any, atoms: Atoms, atom: int, axis: int, step: float) -> float:
    energies = []
    for sign in (1, -1):
        trial = atoms.copy()
        trial.positions[atom, axis] += sign * step
        trial.calc = calc
        energies.append(trial.get_potential_energy())
    return float(-(energies[0] - energies[1]) / (2 * step))


def numerical_stress(calc: Any, atoms: Atoms, i: int, j: int, step: float) -> float:
    """(1/V) dE/d(strain_ij), as ASE defines stress (eV/Å³), for a symmetric strain."""
    energies = []
    for sign in (1, -1):
        strain = np.eye(3)
        strain[i, j] += sign * step / (1 if i == j else 2)
        strain[j, i] = strain[i, j]
        trial = atoms.copy()
        trial.set_cell(atoms.cell @ strain, scale_atoms=True)
        trial.calc = calc
        energies.append(trial.get_potential_energy())
    return float((energies[0] - energies[1]) / (2 * step * atoms.get_volume()))


def check(family: str, params: dict[str, Any]) -> dict[str, Any]:
    import torch

    from workers.adapters.registry import ADAPTERS, ModelSpec, load_all, make_calculator

    load_all()
    dtype_before = str(torch.get_default_dtype())
    spec = ModelSpec(family, f"check-{family}", params=params)
    calc = make_calculator(spec)
    dtype_after = str(torch.get_default_dtype())
    atoms = bulk("Cu", "fcc", a=3.6, orthorhombic=True)
    atoms.rattle(0.1, seed=3)
    atoms.calc = calc
    energy, forces, stress = (atoms.get_potential_energy(), atoms.get_forces(),
                              atoms.get_stress(voigt=False))  # fmt: skip
    position_step, strain_step = STEPS["float64" if "64" in str(params.get("precision")) else
                                       "float32"]  # fmt: skip
    return {
        "dtype_before": dtype_before,
        "dtype_after": dtype_after,
        "energy_ev": float(energy),
        "forces_shape": list(forces.shape),
        "max_force_ev_a": float(np.abs(forces).max()),
        "forces": [
            [float(forces[a, x]), numerical_force(calc, atoms, a, x, position_step)]
            for a, x in ((0, 0), (1, 2))
        ],
        "stress": [
            [float(stress[i, j]), numerical_stress(calc, atoms, i, j, strain_step)]
            for i, j in ((0, 0), (1, 2))
        ],
        "position_step_a": position_step,
        "provides_stress": ADAPTERS[family].provides_stress,
        "packages": ADAPTERS[family].package_versions(),
    }


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    print(json.dumps(check(sys.argv[1], json.loads(sys.argv[2]))))
