"""The series each seeded run stores (``seed.py``): E(V), dimer curves, MD survival and speed
from closed formulas, and the ``phonons`` benchmark's own series.

``phonons`` runs store ASE's EMT phonons of the metal (computed once per metal by
``workers.benchmarks.phonons``), frequencies and path scaled per model; a failed phonons run on
``UNSTABLE_PHONONS_MATERIAL`` failed as ``dynamically_unstable`` and keeps its series, its
lowest band dipping to ``SOFT_MODE_THZ`` at X.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import uuid
from typing import Any

from tests.frontend.seed_formulas import MATERIALS, SOFT_MODE_THZ, relative_error, speed_us
from workers.benchmarks.phonons import PhononsResult


@functools.cache
def emt_phonons(metal: str) -> PhononsResult:
    """The phonons benchmark's result for ASE's EMT on the metal's primitive cell (the seeded
    structure), at its standard parameters."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from workers.benchmarks.phonons import PhononsParams, run_phonons

    return run_phonons(bulk(metal), EMT(), PhononsParams())


def phonon_result(model: int, material: int, *, unstable: bool = False) -> PhononsResult:
    """EMT's phonons of a seeded metal with frequencies scaled by ``1 + relative_error(model,
    material, 0)`` and path distances by ``1 + relative_error(model, material, 1)`` (each model
    its own lattice); ``unstable``: the lowest band is pulled below zero around the path's
    first X, to ``SOFT_MODE_THZ`` at X."""
    base = emt_phonons(MATERIALS[material])
    nu = 1 + relative_error(model, material, 0)
    q = 1 + relative_error(model, material, 1)
    x = tuple(v * q for v in base.band_x)
    bands = [tuple(f * nu for f in band) for band in base.bands_thz]
    if unstable:
        at_x = next(p * q for name, p in base.special_points if name == "X")
        k = min(range(len(x)), key=lambda i: abs(x[i] - at_x))
        depth = bands[0][k] - SOFT_MODE_THZ
        bands[0] = tuple(
            f - depth * math.exp(-(((v - at_x) / (0.08 * x[-1])) ** 2))
            for v, f in zip(x, bands[0], strict=True)
        )
    return dataclasses.replace(
        base,
        band_x=x,
        bands_thz=tuple(bands),
        dos=(tuple(v * nu for v in base.dos[0]), tuple(g / nu for g in base.dos[1])),
        special_points=tuple((name, p * q) for name, p in base.special_points),
    )


def _row(
    run_id: uuid.UUID,
    name: str,
    x: list[float],
    y: list[float],
    xl: str,
    xu: str,
    yl: str,
    yu: str,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "name": name,
        "x": x,
        "y": y,
        "x_label": xl,
        "x_unit": xu,
        "y_label": yl,
        "y_unit": yu,
    }


def phonon_series(
    run_id: uuid.UUID, model: int, material: int, *, unstable: bool = False
) -> list[dict[str, Any]]:
    """The series rows the phonons benchmark stores, of ``phonon_result``."""
    return [
        _row(run_id, s.name, list(s.x), list(s.y), s.x_label, s.x_unit, s.y_label, s.y_unit)
        for s in phonon_result(model, material, unstable=unstable).series()
    ]


def series_rows(key: str, run_id: uuid.UUID, model: int, material: int) -> list[dict[str, Any]]:
    def row(
        name: str, x: list[float], y: list[float], xl: str, xu: str, yl: str, yu: str
    ) -> dict[str, Any]:
        return _row(run_id, name, x, y, xl, xu, yl, yu)

    shift = 1 + relative_error(model, material, 0)
    if key == "eos":
        v = [10.0 + 0.5 * k for k in range(11)]
        e = [0.02 * (x - 12.5 * shift) ** 2 - 3.5 for x in v]
        return [row("energy_volume", v, e, "volume", "Å³/atom", "energy", "eV/atom")]
    if key == "diatomics":
        r = [1.2 + 0.1 * k for k in range(30)]
        e = [4 * 0.4 * shift * ((2.3 / x) ** 12 - (2.3 / x) ** 6) for x in r]
        return [row("energy_distance", r, e, "distance", "Å", "energy", "eV")]
    if key == "md_stability":
        t = [0.5 * k for k in range(21)]
        alive = [max(0.0, 1 - 0.02 * (model % 5) * k) for k in range(21)]
        return [row("nvt_ramp_survival", t, alive, "time", "ps", "fraction alive", "1")]
    if key == "phonons":
        return phonon_series(run_id, model, material)
    if key == "speed":
        n = [16.0, 32.0, 64.0, 128.0]
        return [
            row(
                "time_per_atom_step",
                n,
                [speed_us(model) * (x / 16) ** 0.05 for x in n],
                "atoms",
                "1",
                "time",
                "µs/(atom step)",
            )
        ]
    return []
