"""Element maps ("/elements"): where a model was trained and evaluated, its error per element,
and the two compared (per-element error against training count, the question of Miret et al.).

Query string: ``?model=<id>&metric=<benchmark>:<metric>&compare=<id>&structures=<kind>``, kept
up to date as the controls change (``structures``: which runs feed the maps, by the structures
they ran on: ``all``, ``elements`` (one element) or ``compounds``; see ``of_kind``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from backend.schemas.models import ModelRead
from frontend.api_client import ApiError, current_api_client
from frontend.components.model_choices import model_choices, searched_models
from frontend.element_stats import (
    ALL_STRUCTURES,
    STRUCTURE_KINDS,
    compare_counts_and_errors,
    coverage,
    difference,
    element_errors,
    listed_elements,
    of_kind,
    opening_model,
    over,
    structure_kind,
    training_counts,
    training_sources,
)
from frontend.figures.elements import clicked_element, count_error_scatter, element_map
from frontend.reads import model_runs

dash.register_page(
    __name__, path="/elements", name="Element maps", title="Element maps · MLIP Metrology"
)

MAPS = ("training", "coverage", "error", "difference")
#: The maps and the scatter of error against training count; a click on any lists runs.
VIEWS = (*MAPS, "correlation")
DEFAULT_METRIC = "eos:bulk_modulus"
LIST_ONLY = "element list only (no published counts)"
PAPER = (
    'Miret et al., "Energy & Force Regression on DFT Trajectories is Not Enough for '
    'Universal MLIPs"'
)
#: The structure set to run for a choice of structures that has no runs yet.
SET_TO_RUN = {"elements": "elemental crystals", "compounds": "binary compounds"}


def _graph(name: str, *, lg: int = 6) -> dbc.Col:
    return dbc.Col(
        dcc.Loading(
            dcc.Graph(id=f"elements-{name}", config={"displaylogo": False}),
            type="dot",
            delay_show=300,
        ),
        lg=lg,
    )


def _keep(value: str) -> list[str]:
    """Initial options holding the value from the URL: a Dropdown drops a value that is not
    among its options, and the real options arrive only with the first callback."""
    return [value] if value else []


def _structures_control(kind: str) -> dbc.Col:
    """Which runs feed the maps and the scatter, by the structures they ran on."""
    return dbc.Col(
        [
            dbc.Label("Structures (coverage, error and difference maps, scatter)"),
            dbc.RadioItems(
                id="elements-structures",
                options=[{"label": v[0], "value": k} for k, v in STRUCTURE_KINDS.items()],
                value=structure_kind(kind),
                inline=True,
            ),
            dbc.FormText(
                "A structure's error counts for every element it holds: a compound's error is "
                "averaged into each of its elements."
            ),
        ],
        md=12,
    )


def layout(
    model: str = "",
    metric: str = DEFAULT_METRIC,
    compare: str = "",
    structures: str = ALL_STRUCTURES,
    **_q: Any,
) -> Component:
    """Controls, four maps and the error-count scatter; numbers are read by the callbacks."""
    controls = dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("Model", html_for="elements-model"),
                    dcc.Dropdown(
                        id="elements-model",
                        value=model or None,
                        clearable=False,
                        options=_keep(model),
                        placeholder="choose a model",
                    ),
                ],
                md=4,
            ),
            dbc.Col(
                [
                    dbc.Label("Benchmark metric (error map)", html_for="elements-metric"),
                    dcc.Dropdown(
                        id="elements-metric", value=metric, clearable=False, options=_keep(metric)
                    ),
                ],
                md=4,
            ),
            dbc.Col(
                [
                    dbc.Label("Compare with (difference map)", html_for="elements-compare"),
                    dcc.Dropdown(
                        id="elements-compare",
                        value=compare or None,
                        options=_keep(compare),
                        placeholder="choose a second model",
                    ),
                ],
                md=4,
            ),
            _structures_control(structures),
        ],
        className="g-2",
    )
    return html.Div(
        [
            html.H2("Element maps", className="mt-3"),
            html.P(
                "Training data, benchmark coverage and per-element error of one model, the "
                "difference to a second model, and its error against its training counts. Hover "
                "for the numbers; click an element to list the runs behind it.",
                className="text-muted",
            ),
            dcc.Store(id="elements-init"),
            dcc.Store(id="elements-search"),
            html.Div(id="elements-url-sink", hidden=True),
            dbc.Card(dbc.CardBody(controls), className="mb-2"),
            html.Div(id="elements-status"),
            dbc.Row([_graph(name) for name in MAPS], className="g-2"),
            html.H5("Per-element error against training count", className="mt-3"),
            html.P(
                "Does a model err less on the elements its training set holds more often? One "
                "point per element with both numbers: its mean |error| on the metric above "
                "against the training structures containing it (log axis), and Spearman's rank "
                f"correlation; a negative rho says yes. The question of {PAPER}.",
                className="text-muted",
            ),
            dbc.Row([_graph("correlation", lg=12)], className="g-2"),
            html.H5("Runs of the clicked element", className="mt-3"),
            html.Div(
                html.P("Click an element on a map.", className="text-muted"), id="elements-runs"
            ),
        ]
    )


def options(
    _init: Any, model: str | None, metric: str | None = None, compare: str | None = None
) -> tuple[Any, ...]:
    """Models (the chosen ones and the first few: typing finds the others, ``searched_models``)
    and benchmark metrics to choose from; the first model if none is chosen."""
    client = current_api_client()
    try:
        models = client.models()
        benchmarks = client.benchmarks()
    except ApiError as exc:
        return [], [], [], no_update, error_alert(exc.message)
    metric_options = [
        {"label": f"{b['key']} · {h['label']} ({h['unit']})", "value": f"{b['key']}:{h['name']}"}
        for b in benchmarks
        for h in b["headline_metrics"]
    ]
    if not models:
        note = dbc.Alert(
            "No models are registered yet: submit one (POST /models) or run make demo.",
            color="info",
        )
        return [], metric_options, [], no_update, note
    opening = None if model else _model_with_results(client, metric or DEFAULT_METRIC)
    chosen = model or opening or str(models[0].id)
    return (
        model_choices(models, "", chosen),
        metric_options,
        model_choices(models, "", compare),
        chosen,
        None,
    )


def _model_with_results(client: Any, metric: str = DEFAULT_METRIC) -> str | None:
    """The model the page opens on, from the latest thousand succeeded runs (one request) and
    the models (cached): see ``opening_model``."""
    try:
        recent = client.runs(status="succeeded", limit=1000, max_pages=1)
        models = client.models()
    except ApiError:
        return None
    return opening_model(recent, models, metric.partition(":")[0])


def maps(
    model_id: str | None, metric: str | None, compare: str | None, structures: str | None = None
) -> tuple[Any, ...]:
    """The four maps of the chosen model (and comparison model) and its error against count,
    from its runs on the chosen structures; the status line; the query string."""
    if not model_id or not metric:
        return (*(no_update for _ in VIEWS), None, no_update)
    kind = structure_kind(structures)
    benchmark, _, name = metric.partition(":")
    client = current_api_client()
    try:
        model = client.model(model_id)
        every_run = model_runs(model_id)
        other = client.model(compare) if compare else None
        other_runs = model_runs(compare) if compare else []
    except ApiError as exc:
        return (*(no_update for _ in VIEWS), error_alert(exc.message), no_update)
    label = f"{model.name} {model.version}"
    runs = of_kind(every_run, kind)
    counts = training_counts(model)
    listed, list_sources = listed_elements(model)
    covered, cover_details = coverage(runs, kind)
    errors, error_details, unit = element_errors(runs, benchmark, name, kind)
    # a choice without runs says on the maps fed by runs what to run (the status line too)
    no_runs = _no_runs_of_kind(kind, "") if every_run and not runs else ()
    missing = bool(every_run) and not any(r.benchmark_key == benchmark for r in runs)
    no_benchmark = _no_runs_of_kind(kind, benchmark) if missing else ()
    evaluated = element_map(
        {k: float(v) for k, v in covered.items()},
        title=f"Benchmark coverage{over(kind)}: {label}",
        label="succeeded runs",
        unit="",
        details=cover_details,
        empty_message=no_runs[0] if no_runs else None,
        notes=no_runs[1:],
    )
    error = element_map(
        errors,
        title=f"|error| of {benchmark} {name}{over(kind)}: {label}",
        label=f"mean |{name} error|",
        unit=unit,
        details=error_details,
        empty_message=no_benchmark[0] if no_benchmark else None,
        notes=no_benchmark[1:],
    )
    their_errors = element_errors(of_kind(other_runs, kind), benchmark, name, kind)[0]
    diff = _difference_map(other, errors, their_errors, name, kind, label, unit)
    scatter = count_error_scatter(
        compare_counts_and_errors(counts, errors),
        title=f"|error| of {benchmark} {name}{over(kind)} against training count: {label}",
        metric=name,
        unit=unit,
        why_empty=_why_no_scatter(
            counts, errors, listed, list_sources, f"{benchmark} {name}", kind=kind
        ),
    )
    notes = _notes(model, counts, listed, list_sources)
    if not every_run:
        notes.append("This model has no runs yet: start a campaign that includes it.")
    elif no_benchmark:
        to_run = SET_TO_RUN[kind]
        command = f"mlipm campaigns start -m '{model.name}' -b {benchmark} -s '{to_run}'"
        notes.append(f"{no_benchmark[0]}: {no_benchmark[1]}, e.g. {command}.")
    status = dbc.Alert(" ".join(notes), color="info") if notes else None
    query = {"model": model_id, "metric": metric, "compare": compare or "", "structures": kind}
    search = "?" + urlencode({k: v for k, v in query.items() if v})
    training = _training_map(label, counts, listed, list_sources)
    return training, evaluated, error, diff, scatter, status, search


def _no_runs_of_kind(kind: str, benchmark: str) -> tuple[str, ...]:
    """What a choice of structures without runs (of ``benchmark``; "": of any) says, and what
    to run; nothing for "all" (the model has runs, just not of that benchmark)."""
    if kind not in SET_TO_RUN:
        return ()
    return (
        f"This model has no {benchmark + ' ' if benchmark else ''}runs on "
        f"{STRUCTURE_KINDS[kind][2]} yet",
        f'run the "{SET_TO_RUN[kind]}" structure set on it',
    )


def _difference_map(
    other: ModelRead | None,
    mine: dict[str, float],
    theirs: dict[str, float],
    metric: str,
    kind: str,
    label: str,
    unit: str,
) -> Any:
    """Per-element error of the model minus the comparison model's, both over the structures
    of ``kind`` (none chosen: say so)."""
    if other is None:
        return element_map(
            {},
            title="Difference between two models",
            label="",
            unit="",
            empty_message="Choose a second model above to map the difference of their errors",
        )
    return element_map(
        difference(mine, theirs),
        title=f"|error| {label} minus {other.name} {other.version}{over(kind)}",
        label=f"Δ mean |{metric} error|",
        unit=unit,
        diverging=True,
    )


def _notes(
    model: ModelRead, counts: dict[str, int], listed: list[str], sources: list[str]
) -> list[str]:
    """Where the training counts come from, for the status line."""
    if counts:
        return ["Training counts: " + "; ".join(training_sources(model)) + "."]
    if listed:
        return [f"Training data: {LIST_ONLY}; source: " + "; ".join(sources) + "."]
    return ["This model's card has no training-set element counts."]


def _training_map(label: str, counts: dict[str, int], listed: list[str], sources: list[str]) -> Any:
    """Counts on a log colour scale; or, for a card that only lists its elements, those
    elements marked, with the source written on the map."""
    if counts or not listed:
        return element_map(
            {k: float(v) for k, v in counts.items()},
            title=f"Training data: {label}",
            label="structures",
            unit="",
            log=True,
            empty_message="This model's card gives no training-set elements",
        )
    return element_map(
        dict.fromkeys(listed, 1.0),
        title=f"Training elements: {label}",
        label="in the training set (count not published)",
        unit="",
        show_values=False,
        notes=[LIST_ONLY, *(f"source: {s}" for s in sources)],
    )


def _why_no_scatter(
    counts: dict[str, int],
    errors: dict[str, float],
    listed: list[str],
    sources: list[str],
    metric: str,
    *,
    kind: str = ALL_STRUCTURES,
) -> list[str]:
    """The lines the scatter shows when it has no point (``kind``: the structures chosen)."""
    if not counts and listed:
        return [
            f"Training data: {LIST_ONLY}",
            "so there are no counts to rank the per-element errors against",
            *(f"source: {s}" for s in sources),
        ]
    if not counts:
        return [
            "This model's card has no training-set element counts",
            "so there is nothing to rank the per-element errors against",
        ]
    if not errors and kind in SET_TO_RUN:
        return [
            f"No per-element errors of {metric}{over(kind)} for this model yet",
            f'run that benchmark on the "{SET_TO_RUN[kind]}" structure set (or choose other '
            "structures or another metric above)",
        ]
    if not errors:
        return [
            f"No per-element errors of {metric} for this model yet",
            "run that benchmark on it (or choose another metric above)",
        ]
    return ["No element has both a training count and an error of " + metric]


def runs_of_element(*args: Any) -> Any:
    """Links to the runs of the chosen model on structures of the chosen kind holding the
    clicked element."""
    *_clicks, model_id, structures = args
    kind = structure_kind(structures)
    symbol = next(
        (s for c in (dash.ctx.triggered or []) if (s := clicked_element(c["value"]))), None
    )
    if symbol is None or not model_id:
        return no_update
    try:
        runs = [r for r in of_kind(model_runs(model_id), kind) if symbol in r.elements]
    except ApiError as exc:
        return error_alert(exc.message)
    noun = STRUCTURE_KINDS[kind][2]
    if not runs:
        return html.P(f"No runs on {noun} with {symbol}.", className="text-muted")
    rows = [
        html.Tr(
            [
                html.Td(dcc.Link(r.benchmark_key, href=f"/runs/{r.id}")),
                html.Td(r.material),
                html.Td(r.status, className="text-danger" if r.status == "failed" else ""),
                html.Td(r.failure_class or ""),
                html.Td(r.structure_set),
            ]
        )
        for r in sorted(runs, key=lambda r: (r.benchmark_key, r.material))
    ]
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Benchmark", "Material", "Status", "Failure", "Set")])
    )
    return html.Div(
        [
            html.P(
                f"{len(runs)} run{'s' * (len(runs) != 1)} on {noun} containing {symbol}",
                id="elements-runs-title",
            ),
            dbc.Table([head, html.Tbody(rows)], size="sm", striped=True, hover=True),
        ]
    )


def error_alert(message: str) -> dbc.Alert:
    """The API's message, shown."""
    return dbc.Alert(
        [html.Strong("Could not read from the API. "), html.Span(message, id="elements-api-error")],
        color="danger",
    )


