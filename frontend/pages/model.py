"""Model page ("/models/<model_id>"): card, every benchmark's results, curves, parity, failures."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from backend.schemas.models import ModelRead
from backend.schemas.runs import RunSummary, SeriesRead
from frontend.api_client import ApiError, DashboardClient, current_api_client
from frontend.components.grid import (
    RED,
    data_grid,
    fit_widths,
    highlight,
    number_column,
    text_column,
)
from frontend.components.model_card import card
from frontend.components.model_choices import searched_models
from frontend.figures.model import (
    empty_figure,
    failure_breakdown,
    parity_grid,
    series_overlay,
)
from frontend.figures.phonons import UNSTABLE, PhononSpectrum, phonon_figure
from frontend.reads import (
    PARALLEL_READS,
    has_phonon_spectra,
    model_runs,
    phonon_runs,
    standard_only,
)

dash.register_page(
    __name__,
    path_template="/models/<model_id>",
    name="Model",
    title="Model · MLIP Metrology",
    nav=False,
)

CURVES = {  # graph -> (benchmark, series names, log axes)
    "eos": ("eos", ("energy_volume",), False),
    "diatomics": ("diatomics", ("energy_distance",), False),
    "survival": ("md_stability", ("nvt_ramp_survival", "npt_compression_survival"), False),
    "speed": ("speed", ("time_per_atom_step",), True),
}
NO_MATERIAL = ""  # the material choice of a model without an EOS, dimer or phonons run
NUMBER = ".4g"  # d3 format of a mean or an MAE


PANEL_HEIGHT = {"phonons": 420, "failures": 320}  # px held for a figure before it comes


def _graph(name: str, lg: int = 6) -> dbc.Col:
    """A panel that holds its figure's place; the figure's ``dcc.Graph`` (id ``model-<name>``)
    is mounted once its figure exists, so no empty axes are drawn first (drawing the seven
    figures twice was a third of the page's time in the browser)."""
    return dbc.Col(
        dcc.Loading(
            html.Div(
                id=f"model-{name}-panel",
                style={"minHeight": f"{PANEL_HEIGHT.get(name, 380)}px"},
            ),
            type="dot",
            delay_show=300,
        ),
        lg=lg,
    )


def _mounted(name: str, figure: Any) -> Any:
    """The panel's content: the figure in its graph (``no_update`` passes through)."""
    if figure is no_update:
        return figure
    return dcc.Graph(id=f"model-{name}", figure=figure, config={"displaylogo": False})


def layout(model_id: str = "", compare: str = "", **_q: Any) -> Component:
    """Skeleton; the callbacks read the model, its runs and the comparison model."""
    return html.Div(
        [
            dcc.Store(id="model-id", data=model_id),
            html.Div(id="model-status"),
            dcc.Loading(html.Div(id="model-card"), type="dot", delay_show=300),
            html.H4("Results per benchmark", className="mt-3"),
            html.Div(id="model-results"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Compare curves with", html_for="model-compare"),
                            dcc.Dropdown(
                                id="model-compare",
                                value=compare or None,
                                # the URL's model has an option from the start (the dropdown
                                # drops a value it has no option for); ``compare_options``
                                # names it and offers the models matching what is typed
                                options=[{"label": compare, "value": compare}] if compare else [],
                                placeholder="another model: type to search",
                            ),
                        ],
                        md=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Material (curves)", html_for="model-material"),
                            dcc.Dropdown(id="model-material", clearable=False),
                        ],
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("EOS energy", html_for="model-energy-zero"),
                            dbc.RadioItems(
                                id="model-energy-zero",
                                options=[
                                    {"label": "relative to each curve's minimum", "value": "min"},
                                    {"label": "absolute", "value": "absolute"},
                                ],
                                value="min",
                                inline=True,
                            ),
                        ],
                        md=5,
                    ),
                ],
                className="g-2 mt-3",
            ),
            dbc.Row([_graph("eos"), _graph("diatomics")], className="g-2"),
            dbc.Row([_graph("phonons", 12)], className="g-2"),
            dbc.Row([_graph("survival"), _graph("speed")], className="g-2"),
            dbc.Row([_graph("failures", 12)], className="g-2"),
            dbc.Row([_graph("parity", 12)], className="g-2"),
        ]
    )


