"""Runs store their frames as artifacts: a real worker runs NVE (and EOS) with EMT on Cu, writes
the trajectory to the artifact store as extended XYZ, and the API lists and streams it.

The frames are checked against ASE's EMT itself (an independent evaluation of the energies and
forces at the stored positions), and against the run's stored potential-energy series."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.db.tables import Run, RunArtifact
from backend.domain.statuses import RunStatus
from backend.repositories import dispatch as dispatch_repo
from backend.services import queue
from tests.live import wait_until
from tests.run_artifacts_stack import SMALL_NVE, ArtifactStack, artifact_stack
from workers.benchmarks._frames import MAX_FRAMES, FrameRecorder
from workers.benchmarks.base import FrameSet
from workers.tasks.artifacts import store_frames


@pytest.fixture(scope="module")
def stack(engine: Engine, bootstrapped: None) -> Iterator[ArtifactStack]:
    with artifact_stack(engine) as started:
        yield started


@pytest.fixture(scope="module")
def runs(stack: ArtifactStack) -> dict[str, dict[str, Any]]:
    finished = stack.finished_runs(SMALL_NVE, {"key": "eos"})
    for run in finished.values():
        assert run["status"] == "succeeded", run
    return finished


def _frames(content: bytes) -> list[Atoms]:
    frames = read(io.StringIO(content.decode()), index=":", format="extxyz")
    assert isinstance(frames, list)
    return frames


def _download(stack: ArtifactStack, run_id: str, name: str) -> tuple[bytes, dict[str, Any]]:
    with stack.http() as http:
        response = http.get(f"/runs/{run_id}/artifacts/{name}")
    assert response.status_code == 200, response.text
    return response.content, dict(response.headers)


def _key(engine: Engine, run_id: str, name: str) -> str:
    with Session(engine) as session:
        key = session.scalar(
            select(RunArtifact.key).where(
                RunArtifact.run_id == uuid.UUID(run_id), RunArtifact.name == name
            )
        )
    assert key is not None
    return key


def test_an_nve_run_stores_its_trajectory_and_the_api_serves_it(
    stack: ArtifactStack, runs: dict[str, dict[str, Any]], engine: Engine
) -> None:
    run_id = runs["nve"]["id"]
    with stack.http() as http:
        page = http.get(f"/runs/{run_id}/artifacts").json()
        detail = http.get(f"/runs/{run_id}").json()
    assert page["total"] == 1
    assert page["limit"] == 100
    assert page["offset"] == 0
    listed = page["items"][0]
    assert listed["name"] == "trajectory"
    assert listed["media_type"] == "chemical/x-extxyz"
    assert 2 <= listed["n_frames"] <= MAX_FRAMES
    assert [a["name"] for a in detail["artifacts"]] == ["trajectory"]
    assert "artifact_errors" not in detail["provenance"]

    content, headers = _download(stack, run_id, "trajectory")
    assert headers["content-type"] == "chemical/x-extxyz"
    assert f'filename="run-{run_id}-trajectory.extxyz"' in headers["content-disposition"]
    assert len(content) == listed["size_bytes"]
    assert hashlib.sha256(content).hexdigest() == listed["sha256"] == headers["x-content-sha256"]
    key = _key(engine, run_id, "trajectory")
    assert key == f"runs/{run_id}/attempt-1/trajectory.extxyz"  # a store key, not a host path
    assert (stack.store / key).read_bytes() == content

    frames = _frames(content)
    assert len(frames) == listed["n_frames"]
    assert all(len(f) == len(frames[0]) == 8 for f in frames)  # the 8-atom supercell
    cu = bulk("Cu", "fcc", a=3.61)
    assert frames[0].get_volume() / 8 == pytest.approx(cu.get_volume(), rel=0.02)
    for frame in frames:  # every frame's energy and forces are EMT's at its positions
        again = frame.copy()
        again.calc = EMT()
        assert frame.get_potential_energy() == pytest.approx(again.get_potential_energy(), abs=1e-6)
        np.testing.assert_allclose(frame.get_forces(), again.get_forces(), atol=1e-5)
    # The frames sample the first seed's trajectory, whose potential energy is a stored series.
    series = {s["name"]: s for s in detail["series"]}["potential_energy"]
    times = [f.info["time_ps"] for f in frames]
    assert times == sorted(times)
    assert times[0] == 0.0
    assert times[-1] == series["x"][-1]
    by_time = dict(zip(series["x"], series["y"], strict=True))
    for frame in frames:
        energy_per_atom = frame.get_potential_energy() / len(frame)
        assert energy_per_atom == pytest.approx(by_time[frame.info["time_ps"]], abs=1e-9)
    assert len({round(e.get_potential_energy(), 8) for e in frames}) > len(frames) // 2  # moves


def test_the_trajectory_export_returns_the_stored_frames_or_the_input(
    stack: ArtifactStack, runs: dict[str, dict[str, Any]]
) -> None:
    nve, eos = runs["nve"]["id"], runs["eos"]["id"]
    content, _ = _download(stack, nve, "trajectory")
    with stack.http() as http:
        exported = http.get(f"/exports/runs/{nve}/trajectory")
        fallback = http.get(f"/exports/runs/{eos}/trajectory")
        eos_files = http.get(f"/runs/{eos}/artifacts").json()
    assert exported.status_code == 200
    assert exported.content == content
    assert "x-export-note" not in exported.headers
    # EOS keeps its strained structures, but no trajectory: the export is the input structure.
    assert [a["name"] for a in eos_files["items"]] == ["eos_structures"]
    assert eos_files["items"][0]["n_frames"] == 11
    assert fallback.status_code == 200
    assert "input structure" in fallback.headers["x-export-note"]
    assert len(_frames(fallback.content)) == 1
    strained, _ = _download(stack, eos, "eos_structures")
    volumes = [f.get_volume() for f in _frames(strained)]
    assert volumes == sorted(volumes)
    assert volumes[-1] / volumes[0] == pytest.approx(1.2 / 0.8, rel=1e-6)  # +-20 % (default)


def test_missing_runs_and_artifacts_are_404_with_the_standard_body(
    stack: ArtifactStack, runs: dict[str, dict[str, Any]]
) -> None:
    run_id, unknown = runs["nve"]["id"], str(uuid.uuid4())
    with stack.http() as http:
        no_name = http.get(f"/runs/{run_id}/artifacts/nothing")
        no_run = http.get(f"/runs/{unknown}/artifacts/trajectory")
        no_list = http.get(f"/runs/{unknown}/artifacts")
        no_export = http.get(f"/exports/runs/{unknown}/trajectory")
    for response in (no_name, no_run, no_list, no_export):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["request_id"]
    assert "'nothing'" in no_name.json()["error"]["message"]
    assert "trajectory" in no_name.json()["error"]["message"]  # what the run has
    for response in (no_run, no_list, no_export):
        assert unknown in response.json()["error"]["message"]


def _rerun(stack: ArtifactStack, engine: Engine, run_id: str, attempt: int) -> dict[str, Any]:
    """Send the finished run to the worker again (as a redelivered message would after a lost
    result); wait until the given attempt has succeeded."""
    with Session(engine) as session:
        session.execute(
            update(Run).where(Run.id == uuid.UUID(run_id)).values(status=RunStatus.QUEUED)
        )
        session.commit()
        queue.enqueue(dispatch_repo.dispatch_rows(session, [uuid.UUID(run_id)]))

    def done() -> dict[str, Any] | None:
        with stack.http() as http:
            run: dict[str, Any] = http.get(f"/runs/{run_id}").json()
        return run if run["attempt"] == attempt and run["status"] == "succeeded" else None

    return wait_until(done, 120, f"attempt {attempt} of run {run_id}")


def test_a_retried_run_keeps_one_artifact_per_name_and_a_failed_write_keeps_the_metrics(
    stack: ArtifactStack, runs: dict[str, dict[str, Any]], engine: Engine
) -> None:
    run_id = runs["nve"]["id"]
    first, _ = _download(stack, run_id, "trajectory")
    attempt = runs["nve"]["attempt"]
    # The store cannot take this attempt's file: a plain file sits where its folder goes.
    blocked = stack.store / "runs" / run_id / f"attempt-{attempt + 1}"
    blocked.write_bytes(b"")
    failed_write = _rerun(stack, engine, run_id, attempt + 1)
    assert "trajectory" in failed_write["provenance"]["artifact_errors"]
    assert {m["name"] for m in failed_write["metrics"]} >= {"energy_drift", "energy_fluctuation"}
    assert [a["name"] for a in failed_write["artifacts"]] == ["trajectory"]  # attempt 1's file
    assert _download(stack, run_id, "trajectory")[0] == first

    retried = _rerun(stack, engine, run_id, attempt + 2)
    assert "artifact_errors" not in retried["provenance"]
    with stack.http() as http:
        page = http.get(f"/runs/{run_id}/artifacts").json()
    assert page["total"] == 1
    assert _key(engine, run_id, "trajectory").endswith(f"/attempt-{attempt + 2}/trajectory.extxyz")
    again, _ = _download(stack, run_id, "trajectory")
    # Same seeds, same model, same code: the retried attempt wrote the very same file.
    assert hashlib.sha256(again).hexdigest() == page["items"][0]["sha256"]
    assert again == first


def test_a_store_that_cannot_be_written_is_reported_per_artifact(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "store"
    not_a_directory.write_text("a file where the store should be")
    frames = FrameSet("trajectory", (bulk("Cu"),))
    stored = store_frames(uuid.uuid4(), 1, [frames], store_url=not_a_directory.as_uri())
    assert stored.rows == []
    assert set(stored.provenance["artifact_errors"]) == {"trajectory"}
    written = store_frames(uuid.uuid4(), 1, [frames], store_url=(tmp_path / "ok").as_uri())
    assert [row.n_frames for row in written.rows] == [1]
    assert written.provenance == {}


@pytest.mark.parametrize("offered", [1, 150, 201, 1000, 5000])
def test_the_frame_recorder_keeps_evenly_spaced_frames_within_its_bound(offered: int) -> None:
    atoms = bulk("Cu", cubic=True)
    recorder = FrameRecorder(max_frames=50)
    for step in range(offered):
        atoms.positions[0, 0] = step * 1e-3
        recorder.offer(atoms, step=step)
    kept = recorder.frame_set("path", final=atoms).frames
    steps = [f.info.get("step") for f in kept]
    assert 1 <= len(kept) <= 50
    assert steps[0] == 0
    assert kept[-1].positions[0, 0] == pytest.approx((offered - 1) * 1e-3)  # ends at the end
    gaps = np.diff([s for s in steps if s is not None][: len(kept) - 1])
    assert len(set(gaps.tolist())) <= 1  # evenly spaced (the final state may follow closer)
    if offered >= 50:
        assert len(kept) >= 25  # thinning halves at most once past the bound
