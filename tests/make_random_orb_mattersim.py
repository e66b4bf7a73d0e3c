"""Write random-weight ORB v3 and MatterSim v1 checkpoints of the real architectures, saved
exactly as the published files are (same file names, same layout of contents). Run with the
orb worker environment's Python (``make install-orb``):

    .venv-orb/bin/python tests/make_random_orb_mattersim.py OUT_DIR [--seed N]
        [--orb MODEL] [--fit-eos SYMBOL]

- ``<MODEL>-20250404.ckpt`` (default ``orb-v3-conservative-inf-mpa``): the plain
  ``state_dict`` of orb-models' ``orb_v3_conservative_architecture``, which
  ``orb_models.forcefield.pretrained.load_model`` reads with ``torch.load(weights_only=True)``;
- ``mattersim-v1.0.0-1M.pth``: what ``mattersim.forcefield.potential.Potential.save`` writes
  (``model_name``, ``model`` state dict, ``model_args``, optimizer, EMA and scheduler states,
  ...) for MatterSim's ``M3Gnet`` with the 1M model's hyperparameters.

Random weights have no physics, and their E(V) is monotonic over an eos scan. With
``--fit-eos Cu``, each model is first loaded through the platform's adapter (the real loading
path) and then only the last linear layer of its energy readout is refitted, by least squares
on the random features, so that E(V) of ``ase.build.bulk(SYMBOL)`` scaled cells follows the
Birch-Murnaghan curve ``EOS_TARGET`` (V0 given relative to the cell's volume); the eos
benchmark must then recover V0 and B0. Forces stay minus the gradient of that energy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ORB_DEFAULT = "orb-v3-conservative-inf-mpa"
ORB_DATE = "20250404"
MATTERSIM_FILE = "mattersim-v1.0.0-1M.pth"
#: The curve E(V) per atom that --fit-eos imposes: V0 as a fraction of the cell's volume,
#: B0 in GPa, B0' and E0 in eV/atom.
EOS_TARGET = {"v0_fraction": 0.96, "b0_gpa": 140.0, "b0_prime": 5.0, "e0_ev": -3.5}
#: Volume factors of the fit: wider than the eos benchmark's default +-20 % scan.
FIT_FACTORS = tuple(0.76 + 0.06 * i for i in range(9))


def orb_file(model: str = ORB_DEFAULT) -> str:
    return f"{model}-{ORB_DATE}.ckpt"


def write_orb(path: Path, seed: int, model: str = ORB_DEFAULT) -> Path:
    import torch
    from orb_models.forcefield.atomic_system import SystemConfig
    from orb_models.forcefield.pretrained import orb_v3_conservative_architecture

    if not model.startswith("orb-v3-conservative-"):
        raise SystemExit(f"only orb-v3-conservative-* models are built here, not {model}")
    neighbours = 20 if "-20-" in model else 120
    torch.manual_seed(seed)
    net = orb_v3_conservative_architecture(
        device="cpu", system_config=SystemConfig(radius=6.0, max_num_neighbors=neighbours)
    )
    torch.save(net.state_dict(), path)
    return path


def write_mattersim(path: Path, seed: int) -> Path:
    import torch
    from mattersim.forcefield.m3gnet.m3gnet import M3Gnet
    from mattersim.forcefield.potential import Potential

    torch.manual_seed(seed)
    # MatterSim-v1.0.0-1M: 4 blocks of 128 units, 5 Å cutoff, 4 Å three-body cutoff, Z <= 94
    net = M3Gnet(num_blocks=4, units=128, max_l=4, max_n=4, cutoff=5.0, max_z=94,
                 threebody_cutoff=4.0, device="cpu")  # fmt: skip
    Potential(net, device="cpu").save(str(path))
    return path


def target_energy(volume_a3: float, cell_volume_a3: float) -> float:
    """EOS_TARGET's energy (eV/atom) at ``volume_a3`` (Å³/atom)."""
    from ase.eos import birchmurnaghan
    from ase.units import GPa

    t = EOS_TARGET
    v0 = t["v0_fraction"] * cell_volume_a3
    return float(birchmurnaghan(volume_a3, t["e0_ev"], t["b0_gpa"] * GPa, t["b0_prime"], v0))


