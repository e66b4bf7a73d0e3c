"""What storing a run's frames costs in the pool process: their extended XYZ text.

Makes the frame sets the benchmarks keep (eos scan points, a relaxation path, NVE and MD
stability trajectories with momenta; EMT on fcc Cu, Al) and times, per frame set, ASE's writer
(``ase.io.write(..., format="extxyz")``) against what a worker stores
(``workers.tasks.artifacts._extxyz``: ``workers.tasks.extxyz`` where it applies), median of
``--repeats`` timings of ``--loops`` renderings each, after checking that both give the same
bytes. The floor beside them: joining the already formatted text of the same frames.

    python -m bench.frames --out bench/results/frames.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ase.build import bulk
from ase.calculators.emt import EMT

from workers.benchmarks.base import FrameSet
from workers.benchmarks.eos import EosParams, run_eos
from workers.benchmarks.md_stability import MdStabilityParams, run_md_stability
from workers.benchmarks.nve import NveParams, run_nve
from workers.benchmarks.relax import RelaxParams, run_relax
from workers.tasks import extxyz
from workers.tasks.artifacts import _extxyz


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loops", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("bench/results/frames.json"))
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"frame_sets": [], "load_average": list(os.getloadavg())}
    for frame_set in frame_sets():
        text = extxyz.ase_text(frame_set.frames)
        if _extxyz(frame_set) != text.encode():
            raise SystemExit(f"{frame_set.name}: the stored text differs from ASE's")
        ase_ms = _timed(lambda fs=frame_set: extxyz.ase_text(fs.frames), args)
        platform_ms = _timed(lambda fs=frame_set: _extxyz(fs), args)
        lines = text.splitlines(keepends=True)
        floor_ms = _timed(lambda lines=lines: "".join(lines).encode(), args)
        n = len(frame_set.frames)
        row = {
            "frame_set": frame_set.name,
            "frames": n,
            "atoms": len(frame_set.frames[0]),
            "bytes": len(text),
            "ase_ms": round(ase_ms, 4),
            "platform_ms": round(platform_ms, 4),
            "floor_ms": round(floor_ms, 4),
            "ase_us_per_frame": round(1000 * ase_ms / n, 1),
            "platform_us_per_frame": round(1000 * platform_ms / n, 1),
            "speedup": round(ase_ms / platform_ms, 2),
        }
        figures["frame_sets"].append(row)
        print(json.dumps(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")


def frame_sets() -> list[FrameSet]:
    copper = bulk("Cu", "fcc", a=3.61)
    return [
        *run_eos(copper, EMT(), EosParams(n_points=7)).frame_sets,
        *run_eos(copper, EMT(), EosParams(n_points=15)).frame_sets,
        *run_relax(copper, EMT(), RelaxParams(seeds=(0,))).frame_sets,
        *run_nve(bulk("Al"), EMT(), NveParams(duration_ps=0.2)).frame_sets,
        *run_md_stability(
            copper, EMT(), MdStabilityParams(nvt_ramp_ps=0.1, npt_ramp_ps=0.1)
        ).frame_sets[:1],
    ]


def _timed(work: Callable[[], object], args: argparse.Namespace) -> float:
    """Median ms of one call over ``args.repeats`` timings of ``args.loops`` calls."""
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.loops):
            work()
        times.append((time.perf_counter() - start) / args.loops)
    return 1000 * statistics.median(times)


if __name__ == "__main__":
    main()
