"""Pure builders of the representations page: the summary body of ``GET /representations``
(stored whole by the summary task, ``workers/representation_summary.py``) -> go.Figure or table
rows. They read only that body's keys, so a hand-made body is all a test needs.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative
from pymatgen.core import Composition, Element

from frontend.figures.board import OTHERS_COLOR, PALETTE
from frontend.figures.elements import SEQUENTIAL
from frontend.figures.model import FAILURE_COLORS, empty_figure
from frontend.figures.text import escaped, plain

Body = Mapping[str, Any]
Point = dict[str, Any]

METHODS = ("pca", "umap", "phate")
#: where the points sit: the chosen model's own latent space, or structure space (SOAP, the
#: same for every model), both coloured by the chosen model's outcomes
SPACES = {"latent": "the model's latent space", "structure": "structure space (SOAP)"}
#: colour choice -> what the colour shows (the dropdown's labels, in its order)
COLOURS = {
    "group": "element group (composition-weighted mean)",
    "error": "mean |relative error| on the other benchmarks",
    "failure": "failure class (failure atlas)",
    "flags": "flags",
    "electronegativity": "electronegativity (Pauling, composition-weighted mean)",
}
CATEGORICAL = ("failure", "flags")
_COLOUR_BAR = {"group": "group", "error": "|rel. error|", "electronegativity": "χ (Pauling)"}
NO_FAILURE = "no failure"
NO_RUNS = "no other benchmark run"
NO_FLAG = "no flag"
NO_VALUE = "no value"
#: distinct colours for failure classes or flags the model page has no colour for
_SPARE_COLOURS = (*PALETTE, *qualitative.Dark24)
_HEIGHT = 480


def model_names(body: Body) -> list[str]:
    """The models of the summary, in the body's order."""
    return [str(m["name"]) for m in body.get("models") or []]


def default_model(body: Body, wanted: str | None = None) -> str | None:
    """``wanted`` if the summary has it, else the first model that is not a control."""
    names = model_names(body)
    if wanted in names:
        return wanted
    trained = [str(m["name"]) for m in body.get("models") or [] if not m.get("control")]
    return next(iter(trained or names), None)


def model_options(body: Body) -> list[dict[str, str]]:
    """Dropdown options: each model, a control marked as such."""
    return [
        {
            "label": f"{m['name']} (control: random weights)" if m.get("control") else m["name"],
            "value": m["name"],
        }
        for m in body.get("models") or []
    ]


def space_options(body: Body) -> list[dict[str, Any]]:
    """The two spaces; structure space disabled when the summary has no SOAP map."""
    return [
        {
            "label": label,
            "value": key,
            "disabled": key == "structure" and not body.get("structure_map"),
        }
        for key, label in SPACES.items()
    ]


def _maps_of(body: Body, model: str | None, space: str) -> Mapping[str, Any]:
    if space == "structure":
        return body.get("structure_map") or {}
    return (body.get("maps") or {}).get(model) or {}


def method_options(body: Body, model: str | None, space: str = "latent") -> list[dict[str, Any]]:
    """PCA, UMAP and PHATE, each disabled where the summary holds no such map of ``model``
    (or, in structure space, no such SOAP map)."""
    maps = _maps_of(body, model, space)
    return [{"label": m.upper(), "value": m, "disabled": not maps.get(m)} for m in METHODS]


def chosen_method(options: Sequence[Mapping[str, Any]], current: str | None) -> str | None:
    """``current`` if it is enabled, else the first enabled method (None: no map at all)."""
    enabled = [o["value"] for o in options if not o["disabled"]]
    return current if current in enabled else next(iter(enabled), None)


@lru_cache(maxsize=4096)
def chemistry(formula: str) -> tuple[float | None, float | None]:
    """(group, electronegativity) of ``formula``, each the composition-weighted mean over its
    atoms as the benchmark's probe targets are; None where pymatgen does not know an element
    or, for electronegativity, an element has none (noble gases)."""
    try:
        amounts = Composition(formula).get_el_amt_dict()
        with warnings.catch_warnings():  # pymatgen warns for the noble gases' missing X
            warnings.simplefilter("ignore")
            props = [(n, Element(s).group, Element(s).X) for s, n in amounts.items()]
    except ValueError:
        return None, None
    total = sum(n for n, _g, _x in props)
    if not total:
        return None, None
    group = sum(n * g for n, g, _x in props) / total
    x = sum(n * x for n, _g, x in props) / total
    return group, (x if math.isfinite(x) else None)


