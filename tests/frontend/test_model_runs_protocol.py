"""Model and element pages read only the standard protocol's runs, as the boards do."""

from __future__ import annotations

import sys

from frontend.api_client import DashboardClient
from frontend.app import create_app
from frontend.reads import model_runs
from tests.frontend.conftest import SeededApi


def test_model_runs_leave_out_other_parameter_sets(seeded_api: SeededApi) -> None:
    seeded = seeded_api.seeded
    client = DashboardClient(seeded_api.url)
    model_id = str(seeded.model_ids[-1])  # one of the models with a second eos protocol
    every = client.runs(model_id=model_id, include_metrics="true")
    assert seeded.alt_eos_hash in {r.params_hash for r in every}
    shown = model_runs(model_id, client)
    assert shown
    assert {r.params_hash for r in shown} <= set(seeded.standard_hashes.values())
    assert len(shown) == len(every) - sum(r.params_hash == seeded.alt_eos_hash for r in every)
    standard = {b["key"]: b["default_params_hash"] for b in client.benchmarks()}
    for key, digest in seeded.standard_hashes.items():
        assert standard[key] == digest  # the API names the protocol of each default board


def test_model_page_curves_come_from_the_standard_protocol(seeded_api: SeededApi) -> None:
    create_app(seeded_api.url)  # pages register only once an app exists
    curves_of = sys.modules["frontend.pages.model"]._curves
    seeded = seeded_api.seeded
    client = DashboardClient(seeded_api.url)
    model_id = str(seeded.model_ids[-1])
    every = client.runs(model_id=model_id, benchmark="eos", status="succeeded")
    assert seeded.alt_eos_hash in {r.params_hash for r in every}
    eos_curves = curves_of(client, [model_id])[(model_id, "eos")]
    assert eos_curves
    assert {r.params_hash for r in eos_curves} == {seeded.standard_hashes["eos"]}
