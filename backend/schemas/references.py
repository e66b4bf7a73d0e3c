"""Reference values (experiment, CCSD(T), DFT) at the HTTP boundary."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, WithJsonSchema

from backend.domain.phases import MAX_PROTOTYPE_LENGTH, PHASE_KEY, parse_phase
from backend.schemas.common import NON_BLANK, Omittable


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
    phase = value.get(PHASE_KEY)
    number = phase.get("space_group") if isinstance(phase, dict) else None
    if isinstance(phase, dict) and isinstance(number, float) and number.is_integer():
        # 225.0 is the JSON integer 225
        value = {**value, PHASE_KEY: {**phase, "space_group": int(number)}}
    if PHASE_KEY in value:
        parse_phase(value[PHASE_KEY])  # ValueError names what is wrong
    return value


#: What ``parse_phase`` accepts, so that the schema shows it.
PHASE_SCHEMA = {
    "type": "object",
    "properties": {
        "space_group": {"type": "integer", "minimum": 1, "maximum": 230},
        "prototype": {
            "anyOf": [
                {"type": "string", "maxLength": MAX_PROTOTYPE_LENGTH, "pattern": NON_BLANK},
                {"type": "null"},
            ]
        },
    },
    "required": ["space_group"],
    "additionalProperties": False,
}
#: Other keys hold any JSON; the OpenAPI document adds that no key or string holds NUL
#: (``api.openapi_schemas``), as ``_storable`` checks.
CONDITIONS_SCHEMA = {
    "type": "object",
    "properties": {PHASE_KEY: PHASE_SCHEMA},
    "additionalProperties": True,
}
Conditions = Annotated[
    dict[str, Any],
    AfterValidator(_storable),
    AfterValidator(_valid_phase),
    WithJsonSchema(CONDITIONS_SCHEMA),
]
CONDITIONS_DESCRIPTION = (
    "conditions of the value; `phase` names the phase it was measured on: "
    '`{"space_group": 1-230, "prototype": "name"}` (prototype optional). A reference is '
    "compared only with structures of its space group, and one without a phase only with "
    "non-crystals; the phase is required when crystals of the material are stored, and must "
    "be the space group of one of them."
)


#: JSON numbers only (not true/false, not strings), finite.
Finite = Annotated[float, Strict(), AfterValidator(_finite)]
Uncertainty = Annotated[float, Strict(), Field(ge=0), AfterValidator(_finite)]


#: Trimmed text, not blank, without NUL.
Material = Annotated[str, Field(max_length=200, pattern=NON_BLANK), AfterValidator(_stripped)]
Property = Annotated[str, Field(max_length=100, pattern=NON_BLANK), AfterValidator(_stripped)]
Unit = Annotated[str, Field(max_length=40, pattern=NON_BLANK), AfterValidator(_stripped)]
Source = Annotated[str, Field(max_length=2000, pattern=NON_BLANK), AfterValidator(_stripped)]
Dataset = Annotated[str, Field(max_length=100, pattern=NON_BLANK), AfterValidator(_stripped)]
#: Free text, trimmed and non-empty; lower case by convention. The platform's own data uses
#: ``experiment``, ``ccsd(t)/cbs`` and ``dft-pbe``; boards are read per level, so a new
#: spelling makes a new level rather than joining an existing one.
LevelOfTheory = Annotated[
    str,
    Field(max_length=50, pattern=NON_BLANK, examples=["experiment", "ccsd(t)/cbs", "dft-pbe"]),
    AfterValidator(_stripped),
]


class ReferenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    material: Material = Field(examples=["Cu"])
    property: Property = Field(examples=["bulk_modulus"])
    value: Finite = Field(examples=[137.0])
    unit: Unit = Field(examples=["GPa"])
    uncertainty: Uncertainty | None = Field(None, description="one standard deviation, in `unit`")
    level_of_theory: LevelOfTheory
    conditions: Conditions = Field(
        default_factory=dict,
        description=CONDITIONS_DESCRIPTION,
        examples=[{"temperature_K": 298.15, "phase": {"space_group": 225, "prototype": "fcc"}}],
    )
    source: Source = Field(
        description="the citation: a DOI, a paper or a data set", examples=["doi:10.1103/PhysRev.1"]
    )
    dataset: Dataset = Field(
        "user", description="the collection this value belongs to", examples=["kittel"]
    )


class ReferenceUpdate(BaseModel):
    """Fields to change, the others are kept; ``uncertainty`` and ``conditions`` may be set to
    null (none; no conditions), the others may not."""

    model_config = ConfigDict(extra="forbid")

    material: Omittable[Material] = None
    property: Omittable[Property] = None
    value: Omittable[Finite] = None
    unit: Omittable[Unit] = None
    uncertainty: Uncertainty | None = None
    level_of_theory: Omittable[LevelOfTheory] = None
    conditions: Conditions | None = Field(None, description=CONDITIONS_DESCRIPTION)
    source: Omittable[Source] = None
    dataset: Omittable[Dataset] = None


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