def map_points(body: Body, model: str, method: str, space: str = "latent") -> list[Point] | None:
    """The points of ``model``'s ``method`` map (or of the SOAP structure map), each with its
    coordinates and ``model``'s atlas entry (benchmark failures, flags, error; None when no
    other benchmark ran on it); None when the summary holds no such map."""
    maps = _maps_of(body, model, space)
    coords = maps.get(method)
    if not coords:
        return None
    atlas = {a["structure_id"]: a for a in (body.get("atlas") or {}).get(model) or []}
    return [
        {**point, "x": x, "y": y, "atlas": atlas.get(point["structure_id"])}
        for x, y, point in zip(coords["x"], coords["y"], maps.get("points") or [], strict=True)
    ]


def colour_value(point: Point, colour: str) -> float | None:
    """The number ``point`` is coloured by (error, group or electronegativity)."""
    if colour == "error":
        return (point["atlas"] or {}).get("mean_abs_rel_error")
    group, electronegativity = chemistry(point["formula"])
    return group if colour == "group" else electronegativity


def category(point: Point, colour: str) -> str:
    """The failure class (the most frequent of the structure's, ties by name) or the flags of
    ``point``."""
    atlas = point["atlas"]
    if atlas is None:
        return NO_RUNS
    if colour == "flags":
        return " + ".join(sorted(atlas.get("flags") or [])) or NO_FLAG
    counts = Counter(f["failure_class"] for f in atlas.get("failures") or [])
    if not counts:
        return NO_FAILURE
    return min(counts, key=lambda c: (-counts[c], c))


def hover(point: Point) -> str:
    """Structure, variant, benchmark failures, flags and error of a point (user text escaped)."""
    atlas = point["atlas"] or {}
    failures = "; ".join(
        f"{plain(f['benchmark'])}: {plain(f['failure_class'])}" for f in atlas.get("failures") or []
    )
    error = atlas.get("mean_abs_rel_error")
    lines = [
        f"<b>{plain(point['formula'])}</b> (structure {plain(point['structure_id'])[:8]}, "
        f"variant {plain(point.get('variant', ''))})",
        f"failures: {failures or ('none' if point['atlas'] else 'no other benchmark run')}",
        f"flags: {', '.join(plain(f) for f in atlas.get('flags') or []) or 'none'}",
        f"mean |relative error|: {'n/a' if error is None else f'{error:.3g}'}",
    ]
    return "<br>".join(lines)


def category_colours(categories: Sequence[str]) -> dict[str, str]:
    """One distinct colour per category: the model page's colour of a failure class where it
    has one, grey for no failure, no flag or no run, spare palette colours for the rest."""
    quiet = {NO_FAILURE: OTHERS_COLOR, NO_FLAG: OTHERS_COLOR, NO_RUNS: "#DDDDDD"}
    colours: dict[str, str] = {}
    for cat in categories:
        colour = quiet.get(cat) or FAILURE_COLORS.get(cat)
        if colour is None or colour in colours.values():
            colour = next(c for c in _SPARE_COLOURS if c not in colours.values())
        colours[cat] = colour
    return colours


def _categorical_traces(points: list[Point], colour: str) -> list[go.Scatter]:
    by_category: dict[str, list[Point]] = {}
    for point in points:
        by_category.setdefault(category(point, colour), []).append(point)
    last = (NO_FAILURE, NO_FLAG, NO_RUNS)
    order = sorted(by_category, key=lambda c: (last.index(c) if c in last else -1, c))
    colours = category_colours(order)
    return [
        _scatter(by_category[cat], name=cat, marker={"color": colours[cat], "size": 9})
        for cat in order
    ]


def _continuous_traces(points: list[Point], colour: str) -> list[go.Scatter]:
    values = [colour_value(p, colour) for p in points]
    known = [(p, v) for p, v in zip(points, values, strict=True) if v is not None]
    missing = [p for p, v in zip(points, values, strict=True) if v is None]
    traces = []
    if known:
        marker = {
            "color": [v for _p, v in known],
            "colorscale": SEQUENTIAL,
            "showscale": True,
            "colorbar": {"title": _COLOUR_BAR[colour]},
            "size": 9,
        }
        traces.append(_scatter([p for p, _v in known], name=COLOURS[colour], marker=marker))
    if missing:
        traces.append(_scatter(missing, name=NO_VALUE, marker={"color": "#DDDDDD", "size": 7}))
    return traces


def _scatter(points: list[Point], *, name: str, marker: dict[str, Any]) -> go.Scatter:
    return go.Scatter(
        x=[p["x"] for p in points],
        y=[p["y"] for p in points],
        mode="markers",
        name=name,
        marker=marker,
        text=[hover(p) for p in points],
        hovertemplate="%{text}<extra>%{fullData.name}</extra>",
    )


