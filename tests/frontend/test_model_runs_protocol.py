"""Model and element pages read only the standard protocol's runs, as the boards do."""

from __future__ import annotations

from frontend.api_client import ApiClient
from frontend.reads import model_runs
from tests.frontend.conftest import SeededApi


def test_model_runs_leave_out_other_parameter_sets(seeded_api: SeededApi) -> None:
    seeded = seeded_api.seeded
    client = ApiClient(seeded_api.url)
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
