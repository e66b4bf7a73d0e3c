"""Reference values (experiment, CCSD(T), DFT) at the HTTP boundary."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from backend.domain.phases import PHASE_KEY, parse_phase


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _stripped(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty or blank")
    if "\x00" in value:  # Postgres text cannot hold NUL
        raise ValueError("must not contain NUL characters")
    return value


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    if "\\u0000" in json.dumps(value):  # Postgres JSONB cannot hold NUL
        raise ValueError("must not contain NUL characters")
    return value


def _valid_phase(value: dict[str, Any]) -> dict[str, Any]:
    if PHASE_KEY in value:
        parse_phase(value[PHASE_KEY])  # ValueError names what is wrong
    return value


Conditions = Annotated[dict[str, Any], AfterValidator(_storable), AfterValidator(_valid_phase)]
CONDITIONS_DESCRIPTION = (
    "conditions of the value; `phase` names the phase it was measured on: "
    '`{"space_group": 1-230, "prototype": "name"}` (prototype optional). A reference is '
    "compared only with structures of its space group, and one without a phase only with "
    "non-crystals; the phase is required when crystals of the material are stored, and must "
    "be the space group of one of them."
)


Finite = Annotated[float, AfterValidator(_finite)]
Uncertainty = Annotated[float, Field(ge=0), AfterValidator(_finite)]
Text = Annotated[str, Field(max_length=200), AfterValidator(_stripped)]
#: Free text, trimmed and non-empty; lower case by convention. The platform's own data uses
#: ``experiment``, ``ccsd(t)/cbs`` and ``dft-pbe``; boards are read per level, so a new
#: spelling makes a new level rather than joining an existing one.
LevelOfTheory = Annotated[
    str,
    Field(max_length=50, examples=["experiment", "ccsd(t)/cbs", "dft-pbe"]),
    AfterValidator(_stripped),
]


class ReferenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    material: Text = Field(examples=["Cu"])
    property: Annotated[str, Field(max_length=100), AfterValidator(_stripped)] = Field(
        examples=["bulk_modulus"]
    )
    value: Finite = Field(examples=[137.0])
    unit: Annotated[str, Field(max_length=40), AfterValidator(_stripped)] = Field(examples=["GPa"])
    uncertainty: Uncertainty | None = Field(None, description="one standard deviation, in `unit`")
    level_of_theory: LevelOfTheory
    conditions: Conditions = Field(
        default_factory=dict,
        description=CONDITIONS_DESCRIPTION,
        examples=[{"temperature_K": 298.15, "phase": {"space_group": 225, "prototype": "fcc"}}],
    )
    source: Annotated[str, Field(max_length=2000), AfterValidator(_stripped)] = Field(
        description="the citation: a DOI, a paper or a data set", examples=["doi:10.1103/PhysRev.1"]
    )
    dataset: Annotated[str, Field(max_length=100), AfterValidator(_stripped)] = Field(
        "user", description="the collection this value belongs to", examples=["kittel"]
    )


class ReferenceUpdate(BaseModel):
    """Fields to change; ``uncertainty`` may be set to null, the others may not."""

    model_config = ConfigDict(extra="forbid")

    material: Text | None = None
    property: Annotated[str, Field(max_length=100), AfterValidator(_stripped)] | None = None
    value: Finite | None = None
    unit: Annotated[str, Field(max_length=40), AfterValidator(_stripped)] | None = None
    uncertainty: Uncertainty | None = None
    level_of_theory: LevelOfTheory | None = None
    conditions: Conditions | None = Field(None, description=CONDITIONS_DESCRIPTION)
    source: Annotated[str, Field(max_length=2000), AfterValidator(_stripped)] | None = None
    dataset: Annotated[str, Field(max_length=100), AfterValidator(_stripped)] | None = None


class ReferenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    material: str
    property: str
    value: float
    unit: str
    uncertainty: float | None
    level_of_theory: str
    conditions: dict[str, Any]
    source: str
    dataset: str
    created_at: datetime
