"""Campaign monitor ("/campaigns"): live progress, failures with their class, cancel (admins)."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from backend.schemas.campaigns import CampaignRead
from backend.settings import get_settings
from frontend.api_client import ApiError, admin_api_client, current_api_client

dash.register_page(
    __name__, path="/campaigns", name="Campaigns", title="Campaigns · MLIP Metrology"
)

N_FAILURES = 20
# Bar colours: Tol's bright scheme (colour-blind safe); running runs are striped and animated.
PARTS = (
    ("succeeded", "#228833"),
    ("failed", "#CC3311"),
    ("skipped", "#BBBBBB"),
    ("cancelled", "#666666"),
    ("running", "#4477AA"),
)


def layout(**_q: Any) -> Component:
    """Token form and the live list; the list is polled by ``dcc.Interval``."""
    token_form = dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("Admin token (to cancel campaigns)", html_for="campaigns-token"),
                    dbc.Input(
                        id="campaigns-token",
                        type="password",
                        placeholder="mlipm_…",
                        autoComplete="off",
                    ),
                ],
                md=5,
            ),
            dbc.Col(
                dbc.Button("Use token", id="campaigns-token-save", color="secondary"),
                md="auto",
                className="align-self-end",
            ),
            dbc.Col(
                html.Span(id="campaigns-token-state", className="small text-muted"),
                className="align-self-end",
            ),
        ],
        className="g-2 mb-3",
    )
    return html.Div(
        [
            html.H2("Campaigns", className="mt-3"),
            html.P(
                "Progress of every campaign, re-read from the API every "
                f"{get_settings().dashboard_poll_ms / 1000:g} s; failures appear with their class "
                "as they happen.",
                className="text-muted",
            ),
            token_form,
            dcc.Interval(id="campaigns-interval", interval=get_settings().dashboard_poll_ms),
            html.Div(id="campaigns-action"),
            html.Div(id="campaigns-status"),
            dcc.Loading(html.Div(id="campaigns-list"), type="dot", delay_show=500),
        ]
    )


def save_token(_clicks: Any, token: str | None) -> tuple[Any, str]:
    """Keep the token in the tab's session store (never in the URL or on the server)."""
    if not token:
        return None, "No token: cancelling is disabled."
    return token.strip(), "Token kept for this browser tab."


def token_state(token: str | None) -> str:
    return "Token set for this browser tab." if token else "No token: cancelling is disabled."


def progress_bar(campaign: CampaignRead) -> dbc.Progress:
    """One stacked bar: succeeded, failed, skipped, cancelled, running (of the total)."""
    p = campaign.progress
    total = p.total or 1
    bars = [
        dbc.Progress(
            value=100 * getattr(p, name) / total,
            label=str(getattr(p, name)) if getattr(p, name) else "",
            bar=True,
            color=color,
            striped=name == "running",
            animated=name == "running",
            id={"type": "campaigns-bar", "part": name, "id": str(campaign.id)},
        )
        for name, color in PARTS
        if getattr(p, name)
    ]
    return dbc.Progress(bars, style={"height": "22px"}, className="mb-1")


