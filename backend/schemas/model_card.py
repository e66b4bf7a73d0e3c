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

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from backend.schemas.common import Count, ElementSymbol

Openness = Literal["OSOD", "OSCD", "CSOD", "CSCD"]


def _is_count(value: Any) -> bool:
    """A JSON integer (``3``, ``3.0``)."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _also_a_mapping(schema: dict[str, Any]) -> None:
    """The schema of ``TrainingData.elements`` says it may be a mapping, as the built-in cards
    write it (read by ``_elements_as_mapping``)."""
    as_list = next(s for s in schema.pop("anyOf") if s.get("type") == "array")
    counts = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}
    as_mapping = {
        "type": "object",
        "propertyNames": as_list["items"],
        "additionalProperties": counts,
    }
    schema["anyOf"] = [as_list, as_mapping, {"type": "null"}]


def _also_a_string(schema: dict[str, Any]) -> None:
    """The schema of ``ModelCard.authors`` says one string is read too (``_lenient_shapes``)."""
    as_list = {k: schema.pop(k) for k in ("type", "items")}
    schema["anyOf"] = [as_list, {"type": "string"}]


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
    n_structures: Count | None = None
    element_counts: dict[ElementSymbol, Count] = Field(
        default_factory=dict, description="Number of structures containing each element."
    )
    elements: list[ElementSymbol] | None = Field(
        None,
        description="Elements covered, where per-element counts are not known; also read "
        "as a mapping of symbol to count (all counts: element_counts) or to null (unknown).",
        json_schema_extra=_also_a_mapping,
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
            counted = [_is_count(v) for v in mapping.values()]
            if all(counted):
                counts = data.get("element_counts", {})
                # merged, so that every count is checked (>= 0) even next to element_counts
                if isinstance(counts, dict):
                    data["element_counts"] = {**mapping, **counts}
            elif all(c or v is None for c, v in zip(counted, mapping.values(), strict=True)):
                data["elements"] = sorted(mapping)
            else:  # not a mapping to counts or null: refused as what it is
                data["elements"] = mapping
        return data


class ModelCard(BaseModel):
    """A model card; ``name``, ``version`` and ``family`` default to the record's own."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=100)
    version: str | None = Field(None, max_length=50)
    family: str | None = Field(None, max_length=50)
    authors: list[str] = Field(
        default_factory=list,
        description="A list, or one comma-separated string.",
        examples=[["A. Author", "B. Author"]],
        json_schema_extra=_also_a_string,
    )
    description: str | None = None
    paper: str | None = Field(
        None, description="URL, DOI or citation of the paper.", examples=["https://doi.org/..."]
    )
    code: HttpUrl | None = Field(None, description="URL of the source code.")
    license: str | None = Field(None, max_length=200, examples=["MIT"])
    openness: Openness | None = Field(
        None, description="OSOD, OSCD, CSOD or CSCD (Matbench Discovery's codes)."
    )
    n_parameters: Count | None = None
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
