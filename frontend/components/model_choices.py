"""Model dropdowns that hold only what is typed for: a Dash dropdown indexes every option's
label and value for its search box as it renders, 0.13-0.2 s of the browser's main thread for
200 models on every page that has one (docs/performance.md, Dashboard). A model dropdown gets
the chosen model and the ``MODEL_CHOICES`` first matches of its search (``search_value``)."""

from __future__ import annotations

from typing import Any

from dash import no_update

from backend.schemas.models import ModelRead
from frontend.api_client import ApiError, current_api_client

MODEL_CHOICES = 20  # models offered at once; typing finds the others


def model_choices(
    models: list[ModelRead], search: str, chosen: str | None, exclude: str | None = None
) -> list[dict[str, str]]:
    """The chosen model first, then those whose name, version or family hold every typed word
    (any case), in name order, at most ``MODEL_CHOICES``; never ``exclude``."""
    words = search.lower().split()
    others = sorted(
        (m for m in models if str(m.id) != exclude),
        key=lambda m: (m.name.lower(), m.version),
    )
    picked = [m for m in others if str(m.id) == chosen]
    matches = [
        m
        for m in others
        if str(m.id) != chosen
        and all(w in f"{m.name} {m.version} {m.family}".lower() for w in words)
    ]
    return [
        {"label": f"{m.name} {m.version}", "value": str(m.id)}
        for m in picked + matches[:MODEL_CHOICES]
    ]


def searched_models(search: str | None, chosen: str | None, exclude: str | None = None) -> Any:
    """A model dropdown's options for what is typed in it (a callback on its ``search_value``)."""
    try:
        models = current_api_client().models()
    except ApiError:
        return no_update
    return model_choices(models, search or "", chosen, exclude)
