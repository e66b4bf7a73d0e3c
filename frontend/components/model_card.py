"""The model page's card: the model as its submitter described it, and what the platform counted."""

from __future__ import annotations

from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import html

from backend.schemas.models import ModelRead
from backend.schemas.runs import RunSummary


def card(model: ModelRead, runs: list[RunSummary]) -> dbc.Card:
    """The model card as the submitter filled it in, plus what the platform counted."""
    c = model.card
    training = c.get("training_data") or []
    done = [r for r in runs if r.status in ("succeeded", "failed")]
    failed = sum(r.status == "failed" for r in runs)
    facts = [
        ("Family", model.family),
        ("Status", model.status),
        ("Authors", ", ".join(c.get("authors") or []) or "n/a"),
        ("License", c.get("license") or "n/a"),
        ("Openness", c.get("openness") or "n/a"),
        ("Parameters", f"{c['n_parameters']:,}" if c.get("n_parameters") else "n/a"),
        (
            "Training data",
            "; ".join(
                f"{t.get('name')} ({t.get('level_of_theory') or 'level n/a'})" for t in training
            )
            or "n/a",
        ),
        ("Runs", f"{len(runs)} ({len(done) - failed} succeeded, {failed} failed)"),
    ]
    paper = c.get("paper")
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2(
                    [f"{model.name} ", html.Small(f"v{model.version}", className="text-muted")],
                    id="model-title",
                ),
                html.P(c.get("description") or "", className="text-muted"),
                dbc.Row(
                    [
                        dbc.Col(
                            [html.Div(k, className="small text-muted"), html.Div(v)],
                            md=3,
                            className="mb-2",
                        )
                        for k, v in facts
                    ]
                ),
                html.P(["Paper: ", html.A(paper, href=paper)]) if paper else None,
                html.P(
                    html.A(
                        "Inside the model: latent map, probes and failure atlas",
                        href=f"/representations?model={quote(model.name, safe='')}",
                        id="model-representations-link",
                    )
                ),
                dbc.Alert(c["caveat"], color="warning") if c.get("caveat") else None,
            ]
        ),
        className="mt-3",
    )