def overview(model_id: str) -> tuple[Any, ...]:
    """Card and results table (the figures' callbacks run beside it)."""
    client = current_api_client()
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:  # three independent reads at once
            model_read = pool.submit(client.model, model_id)
            runs_read = pool.submit(model_runs, model_id, client)
            benchmarks_read = pool.submit(client.benchmarks)
            model, runs, benchmarks = (
                model_read.result(),
                runs_read.result(),
                benchmarks_read.result(),
            )
    except ApiError as exc:
        return None, None, error_alert(exc.message)
    status = None
    if not runs:
        status = dbc.Alert(
            "This model has no runs yet. An admin starts them with a campaign "
            "(POST /campaigns or mlipm campaigns start).",
            color="info",
            id="model-empty",
        )
    return card(model, runs), results_table(runs, benchmarks), status


def compare_options(search: str | None, model_id: str, chosen: str | None) -> Any:
    """The comparison dropdown's options: the chosen model and those matching ``search``."""
    return searched_models(search, chosen, exclude=model_id)


def curve_materials(runs: list[RunSummary]) -> list[str]:
    """The materials with an EOS, dimer or phonons run: those with both a succeeded EOS and a
    succeeded dimer curve first (the first is drawn by default, so a page opens with both
    panels drawn), then a succeeded EOS only, then a dimer curve only, then the rest; within
    each, those with phonon spectra first; each group sorted."""
    curved = {r.material for r in runs if r.benchmark_key in ("eos", "diatomics", "phonons")}
    drawn = {
        key: {r.material for r in runs if r.benchmark_key == key and r.status == "succeeded"}
        for key in ("eos", "diatomics")
    }
    phonons = {r.material for r in runs if has_phonon_spectra(r)}

    def order(material: str) -> tuple[int, str]:
        score = 4 * (material in drawn["eos"]) + 2 * (material in drawn["diatomics"])
        return (-score - (material in phonons), material)

    return sorted(curved, key=order)


def relative_to_minimum(series: SeriesRead) -> SeriesRead:
    """An E(V) curve shifted to its own minimum: models whose energy zeros differ by eV/atom
    (a pair potential's 0 vs a DFT-fitted model's -4 eV/atom) overlay on one scale."""
    if not series.y:
        return series
    low = min(series.y)
    return series.model_copy(
        update={"y": [v - low for v in series.y], "y_label": f"{series.y_label} minus its minimum"}
    )


def results_table(runs: list[RunSummary], benchmarks: list[dict[str, Any]]) -> Component:
    """Per benchmark headline metric: mean value, MAE vs its reference, runs and failures."""
    by_key: dict[str, list[RunSummary]] = defaultdict(list)
    for run in runs:
        by_key[run.benchmark_key].append(run)
    records: list[Any] = []
    for bench in benchmarks:
        mine = by_key.get(bench["key"], [])
        if not mine:
            continue
        failed = sum(r.status == "failed" for r in mine)
        ok = sum(r.status == "succeeded" for r in mine)
        for head in bench["headline_metrics"]:
            metrics = [m for r in mine for m in r.metrics or [] if m.name == head["name"]]
            errors = [abs(m.error) for m in metrics if m.error is not None]
            unit = "" if head["unit"] == "1" else head["unit"]
            records.append(
                {
                    "benchmark": bench["key"],
                    "metric": head["label"],
                    "unit": unit,
                    "mean": sum(m.value for m in metrics) / len(metrics) if metrics else None,
                    "mae": sum(errors) / len(errors) if errors else None,
                    "n_ref": len(errors),
                    "ok": ok,
                    "failed": failed,
                    "failure_rate": failed / (ok + failed) if ok + failed else None,
                }
            )
        by_key.pop(bench["key"], None)
    if not records:
        return html.P("No results yet.", className="text-muted")
    columns = [
        text_column("Benchmark", "benchmark"),
        text_column("Metric", "metric"),
        text_column("Unit", "unit"),
        number_column("Mean value", "mean", NUMBER),
        number_column("MAE vs reference", "mae", NUMBER),
        number_column("Materials with reference", "n_ref", None),
        number_column("Runs succeeded", "ok", None),
        number_column("Runs failed", "failed", None, cellStyle=highlight("params.value > 0", RED)),
        number_column("Failure rate", "failure_rate", ".1%"),
    ]
    return data_grid(
        "model-results-table",
        filters=False,
        columnDefs=fit_widths(columns, records),
        rowData=records,
    )


