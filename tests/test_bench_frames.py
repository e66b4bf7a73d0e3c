"""bench/frames.py at its smallest size: one timing of one rendering per frame set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ase.build import bulk

from bench import frames as bench
from workers.benchmarks.base import FrameSet


def test_every_benchmarks_frames_are_timed_after_the_bytes_agree(tmp_path: Path) -> None:
    out = tmp_path / "frames.json"
    bench.main(["--repeats", "1", "--loops", "1", "--out", str(out)])
    rows = json.loads(out.read_text())["frame_sets"]
    assert [(r["frame_set"], r["frames"]) for r in rows[:2]] == [
        ("eos_structures", 7),
        ("eos_structures", 15),
    ]
    assert {r["frame_set"] for r in rows} >= {"relaxation", "trajectory"}
    for row in rows:
        assert row["bytes"] > 0
        assert row["atoms"] >= 1
        assert min(row["ase_ms"], row["platform_ms"], row["floor_ms"]) > 0


def test_a_rendering_that_differs_from_ases_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one frame is enough to be refused (the benchmarks' own sets take seconds to make)
    copper = bulk("Cu", "fcc", a=3.61)
    monkeypatch.setattr(bench, "frame_sets", lambda: [FrameSet("one", (copper,))])
    monkeypatch.setattr(bench, "_extxyz", lambda frame_set: b"1\nnot what ASE writes\n")
    with pytest.raises(SystemExit, match="differs from ASE's"):
        bench.main(["--repeats", "1", "--loops", "1", "--out", str(tmp_path / "f.json")])
