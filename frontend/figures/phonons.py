"""Phonon band structure and DOS of the model page: stored ``phonons`` series -> go.Figure.

The ``phonons`` benchmark stores, per run, ``phonon_dos`` (x: frequency in THz, y: states per
THz), one ``phonon_band_<i>`` per band (x: distance along the standard path in 1/Å, y:
frequency in THz; imaginary modes as negative frequencies) and ``phonon_special_points`` (x:
their distances, y: their indices, their labels in order in the x label, "q (G,X,W,...)").
Each model relaxes to its own lattice, so its path is mapped onto the first spectrum's, special
point to special point, before the bands are overlaid.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.schemas.runs import SeriesRead
from frontend.figures.board import PALETTE, with_unit
from frontend.figures.model import empty_figure
from frontend.figures.text import escaped, plain

UNSTABLE = "dynamically_unstable"  # the failure class whose runs keep their DOS and bands
DOS = "phonon_dos"
POINTS = "phonon_special_points"
BAND = re.compile(r"phonon_band_(\d+)")
GREEK = {"G": "Γ", "GAMMA": "Γ"}  # ASE names Γ "G"
ZERO_LINE = {"color": "#555555", "width": 1, "dash": "dot"}


@dataclass(frozen=True)
class PhononSpectrum:
    """One model's phonons run on a material: ``label`` names the model, ``series`` are the
    run's stored series, ``unstable`` when it failed as dynamically unstable."""

    label: str
    series: Sequence[SeriesRead]
    unstable: bool = False

    @property
    def legend(self) -> str:
        return f"{self.label} (dynamically unstable)" if self.unstable else self.label


def special_points(series: Sequence[SeriesRead]) -> list[tuple[str, float]]:
    """(label, path distance in 1/Å) of the path's special points, Γ written out; a label the
    stored x label could not hold (it keeps 100 characters) is ``""``."""
    points = next((s for s in series if s.name == POINTS), None)
    if points is None:
        return []
    inside = points.x_label.partition("(")[2]
    closed = inside.endswith(")")
    names = inside.removesuffix(")").split(",")
    if not closed:  # cut at 100 characters: the last name may be cut too
        names = names[:-1]
    labels = [GREEK.get(n.strip().upper(), n.strip()) for n in names]
    return [
        (labels[int(i)] if 0 <= int(i) < len(labels) else "", x)
        for x, i in zip(points.x, points.y, strict=True)
    ]


def path_ticks(points: Sequence[tuple[str, float]]) -> tuple[list[float], list[str]]:
    """Tick positions and texts; points at one distance (a break in the path) share a tick,
    "K|U"."""
    values: list[float] = []
    texts: list[str] = []
    for label, x in points:
        if values and abs(x - values[-1]) <= 1e-9 * max(1.0, abs(x)):
            texts[-1] = "|".join(t for t in (texts[-1], label) if t)
        else:
            values.append(x)
            texts.append(label)
    return values, texts


def onto_path(
    x: Sequence[float], own: Sequence[tuple[str, float]], ref: Sequence[tuple[str, float]]
) -> list[float]:
    """Distances ``x`` along a path with special points ``own`` mapped onto the path ``ref``:
    segment by segment when both go through the same points, else scaled by the lengths."""
    own_x, ref_x = [p[1] for p in own], [p[1] for p in ref]
    same = [p[0] for p in own] == [p[0] for p in ref] and len(own) >= 2
    if same and all(b >= a for a, b in itertools.pairwise(own_x)):
        return [float(v) for v in np.interp(x, own_x, ref_x)]
    if own_x and ref_x and own_x[-1] > 0 and ref_x[-1] > 0:
        return [v * ref_x[-1] / own_x[-1] for v in x]
    return list(x)


def band_lines(
    bands: Sequence[SeriesRead], own: Sequence[tuple[str, float]], ref: Sequence[tuple[str, float]]
) -> tuple[list[float | None], list[float | None]]:
    """Every band as one line (x, y), broken (None) between bands and where the path jumps
    (two q-points at one distance)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for band in bands:
        mapped = onto_path(band.x, own, ref)
        for k, (x, y) in enumerate(zip(mapped, band.y, strict=True)):
            if k and x <= mapped[k - 1]:
                xs.append(None)
                ys.append(None)
            xs.append(x)
            ys.append(y)
        xs.append(None)
        ys.append(None)
    return xs, ys


def _bands(series: Sequence[SeriesRead]) -> list[SeriesRead]:
    numbered = [(int(m.group(1)), s) for s in series if (m := BAND.fullmatch(s.name))]
    return [s for _, s in sorted(numbered, key=lambda pair: pair[0])]


def _add_spectrum(
    fig: go.Figure, spectrum: PhononSpectrum, ref: Sequence[tuple[str, float]], color: str
) -> None:
    """The bands (one trace, the model's legend entry) and the DOS (same legend group)."""
    line = {"color": color, "width": 1.8, "dash": "dash" if spectrum.unstable else "solid"}
    bands = _bands(spectrum.series)
    if bands:
        x, y = band_lines(bands, special_points(spectrum.series), ref)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=spectrum.legend,
                legendgroup=spectrum.legend,
                line=line,
                hovertemplate=f"{plain(spectrum.legend)}<br>q: %{{x:.3f}} {bands[0].x_unit}"
                f"<br>frequency: %{{y:.3f}} {bands[0].y_unit}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    dos = next((s for s in spectrum.series if s.name == DOS), None)
    if dos is not None:
        fig.add_trace(
            go.Scatter(
                x=dos.y,
                y=dos.x,
                mode="lines",
                name=spectrum.legend,
                legendgroup=spectrum.legend,
                showlegend=not bands,
                line=line,
                hovertemplate=f"{plain(spectrum.legend)}<br>frequency: %{{y:.3f}} {dos.x_unit}"
                f"<br>DOS: %{{x:.3g}} {dos.y_unit}<extra></extra>",
            ),
            row=1,
            col=2,
        )


@escaped
def phonon_figure(spectra: Sequence[PhononSpectrum], *, title: str, hint: str) -> go.Figure:
    """Band structure along the standard path (special points as ticks) and, beside it on the
    same frequency axis, the DOS; one colour per spectrum, a dotted line at zero (imaginary
    modes are negative). The path is the first spectrum's. ``hint``: the message of an
    empty figure (what to run)."""
    if not spectra:
        return empty_figure(title, hint, height=420)
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, column_widths=[0.74, 0.26], horizontal_spacing=0.02
    )
    ref = special_points(spectra[0].series)
    for index, spectrum in enumerate(spectra):
        _add_spectrum(fig, spectrum, ref, PALETTE[index % len(PALETTE)])
    ticks, texts = path_ticks(ref)
    fig.update_xaxes(tickvals=ticks, ticktext=texts, showgrid=True, row=1, col=1)
    fig.update_xaxes(title="path (wave vector q)", row=1, col=1)
    fig.update_xaxes(title=with_unit("DOS", "1/THz"), rangemode="tozero", row=1, col=2)
    fig.update_yaxes(title=with_unit("frequency", "THz"), row=1, col=1)
    fig.add_hline(y=0, line=ZERO_LINE, row="all", col="all")
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 45},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