def _curves(
    client: DashboardClient, subjects: list[str]
) -> dict[tuple[str, str], list[RunSummary]]:
    """Every (subject, graph)'s runs with their series, read in parallel."""
    jobs = [
        (subject, graph, benchmark, name)
        for graph, (benchmark, names, _log) in CURVES.items()
        for subject in (subjects if graph in ("eos", "diatomics") else subjects[:1])
        for name in names
    ]

    def read(job: tuple[str, str, str, str]) -> list[RunSummary]:
        subject, _graph, benchmark, name = job
        runs = client.runs(model_id=subject, benchmark=benchmark, status="succeeded", series=name)
        return standard_only(client, runs)  # other parameter sets are other boards

    found: dict[tuple[str, str], list[RunSummary]] = {}
    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        for job, runs in zip(jobs, pool.map(read, jobs), strict=True):
            found.setdefault((job[0], job[1]), []).extend(runs)
    return found


def material_figures(
    model_id: str, compare: str | None, material: str | None, energy_zero: str = "min"
) -> tuple[Any, ...]:
    """The panels drawn for one material (curves and phonons), and, on the page's first call
    (``material`` None), the material choices and the one drawn (``curve_materials``' first).

    It runs as the page opens, beside the card's callback, not after it; the curves' reads
    do not depend on the material, so they start together with the one that chooses it."""
    client = current_api_client()
    subject_ids = [model_id] + ([compare] if compare else [])
    choices: Any = no_update
    chosen: Any = no_update
    try:
        with ThreadPoolExecutor(max_workers=2 + len(subject_ids)) as pool:
            curve_runs = pool.submit(_curves, client, subject_ids)
            subjects = {
                subject_id: pool.submit(client.model, subject_id) for subject_id in subject_ids
            }
            if compare and _missing(subjects[compare]):  # e.g. a stale ?compare= in a link
                return material_figures(model_id, None, material, energy_zero)
            if material is None:
                choices = curve_materials(model_runs(model_id, client))
                material = chosen = choices[0] if choices else NO_MATERIAL
            phonon_panel = _mounted("phonons", _phonon_figure(client, model_id, compare, material))
            figures = curve_figures(
                [(read.result(), subject_id) for subject_id, read in subjects.items()],
                curve_runs.result(),
                material,
                energy_zero,
            )
    except ApiError as exc:
        return *(no_update,) * 7, error_alert(exc.message)
    panels = (_mounted(graph, fig) for graph, fig in zip(CURVES, figures, strict=True))
    return *panels, phonon_panel, choices, chosen, None


def _missing(read: Future[ModelRead]) -> bool:
    """Whether the model read found no such model (the API's 404, or 422 for a malformed id)."""
    try:
        read.result()
    except ApiError as exc:
        return exc.status_code in (404, 422)
    return False


def curve_figures(
    subjects: list[tuple[ModelRead, str]],
    runs: dict[tuple[str, str], list[RunSummary]],
    material: str,
    energy_zero: str = "min",
) -> list[go.Figure]:
    """EOS and dimer curves of the model (and the comparison, second in ``subjects``) on one
    material, E(V) relative to each curve's minimum unless ``energy_zero`` is "absolute"; MD
    survival and speed of the model (``runs``: ``_curves``')."""
    model = subjects[0][0]
    figs = []
    for graph, (benchmark, _names, log) in CURVES.items():
        overlay = []
        per_material = graph in ("eos", "diatomics")
        if per_material and material == NO_MATERIAL:  # say what to run, not bare axes
            figs.append(empty_figure(_title(graph, None), run_hint(model.name, benchmark)))
            continue
        for subject, subject_id in subjects if per_material else subjects[:1]:
            for run in runs.get((subject_id, graph), []):
                if per_material and run.material != material:
                    continue
                for s in run.series or []:
                    who = f"{subject.name} {subject.version}" if per_material else ""
                    if graph == "eos" and energy_zero != "absolute":
                        s = relative_to_minimum(s)
                    overlay.append((f"{who} {run.material} {s.name}".strip(), s))
        figs.append(series_overlay(overlay, title=_title(graph, material), log=log))
    return figs