@escaped
def projection_figure(
    body: Body, model: str | None, method: str | None, colour: str, space: str = "latent"
) -> go.Figure:
    """``model``'s latent map (or the SOAP structure map) by ``method``, one point per
    structure, coloured by ``colour`` (COLOURS) from ``model``'s outcomes; coloured by failure
    class it is the model's failure atlas."""
    what = "structure map (SOAP)" if space == "structure" else "latent map"
    title = f"{model}: {what}" if model else what.capitalize()
    points = map_points(body, model, method, space) if model and method else None
    if not points:
        return empty_figure(title, f"no {method or ''} map stored ({what})", _HEIGHT)
    if colour in CATEGORICAL:
        traces = _categorical_traces(points, colour)
    else:
        traces = _continuous_traces(points, colour)
    fig = go.Figure(traces)
    label = method.upper() if method else ""
    title = f"{model}: {what} ({label}) coloured by {COLOURS[colour]}"
    if colour == "failure":
        title = f"Failure atlas of {model}: {what} ({label}) coloured by failure class"
    fig.update_layout(
        title=title,
        xaxis_title=f"{label} 1",
        yaxis_title=f"{label} 2",
        height=_HEIGHT,
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


@escaped
def cka_figure(body: Body) -> go.Figure:
    """Linear CKA between every pair of models as an annotated heatmap, the models in the
    body's (clustering) order."""
    title = "Cross-model similarity (linear CKA)"
    cka = body.get("cka") or {}
    names, matrix = list(cka.get("models") or []), cka.get("matrix") or []
    if len(names) < 2:
        return empty_figure(title, "fewer than two models share 6 structure variants", _HEIGHT)
    text = [["n/a" if v is None else f"{v:.2f}" for v in row] for row in matrix]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=names,
            zmin=0,
            zmax=1,
            colorscale=SEQUENTIAL,
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} vs %{x}: CKA %{z:.3f}<extra></extra>",
            colorbar={"title": "CKA"},
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=f"Linear CKA on {cka.get('n_common', 'n/a')} common rows",
        xaxis_title=f"ordered by {cka.get('order', 'clustering')}",
        height=_HEIGHT,
        margin={"l": 140, "r": 20, "t": 60, "b": 120},
    )
    return fig


@escaped
def novelty_figure(body: Body, model: str | None) -> go.Figure:
    """Latent novelty vs ``model``'s mean |relative error| per structure, Spearman rho and n in
    the title."""
    entry = (body.get("novelty") or {}).get(model) or {}
    points = [
        p
        for p in entry.get("points") or []
        if p.get("novelty") is not None and p.get("error") is not None
    ]
    title = "Latent novelty vs error"
    if not points:
        return empty_figure(title, "no structure of this model has both", _HEIGHT)
    rho = entry.get("spearman")
    stats = f"Spearman rho = {rho:.2f}" if rho is not None else "Spearman rho n/a (n < 5)"
    reference = entry.get("reference") or "benchmark structures"
    fig = go.Figure(
        go.Scatter(
            x=[p["novelty"] for p in points],
            y=[p["error"] for p in points],
            mode="markers",
            marker={"color": PALETTE[0], "size": 9},
            text=[
                f"<b>{plain(p['formula'])}</b> (structure {plain(p['structure_id'])[:8]})"
                for p in points
            ],
            hovertemplate="%{text}<br>novelty %{x:.3g}, error %{y:.3g}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"{title}: {stats}, n = {entry.get('n', len(points))}",
        xaxis_title=f"latent distance to the nearest {reference} (standardised)",
        yaxis_title=f"mean |relative error| of {model}",
        height=_HEIGHT,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )
    return fig


def probe_rows(body: Body) -> list[dict[str, Any]]:
    """One table row per model: its random twin, and per probe target the cross-validated R^2
    (``r2_<target>``, its ``std_`` and ``n_``) and the gain over the twin (``gain_<target>``);
    None where a target was not probed."""
    probes = body.get("probes") or {}
    r2, gain = probes.get("r2") or {}, probes.get("gain") or {}
    twins = probes.get("random_twin") or {}
    rows = []
    for m in body.get("models") or []:
        name = m["name"]
        row: dict[str, Any] = {
            "model": name,
            "control": "yes" if m.get("control") else "",
            "twin": twins.get(name),
        }
        for target in probes.get("targets") or []:
            cell = (r2.get(name) or {}).get(target) or {}
            row[f"r2_{target}"] = cell.get("mean")
            row[f"std_{target}"] = cell.get("std")
            row[f"n_{target}"] = cell.get("n")
            row[f"gain_{target}"] = (gain.get(name) or {}).get(target)
        rows.append(row)
    return rows