def fit_readout(calc: Any, layer: Any, symbol: str) -> float:
    """Refit ``layer`` (the last ``nn.Linear`` of the energy readout, one output) so that the
    energy of one-atom ``bulk(symbol)`` cells follows EOS_TARGET. Everything after ``layer``
    is affine in its output, so E(V) = E_random(V) + c(V) (x(V) . dw + db), with x(V) the
    layer's input and c(V) probed by a unit step of the bias. Returns the largest residual
    (eV/atom) after the fit."""
    import numpy as np
    import torch
    from ase.build import bulk

    base = bulk(symbol)
    assert len(base) == 1, "the fit assumes a one-atom primitive cell"
    captured: list[Any] = []
    hook = layer.register_forward_hook(lambda _m, inp, _out: captured.append(inp[0].detach()))

    def energy(atoms: Any) -> float:
        calc.reset()
        atoms.calc = calc
        return float(atoms.get_potential_energy())

    rows, residuals, cells = [], [], []
    for factor in FIT_FACTORS:
        atoms = base.copy()
        atoms.set_cell(base.cell * factor ** (1 / 3), scale_atoms=True)
        captured.clear()
        e_random = energy(atoms)
        x = captured[0].reshape(-1).double().numpy()
        with torch.no_grad():
            layer.bias += 1.0
        c = energy(atoms) - e_random
        with torch.no_grad():
            layer.bias -= 1.0
        rows.append(c * np.append(x, 1.0))
        residuals.append(target_energy(atoms.get_volume(), base.get_volume()) - e_random)
        cells.append(atoms)
    hook.remove()
    a, r = np.array(rows), np.array(residuals)
    ridge = 1e-12 * np.trace(a.T @ a) / a.shape[1]
    step = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ r)
    with torch.no_grad():
        layer.weight += torch.as_tensor(step[:-1], dtype=layer.weight.dtype).reshape(1, -1)
        layer.bias += float(step[-1])
    return max(
        abs(energy(atoms) - target_energy(atoms.get_volume(), base.get_volume())) for atoms in cells
    )


def _last_linear(module: Any) -> Any:
    import torch

    return [m for m in module.modules() if isinstance(m, torch.nn.Linear)][-1]


def fit_files(out: Path, orb_model: str, symbol: str) -> None:
    """Load both files through the platform's adapters, refit their readouts, save again in
    the published layouts."""
    import torch

    from workers.adapters.registry import ModelSpec, load_all, make_calculator

    load_all()
    orb: Any = make_calculator(ModelSpec("orb", "fit", params={"weights_path": str(out),
                                                           "model": orb_model}))  # fmt: skip
    error = fit_readout(orb, _last_linear(orb.model.heads["energy"].mlp), symbol)
    torch.save(orb.model.state_dict(), out / orb_file(orb_model))
    print(f"orb readout fitted to the {symbol} EOS: max residual {error:.2e} eV/atom")
    sim: Any = make_calculator(ModelSpec("mattersim", "fit", params={"weights_path": str(out)}))
    error = fit_readout(sim, _last_linear(sim.potential.model.final.g), symbol)
    sim.potential.save(str(out / MATTERSIM_FILE))
    print(f"mattersim readout fitted to the {symbol} EOS: max residual {error:.2e} eV/atom")


def main(argv: list[str]) -> None:
    options = {"--seed": "0", "--orb": ORB_DEFAULT, "--fit-eos": ""}
    for key in options:
        if key in argv:
            at = argv.index(key)
            options[key] = argv[at + 1]
            argv = argv[:at] + argv[at + 2 :]
    out, seed, orb_model = Path(argv[0]), int(options["--seed"]), options["--orb"]
    out.mkdir(parents=True, exist_ok=True)
    print(write_orb(out / orb_file(orb_model), seed, orb_model))
    print(write_mattersim(out / MATTERSIM_FILE, seed))
    if options["--fit-eos"]:
        fit_files(out, orb_model, options["--fit-eos"])


if __name__ == "__main__":
    main(sys.argv[1:])