def run_hint(model_name: str, benchmark: str, what: str = "curve") -> str:
    """What to run for an empty panel."""
    return (
        f"No {benchmark} {what} of this model yet: an admin runs it with a campaign,"
        f" e.g. mlipm campaigns start -m '{model_name}' -b {benchmark}"
    )


def _phonon_figure(
    client: DashboardClient, model_id: str, compare: str | None, material: str
) -> Any:
    """Phonon bands and DOS of the model on the material, with the comparison model's overlaid
    (a dynamically unstable run is drawn too, and says so)."""
    title = f"Phonons ({material or 'no material'})"
    subjects = [model_id] + ([compare] if compare else [])
    try:
        found = phonon_runs(client, subjects, material) if material != NO_MATERIAL else []
        hint = "" if found else run_hint(client.model(model_id).name, "phonons", "spectrum")
    except ApiError as exc:
        return empty_figure(title, f"Could not read from the API: {exc.message}", height=420)
    spectra = [
        PhononSpectrum(
            f"{run.model_name} {run.model_version}",
            series,
            unstable=run.failure_class == UNSTABLE,
        )
        for run, series in found
    ]
    return phonon_figure(spectra, title=title, hint=hint)


def _title(graph: str, material: str | None) -> str:
    return {
        "eos": f"Energy vs volume ({material or 'no material'})",
        "diatomics": f"Dimer energy vs distance ({material or 'no material'})",
        "survival": "MD survival (Kaplan-Meier)",
        "speed": "Time per atom-step vs system size",
    }[graph]


def breakdowns(model_id: str) -> tuple[Any, Any]:
    """Failure breakdown and parity plots against experiment."""
    try:
        model = current_api_client().model(model_id)
        runs = model_runs(model_id)
    except ApiError:
        return (
            _mounted("failures", empty_figure("Failures", "API unavailable")),
            _mounted("parity", empty_figure("Parity", "API unavailable")),
        )
    label = f"{model.name} {model.version}"
    return (
        _mounted("failures", failure_breakdown(runs, label)),
        _mounted("parity", parity_grid(runs, label)),
    )


def error_alert(message: str) -> dbc.Alert:
    """The API's message, shown."""
    return dbc.Alert(
        [html.Strong("Could not read from the API. "), html.Span(message, id="model-error")],
        color="danger",
    )


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app``: all three start as the page opens."""
    app.callback(
        Output("model-card", "children"),
        Output("model-results", "children"),
        Output("model-status", "children", allow_duplicate=True),
        Input("model-id", "data"),
        prevent_initial_call="initial_duplicate",
    )(overview)
    app.callback(
        Output("model-compare", "options"),  # never its value: the figures need not wait
        Input("model-compare", "search_value"),
        State("model-id", "data"),
        State("model-compare", "value"),
    )(compare_options)
    app.callback(
        *(Output(f"model-{name}-panel", "children") for name in CURVES),
        Output("model-phonons-panel", "children"),
        Output("model-material", "options"),
        Output("model-material", "value"),  # its own input: set here, it does not call again
        Output("model-status", "children"),
        Input("model-id", "data"),
        Input("model-compare", "value"),
        Input("model-material", "value"),
        Input("model-energy-zero", "value"),
    )(material_figures)
    app.callback(
        Output("model-failures-panel", "children"),
        Output("model-parity-panel", "children"),
        Input("model-id", "data"),
    )(breakdowns)
