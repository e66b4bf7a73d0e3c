"""The demo's campaigns: every benchmark on a small standard subset, about 10 minutes on 2 cores.

CPU seconds per run of EMT (mean over the demo's structures; docs/performance.md): eos 0.2,
relax 2.6, cohesive 0.2, elastic 1.1, diatomics 0.1, speed 1.4, nve 17.5, md_stability 9.1,
thermal_expansion 6.5. The MLIPs are 5-20x slower per call, so they run no MD.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

from backend.bootstrap import CLUSTERS, ELEMENTAL_CRYSTALS, S22
from backend.schemas.campaigns import BenchmarkRef, CampaignCreate, ModelRef
from workers.adapters.baselines import baseline_models
from workers.adapters.pretrained import pretrained_models

BASELINE_FAMILIES = ("emt", "lj", "morse")
# Universal MLIPs for crystals whose weights ship in their wheels.
DEMO_MLIP_FAMILIES = ("chgnet", "sevennet", "diep")
# Its card carries MPtrj's per-element counts: it runs eos over every elemental crystal, so the
# element maps (which open on it) set its error against its training counts, element by element.
ELEMENT_MAP_FAMILY = "chgnet"
# ANI-1x covers H, C, N and O only: the demo runs it on S22 and nowhere else.
MOLECULE_FAMILIES = ("ani1x",)
# MD on the demo's budget: ASE's Morse is pure Python, about 2x EMT per call on 128 atoms.
MD_FAMILIES = ("emt", "lj")
# Three of EMT's seven metals, so that every model runs on every one of them.
DEMO_CRYSTALS = ("Cu", "Al", "Ni")
MD_CRYSTALS = ("Cu",)
SPEED_CRYSTALS = ("Cu",)
CLUSTER = "Cu13"
STATIC_BENCHMARKS = ("relax", "cohesive", "elastic", "diatomics", "phonons")
# The representation probes hold whole elements out, so they need many: 31 elemental crystals
# every packaged crystal MLIP covers, for the MLIPs and CHGNet's random-weight twin (the
# control that separates what training put in the latent space from what the architecture
# does). The baselines have no embedding: they are left out, not skipped 28 times.
REPRESENTATION_CRYSTALS = (
    "Li", "Na", "K", "Rb", "Mg", "Ca", "Sr", "Ba", "Al", "Si", "Ge", "C", "Pb", "Sc", "Y",
    "Ti", "Zr", "V", "Nb", "Cr", "Mo", "W", "Fe", "Co", "Ni", "Cu", "Zn", "Pd", "Ag", "Pt", "Au",
)  # fmt: skip
REPRESENTATION_CONTROLS = {"chgnet": "CHGNet-random-weights"}
MD_BENCHMARKS = ("nve", "md_stability", "thermal_expansion")
# The landscape benchmark's global map (the `landscape` extra); without it the runs would fail.
LANDSCAPE_PACKAGES = ("dscribe", "umap", "phate")


@dataclass(frozen=True, slots=True)
class _Group:
    """Models (by family) x benchmarks x structures of one set (all, or those named)."""

    title: str
    families: tuple[str, ...]
    benchmarks: tuple[str, ...]
    structure_set: str = ELEMENTAL_CRYSTALS
    materials: tuple[str, ...] | None = None
    controls: tuple[str, ...] = ()  # control models, by name, beside the families' models


def demo_plan(
    families: Collection[str], *, quick: bool = False, landscape: bool = True
) -> list[CampaignCreate]:
    """The demo's campaigns for the installed MLIP ``families``: one per model group x
    benchmark group x structure subset, no two sharing a run, the longest runs first (the
    queue is first in, first out), so that the worker's processes finish together.

    The baselines run every benchmark, the MLIPs every static one (and speed, for the
    accuracy-vs-cost panel), MD only the cheap baselines. The boards show each benchmark's
    standard parameters only, so the demo saves time on structures, never on parameters.
    ``quick``: `eos` over the elemental crystals only, as the demo was at first.
    """
    mlips = tuple(f for f in DEMO_MLIP_FAMILIES if f in families)
    every = BASELINE_FAMILIES + mlips
    mapped = tuple(f for f in mlips if f == ELEMENT_MAP_FAMILY)
    eos_all = _Group("eos over the elemental crystals", BASELINE_FAMILIES + mapped, ("eos",))
    if quick:
        return _specs([dataclasses.replace(eos_all, families=every)])
    on = ", ".join(DEMO_CRYSTALS)
    groups = [
        _Group(f"MD on {MD_CRYSTALS[0]}", MD_FAMILIES, MD_BENCHMARKS, materials=MD_CRYSTALS),
        _Group(f"landscape of {CLUSTER}", every, ("landscape",), CLUSTERS, (CLUSTER,)),
        _Group(f"static benchmarks on {on}", every, STATIC_BENCHMARKS, materials=DEMO_CRYSTALS),
        _Group(f"speed on {SPEED_CRYSTALS[0]}", every, ("speed",), materials=SPEED_CRYSTALS),
        _Group(
            f"representations of {len(REPRESENTATION_CRYSTALS)} elemental crystals",
            mlips,
            ("representation",),
            materials=REPRESENTATION_CRYSTALS,
            controls=tuple(
                REPRESENTATION_CONTROLS[f] for f in mlips if f in REPRESENTATION_CONTROLS
            ),
        ),
        _Group(
            "S22 complexes",
            every + tuple(f for f in MOLECULE_FAMILIES if f in families),
            ("s22",),
            S22,
        ),
        _Group(
            f"MLIPs, eos on {on}",
            tuple(f for f in mlips if f not in mapped),
            ("eos",),
            materials=DEMO_CRYSTALS,
        ),
        eos_all,
    ]
    return _specs([g for g in groups if landscape or g.benchmarks != ("landscape",)])


def _specs(groups: list[_Group]) -> list[CampaignCreate]:
    names = _builtin_names()
    return [
        CampaignCreate(
            name=f"demo: {g.title}",
            models=[ModelRef(name=name) for family in g.families for name in names[family]]
            + [ModelRef(name=name) for name in g.controls],
            benchmarks=[BenchmarkRef(key=key) for key in g.benchmarks],
            structure_sets=[g.structure_set],
            materials=None if g.materials is None else list(g.materials),
        )
        for g in groups
        if g.families
    ]


def _builtin_names() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for record in (*baseline_models(), *pretrained_models()):
        names.setdefault(record.family, []).append(record.name)
    return names


def demo_pages(plan: list[CampaignCreate]) -> list[tuple[str, str]]:
    """Where to look after the demo: each dashboard page with what the ``plan`` filled on it,
    and a page the plan left empty named with what it lacks."""
    keys = {b.key for spec in plan for b in spec.benchmarks}
    only_eos = keys == {"eos"}
    pages = [
        (
            "/",
            "the eos board only (--quick)"
            if only_eos
            else "every board's headline metrics side by side; accuracy vs cost (speed)",
        ),
        *((f"/benchmarks/{key}", _BOARD_PAGES[key]) for key in _BOARD_PAGES if key in keys),
        *(
            [("/benchmarks/<key>", "the other boards: " + ", ".join(sorted(others)))]
            if (others := keys - set(_BOARD_PAGES))
            else []
        ),
        (
            "/elements",
            "errors per element (eos over the elemental crystals)"
            + (", against CHGNet's MPtrj training counts" if _maps_chgnet(plan) else ""),
        ),
        ("/models/<id>", "a model's card, E(V) and dimer curves, MD traces"),
        (
            "/landscape",
            f"energy planes of {CLUSTER} side by side, the global map"
            if "landscape" in keys
            else "empty: the demo left the landscape out",
        ),
        *(
            [("/representations", "probes, CKA and maps of the MLIPs' latent spaces")]
            if "representation" in keys
            else []
        ),
        ("/campaigns", "the demo's campaigns, their runs and failures"),
    ]
    return pages


def _maps_chgnet(plan: list[CampaignCreate]) -> bool:
    """Whether the plan runs CHGNet's eos over every elemental crystal (the element maps)."""
    return any(
        spec.materials is None
        and any(b.key == "eos" for b in spec.benchmarks)
        and any((m.name or "").startswith("CHGNet") for m in spec.models)
        for spec in plan
    )


_BOARD_PAGES = {
    "eos": "one board: parity plots of V0 and B0 against experiment, per-material errors",
    "s22": "interaction energies of the S22 complexes against CCSD(T)/CBS",
    "md_stability": "how long each model's MD stays physical",
}