def campaign_card(campaign: CampaignRead, failures: list[Any], can_cancel: bool) -> dbc.Card:
    """Name, status, counts, progress bar, recent failures, and a cancel button."""
    p = campaign.progress
    eta = f" · about {p.eta_s:.0f} s left" if p.eta_s and campaign.status == "running" else ""
    counts = (
        f"{p.total} runs: {p.succeeded} succeeded, {p.failed} failed, {p.skipped} skipped, "
        f"{p.cancelled} cancelled, {p.running} running, {p.queued} queued{eta}"
    )
    badge = {"running": "primary", "finished": "success", "cancelled": "secondary"}
    cancel = (
        dbc.Button(
            "Cancel",
            id={"type": "campaigns-cancel", "id": str(campaign.id)},
            color="danger",
            size="sm",
            outline=True,
            disabled=not can_cancel,
            title="needs an admin token" if not can_cancel else "cancel queued runs",
        )
        if campaign.status == "running"
        else None
    )
    failure_rows = [
        html.Tr(
            [
                html.Td(dcc.Link(str(r.id)[:8], href=f"/runs/{r.id}")),
                html.Td(dbc.Badge(r.failure_class or "unclassified", color="danger")),
                html.Td((r.failure_message or "")[:200], className="small"),
            ]
        )
        for r in failures
    ]
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.H5(
                            [
                                campaign.name,
                                " ",
                                dbc.Badge(
                                    campaign.status, color=badge.get(campaign.status, "secondary")
                                ),
                            ],
                            className="d-inline me-3",
                        ),
                        cancel,
                    ],
                    className="d-flex align-items-center mb-2",
                ),
                progress_bar(campaign),
                html.P(counts, className="small text-muted mb-1"),
                html.Details(
                    [
                        html.Summary(f"Latest failures ({len(failures)} shown)"),
                        dbc.Table([html.Tbody(failure_rows)], size="sm", className="mt-1"),
                    ],
                    open=campaign.status == "running",
                )
                if failures
                else None,
            ]
        ),
        className="mb-2",
        id={"type": "campaigns-card", "id": str(campaign.id)},
    )


def refresh(_n: Any, token: str | None) -> tuple[Any, Any]:
    """Re-read every campaign and the latest failures of each."""
    client = current_api_client()
    try:
        campaigns = client.campaigns(50)
        failures = {
            str(c.id): client.campaign_runs(str(c.id), "failed", limit=N_FAILURES)
            for c in campaigns
            if c.progress.failed
        }
    except ApiError as exc:
        return no_update, error_alert(exc.message)
    if not campaigns:
        return dbc.Alert(
            [
                html.H4("No campaigns yet", className="alert-heading"),
                html.P(
                    [
                        "Start one with ",
                        html.Code("make demo"),
                        ", ",
                        html.Code("POST /campaigns"),
                        " (admin token) or ",
                        html.Code("mlipm campaigns start"),
                        ".",
                    ],
                    className="mb-0",
                ),
            ],
            color="info",
            id="campaigns-empty",
        ), None
    cards = [campaign_card(c, failures.get(str(c.id), []), bool(token)) for c in campaigns]
    return cards, None


def cancel(clicks: list[Any], token: str | None) -> Any:
    """POST /campaigns/{id}/cancel with the stored token; the API's answer is shown."""
    trigger = dash.ctx.triggered_id
    if not trigger or not any(clicks):
        return no_update
    if not token:
        return dbc.Alert("Enter an admin token first.", color="warning", dismissable=True)
    try:
        with admin_api_client(token) as admin:
            done = admin.cancel_campaign(trigger["id"])
    except ApiError as exc:
        return dbc.Alert(
            [html.Strong("Cancel refused: "), html.Span(exc.message, id="campaigns-cancel-error")],
            color="danger",
            dismissable=True,
        )
    return dbc.Alert(
        f"Campaign {done.name!r} is {done.status}; {done.progress.cancelled} runs cancelled.",
        color="success",
        dismissable=True,
        id="campaigns-cancelled",
    )


def error_alert(message: str) -> dbc.Alert:
    """The API's message, shown; polling goes on."""
    return dbc.Alert(
        [
            html.Strong("Could not read campaigns from the API. "),
            html.Span(message, id="campaigns-error"),
            " Retrying.",
        ],
        color="danger",
    )


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app``."""
    app.callback(
        Output("app-admin-token", "data"),
        Output("campaigns-token-state", "children", allow_duplicate=True),
        Input("campaigns-token-save", "n_clicks"),
        State("campaigns-token", "value"),
        prevent_initial_call=True,
    )(save_token)
    app.callback(Output("campaigns-token-state", "children"), Input("app-admin-token", "data"))(
        token_state
    )
    app.callback(
        Output("campaigns-list", "children"),
        Output("campaigns-status", "children"),
        Input("campaigns-interval", "n_intervals"),
        Input("app-admin-token", "data"),
    )(refresh)
    app.callback(
        Output("campaigns-action", "children"),
        Input({"type": "campaigns-cancel", "id": ALL}, "n_clicks"),
        State("app-admin-token", "data"),
        prevent_initial_call=True,
    )(cancel)
