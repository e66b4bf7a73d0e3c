"""The model card: what a model is, who made it and what it was trained on.

In the habit of Matbench Discovery's per-model YAML files (``models/<arch>/<model>.yml``): name,
version, family, authors, paper and code, license, openness, parameter count, training data
with its level of theory, hyperparameters and requirements. Every level rejects unknown fields,
so a typo (``licence``) is a 422 that names the field path (``card.licence``).

``openness`` uses Matbench Discovery's four codes:

- ``OSOD``: open source (code and weights), open training data;
- ``OSCD``: open source, closed training data;
- ``CSOD``: closed source, open training data;
- ``CSCD``: closed source, closed training data.

A free-text phrase such as ``"open code, open weights, open training data"`` (the built-in
cards use it) is read into its code.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from backend.domain.elements import chemical_symbols

KNOWN_SYMBOLS = frozenset(chemical_symbols[1:])
Openness = Literal["OSOD", "OSCD", "CSOD", "CSCD"]


def _known_symbol(symbol: str) -> str:
    if symbol not in KNOWN_SYMBOLS:
        raise ValueError(f"unknown element symbol {symbol!r}")
    return symbol


ElementSymbol = Annotated[str, AfterValidator(_known_symbol)]


class TrainingData(BaseModel):
    """One training set: its name, level of theory and (where known) size and elements."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["MPtrj"])
    level_of_theory: str = Field(
        min_length=1,
        max_length=100,
        description="Reference method: PBE, PBE+U, r2SCAN, wB97X/6-31G(d), CCSD(T), experiment...",
        examples=["PBE/PBE+U", "r2SCAN", "CCSD(T)"],
    )
    n_structures: int | None = Field(None, ge=0)
    element_counts: dict[ElementSymbol, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Number of structures containing each element."
    )
    elements: list[ElementSymbol] | None = Field(
        None, description="Elements covered, where per-element counts are not known."
    )
    description: str | None = None
    url: HttpUrl | None = None

    @model_validator(mode="before")
    @classmethod
    def _elements_as_mapping(cls, data: Any) -> Any:
        # The built-in cards write coverage as {symbol: count or None}; None means "present,
        # count unknown", so such a mapping is coverage, and a fully counted one is counts.
        if isinstance(data, dict) and isinstance(data.get("elements"), dict):
            data = dict(data)
            mapping = data.pop("elements")
            if all(isinstance(v, int) for v in mapping.values()):
                data.setdefault("element_counts", mapping)
            else:
                data["elements"] = sorted(mapping)
        return data


class ModelCard(BaseModel):
    """A model card; ``name``, ``version`` and ``family`` default to the record's own."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=100)
    version: str | None = Field(None, max_length=50)
    family: str | None = Field(None, max_length=50)
    authors: list[str] = Field(default_factory=list, examples=[["A. Author", "B. Author"]])
    description: str | None = None
    paper: str | None = Field(
        None, description="URL, DOI or citation of the paper.", examples=["https://doi.org/..."]
    )
    code: HttpUrl | None = Field(None, description="URL of the source code.")
    license: str | None = Field(None, max_length=200, examples=["MIT"])
    openness: Openness | None = Field(
        None, description="OSOD, OSCD, CSOD or CSCD (Matbench Discovery's codes)."
    )
    n_parameters: int | None = Field(None, ge=0)
    training_data: list[TrainingData] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    requirements: dict[str, str] = Field(
        default_factory=dict,
        description="Package -> version specifier.",
        examples=[{"torch": "2.13.0"}],
    )
    caveat: str | None = Field(None, description="What the results of this model do not show.")
    fitted_to: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list,
        max_length=50,
        description="Reference properties the model was fitted to (metric names such as "
        "bulk_modulus, cohesive_energy): boards of those metrics mark it, since its errors "
        "there are not predictions.",
        examples=[["cohesive_energy", "volume_per_atom"]],
    )

    @model_validator(mode="before")
    @classmethod
    def _lenient_shapes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("authors"), str):  # "A. One, B. Two"
            data["authors"] = [a.strip() for a in data["authors"].split(",") if a.strip()]
        if isinstance(data.get("training_data"), dict):  # one set instead of a list
            data["training_data"] = [data["training_data"]]
        if isinstance(data.get("openness"), str):
            data["openness"] = openness_code(data["openness"])
        return data


def openness_code(text: str) -> str:
    """``"open code, open weights, closed training data"`` -> ``"OSCD"``; codes pass through."""
    if text.upper() in {"OSOD", "OSCD", "CSOD", "CSCD"}:
        return text.upper()
    source = data = None
    for part in (p.strip().lower() for p in text.split(",")):
        kind = next((k for k in ("open", "closed") if part.startswith(k)), None)
        if kind and ("code" in part or "source" in part):
            source = "OS" if kind == "open" else "CS"
        elif kind and "data" in part:
            data = "OD" if kind == "open" else "CD"
    if source is None or data is None:
        return text  # not understood: the Literal check then lists the allowed codes
    return source + data
