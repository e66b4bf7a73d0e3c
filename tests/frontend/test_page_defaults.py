"""Pages open on data: the element maps choose a model with results, not the first by name."""

from __future__ import annotations

import sys

from backend.client import ApiClient
from frontend.app import create_app
from tests.frontend.conftest import SeededApi


def test_the_element_maps_open_on_a_model_with_results(seeded_api: SeededApi) -> None:
    create_app(seeded_api.url)  # pages register only once an app exists
    page = sys.modules["frontend.pages.elements"]
    client = ApiClient(seeded_api.url)
    first_by_name = client.models()[0]
    assert not client.runs(model_id=str(first_by_name.id), status="succeeded", limit=1)
    chosen = page._model_with_results(client)
    assert chosen in {str(i) for i in seeded_api.seeded.model_ids}
    assert client.runs(model_id=chosen, status="succeeded", limit=1)
