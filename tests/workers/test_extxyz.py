"""The frames' extended XYZ text (workers.tasks.extxyz) against ASE's own writer, byte for byte."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms
from ase.io import read, write
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from workers.benchmarks._frames import snapshot
from workers.benchmarks.base import FrameSet
from workers.benchmarks.eos import EosParams, run_eos
from workers.benchmarks.md_stability import MdStabilityParams, run_md_stability
from workers.benchmarks.nve import NveParams, run_nve
from workers.benchmarks.relax import RelaxParams, run_relax
from workers.tasks import extxyz
from workers.tasks.artifacts import _extxyz


def _ase(frames: list[Atoms] | tuple[Atoms, ...]) -> str:
    text = io.StringIO()
    write(text, list(frames), format="extxyz")
    return text.getvalue()


def _computed(atoms: Atoms, **info: Any) -> Atoms:
    atoms.calc = EMT()
    atoms.get_forces()
    atoms.get_stress()
    return snapshot(atoms, **info)


def test_the_benchmarks_frames_are_written_as_ase_writes_them() -> None:
    """Frame sets as the benchmarks make them (scan points, optimisation steps, MD states with
    momenta, the state a ramp ended in), rendered here and by ASE: the same bytes."""
    copper = bulk("Cu", "fcc", a=3.61)
    frame_sets = [
        *run_eos(copper, EMT(), EosParams(n_points=7)).frame_sets,
        *run_relax(copper, EMT(), RelaxParams(supercell=1, seeds=(0,), max_steps=30)).frame_sets,
        *run_nve(bulk("Al"), EMT(), NveParams(timestep_fs=2.0, duration_ps=0.1)).frame_sets,
        *run_md_stability(
            copper, EMT(), MdStabilityParams(min_atoms=4, nvt_ramp_ps=0.02, npt_ramp_ps=0.02)
        ).frame_sets,
    ]
    names = {frame_set.name for frame_set in frame_sets}
    assert {"eos_structures", "relaxation", "trajectory"} <= names, names
    assert any("momenta" in f.arrays for fs in frame_sets for f in fs.frames)
    for frame_set in frame_sets:
        fast = extxyz.render(frame_set.frames)
        assert fast is not None, frame_set.name  # the fast path covers what benchmarks keep
        assert fast == _ase(frame_set.frames), frame_set.name
        assert _extxyz(frame_set) == fast.encode()


def test_scalars_vectors_cells_and_missing_results_as_ase() -> None:
    rng = np.random.default_rng(7)
    crystal = bulk("Cu", "fcc", a=3.61).repeat((2, 1, 1))
    crystal.symbols[1] = "Au"
    crystal.rattle(0.05, seed=3)
    crystal.cell[0, 1] = 0.123456789e-7  # tiny and large numbers, in a sheared cell
    MaxwellBoltzmannDistribution(crystal, temperature_K=300, rng=rng)
    water = molecule("H2O")  # no cell: no Lattice, pbc F F F
    frames = [
        _computed(crystal.copy(), step=3, time_ps=np.float64(0.25), converged=True),
        _computed(
            crystal.copy(),
            label="a run's 'final' state",  # quoted: spaces and quotes
            flag=np.bool_(False),
            count=np.int64(-12),
            single=np.float32(0.1),
            vector=np.array([1.5e-20, -3.0, 2.5e16]),
            singles=np.array([0.1, 0.2], dtype=np.float32),
            ints=np.array([1, 2, 3]),
            mask=np.array([True, False]),
            scalar_array=np.array(4.25),
            bool_array=np.array(True),
            single_array=np.array(np.float32(0.1)),  # numpy prints 0.1, f"{}" 0.10000000149...
            halves=np.array([0.1, 0.3], dtype=np.float16),
            int_array=np.array(-7),
            virial=rng.normal(size=(3, 3)),
            empty="",
        ),
        _computed(crystal.copy(), **{"\tfirst": "tabs and other spaces, stripped by ASE"}),
        snapshot(_pbc_first(water.copy(), last="x\u2003")),
        water,  # no calculator
        snapshot(_with_results(water.copy(), energy=-14.2), index=0),  # energy only
        _with_results(crystal.copy(), stress=rng.normal(size=(3, 3))),  # a 3x3 stress
    ]
    crystal_with_stress = crystal.copy()
    crystal_with_stress.info["stress"] = rng.normal(size=6)  # an info stress, no calculator
    frames.append(crystal_with_stress)
    for frame in frames:
        assert extxyz.render([frame]) == _ase([frame])
    text = extxyz.render(frames)
    assert text == _ase(frames)
    back = read(io.StringIO(text), index=":", format="extxyz")
    assert len(back) == len(frames)
    assert back[0].get_potential_energy() == pytest.approx(frames[0].get_potential_energy())
    np.testing.assert_allclose(back[0].get_momenta(), frames[0].get_momenta(), atol=1e-8)


def _pbc_first(atoms: Atoms, **info: Any) -> Atoms:
    """``pbc`` already in info keeps its place, so the last pair is another one."""
    atoms.info["pbc"] = True
    atoms.info.update(info)
    return atoms


def _with_results(atoms: Atoms, **results: Any) -> Atoms:
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


@pytest.mark.parametrize(
    "unusual",
    [
        "constraint",
        "tags",
        "magmoms result",
        "dict info",
        "list info",
        "None info",
        "matrix info",
        "text array info",
        "float stress info",
        "result named like info",
        "subclass",
        "no atoms",  # ASE types the empty species column as reals
        "masked info",
        "masked 0-d info",
        "integer positions",
        "calculator without results",
        "non-text info key",
    ],
)
def test_anything_else_goes_to_ases_writer(unusual: str) -> None:
    """What the fast rendering does not know it leaves to ASE (None), and the stored frames
    are then ASE's text."""
    frame = _computed(bulk("Cu", "fcc", a=3.61).repeat(2), step=1)
    if unusual == "constraint":
        frame.set_constraint(FixAtoms(indices=[0]))
    elif unusual == "tags":
        frame.set_tags(1)
    elif unusual == "magmoms result":
        frame.calc.results["magmoms"] = np.zeros(len(frame))
    elif unusual == "dict info":
        frame.info["params"] = {"a": 1}
    elif unusual == "list info":
        frame.info["steps"] = [1, 2]
    elif unusual == "None info":
        frame.info["note"] = None
    elif unusual == "matrix info":
        frame.info["matrix"] = np.eye(2)
    elif unusual == "text array info":
        frame.info["labels"] = np.array(["a", "b"])
    elif unusual == "float stress info":
        frame = bulk("Cu", "fcc", a=3.61)
        frame.info["stress"] = 1.0
    elif unusual == "result named like info":
        frame.info["energy"] = 1.0
    elif unusual == "subclass":
        frame = _Tagged(frame)
    elif unusual == "no atoms":
        frame = Atoms()
    elif unusual == "masked info":
        frame.info["masked"] = np.ma.array([1.0, 2.0], mask=[0, 1])
    elif unusual == "masked 0-d info":
        frame.info["masked"] = np.ma.array(1.0, mask=True)
    elif unusual == "integer positions":
        frame.arrays["positions"] = np.zeros((len(frame), 3), dtype=int)
    elif unusual == "calculator without results":
        frame.calc = object()
    elif unusual == "non-text info key":
        frame.info[1] = 2.0
    assert extxyz.render([frame]) is None
    frame_set = FrameSet("path", (frame,), "")
    try:
        expected = _ase([frame]).encode()
    except (KeyError, AttributeError, ValueError, TypeError) as error:
        # ASE refuses it: so does the store
        with pytest.raises(type(error)):
            _extxyz(frame_set)
    else:
        assert _extxyz(frame_set) == expected


class _Tagged(Atoms):
    """An Atoms subclass (its arrays may hold more than the writer here knows)."""
