"""Frames a benchmark keeps for download: snapshots of the structures it visited, thinned so
that their number stays bounded however long the run.

A snapshot copies the atoms (positions, cell, momenta) and whatever the calculator has
already computed for exactly that geometry; it never asks the calculator for anything, so
recording frames cannot change a benchmark's numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from workers.benchmarks.base import FrameSet

#: Most frames one frame set holds (a run's artifact stays well below a few MB for 100 atoms).
MAX_FRAMES = 200
#: Calculator results a frame keeps (what extended XYZ writes and reads back).
KEPT_RESULTS = ("energy", "free_energy", "forces", "stress")


def snapshot(atoms: Atoms, **info: Any) -> Atoms:
    """A copy of ``atoms`` with the calculator's results for its geometry, and ``info`` added.

    Only results computed for these very positions and this cell are kept (the calculator's
    ``check_state`` is empty); nothing is computed. Energies in eV, forces in eV/Å, stress
    in eV/Å³ (Voigt order, as ASE).
    """
    frame = atoms.copy()
    frame.info.update(info)
    calc = atoms.calc
    check_state = getattr(calc, "check_state", None)
    results = getattr(calc, "results", None)
    if check_state is not None and results and not check_state(atoms):
        kept = {k: np.array(results[k], copy=True) for k in KEPT_RESULTS if k in results}
        if kept:
            frame.calc = SinglePointCalculator(frame, **kept)
    return frame


class FrameRecorder:
    """Keeps every ``stride``-th offered state, at most ``max_frames`` in all.

    When the frames would exceed the bound, every other one is dropped and the stride
    doubles, so the kept frames stay evenly spaced (step 0, s, 2s, ...) in a stream of any
    length, and memory holds at most ``max_frames`` snapshots. ``expected`` (the number of
    states that will be offered, when known) sets the first stride so that nothing is
    thinned later.
    """

    def __init__(self, max_frames: int = MAX_FRAMES, *, expected: int | None = None) -> None:
        if max_frames < 2:
            raise ValueError(f"max_frames must be at least 2, got {max_frames}")
        self.max_frames = max_frames
        self.stride = 1
        if expected is not None and expected > max_frames - 1:
            self.stride = -(-(expected - 1) // (max_frames - 2))  # ceil; room for the last
        self._kept: list[tuple[int, Atoms]] = []
        self._offered = 0

    def offer(self, atoms: Atoms, **info: Any) -> None:
        """Offer the current state of ``atoms``; kept if its index falls on the stride."""
        index = self._offered
        self._offered += 1
        if index % self.stride:
            return
        self._kept.append((index, snapshot(atoms, **info)))
        if len(self._kept) > self.max_frames - 1:  # one place is left for the final state
            self.stride *= 2
            self._kept = [(i, f) for i, f in self._kept if i % self.stride == 0]

    def frame_set(
        self, name: str, *, final: Atoms | None = None, description: str = "", **info: Any
    ) -> FrameSet:
        """The kept frames as a ``FrameSet``, ending with ``final`` (the state the run ended
        in, e.g. the step at which a trajectory failed) unless it is the last frame kept."""
        frames = [frame for _, frame in self._kept]
        if final is not None and not (frames and _same_geometry(frames[-1], final)):
            frames.append(snapshot(final, **info))
        return FrameSet(name, tuple(frames), description)


def _same_geometry(a: Atoms, b: Atoms) -> bool:
    return (
        len(a) == len(b)
        and np.array_equal(a.positions, b.positions)
        and np.array_equal(a.cell.array, b.cell.array)
    )
