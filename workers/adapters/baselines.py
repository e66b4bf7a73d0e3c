"""Classical baselines: ASE's EMT and per-element Lennard-Jones and Morse potentials.

They give every board a floor that any MLIP should beat, and they exercise the whole
pipeline without heavy packages. The pair potentials are fitted to experiment by
``workers.adapters.pair_fit``; ``baseline_models()`` returns the model records to seed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.data import chemical_symbols

from shared_kernel.failures import BenchmarkSetupError, UnsupportedElementsError
from workers.adapters.pair_fit import (
    LJ_RC_SIGMA,
    LJ_RO_FRACTION,
    RHO0_RANGE,
    PairFit,
    fit_pair_potentials,
)
from workers.adapters.registry import ModelSpec, register

#: EMT's parametrised metals; its H, C, N and O parameters are crude and are not offered.
EMT_ELEMENTS = frozenset({"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"})

_REQUIRED = {"lj": {"epsilon", "sigma"}, "morse": {"epsilon", "r0", "rho0"}}
_ALLOWED = {
    "lj": {"epsilon", "sigma", "rc", "ro", "smooth"},
    "morse": {"epsilon", "r0", "rho0", "rcut1", "rcut2"},
}
#: The reference properties a fit to the experimental lattice constant determines.
LATTICE_PROPERTIES = ("lattice_constant_a", "volume_per_atom")
#: Parameters fitted per element (EMT: E0, s0, V0, eta2, kappa, lambda, n0).
_N_PARAMETERS = {"emt": 7, "lj": 2, "morse": 3}

GIRIFALCO_WEIZER = "L. A. Girifalco and V. G. Weizer, Phys. Rev. 114, 687 (1959)"
EMT_PAPER = "K. W. Jacobsen, P. Stoltze and J. K. Nørskov, Surf. Sci. 366, 394 (1996)"
FIT_CAVEAT = (
    "The {name} parameters are fitted, per element, to the very experimental data the eos "
    "benchmark compares against ({targets}). Its eos errors are therefore not a measure of "
    "predictive power: they only show what an equation of state alone cannot tell apart. "
    "Judge it on the other benchmarks (elastic, relax, diatomics, MD)."
)


class PerElementPairCalculator(Calculator):
    """Single-element pair potential dispatching to ASE's LJ or Morse calculator.

    Parameters
    ----------
    family
        ``"lj"`` (``ase.calculators.lj.LennardJones``, smooth cutoff by default) or
        ``"morse"`` (``ase.calculators.morse.MorsePotential``).
    elements
        Per-element keyword arguments of that calculator (energies in eV, lengths in Å).

    Raises
    ------
    UnsupportedElementsError
        On calculation, for a structure with more than one element (no mixing rules here) or
        an element without parameters: the run is skipped.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]  # noqa: RUF012
    nolabel = True

    def __init__(self, family: str, elements: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__()
        self.family = family
        self.element_params = {symbol: dict(kw) for symbol, kw in elements.items()}
        self._inner: dict[str, Calculator] = {}

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None  # set by Calculator.calculate
        inner = self._calculator_for(sorted(set(self.atoms.get_chemical_symbols())))
        for name in properties or ["energy"]:
            inner.get_property(name, self.atoms)
        self.results = dict(inner.results)

    def _calculator_for(self, symbols: list[str]) -> Calculator:
        if len(symbols) != 1:  # a structure the model does not cover: skipped, like an element
            raise UnsupportedElementsError(
                f"{self.family} baseline: structure contains {symbols}; only single-element "
                "structures are supported (no mixing rules are defined)"
            )
        symbol = symbols[0]
        if symbol not in self.element_params:
            raise UnsupportedElementsError(f"{self.family} baseline has no parameters for {symbol}")
        if symbol not in self._inner:
            self._inner[symbol] = _ase_pair_calculator(self.family, self.element_params[symbol])
        return self._inner[symbol]


def _ase_pair_calculator(family: str, params: Mapping[str, Any]) -> Calculator:
    if family == "lj":
        from ase.calculators.lj import LennardJones

        return LennardJones(**{"smooth": True, **params})
    from ase.calculators.morse import MorsePotential

    return MorsePotential(**params)


def _element_params(spec: ModelSpec) -> dict[str, dict[str, Any]]:
    """Validated ``spec.params["elements"]``; raises BenchmarkSetupError naming the problem."""
    elements = spec.params.get("elements")
    if not isinstance(elements, Mapping) or not elements:
        raise BenchmarkSetupError(
            f"model {spec.name!r} ({spec.family}): params['elements'] must map element "
            "symbols to calculator parameters"
        )
    checked = {}
    for symbol, kwargs in elements.items():
        if symbol not in chemical_symbols[1:] or not isinstance(kwargs, Mapping):
            raise BenchmarkSetupError(f"model {spec.name!r}: bad entry for element {symbol!r}")
        missing = _REQUIRED[spec.family] - set(kwargs)
        unknown = set(kwargs) - _ALLOWED[spec.family]
        if missing or unknown:
            raise BenchmarkSetupError(
                f"model {spec.name!r}, element {symbol}: missing {sorted(missing)}, "
                f"unknown {sorted(unknown)} (allowed: {sorted(_ALLOWED[spec.family])})"
            )
        checked[symbol] = dict(kwargs)
    return checked


def _pair_elements(spec: ModelSpec) -> frozenset[str]:
    elements = spec.params.get("elements")
    return frozenset(elements) if isinstance(elements, Mapping) else frozenset()


@register(
    "emt",
    supported_elements=lambda spec: EMT_ELEMENTS,
    provides_stress=True,
    description="ASE's effective-medium theory for fcc metals (Jacobsen, Stoltze, Nørskov).",
)
def make_emt(spec: ModelSpec) -> Calculator:
    """ASE's EMT calculator (``spec.params`` is ignored)."""
    from ase.calculators.emt import EMT

    return EMT()


@register(
    "lj",
    supported_elements=_pair_elements,
    provides_stress=True,
    description="Per-element Lennard-Jones (ASE LennardJones, smooth cutoff).",
)
def make_lj(spec: ModelSpec) -> Calculator:
    """Per-element LJ from ``spec.params["elements"][symbol]`` (epsilon eV, sigma/rc/ro Å)."""
    return PerElementPairCalculator("lj", _element_params(spec))


@register(
    "morse",
    supported_elements=_pair_elements,
    provides_stress=True,
    description="Per-element Morse (ASE MorsePotential).",
)
def make_morse(spec: ModelSpec) -> Calculator:
    """Per-element Morse from ``spec.params["elements"][symbol]`` (epsilon eV, r0 Å, rho0)."""
    return PerElementPairCalculator("morse", _element_params(spec))


@dataclass(frozen=True, slots=True)
class BaselineModel:
    """A model record of a built-in baseline, ready to be stored (JSON values only)."""

    name: str
    version: str
    family: str
    params: dict[str, Any]
    card: dict[str, Any]
    elements: list[str]
    is_baseline: bool = True

    def spec(self) -> ModelSpec:
        """The ModelSpec the adapter registry builds this model from."""
        return ModelSpec(self.family, self.name, self.version, copy.deepcopy(self.params))


def baseline_models() -> list[BaselineModel]:
    """The built-in baseline models: EMT, and LJ and Morse fitted to experiment.

    Returns
    -------
    list[BaselineModel]
        ``EMT``, ``LJ-exp-fit`` and ``Morse-GW-exp-fit`` with their params and model cards.
    """
    from workers.reference_data import ASHCROFT_MERMIN_SOURCE, DCDFT_SOURCE, KITTEL_SOURCE

    lj_fit, morse_fit = fit_pair_potentials()
    a0 = "lattice constant (ase.build.bulk from ase.data.reference_states, Ashcroft & Mermin)"
    emt_card = {
        "description": "ASE's effective-medium theory, restricted to its fcc metals.",
        "paper": EMT_PAPER,
        # its per-element parameters come from experimental a0, E_coh and B (EMT_PAPER)
        "fitted_to": [*LATTICE_PROPERTIES, "cohesive_energy", "bulk_modulus"],
        "license": "LGPL-2.1-or-later (ASE)",
    }
    emt = BaselineModel(
        "EMT", "1", "emt", {}, _card(emt_card, "emt", sorted(EMT_ELEMENTS)), sorted(EMT_ELEMENTS)
    )
    lj = _pair_model(
        "LJ-exp-fit",
        lj_fit,
        targets=[a0, "cohesive energy (Kittel)"],
        sources=[ASHCROFT_MERMIN_SOURCE, KITTEL_SOURCE],
        cutoff=(
            f"rc = {LJ_RC_SIGMA:g} sigma, smooth cutoff from ro = {LJ_RO_FRACTION:g} rc "
            "(ASE LennardJones smooth=True)"
        ),
    )
    morse = _pair_model(
        "Morse-GW-exp-fit",
        morse_fit,
        targets=[a0, "cohesive energy (Kittel)", "bulk modulus (dcdft experiment)"],
        sources=[ASHCROFT_MERMIN_SOURCE, KITTEL_SOURCE, DCDFT_SOURCE, GIRIFALCO_WEIZER],
        cutoff=(
            "ASE MorsePotential cutoff from rcut1 = 1.9 r0 to rcut2 = 2.7 r0; "
            f"rho0 = alpha r0 searched in {list(RHO0_RANGE)}"
        ),
    )
    return [emt, lj, morse]


def _pair_model(
    name: str, fit: PairFit, *, targets: list[str], sources: list[str], cutoff: str
) -> BaselineModel:
    with_b0 = fit.family == "morse"
    method = (
        f"per element, in the manner of {GIRIFALCO_WEIZER}: the energy minimum of the "
        "uniformly scaled experimental crystal is placed at its experimental geometry with a "
        "depth equal to the cohesive energy"
        + (" and a curvature equal to the bulk modulus" if with_b0 else "")
    )
    params = {
        "elements": copy.deepcopy(fit.elements),
        "fit": {
            "method": method,
            "targets": targets,
            "sources": sources,
            "cutoff_convention": cutoff,
            "left_out": dict(fit.left_out),
        },
    }
    kind = "Morse" if with_b0 else "Lennard-Jones"
    card = {
        "description": (
            f"{kind} pair potential with one parameter set per element, fitted to experiment; "
            "single-element structures only (no mixing rules)."
        ),
        "caveat": FIT_CAVEAT.format(
            name=name, targets="a0, cohesive energy and B0" if with_b0 else "a0, cohesive energy"
        ),
        "paper": GIRIFALCO_WEIZER if with_b0 else None,
        "fitted_to": [
            *LATTICE_PROPERTIES,
            "cohesive_energy",
            *(["bulk_modulus"] if with_b0 else []),
        ],
        "license": "MIT (fitted parameters); calculators from ASE (LGPL-2.1-or-later)",
        "training_data": {
            "name": "experimental elemental crystals: a0, E_coh" + (", B0" if with_b0 else ""),
            "level_of_theory": "experiment",
            "elements": dict.fromkeys(sorted(fit.elements), 1),
        },
    }
    elements = sorted(fit.elements)
    return BaselineModel(name, "1", fit.family, params, _card(card, fit.family, elements), elements)


def _card(card: dict[str, Any], family: str, elements: list[str]) -> dict[str, Any]:
    return {
        "authors": "ASE / MLIP Metrology",
        "n_parameters": _N_PARAMETERS[family] * len(elements),
        **card,
    }