#: Writes the controls' query string into the address bar (no reload, no history entry), so
#: the address shares what is shown.
URL_SCRIPT = """
function(search) {
    if (search && window.location.search !== search) {
        window.history.replaceState(null, "", window.location.pathname + search);
    }
    return "";
}
"""


def register_callbacks(app: dash.Dash) -> None:
    """Attach this page's callbacks to ``app``."""
    app.callback(
        Output("elements-model", "options"),
        Output("elements-metric", "options"),
        Output("elements-compare", "options"),
        Output("elements-model", "value"),
        Output("elements-status", "children", allow_duplicate=True),
        Input("elements-init", "data"),
        State("elements-model", "value"),
        State("elements-metric", "value"),
        State("elements-compare", "value"),
        prevent_initial_call="initial_duplicate",
    )(options)
    for dropdown in ("elements-model", "elements-compare"):
        app.callback(
            Output(dropdown, "options", allow_duplicate=True),
            Input(dropdown, "search_value"),
            State(dropdown, "value"),
            prevent_initial_call=True,
        )(searched_models)
    app.callback(
        *(Output(f"elements-{name}", "figure") for name in VIEWS),
        Output("elements-status", "children"),
        Output("elements-search", "data"),
        Input("elements-model", "value"),
        Input("elements-metric", "value"),
        Input("elements-compare", "value"),
        Input("elements-structures", "value"),
    )(maps)
    app.callback(
        Output("elements-runs", "children"),
        *(Input(f"elements-{name}", "clickData") for name in VIEWS),
        State("elements-model", "value"),
        State("elements-structures", "value"),
        prevent_initial_call=True,
    )(runs_of_element)
    app.clientside_callback(
        URL_SCRIPT, Output("elements-url-sink", "children"), Input("elements-search", "data")
    )
