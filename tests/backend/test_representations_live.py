"""The representation path a user takes: a campaign through the API, real workers running the
benchmark with CHGNet, its random-weight twin and EMT, the summary the workers ask for by
themselves once runs succeed, and GET /representations (private Postgres and Redis).

What must come out, known independently of the code:
- EMT has no latent space: its runs are skipped as ``no_representation``, not failed.
- The random twin's embedding table gives an element it never saw a vector independent of its
  chemistry, so with whole elements held out its probes of group, period and
  electronegativity cannot beat predicting the mean (R² below 0.1, in practice far below 0);
  trained CHGNet, whose embeddings order the elements chemically, must do clearly better.
- The twin's representation is not the trained one's: linear CKA well below 1.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from backend.cli.localservices import postgres_bindir
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from tests.backend.test_faults import FaultStack, fault_stack
from tests.factories import crystal_subset
from tests.live import wait_until

pytestmark = [
    pytest.mark.mlip,
    pytest.mark.skipif(
        postgres_bindir() is None or shutil.which("redis-server") is None,
        reason="needs Debian's postgresql and redis-server binaries",
    ),
]
pytest.importorskip("chgnet")

CRYSTALS = ("Li", "Na", "K", "Mg", "Ca", "Al", "Si", "Ge", "Ti", "V", "Fe", "Ni", "Cu", "Mo")
SET = "representation crystals"
TRAINED, TWIN = "CHGNet-0.3.0", "CHGNet-random-weights"
CHEMISTRY = ("group", "period", "electronegativity")


def _setup(session: Session) -> None:
    crystal_subset(session, SET, CRYSTALS)


@pytest.fixture(scope="module")
def summary() -> Iterator[tuple[FaultStack, dict[str, Any], Any]]:
    limits = {"MLIPM_RUN_SOFT_TIME_LIMIT_S": "240", "MLIPM_RUN_TIME_LIMIT_S": "300"}
    with fault_stack(_setup, limits) as stack:
        stack.start_worker()
        campaign = stack.admin.create_campaign(
            CampaignCreate(
                name="representations, live",
                models=[ModelRef(name=name) for name in (TRAINED, TWIN, "EMT")],
                benchmarks=[BenchmarkRef(key="representation")],
                structure_sets=[SET],
            )
        )
        finished = stack.wait_finished(campaign.id, timeout_s=900)
        succeeded = finished.progress.succeeded

        def summarized() -> dict[str, Any] | None:
            answer = httpx.get(f"{stack.api_url}/representations", timeout=10)
            if answer.status_code != 200:
                return None
            body: dict[str, Any] = answer.json()
            return body if body["n_runs"] == succeeded else None

        # no one asks: the workers send the summary themselves (debounced) after the runs
        body = wait_until(summarized, 300, "the workers' representation summary", 2)
        yield stack, body, finished


def test_emt_is_skipped_and_every_mlip_run_succeeds(
    summary: tuple[FaultStack, dict[str, Any], Any],
) -> None:
    stack, _, finished = summary
    runs = stack.admin.runs(campaign_id=str(finished.id))
    by_model: dict[str, set[tuple[str, str | None]]] = {}
    for run in runs:
        by_model.setdefault(run.model_name, set()).add((run.status, run.failure_class))
    # on its own metals (Al, Ni, Cu here) for want of an embedding; elsewhere, of parameters
    assert by_model["EMT"] == {
        ("skipped", "no_representation"),
        ("skipped", "unsupported_elements"),
    }
    assert by_model[TRAINED] == by_model[TWIN] == {("succeeded", None)}
    assert finished.progress.succeeded == 2 * len(CRYSTALS)


def test_the_random_twin_reads_no_chemistry_and_trained_chgnet_beats_it(
    summary: tuple[FaultStack, dict[str, Any], Any],
) -> None:
    _, body, _ = summary
    probes = body["probes"]
    assert probes["random_twin"][TRAINED] == TWIN
    r2 = probes["r2"]
    print({m: {t: round(v["mean"], 2) for t, v in r2[m].items() if v} for m in (TRAINED, TWIN)})
    for target in CHEMISTRY:
        assert r2[TWIN][target]["mean"] < 0.1, (target, r2[TWIN][target])
    trained = sum(r2[TRAINED][t]["mean"] for t in CHEMISTRY) / len(CHEMISTRY)
    twin = sum(r2[TWIN][t]["mean"] for t in CHEMISTRY) / len(CHEMISTRY)
    assert trained > twin + 0.3, (trained, twin)
    gains = probes["gain"][TRAINED]
    assert all(
        abs(gains[t] - (r2[TRAINED][t]["mean"] - r2[TWIN][t]["mean"])) < 1e-9 for t in CHEMISTRY
    )


def test_cka_maps_and_atlas_cover_both_models(
    summary: tuple[FaultStack, dict[str, Any], Any],
) -> None:
    _, body, _ = summary
    names = body["cka"]["models"]
    assert set(names) == {TRAINED, TWIN}
    matrix = body["cka"]["matrix"]
    i, j = names.index(TRAINED), names.index(TWIN)
    assert matrix[i][i] == pytest.approx(1.0)
    assert matrix[i][j] < 0.9
    for name in (TRAINED, TWIN):
        points = body["maps"][name]["points"]
        assert len(points) == len(CRYSTALS)  # one point per structure
        assert len(body["maps"][name]["pca"]["x"]) == len(CRYSTALS)
        assert {e for p in points for e in p["elements"]} == set(CRYSTALS)
